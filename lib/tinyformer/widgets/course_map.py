"""Notebook 00's widget: pick a sentence and a stage of the pipeline, see that stage drawn.

Thin glue: `tinyformer.viz.course_map.trace_pipeline` computes the data, `draw_stage` draws it; the
figure is shown as a PNG in an `Image` widget, so the widget's output is plain data a test can
compare without a browser.
"""

from __future__ import annotations

import io

import ipywidgets as widgets
from matplotlib.figure import Figure

from tinyformer.viz.course_map import STAGE_NOTEBOOKS, STAGES, PipelineTrace, Tokenizer, draw_stage, stage_figsize, trace_pipeline

__all__ = ["DEFAULT_SENTENCES", "course_map_widget", "stage_png", "stage_caption"]

DEFAULT_SENTENCES = {  # label -> sentence; the first is notebook 00's sentence
    "English + emoji": "The cat sat on the mat 🙂",
    "Korean": "고양이가 매트 위에 앉았다",
    "Python docs": "The function returns a list.",
}


def stage_png(trace: PipelineTrace, stage: str, tokenizer: Tokenizer | None = None, dpi: int | None = None) -> bytes:
    """One stage drawn as PNG bytes (a Figure outside pyplot, so nothing is shown twice); dpi None: the style's."""
    fig = Figure(figsize=stage_figsize(trace, stage) if stage in STAGES else (8.0, 3.0), dpi=dpi)
    draw_stage(trace, stage, tokenizer, ax=fig.add_subplot())
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def stage_caption(trace: PipelineTrace, stage: str) -> str:
    """One line (HTML) saying what the stage shows for this sentence and where it is built."""
    T = len(trace.tokens)
    what = {
        "bytes": f"{len(trace.chars)} characters become {trace.n_bytes} UTF-8 bytes",
        "tokens": f"{trace.n_bytes} bytes are merged into {T} tokens",
        "vectors": f"{T} tokens become {T} vectors of {trace.x.shape[1]} numbers",
        "attention": f"each of the {T} tokens mixes in the tokens before it ({T}×{T} weights)",
        "next token": f"the last vector scores all {len(trace.probs)} vocabulary entries",
    }[stage]
    return f"<b>{stage}</b>: {what}. Built for real in <code>{STAGE_NOTEBOOKS[stage]}</code>."


def course_map_widget(
    tokenizer: Tokenizer,
    sentences: dict[str, str] | None = None,
    stage: str = "tokens",
    d_model: int = 16,
    seed: int = 0,
    dpi: int | None = None,
) -> widgets.VBox:
    """Toggle buttons for the stage, a dropdown for the sentence, a caption and the stage's figure.

    The returned box has attributes `stage`, `sentence` (the controls), `caption` and `image`.
    """
    sentences = dict(DEFAULT_SENTENCES if sentences is None else sentences)
    if not sentences:
        raise ValueError("sentences is empty: give at least one {label: sentence}")
    if stage not in STAGES:
        raise ValueError(f"stage={stage!r} is not a stage; choose one of {', '.join(STAGES)}")
    traces: dict[str, PipelineTrace] = {}

    def trace_of(text: str) -> PipelineTrace:
        if text not in traces:
            traces[text] = trace_pipeline(text, tokenizer, d_model=d_model, seed=seed)
        return traces[text]

    stage_buttons = widgets.ToggleButtons(options=list(STAGES), value=stage, description="stage")
    stage_buttons.style.button_width = "90px"
    sentence = widgets.Dropdown(options=list(sentences.items()), description="sentence")
    caption = widgets.HTML()
    image = widgets.Image(format="png", layout=widgets.Layout(align_self="flex-start"))  # natural size, not stretched to the box

    def redraw(_change=None) -> None:
        trace = trace_of(sentence.value)
        png = stage_png(trace, stage_buttons.value, tokenizer, dpi=dpi)  # draw first, then update both at once
        image.value = png
        caption.value = stage_caption(trace, stage_buttons.value)

    stage_buttons.observe(redraw, names="value")
    sentence.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([stage_buttons, sentence, caption, image])
    box.stage, box.sentence, box.caption, box.image = stage_buttons, sentence, caption, image
    return box
