"""Widgets for notebook 04: toggle the causal and padding masks and watch the weights change."""

from __future__ import annotations

import html

import ipywidgets as W

from ..viz.masking import describe_mask_example, mask_example, plot_mask_and_weights
from .embeddings import figure_to_png

__all__ = ["mask_toggler"]


def mask_toggler(causal: bool = True, padding: bool = True) -> W.VBox:
    """Two toggle buttons (causal, padding) over a fixed 6-token example; shows the mask and the weights."""
    causal_btn = W.ToggleButton(value=causal, description="causal mask", icon="check")
    padding_btn = W.ToggleButton(value=padding, description="padding mask", icon="check")
    info = W.HTML()
    image = W.Image(format="png")

    def update(*_):
        for btn in (causal_btn, padding_btn):
            btn.icon = "check" if btn.value else ""
        tokens, mask, weights = mask_example(causal_btn.value, padding_btn.value)
        info.value = f"<code>{html.escape(describe_mask_example(causal_btn.value, padding_btn.value))}</code>"
        image.value = figure_to_png(plot_mask_and_weights(tokens, mask, weights))

    causal_btn.observe(update, "value")
    padding_btn.observe(update, "value")
    update()
    return W.VBox([W.HBox([causal_btn, padding_btn]), info, image])
