"""Widget for notebook 06: the residual-stack explorer (depth, residual on/off, pre-norm on/off, init)."""

from __future__ import annotations

import ipywidgets as W
import matplotlib.pyplot as plt

from ..viz.blocks import layer_gradient_norms, plot_gradient_norms
from .embeddings import figure_to_png

__all__ = ["residual_stack_figure", "residual_summary", "residual_stack_explorer"]


def _label(residual: bool, norm: bool, init: str = "default") -> str:
    name = ("residual" if residual else "plain") + (" + pre-norm" if norm else "")
    return name + (", He init" if init == "he" else "")


def residual_summary(depth: int, residual: bool, norm: bool = False, init: str = "default") -> str:
    """One line: the gradient norm at the first and at the last layer, and their ratio."""
    g = layer_gradient_norms(depth, residual, norm=norm, init=init)
    ratio = g[0] / g[-1] if g[-1] > 0 else float("inf")
    return f"{_label(residual, norm, init)}, {depth} layers: gradient at layer 1 = {g[0]:.2e}, at layer {depth} = {g[-1]:.2e} (ratio {ratio:.2e})"


def residual_stack_figure(depth: int, residual: bool, norm: bool = False, init: str = "default"):
    """The chosen stack's gradient norms per layer next to the plain, default-init stack's, as a figure."""
    fig, ax = plt.subplots(figsize=(7, 3.4))
    variants = {_label(False, False): layer_gradient_norms(depth, False)}
    if residual or norm or init != "default":
        variants[_label(residual, norm, init)] = layer_gradient_norms(depth, residual, norm=norm, init=init)
    plot_gradient_norms(variants, title=f"{depth} feed-forward blocks at initialisation", ax=ax)
    fig.tight_layout()
    return fig


def residual_stack_explorer(depth: int = 24, residual: bool = True, norm: bool = False, init: str = "default") -> W.VBox:
    """A depth slider, two checkboxes and an init choice; shows the gradient norm reaching each layer."""
    depth_s = W.IntSlider(value=depth, min=2, max=64, description="depth", continuous_update=False)
    res_c = W.Checkbox(value=residual, description="residual")
    norm_c = W.Checkbox(value=norm, description="pre-norm")
    init_d = W.Dropdown(options=[("default init", "default"), ("He init", "he")], value=init, description="init")
    info = W.HTML()
    image = W.Image(format="png")

    def update(*_):
        args = (depth_s.value, res_c.value, norm_c.value, init_d.value)
        info.value = f"<code>{residual_summary(*args)}</code>"
        image.value = figure_to_png(residual_stack_figure(*args))

    for control in (depth_s, res_c, norm_c, init_d):
        control.observe(update, "value")
    update()
    return W.VBox([W.HBox([depth_s, res_c, norm_c, init_d]), info, image])
