"""Notebook 01's merge stepper: slide through BPE merge steps, watch a sentence's tokens fuse.

Thin glue over `tinyformer.viz.tokenization.merge_steps` (the segmentation after the first k
merges) and `tokens_html` (colored token boxes as HTML, so the browser shows Hangul and emoji, and
tests can read the widget's output without a browser).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as widgets

from tinyformer.tokenizer import BPETokenizer
from tinyformer.viz.tokenization import TOKEN_COLORS, merge_steps, token_bytes_label

__all__ = ["tokens_html", "step_summary", "merge_stepper"]


def tokens_html(tokens: Sequence[bytes]) -> str:
    """Tokens as inline colored boxes (HTML), in order."""
    boxes = []
    for i, tok in enumerate(tokens):
        color = TOKEN_COLORS[i % len(TOKEN_COLORS)]
        boxes.append(
            f'<span style="background:{color};border:1px solid #777;border-radius:3px;padding:1px 3px;'
            f'margin:1px;display:inline-block;font-family:monospace">{html.escape(token_bytes_label(tok))}</span>'
        )
    return '<div style="line-height:1.9">' + "".join(boxes) + "</div>"


def step_summary(tokenizer: BPETokenizer, text: str, step: int) -> str:
    """One line: how many merges, the newest merge, and the token count (HTML)."""
    tokens = merge_steps(tokenizer, text, [step])[0]
    n_bytes = len(text.encode("utf-8"))
    if step == 0:
        newest = "none yet: every token is one byte"
    else:
        (a, b), new_id = list(tokenizer.merges.items())[step - 1]
        parts = [html.escape(token_bytes_label(tokenizer.token_bytes(i))) for i in (a, b, new_id)]
        newest = f"<code>{parts[0]}</code> + <code>{parts[1]}</code> → <code>{parts[2]}</code> (id {new_id})"
    return f"<b>{step}</b> merges · newest: {newest} · <b>{len(tokens)}</b> tokens for {n_bytes} bytes"


def merge_stepper(tokenizer: BPETokenizer, text: str, step: int = 0) -> widgets.VBox:
    """An IntSlider over the merge steps, a text box for the sentence, a summary line and the colored tokens.

    The returned box has attributes `slider`, `sentence` (the controls), `summary` and `tokens` (HTML).
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    n_merges = len(tokenizer.merges)
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= n_merges:
        raise ValueError(f"step={step!r} must be an int from 0 to {n_merges} (the number of merges)")
    slider = widgets.IntSlider(value=step, min=0, max=n_merges, step=1, description="merges", continuous_update=True,
                               layout=widgets.Layout(width="95%"))
    sentence = widgets.Text(value=text, description="sentence", continuous_update=False, layout=widgets.Layout(width="95%"))
    summary = widgets.HTML()
    tokens = widgets.HTML()

    def redraw(_change=None) -> None:
        summary.value = step_summary(tokenizer, sentence.value, slider.value)
        tokens.value = tokens_html(merge_steps(tokenizer, sentence.value, [slider.value])[0])

    slider.observe(redraw, names="value")
    sentence.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([slider, sentence, summary, tokens])
    box.slider, box.sentence, box.summary, box.tokens = slider, sentence, summary, tokens
    return box
