"""Widgets for notebook 04: toggle the causal and padding masks and watch the weights change."""

from __future__ import annotations

import html

import ipywidgets as W

from ..viz.masking import describe_mask_example, mask_example, plot_mask_and_weights
from .embeddings import figure_to_png

__all__ = ["mask_toggler"]


def mask_toggler(causal: bool = True, padding: bool = True) -> W.VBox:
    """Two on/off toggles (causal, padding) over a fixed 6-token example; shows the mask and the weights."""
    causal_btn = W.ToggleButtons(options=["on", "off"], value="on" if causal else "off", description="causal")
    padding_btn = W.ToggleButtons(options=["on", "off"], value="on" if padding else "off", description="padding")
    info = W.HTML()
    image = W.Image(format="png")

    def update(*_):
        c, p = causal_btn.value == "on", padding_btn.value == "on"
        tokens, mask, weights = mask_example(c, p)
        info.value = f"<code>{html.escape(describe_mask_example(c, p))}</code>"
        image.value = figure_to_png(plot_mask_and_weights(tokens, mask, weights))

    causal_btn.observe(update, "value")
    padding_btn.observe(update, "value")
    update()
    return W.VBox([W.VBox([causal_btn, padding_btn]), info, image])
