"""Figures for notebook 06: gradient norms per layer (residuals), loss curves, parameter breakdowns.

`layer_gradient_norms` is the pure measurement behind the residual-stack widget: a deep stack of
feed-forward blocks, with or without residual connections, and the gradient norm reaching each, at
PyTorch's default `nn.Linear` init or at He init (`he_init_`, He et al. 2015).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from torch import nn

from ..layers import FeedForward, LayerNorm

__all__ = ["he_init_", "layer_gradient_norms", "plot_gradient_norms", "plot_loss_curves", "plot_parameter_breakdown"]

INITS = ("default", "he")


def he_init_(ffn: FeedForward, out_scale: float = 1.0) -> FeedForward:
    """He init of a ReLU FeedForward, in place: W1 ~ N(0, 2/C), W2 ~ N(0, out_scale²/d_ff), biases 0.

    The ReLU zeroes about half of the hidden values; the 2 in W1's variance makes up for it, so with
    out_scale=1 a block's output has about the mean square of its input (variance-preserving).
    PyTorch's default, U(±1/√fan_in), has variance 1/(3·fan_in): a block shrinks the mean square about 17x.
    Returns `ffn`.
    """
    if not isinstance(ffn, FeedForward):
        raise TypeError(f"ffn must be a tinyformer.layers.FeedForward, got {type(ffn).__name__}")
    if not out_scale > 0:
        raise ValueError(f"out_scale={out_scale!r} must be > 0")
    with torch.no_grad():
        nn.init.normal_(ffn.linear1.weight, std=math.sqrt(2 / ffn.linear1.in_features))
        nn.init.normal_(ffn.linear2.weight, std=out_scale * math.sqrt(1 / ffn.linear2.in_features))
        for linear in (ffn.linear1, ffn.linear2):
            if linear.bias is not None:
                linear.bias.zero_()
    return ffn


def layer_gradient_norms(
    depth: int, residual: bool, d_model: int = 32, norm: bool = False, seed: int = 0, init: str = "default"
) -> list[float]:
    """Gradient norm of each block's first weight matrix in a stack of `depth` FeedForward blocks at init.

    Block l computes x = x + ffn(x) (residual) or x = ffn(x) (plain); with `norm` the ffn sees
    LayerNorm(x) (pre-norm). Loss: mean square of the output for 256 random inputs. `init` is
    "default" (PyTorch's nn.Linear init) or "he" (`he_init_` on every block).
    """
    if not isinstance(depth, int) or isinstance(depth, bool) or not 1 <= depth <= 512:
        raise ValueError(f"depth={depth!r} must be an int in 1..512")
    if init not in INITS:
        raise ValueError(f"init={init!r} is not supported; choose one of {list(INITS)}")
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        blocks = nn.ModuleList(FeedForward(d_model, 4 * d_model) for _ in range(depth))
        norms = nn.ModuleList(LayerNorm(d_model) for _ in range(depth)) if norm else None
        if init == "he":
            for block in blocks:
                he_init_(block)
    x = torch.randn(256, d_model, generator=gen)
    for i, block in enumerate(blocks):
        h = norms[i](x) if norm else x
        x = x + block(h) if residual else block(h)
    x.pow(2).mean().backward()
    return [block.linear1.weight.grad.norm().item() for block in blocks]


def plot_gradient_norms(
    norms: dict[str, list[float]], title: str = "gradient norm reaching each layer", ax=None, ylabel: str = "‖∂loss/∂W₁‖"
):
    """One line per variant: gradient norm (log scale) against the layer index, input side on the left.

    Any per-layer quantity plots the same way (e.g. activation RMS): pass its `ylabel`.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.4))
    for name, values in norms.items():
        floor = [max(v, 1e-30) for v in values]  # log scale: show an exact zero at the floor
        ax.plot(range(1, len(values) + 1), floor, "o-", ms=3, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("layer (1 = nearest the input)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    return ax


def plot_loss_curves(
    curves: dict[str, list[float]], title: str = "training loss", ax=None, ylabel: str = "loss", log: bool = False
):
    """Loss (or any per-step value: `ylabel`, `log` scale) against step, one line per run."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.4))
    for name, values in curves.items():
        ax.plot(values, label=name, lw=1.2)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
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
    ax.legend(ncol=len(kinds), loc="lower center", bbox_to_anchor=(0.5, 1.08))
    ax.invert_yaxis()
    fig.tight_layout()
    return fig
