"""Figures for notebook 05: one heatmap per head, and where each head looks (relative offsets)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

__all__ = ["head_offset_profile", "describe_head", "plot_head_grid", "plot_head"]


def _check_heads(weights: torch.Tensor, tokens: list[str] | None = None) -> None:
    if not isinstance(weights, torch.Tensor) or weights.dim() != 3 or weights.shape[1] != weights.shape[2]:
        raise ValueError(f"weights must be per-head self-attention weights (H, T, T), got {tuple(getattr(weights, 'shape', ()))}")
    if tokens is not None and len(tokens) != weights.shape[-1]:
        raise ValueError(f"weights cover {weights.shape[-1]} tokens but {len(tokens)} tokens were given")


def head_offset_profile(weights: torch.Tensor) -> torch.Tensor:
    """(H, T, T) -> (H, 2T-1): each head's average weight at key offset j - i, from -(T-1) to T-1.

    Averaged over the queries that have a key at that offset, so a head that always looks one
    step back has 1.0 at offset -1.
    """
    _check_heads(weights)
    H, T, _ = weights.shape
    i = torch.arange(T)
    offsets = i[None, :] - i[:, None]  # (T, T): j - i
    profile = torch.zeros(H, 2 * T - 1)
    for k, off in enumerate(range(-(T - 1), T)):
        sel = offsets == off
        profile[:, k] = weights.detach().float()[:, sel].mean(dim=1)
    return profile


def describe_head(weights: torch.Tensor, head: int) -> str:
    """One line: the key offset (or the first token) head `head` favours, and its average weight there.

    Only offsets up to T // 2 are considered: far offsets exist for a few queries only.
    """
    _check_heads(weights)
    if not 0 <= head < weights.shape[0]:
        raise ValueError(f"head={head} must be in 0..{weights.shape[0] - 1}")
    T = weights.shape[-1]
    profile = head_offset_profile(weights)[head]
    offsets = torch.arange(-(T - 1), T)
    profile = profile.masked_fill(offsets.abs() > T // 2, -1.0)  # offsets only a few queries have are noise
    k = int(profile.argmax())
    off = k - (T - 1)
    where = "at itself" if off == 0 else (f"{-off} step{'s' if off < -1 else ''} back" if off < 0 else f"{off} step{'s' if off > 1 else ''} ahead")
    first = weights.detach().float()[head, :, 0].mean().item()
    line = f"head {head}: looks {where} (offset {off:+d}) with average weight {profile[k].item():.2f}"
    if first > profile[k].item():
        line = f"head {head}: looks at the first token with average weight {first:.2f}"
    return line


def plot_head(weights: torch.Tensor, tokens: list[str], head: int, ax=None):
    """Heatmap of one head's (T, T) weights, titled with describe_head."""
    _check_heads(weights, tokens)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 3.8))
    ax.imshow(weights[head].detach().float().numpy(), cmap="Blues", vmin=0, vmax=1)
    T = len(tokens)
    ax.set_xticks(range(T), [f"{t}\n#{j}" for j, t in enumerate(tokens)])
    ax.set_yticks(range(T), [f"#{i} {t}" for i, t in enumerate(tokens)])
    ax.set_xlabel("key")
    ax.set_ylabel("query")
    ax.set_title(describe_head(weights, head).split(": ", 1)[1].replace(" with average weight", ",\nweight"))
    return ax


def plot_head_grid(weights: torch.Tensor, tokens: list[str], title: str | None = None, cols: int = 4):
    """A grid of heatmaps, one per head of (H, T, T) weights."""
    _check_heads(weights, tokens)
    H = weights.shape[0]
    cols = min(cols, H)
    rows = (H + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.3 * rows), squeeze=False)
    for h in range(rows * cols):
        ax = axes[h // cols][h % cols]
        if h >= H:
            ax.axis("off")
            continue
        plot_head(weights, tokens, h, ax=ax)
        ax.set_title(f"head {h}\n" + ax.get_title())
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
