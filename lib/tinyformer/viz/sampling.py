"""Figures for notebook 08: next-token distributions under temperature, top-k and top-p, and the KV cache.

`distribution_view` is the pure function behind the sampling widget: from one vector of logits (V,)
and the three knobs it computes the top-k bars to draw (sorted by logit, so bars keep their place
while a slider moves). The `plot_*` functions draw static figures (also the widget's fallback);
`distribution_html` draws the same bars as HTML, which redraws instantly in a widget.
Shapes: V vocab.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from tinyformer.sampling import next_token_probs

__all__ = [
    "DistributionView",
    "distribution_view",
    "token_label",
    "distribution_html",
    "plot_distribution",
    "plot_temperature_bars",
    "plot_entropy_vs_temperature",
    "plot_truncations",
    "plot_cache_cost",
]

KEPT_COLOR = "#2b6cb0"
BASE_COLOR = "#cbd5e0"


@dataclass(frozen=True)
class DistributionView:
    """What the sampling widget shows: the `k` most likely tokens (by logit) and their probabilities."""

    ids: list[int]  # token ids, most likely first
    probs: list[float]  # probability after temperature / top-k / top-p (0 if filtered out)
    base_probs: list[float]  # plain softmax at T = 1, no filters: the model's own distribution
    kept: list[bool]  # survives the filters
    n_kept: int  # how many tokens of the whole vocabulary can still be drawn
    entropy: float  # entropy of the whole filtered distribution, in bits
    shown_mass: float  # total probability of the bars shown


def _entropy_bits(p: torch.Tensor) -> float:
    p = p[p > 0]
    return float(-(p * p.log2()).sum())


def distribution_view(
    logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None, k: int = 15
) -> DistributionView:
    """The top `k` next tokens of `logits` (V,) under the given sampling settings; values rounded to 4 places."""
    if not isinstance(logits, torch.Tensor) or logits.dim() != 1:
        raise ValueError(f"logits must be a 1-D tensor (V,), got {getattr(logits, 'shape', type(logits).__name__)}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k={k!r} is invalid; show at least one bar (k >= 1)")
    logits = logits.detach().double()
    probs = next_token_probs(logits, temperature, top_k, top_p)  # validates the settings
    base = torch.softmax(logits, dim=-1)
    k = min(k, logits.numel())
    order = torch.sort(logits, descending=True, stable=True).indices[:k]
    return DistributionView(
        ids=order.tolist(),
        probs=[round(float(x), 4) for x in probs[order]],
        base_probs=[round(float(x), 4) for x in base[order]],
        kept=[bool(x) for x in probs[order] > 0],
        n_kept=int((probs > 0).sum()),
        entropy=round(_entropy_bits(probs), 4),
        shown_mass=round(float(probs[order].sum()), 4),
    )


def token_label(text: str) -> str:
    """A token's text made visible: leading space as '␣', newline as '↵', tab as '⇥'."""
    return text.replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥") or "∅"


def _labels(view: DistributionView, decode: Callable[[int], str] | None) -> list[str]:
    return [token_label(decode(i)) if decode else str(i) for i in view.ids]


def _summary(view: DistributionView) -> str:
    return f"{view.n_kept} tokens can be drawn · entropy {view.entropy:.2f} bits"


def distribution_html(view: DistributionView, decode: Callable[[int], str] | None = None) -> str:
    """The bars as an HTML table: a grey bar for the model's own probability, a blue one after the knobs."""
    rows = []
    for label, p, base, kept in zip(_labels(view, decode), view.probs, view.base_probs, view.kept):
        color = KEPT_COLOR if kept else "#a0aec0"
        rows.append(
            "<tr>"
            f"<td style='font-family:monospace;text-align:right;padding-right:6px'>{html.escape(label)}</td>"
            "<td style='width:320px'>"
            f"<div style='background:{BASE_COLOR};height:6px;width:{100 * base:.1f}%'></div>"
            f"<div style='background:{color};height:12px;width:{100 * p:.1f}%'></div></td>"
            f"<td style='font-family:monospace;padding-left:6px'>{p:.3f}</td>"
            "</tr>"
        )
    return f"<div><b>{_summary(view)}</b><table>{''.join(rows)}</table></div>"


def plot_distribution(
    view: DistributionView, decode: Callable[[int], str] | None = None, ax: plt.Axes | None = None, title: str | None = None
) -> Figure:
    """Bars of the top tokens: light = the model's own probability, dark = after temperature/top-k/top-p."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 3))
    fig = ax.figure
    x = range(len(view.ids))
    ax.bar(x, view.base_probs, color=BASE_COLOR, width=0.85, label="model (T=1, no filter)")
    colors = [KEPT_COLOR if kept else "#a0aec0" for kept in view.kept]
    ax.bar(x, view.probs, color=colors, width=0.45, label="after the knobs")
    ax.set_xticks(list(x), _labels(view, decode), rotation=60, ha="right", family="monospace")
    ax.set_ylabel("probability")
    ax.set_ylim(0, 1)
    ax.set_title(title or _summary(view))
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig


def plot_temperature_bars(
    logits: torch.Tensor, temperatures: Sequence[float], decode: Callable[[int], str] | None = None, k: int = 10
) -> Figure:
    """One panel per temperature: the same logits, sharper below T=1 and flatter above."""
    fig, axes = plt.subplots(1, len(temperatures), figsize=(2.6 * len(temperatures), 2.8), sharey=True)
    for ax, t in zip(axes, temperatures):
        view = distribution_view(logits, temperature=t, k=k)
        ax.bar(range(len(view.ids)), view.probs, color=KEPT_COLOR)
        ax.set_xticks(range(len(view.ids)), _labels(view, decode), rotation=70, family="monospace")
        ax.set_title(f"T = {t}\nentropy {view.entropy:.2f} bits")
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("probability")
    fig.tight_layout()
    return fig


def plot_entropy_vs_temperature(logits: torch.Tensor, temperatures: Sequence[float]) -> Figure:
    """Entropy (bits) of softmax(logits / T) against T, between 0 (greedy) and log2 V (uniform)."""
    entropies = [distribution_view(logits, temperature=t, k=1).entropy for t in temperatures]
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(temperatures, entropies, marker="o", color=KEPT_COLOR)
    ax.axhline(math.log2(logits.numel()), color="grey", linestyle="--", label=f"uniform: log2 V = {math.log2(logits.numel()):.1f}")
    ax.axvline(1.0, color="grey", linestyle=":", label="T = 1: the model's own distribution")
    ax.set_xlabel("temperature T")
    ax.set_ylabel("entropy (bits)")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_truncations(
    logits: torch.Tensor, top_k: int, top_p: float, decode: Callable[[int], str] | None = None, k: int = 15
) -> Figure:
    """The same distribution three ways: untouched, cut to the top k, cut to the nucleus of mass p."""
    fig, axes = plt.subplots(1, 3, figsize=(11, 3), sharey=True)
    settings = [("no filter", {}), (f"top-k, k = {top_k}", {"top_k": top_k}), (f"top-p, p = {top_p}", {"top_p": top_p})]
    for ax, (name, kwargs) in zip(axes, settings):
        view = distribution_view(logits, k=k, **kwargs)
        plot_distribution(view, decode, ax=ax, title=f"{name}: {view.n_kept} tokens left")
        ax.get_legend().remove()
    fig.tight_layout()
    return fig


def plot_cache_cost(context: int, n_layers: int = 4) -> Figure:
    """What a KV cache saves and what it does not, at each generation step t (tokens so far).

    Left, middle: positions pushed through the projections and MLPs, per step and in total: the
    whole prefix again without a cache (t per step, n(n+1)/2 in total), only the new token with it
    (1 per step, n in total). Right, with the cache: the new query still attends to all t cached
    keys, so each step's attention grows with t while the projections and MLPs take one position.
    """
    steps = list(range(1, context + 1))
    no_cache, cached = "#c53030", KEPT_COLOR
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(12, 3))
    ax1.plot(steps, steps, label="no cache: the whole prefix again", color=no_cache)
    ax1.plot(steps, [1] * len(steps), label="KV cache: only the new token", color=cached)
    ax1.set_xlabel("step t (tokens so far)")
    ax1.set_ylabel("positions this step")
    ax1.set_title("positions through the projections and MLPs")
    ax1.legend()
    cumulative = [n * (n + 1) // 2 for n in steps]
    ax2.plot(steps, cumulative, color=no_cache, label="no cache: n(n+1)/2")
    ax2.plot(steps, steps, color=cached, label="KV cache: n")
    ax2.set_xlabel("tokens generated n")
    ax2.set_ylabel("positions in total")
    ax2.set_title(f"the same in total (x {n_layers} layers)")
    ax2.legend()
    ax3.plot(steps, steps, color=cached, label="keys the new query attends to: t")
    ax3.plot(steps, [1] * len(steps), color=cached, linestyle="--",
             label="positions through the projections and MLPs: 1")
    ax3.set_xlabel("step t (tokens so far)")
    ax3.set_ylabel("per step and layer")
    ax3.set_title("with the KV cache: attention still grows with t")
    ax3.legend()
    fig.tight_layout()
    return fig
