"""The sampling explorer of notebook 08, in the style of Transformer Explainer.

The model runs once per prompt; its next-token logits are cached, and the temperature / top-k /
top-p sliders redraw the distribution from them instantly (`distribution_view` +
`distribution_html`, both pure). The Generate button continues the prompt with
`tinyformer.sampling.generate` and the current settings. Call `plot_distribution` first for the
static figure that GitHub and HTML exports show.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import torch

from tinyformer.sampling import context_size, generate
from tinyformer.viz.sampling import distribution_html, distribution_view

__all__ = ["next_token_logits", "sampling_explorer"]


@torch.inference_mode()
def next_token_logits(model: torch.nn.Module, ids: list[int]) -> torch.Tensor:
    """The model's logits (V,) for the token after `ids` (cropped to the last block_size tokens)."""
    if not ids:
        raise ValueError("ids is empty; the model needs at least one token to predict the next one")
    was_training = model.training
    model.eval()
    try:
        x = torch.tensor([ids[-context_size(model) :]], dtype=torch.long, device=next(model.parameters()).device)
        return model(x)[0, -1].float().cpu()  # (V,)
    finally:
        model.train(was_training)


def _knobs(temperature: float, top_k: int, top_p: float) -> dict:
    """Slider values -> sampling arguments: top_k = 0 and top_p = 1 mean 'off'."""
    return {"temperature": temperature, "top_k": top_k or None, "top_p": None if top_p >= 1 else top_p}


def sampling_explorer(
    model: torch.nn.Module, tokenizer, prompt: str, k: int = 15, max_new_tokens: int = 60, seed: int = 0
) -> widgets.VBox:
    """Sliders for temperature, top-k and top-p over the next-token bars, plus a prompt box and Generate.

    The returned box exposes its controls as attributes (`.temperature`, `.top_k`, `.top_p`,
    `.prompt`, `.new_tokens`, `.seed`, `.generate_button`, `.bars`, `.output`) for tests and notebooks.
    """
    style = {"description_width": "90px"}
    temperature = widgets.FloatSlider(value=1.0, min=0.0, max=3.0, step=0.05, description="temperature", style=style)
    top_k = widgets.IntSlider(value=0, min=0, max=min(100, model.config.vocab_size), description="top-k (0 off)", style=style)
    top_p = widgets.FloatSlider(value=1.0, min=0.05, max=1.0, step=0.05, description="top-p (1 off)", style=style)
    prompt_box = widgets.Textarea(value=prompt, description="prompt", continuous_update=False, style=style,
                                  layout=widgets.Layout(width="95%", height="60px"))
    new_tokens = widgets.IntSlider(value=max_new_tokens, min=1, max=200, description="new tokens", style=style)
    seed_box = widgets.IntText(value=seed, description="seed", style=style, layout=widgets.Layout(width="180px"))
    button = widgets.Button(description="Generate", button_style="primary", icon="play")
    bars = widgets.HTML()
    output = widgets.HTML(value="<i>Press Generate to continue the prompt with these settings.</i>")
    state = {"logits": None}

    def decode(i: int) -> str:
        return tokenizer.decode([i])

    def redraw(_=None) -> None:
        if state["logits"] is None:
            return
        view = distribution_view(state["logits"], k=k, **_knobs(temperature.value, top_k.value, top_p.value))
        bars.value = distribution_html(view, decode)

    def new_prompt(_=None) -> None:
        ids = tokenizer.encode(prompt_box.value)
        if not ids:
            bars.value = "<i>Type a prompt to see the next-token distribution.</i>"
            state["logits"] = None
            return
        state["logits"] = next_token_logits(model, ids)  # the only forward pass; the sliders reuse it
        redraw()

    def on_generate(_=None) -> None:
        ids = tokenizer.encode(prompt_box.value)
        if not ids:
            output.value = "<i>Type a prompt first.</i>"
            return
        knobs = _knobs(temperature.value, top_k.value, top_p.value)
        out = generate(model, ids, new_tokens.value, seed=seed_box.value, **knobs)
        continuation = tokenizer.decode(out[len(ids) :])
        output.value = (
            "<pre style='white-space:pre-wrap'>"
            f"{html.escape(prompt_box.value)}<span style='background:#bee3f8'>{html.escape(continuation)}</span></pre>"
        )

    for control in (temperature, top_k, top_p):
        control.observe(redraw, names="value")
    prompt_box.observe(new_prompt, names="value")
    button.on_click(on_generate)
    new_prompt()

    box = widgets.VBox(
        [
            widgets.HBox([widgets.VBox([temperature, top_k, top_p]), bars]),
            prompt_box,
            widgets.HBox([new_tokens, seed_box, button]),
            output,
        ]
    )
    box.temperature, box.top_k, box.top_p, box.prompt = temperature, top_k, top_p, prompt_box
    box.new_tokens, box.seed, box.generate_button, box.bars, box.output = new_tokens, seed_box, button, bars, output
    return box
