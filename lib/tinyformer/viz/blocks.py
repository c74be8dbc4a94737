"""Figures for notebook 06: gradient norms per layer (residuals), loss curves, parameter breakdowns.

`layer_gradient_norms` is the pure measurement behind the residual-stack widget: a deep stack of
feed-forward blocks, with or without residual connections, and the gradient norm reaching each.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import nn

from ..layers import FeedForward, LayerNorm

__all__ = ["layer_gradient_norms", "plot_gradient_norms", "plot_loss_curves", "plot_parameter_breakdown"]


def layer_gradient_norms(depth: int, residual: bool, d_model: int = 32, norm: bool = False, seed: int = 0) -> list[float]:
    """Gradient norm of each block's first weight matrix in a stack of `depth` FeedForward blocks at init.

    Block l computes x = x + ffn(x) (residual) or x = ffn(x) (plain); with `norm` the ffn sees
    LayerNorm(x) (pre-norm). Loss: mean square of the output for 256 random inputs.
    """
    if not isinstance(depth, int) or isinstance(depth, bool) or not 1 <= depth <= 512:
        raise ValueError(f"depth={depth!r} must be an int in 1..512")
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        blocks = nn.ModuleList(FeedForward(d_model, 4 * d_model) for _ in range(depth))
        norms = nn.ModuleList(LayerNorm(d_model) for _ in range(depth)) if norm else None
    x = torch.randn(256, d_model, generator=gen)
    for i, block in enumerate(blocks):
        h = norms[i](x) if norm else x
        x = x + block(h) if residual else block(h)
    x.pow(2).mean().backward()
    return [block.linear1.weight.grad.norm().item() for block in blocks]


def plot_gradient_norms(norms: dict[str, list[float]], title: str = "gradient norm reaching each layer", ax=None):
    """One line per variant: gradient norm (log scale) against the layer index, input side on the left."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.4))
    for name, values in norms.items():
        floor = [max(v, 1e-30) for v in values]  # log scale: show an exact zero at the floor
        ax.plot(range(1, len(values) + 1), floor, "o-", ms=3, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("layer (1 = nearest the input)")
    ax.set_ylabel("‖∂loss/∂W₁‖")
    ax.set_title(title)
    ax.legend()
    return ax


def plot_loss_curves(curves: dict[str, list[float]], title: str = "training loss", ax=None):
    """Loss against step, one line per run."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.4))
    for name, values in curves.items():
        ax.plot(values, label=name, lw=1.2)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    return ax


def plot_parameter_breakdown(counts: dict[str, dict[str, int]], title: str = "where the parameters are"):
    """Horizontal stacked bars: one bar per model, split into the count_parameters kinds (total ignored)."""
    kinds = [k for k in ("embeddings", "attention", "ffn", "norms", "output", "other") if any(k in c for c in counts.values())]
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(counts) + 1.4))
    names = list(counts)
    left = [0.0] * len(names)
    for i, kind in enumerate(kinds):
        vals = [counts[n].get(kind, 0) / 1e6 for n in names]
        ax.barh(names, vals, left=left, color=f"C{i}", label=kind)
        left = [a + b for a, b in zip(left, vals)]
    ax.set_xlabel("parameters (millions)")
    ax.set_title(title)
    ax.legend(ncol=len(kinds), fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.08))
    ax.invert_yaxis()
    fig.tight_layout()
    return fig
