"""Figures for notebook 09's first half: causal-tracing heat maps, ablation bars, the logit lens,
and cross-attention weight against causal effect. Pure drawing: the numbers come from
`tinyformer.tracing`; every function returns the matplotlib Figure.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import torch

from .style import font_size

__all__ = ["plot_causal_trace", "plot_ablation", "plot_lens_settling", "plot_weight_vs_effect"]

_TITLES = {"resid": "residual stream", "mlp": "MLP output", "attn": "attention output"}


def plot_causal_trace(trace: dict[str, torch.Tensor], tokens: Sequence[str], kinds: Sequence[str] = ("resid", "mlp", "attn")):
    """One heat map per kind: layer (rows) x position (columns), colour = p(answer) with that one restored."""
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.2 * len(kinds), 3.2), constrained_layout=True)
    axes = [axes] if len(kinds) == 1 else list(axes)
    lo, hi = float(trace["corrupt"]), float(trace["clean"])
    for ax, kind in zip(axes, kinds):
        grid = trace[kind].numpy()
        im = ax.imshow(grid, cmap="Purples", vmin=lo, vmax=max(hi, lo + 1e-6), aspect="auto", origin="lower")
        ax.set_xticks(range(len(tokens)), tokens, rotation=30)
        ax.set_yticks(range(grid.shape[0]))
        ax.set_xlabel("restored at position")
        ax.set_ylabel("layer")
        ax.set_title(f"restore {_TITLES.get(kind, kind)}", fontsize=font_size())
    fig.colorbar(im, ax=axes, label="p(correct answer)", shrink=0.9)
    fig.suptitle(f"causal tracing: clean p = {hi:.2f}, subject corrupted p = {lo:.2f}", fontsize=font_size(1.1))
    return fig


def plot_ablation(sweep: dict[str, torch.Tensor], mode: str = "mean"):
    """Recall with each MLP, each whole attention layer, and each head knocked out."""
    L, H = sweep["heads"].shape
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.2), constrained_layout=True)
    x = torch.arange(L)
    a.bar(x - 0.2, sweep["mlp"].numpy(), width=0.4, label="MLP", color="#c05621")
    a.bar(x + 0.2, sweep["attn"].numpy(), width=0.4, label="all heads", color="#2b6cb0")
    a.axhline(float(sweep["none"]), color="k", lw=1, ls="--", label="nothing ablated")
    a.set_xticks(x.tolist(), [f"layer {l}" for l in range(L)])
    a.set_ylim(0, 1.35)  # room above the bars for the legend
    a.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    a.set_ylabel("recall")
    a.set_title(f"{mode}-ablate one layer's MLP or attention", fontsize=font_size())
    a.legend(fontsize=font_size(0.9), loc="upper center", ncol=3)
    im = b.imshow(sweep["heads"].numpy(), cmap="viridis", vmin=0, vmax=1, aspect="auto", origin="lower")
    b.set_xticks(range(H), [f"head {h}" for h in range(H)])
    b.set_yticks(range(L), [f"layer {l}" for l in range(L)])
    b.set_title(f"recall with one head {mode}-ablated", fontsize=font_size())
    fig.colorbar(im, ax=b, label="recall")
    return fig


def plot_lens_settling(lens: dict[str, torch.Tensor]):
    """Share of positions whose logit-lens argmax is already the final prediction, per layer."""
    L1 = lens["agree"].shape[0]
    fig, ax = plt.subplots(figsize=(6, 3.2), constrained_layout=True)
    x = list(range(L1))
    ax.plot(x, lens["agree"].numpy(), "o-", label="agrees with the final top-1")
    ax.plot(x, lens["settled"].numpy(), "s--", label="agrees from here to the end")
    ax.set_xticks(x, ["embed"] + [f"after {l}" for l in range(L1 - 1)])
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("residual stream read (after block l)")
    ax.set_ylabel("share of positions")
    ax.set_title("logit lens: where the final prediction appears", fontsize=font_size())
    ax.legend(fontsize=font_size(0.9))
    return fig


def plot_weight_vs_effect(weight: torch.Tensor, effect: torch.Tensor, src_tokens: Sequence[str],
                          out_tokens: Sequence[str]):
    """Side by side for one sentence: cross-attention weight (T, S) and the drop in log p when s is hidden."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 0.45 * len(out_tokens) + 2), constrained_layout=True)
    for ax, grid, title, cmap in ((a, weight, "cross-attention weight (mean of layers, heads)", "Blues"),
                                  (b, effect.clamp(min=0), "drop in log p(output) when s is hidden", "Reds")):
        im = ax.imshow(grid.numpy(), cmap=cmap, aspect="auto", vmin=0)
        ax.set_xticks(range(len(src_tokens)), src_tokens, rotation=60)
        ax.set_yticks(range(len(out_tokens)), out_tokens)
        ax.set_xlabel("source token s")
        ax.set_title(title, fontsize=font_size())
        fig.colorbar(im, ax=ax)
    a.set_ylabel("output token")
    return fig
