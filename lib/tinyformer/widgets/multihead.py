"""Widget for notebook 05: the head picker (choose a head, see its heatmap and where it looks)."""

from __future__ import annotations

import ipywidgets as W
import matplotlib.pyplot as plt
import torch

from ..viz.multihead import describe_head, head_offset_profile, plot_head
from .embeddings import figure_to_png

__all__ = ["plot_head_with_profile", "head_picker"]


def plot_head_with_profile(weights: torch.Tensor, tokens: list[str], head: int):
    """One head's heatmap, its average weight per key offset, and per key position (the widget's figure)."""
    fig, (ax_map, ax_off, ax_pos) = plt.subplots(1, 3, figsize=(12, 3.6), gridspec_kw={"width_ratios": [1, 1.2, 1]})
    plot_head(weights, tokens, head, ax=ax_map)
    T = weights.shape[-1]
    ax_off.bar(range(-(T - 1), T), head_offset_profile(weights)[head].numpy(), color="C0")
    ax_off.set_xlabel("key offset j - i (negative = earlier)")
    ax_off.set_ylabel("average weight")
    ax_off.set_title(f"head {head}: by offset (relative)")
    ax_pos.bar(range(T), weights[head].detach().float().mean(dim=0).numpy(), color="C1")
    ax_pos.set_xticks(range(T), [f"#{j}" for j in range(T)])
    ax_pos.set_xlabel("key position j")
    ax_pos.set_title(f"head {head}: by position (absolute)")
    for ax in (ax_off, ax_pos):
        ax.set_ylim(0, 1)
    fig.tight_layout()
    return fig


def head_picker(weights: torch.Tensor, tokens: list[str], head: int = 0) -> W.VBox:
    """A dropdown of heads; shows the chosen head's description, heatmap and offset profile."""
    describe_head(weights, head)  # validates before building anything
    pick = W.Dropdown(options=[(f"head {h}", h) for h in range(weights.shape[0])], value=head, description="head")
    info = W.HTML()
    image = W.Image(format="png")

    def update(*_):
        info.value = f"<code>{describe_head(weights, pick.value)}</code>"
        image.value = figure_to_png(plot_head_with_profile(weights, tokens, pick.value))

    pick.observe(update, "value")
    update()
    return W.VBox([pick, info, image])
