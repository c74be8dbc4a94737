"""Figures for notebook 07 (translation): length histograms, the training curve, cross-attention heatmaps.

Each function draws into a new figure (or the `ax` given) and returns the figure; none calls
`plt.show()`, so the notebook decides when to display.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .fonts import use_hangul_font

__all__ = ["plot_length_histograms", "plot_training_curve", "plot_cross_attention", "plot_attention_heads"]


def plot_length_histograms(src_lengths: Sequence[int], tgt_lengths: Sequence[int], src_name: str = "Korean",
                           tgt_name: str = "English", unit: str = "tokens"):
    """Two overlaid histograms of sentence lengths."""
    fig, ax = plt.subplots(figsize=(6, 3))
    top = max(max(src_lengths), max(tgt_lengths))
    bins = np.arange(0.5, top + 1.5)
    ax.hist(src_lengths, bins=bins, alpha=0.6, label=f"{src_name} (mean {np.mean(src_lengths):.1f})")
    ax.hist(tgt_lengths, bins=bins, alpha=0.6, label=f"{tgt_name} (mean {np.mean(tgt_lengths):.1f})")
    ax.set_xlabel(f"length in {unit}")
    ax.set_ylabel("sentences")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_training_curve(losses: Sequence[float], evals: Sequence[dict] = (), smooth: int = 20):
    """Training loss per step (raw and smoothed) and, on a second axis, held-out BLEU / exact match."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    steps = np.arange(1, len(losses) + 1)
    ax.plot(steps, losses, color="C0", alpha=0.25, lw=0.8)
    if len(losses) >= smooth:
        kernel = np.ones(smooth) / smooth
        ax.plot(steps[smooth - 1:], np.convolve(losses, kernel, mode="valid"), color="C0", label="training loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (label-smoothed)", color="C0")
    if evals:
        ax2 = ax.twinx()
        s = [e["step"] for e in evals]
        ax2.plot(s, [e["bleu"] for e in evals], "o-", color="C1", label="held-out BLEU")
        if "exact" in evals[0]:
            ax2.plot(s, [e["exact"] for e in evals], "s--", color="C2", label="held-out exact match %")
        ax2.set_ylim(0, 102)
        ax2.set_ylabel("score")
        ax2.legend(loc="center right")
    fig.tight_layout()
    return fig


def plot_cross_attention(src_tokens: Sequence[str], out_tokens: Sequence[str], weights: torch.Tensor,
                         layer: int = -1, head: int | None = None, ax=None, title: str | None = None):
    """Heatmap: rows are output tokens, columns source tokens; weights (L, H, T, S) or (T, S).

    `head=None` averages the heads of `layer`. Each row sums to 1: where that output token looked.
    """
    use_hangul_font()
    w = torch.as_tensor(weights).detach().float()
    name = "" if w.dim() == 2 else f", layer {layer % w.size(0) + 1} of {w.size(0)}"
    if w.dim() == 4:
        w = w[layer]                                                   # (H, T, S)
        w = w.mean(0) if head is None else w[head]                     # (T, S)
    if w.shape != (len(out_tokens), len(src_tokens)):
        raise ValueError(f"weights {tuple(w.shape)} do not match {len(out_tokens)} output and {len(src_tokens)} source tokens")
    if ax is None:
        fig, ax = plt.subplots(figsize=(1.0 + 0.55 * len(src_tokens), 0.8 + 0.32 * len(out_tokens)))
    else:
        fig = ax.figure
    ax.imshow(w.numpy(), cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(src_tokens)), src_tokens, rotation=60, ha="right")
    ax.set_yticks(range(len(out_tokens)), out_tokens)
    ax.set_xlabel("source (Korean) tokens")
    ax.set_ylabel("output (English) tokens")
    ax.set_title(title or f"cross-attention{name}" + (", mean of heads" if head is None else f", head {head}"))
    fig.tight_layout()
    return fig


def plot_attention_heads(src_tokens: Sequence[str], out_tokens: Sequence[str], weights: torch.Tensor, layer: int = -1):
    """One small heatmap per head of `layer`: heads often split the work (word, position, particle)."""
    use_hangul_font()
    w = torch.as_tensor(weights).detach().float()[layer]              # (H, T, S)
    H = w.size(0)
    fig, axes = plt.subplots(1, H, figsize=(2.6 * H + 1, 0.8 + 0.28 * len(out_tokens)), sharey=True)
    for h, ax in enumerate(np.atleast_1d(axes)):
        ax.imshow(w[h].numpy(), cmap="Blues", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(src_tokens)), src_tokens, rotation=70, ha="right")
        ax.set_yticks(range(len(out_tokens)), out_tokens)
        ax.set_title(f"head {h}")
    fig.tight_layout()
    return fig
