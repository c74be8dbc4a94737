"""Figures for notebook 03: attention-weight heatmaps, one query's weights as bars, the √d_k effect."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from .style import font_size

__all__ = ["describe_query_attention", "plot_attention_heatmap", "plot_query_attention", "plot_scaling_effect"]


def _check_weights(weights: torch.Tensor, tokens: list[str], query: int | None = None) -> None:
    if weights.dim() != 2:
        raise ValueError(f"weights must be one (T_q, T_k) matrix, got shape {tuple(weights.shape)}")
    if weights.shape[1] != len(tokens):
        raise ValueError(f"weights has {weights.shape[1]} keys but {len(tokens)} tokens were given")
    if query is not None and not 0 <= query < weights.shape[0]:
        raise ValueError(f"query={query} must be in 0..{weights.shape[0] - 1}")


def describe_query_attention(weights: torch.Tensor, tokens: list[str], query: int, k: int = 3) -> str:
    """One line: which tokens query `query` attends to most, with their weights (ties keep sentence order)."""
    _check_weights(weights, tokens, query)
    row = weights[query].detach()
    order = sorted(range(len(tokens)), key=lambda j: (-round(row[j].item(), 6), j))[:k]
    parts = ", ".join(f"{tokens[j]!r} (#{j}) {row[j].item():.2f}" for j in order)
    return f"query {tokens[query]!r} (#{query}) attends most to: {parts}"


def plot_attention_heatmap(weights: torch.Tensor, query_tokens: list[str], key_tokens: list[str] | None = None,
                           ax=None, title: str | None = None, highlight: int | None = None, annotate: bool = True):
    """Heatmap of a (T_q, T_k) weight matrix: rows are queries, columns keys; optional highlighted row."""
    key_tokens = query_tokens if key_tokens is None else key_tokens
    _check_weights(weights, key_tokens, highlight)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.55 * len(key_tokens) + 2, 0.45 * len(query_tokens) + 1.2))
    w = weights.detach().float()
    ax.imshow(w.numpy(), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(key_tokens)), [f"{t}\n#{j}" for j, t in enumerate(key_tokens)])
    ax.set_yticks(range(len(query_tokens)), [f"#{i} {t}" for i, t in enumerate(query_tokens)])
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query")
    if annotate and w.numel() <= 400:
        for i in range(w.shape[0]):
            for j in range(w.shape[1]):
                ax.text(j, i, f"{w[i, j]:.2f}", ha="center", va="center", fontsize=font_size(0.8),
                        color="white" if w[i, j] > 0.6 else "black")
    if highlight is not None:
        ax.add_patch(plt.Rectangle((-0.5, highlight - 0.5), w.shape[1], 1, fill=False, ec="C3", lw=2))
    if title:
        ax.set_title(title)
    return ax


def plot_query_attention(weights: torch.Tensor, tokens: list[str], query: int):
    """Bars of one query's weights over the sentence, beside the full heatmap with that row outlined."""
    _check_weights(weights, tokens, query)
    fig, (ax_bar, ax_map) = plt.subplots(1, 2, figsize=(10, 3.4), gridspec_kw={"width_ratios": [1.2, 1]})
    row = weights[query].detach().float().numpy()
    ax_bar.bar(range(len(tokens)), row, color=["C3" if j == query else "C0" for j in range(len(tokens))])
    ax_bar.set_xticks(range(len(tokens)), tokens)
    ax_bar.set_ylim(0, 1)
    ax_bar.set_ylabel("attention weight")
    ax_bar.set_title(f"where {tokens[query]!r} (#{query}) looks")
    plot_attention_heatmap(weights, tokens, ax=ax_map, highlight=query, title="all queries")
    fig.tight_layout()
    return fig


def plot_scaling_effect(d_ks: list[int], stats: dict[str, dict[str, list[float]]]):
    """Two panels against d_k: softmax entropy and gradient norm, one line per variant ('scaled', 'unscaled')."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for name, s in stats.items():
        axes[0].plot(d_ks, s["entropy"], "o-", label=name)
        axes[1].plot(d_ks, s["grad_norm"], "o-", label=name)
    axes[0].set_ylabel("entropy of the weights (nats)")
    axes[1].set_ylabel("median gradient norm at the scores")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xlabel("d_k")
        ax.legend()
    fig.tight_layout()
    return fig
