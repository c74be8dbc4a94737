"""Widgets for notebook 10: a context-length slider over the cost curves, a window-size slider."""

from __future__ import annotations

import ipywidgets as W

from ..scaling import block_flops_per_token
from ..viz.cost_and_scale import plot_cost_curves, plot_window, window_reach
from .embeddings import figure_to_png

__all__ = ["cost_summary", "window_summary", "cost_explorer", "window_explorer"]


def cost_summary(T: int, d_model: int = 128, d_ff: int = 512, n_heads: int = 4) -> str:
    """One line: attention's share of a block's FLOPs and one layer's score-matrix size at context T."""
    f = block_flops_per_token(d_model, d_ff, T)
    mib = n_heads * T * T * 4 / 2**20
    return (f"T = {T}: attention is {100 * f['attention'] / f['total']:.1f}% of the block's FLOPs per token; "
            f"one layer's (H, T, T) float32 scores take {mib:.2f} MiB")


def window_summary(window: int, T: int = 16, n_layers: int = 3) -> str:
    """One line: how far back the last token reaches after each layer."""
    reach = window_reach(T, window, n_layers).sum(dim=1).tolist()
    return f"window {window}: the last token reaches " + ", ".join(
        f"{r} positions after layer {i + 1}" for i, r in enumerate(reach))


def cost_explorer(T: int = 512) -> W.VBox:
    """A context-length slider (powers of two, 16 .. 8192) over the FLOP and memory curves."""
    slider = W.SelectionSlider(options=[2**i for i in range(4, 14)], value=T, description="context T",
                               continuous_update=False)
    info, image = W.HTML(), W.Image(format="png")

    def update(*_):
        info.value = f"<code>{cost_summary(slider.value)}</code>"
        image.value = figure_to_png(plot_cost_curves(slider.value))

    slider.observe(update, "value")
    update()
    return W.VBox([slider, info, image])


def window_explorer(window: int = 4, T: int = 16, n_layers: int = 3) -> W.VBox:
    """A window-size slider: the sliding-window mask and how far the last token reaches through the layers."""
    slider = W.IntSlider(value=window, min=1, max=T, description="window", continuous_update=False)
    info, image = W.HTML(), W.Image(format="png")

    def update(*_):
        info.value = f"<code>{window_summary(slider.value, T, n_layers)}</code>"
        image.value = figure_to_png(plot_window(slider.value, T, n_layers))

    slider.observe(update, "value")
    update()
    return W.VBox([slider, info, image])
