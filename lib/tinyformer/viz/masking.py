"""Figures for notebook 04: masks as grids and the attention weights they produce."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from ..attention import scaled_dot_product_attention
from ..masks import causal_mask, combine_masks, padding_mask

__all__ = ["MASK_EXAMPLE_TOKENS", "mask_example", "describe_mask_example", "plot_mask", "plot_mask_and_weights"]

MASK_EXAMPLE_TOKENS = ["I", "like", "green", "tea", "<pad>", "<pad>"]


def mask_example(causal: bool = True, padding: bool = True, seed: int = 0) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    """A fixed 6-token example (4 words + 2 pads): (tokens, mask (T, T) all-True when off, weights (T, T))."""
    g = torch.Generator().manual_seed(seed)
    T = len(MASK_EXAMPLE_TOKENS)
    q = torch.randn(T, 8, generator=g, dtype=torch.float64)
    k = torch.randn(T, 8, generator=g, dtype=torch.float64)
    ids = torch.tensor([[1, 2, 3, 4, 0, 0]])
    mask = combine_masks(causal_mask(T) if causal else None, padding_mask(ids, pad_id=0)[0, 0] if padding else None)
    mask = torch.ones(T, T, dtype=torch.bool) if mask is None else mask.expand(T, T)
    _, weights = scaled_dot_product_attention(q, k, k, mask)
    return list(MASK_EXAMPLE_TOKENS), mask, weights


def describe_mask_example(causal: bool, padding: bool) -> str:
    """One line summarising what the masks allow in the example."""
    tokens, mask, weights = mask_example(causal, padding)
    on_pad = weights[:4, 4:].sum().item()
    future = torch.triu(weights, diagonal=1).sum().item()
    return (f"causal {'on' if causal else 'off'}, padding {'on' if padding else 'off'}: "
            f"{int(mask.sum())} of {mask.numel()} pairs allowed; weight the 4 words give to <pad>: {on_pad:.2f}; "
            f"weight on future tokens: {future:.2f}")


def plot_mask(mask: torch.Tensor, tokens: list[str], ax=None, title: str = "mask (True = may attend)"):
    """A boolean (T_q, T_k) mask as a grid: dark = may attend, light = blocked."""
    if mask.dim() != 2 or mask.shape[1] != len(tokens):
        raise ValueError(f"mask must be (T_q, T_k) with T_k = {len(tokens)} tokens, got {tuple(mask.shape)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(3.5, 3.2))
    ax.imshow(mask.numpy(), cmap="Greens", vmin=-0.3, vmax=1.0)
    ax.set_xticks(range(len(tokens)), tokens, rotation=45)
    ax.set_yticks(range(mask.shape[0]), tokens[: mask.shape[0]])
    ax.set_xlabel("key")
    ax.set_ylabel("query")
    ax.set_title(title)
    return ax


def plot_mask_and_weights(tokens: list[str], mask: torch.Tensor, weights: torch.Tensor, title: str = ""):
    """The mask beside the attention weights it produced."""
    from .attention import plot_attention_heatmap

    fig, (a0, a1) = plt.subplots(1, 2, figsize=(9, 3.6))
    plot_mask(mask, tokens, ax=a0)
    plot_attention_heatmap(weights, tokens, ax=a1, title="attention weights")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
