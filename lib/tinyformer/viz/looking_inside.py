"""Figures for notebook 09's generation boundary and feature view (`tinyformer.boundary`, `tinyformer.sae`).

`token_map_image` is the pure function behind the boundary explorer: token ids (R, R) and their
confidence -> an RGB image, each token its own colour, confidence as intensity (white = 0).
`plot_token_map`, `plot_continuation_map`, `plot_tree_vs_ball` and `plot_feature_contexts` draw
static figures (also the widget's fallback). Shapes: R grid resolution, N points.
"""

from __future__ import annotations

from typing import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from tinyformer.boundary import ContinuationMap, PlaneGrid, RRTree, TokenMap
from tinyformer.viz.sampling import token_label

__all__ = [
    "PALETTE",
    "category_colors",
    "token_map_image",
    "plot_token_map",
    "plot_continuation_map",
    "plot_tree_vs_ball",
    "plot_tree_ball_bars",
    "plot_feature_contexts",
]

# 10 distinguishable colours (Okabe-Ito's seven, then three more); the rest of the categories are grey.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#8C564B", "#17BECF",
           "#7F7F7F")
OTHER = "#C8C8C8"
TEXT_PT = 10


def category_colors(labels: torch.Tensor, max_colors: int = 9) -> tuple[np.ndarray, list[int]]:
    """Colours (R, R, 3) in [0, 1] for integer labels, the `max_colors` most frequent getting PALETTE's.

    Returns (colors, shown): shown lists the labels with their own colour, most frequent first
    (ties: the smaller label). Every other label is grey.
    """
    if not isinstance(labels, torch.Tensor) or labels.is_floating_point():
        raise TypeError(f"labels must be an integer tensor, got {getattr(labels, 'dtype', type(labels).__name__)}")
    if isinstance(max_colors, bool) or not isinstance(max_colors, int) or not 1 <= max_colors <= len(PALETTE):
        raise ValueError(f"max_colors={max_colors!r} must be an int in 1..{len(PALETTE)}")
    values, counts = torch.unique(labels, return_counts=True)
    order = sorted(range(len(values)), key=lambda i: (-int(counts[i]), int(values[i])))
    shown = [int(values[i]) for i in order[:max_colors]]
    rgb = {lab: np.array(plt.matplotlib.colors.to_rgb(PALETTE[k])) for k, lab in enumerate(shown)}
    grey = np.array(plt.matplotlib.colors.to_rgb(OTHER))
    flat = [rgb.get(int(v), grey) for v in labels.flatten().tolist()]
    return np.stack(flat).reshape(*labels.shape, 3), shown


def token_map_image(token: torch.Tensor, prob: torch.Tensor, max_colors: int = 9) -> tuple[np.ndarray, list[int]]:
    """RGB image (R, R, 3): each token its colour, blended towards white as its probability falls.

    Intensity = prob / max(prob), so the most confident point of the map has the full colour; at
    temperature 0 every point has probability 1 and the map is flat colour. Returns (image, shown tokens).
    """
    if not isinstance(prob, torch.Tensor) or prob.shape != token.shape:
        raise ValueError(f"prob must be a tensor of token's shape {tuple(token.shape)}")
    colors, shown = category_colors(token, max_colors)
    p = prob.detach().double().cpu().numpy()
    alpha = (p / max(float(p.max()), 1e-12))[..., None]  # (R, R, 1) in [0, 1]
    return alpha * colors + (1 - alpha) * 1.0, shown


def _axes(ax, figsize):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, dpi=max(100, plt.rcParams["figure.dpi"]))
        return fig, ax
    return ax.figure, ax


def _extent(grid: PlaneGrid) -> list[float]:
    return [float(grid.s[0]), float(grid.s[-1]), float(grid.t[0]), float(grid.t[-1])]


def _mark(ax, grid: PlaneGrid, marks: dict[str, torch.Tensor] | None) -> None:
    """Draw named points (C,) at their (s, t) on the plane."""
    for k, (name, x) in enumerate(sorted((marks or {}).items())):
        s, t = grid.coords(x.reshape(1, -1))[0].tolist()
        ax.plot([s], [t], marker="**XPD"[k % 5], color="black", markersize=11, markeredgecolor="white",
                linestyle="none")
        ax.annotate(name, (s, t), textcoords="offset points", xytext=(6, 6), fontsize=TEXT_PT)


def plot_token_map(token_map: TokenMap, grid: PlaneGrid, decode: Callable[[int], str] | None = None,
                   marks: dict[str, torch.Tensor] | None = None, title: str | None = None, ax=None,
                   max_colors: int = 9) -> Figure:
    """The next token at every grid point (colour) and its probability (intensity), with a legend."""
    if not isinstance(token_map, TokenMap) or not isinstance(grid, PlaneGrid):
        raise TypeError("token_map must be a TokenMap and grid a PlaneGrid (tinyformer.boundary)")
    fig, ax = _axes(ax, (7.5, 5.2))
    image, shown = token_map_image(token_map.token, token_map.prob, max_colors)
    ax.imshow(image, origin="lower", extent=_extent(grid), aspect="auto", interpolation="nearest")
    _mark(ax, grid, marks)
    ax.set_xlabel(grid.axis_names[0])
    ax.set_ylabel(grid.axis_names[1])
    ax.set_title(title or f"next token (intensity: its probability at T = {token_map.temperature:g})")
    name = (lambda i: token_label(decode(i))) if decode else str
    handles = [Patch(color=PALETTE[k], label=repr(name(t))[1:-1]) for k, t in enumerate(shown)]
    if int(torch.unique(token_map.token).numel()) > len(shown):
        handles.append(Patch(color=OTHER, label="other tokens"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=TEXT_PT, frameon=False)
    fig.tight_layout()
    return fig


def plot_continuation_map(cmap: ContinuationMap, grid: PlaneGrid, decode: Callable[[list[int]], str] | None = None,
                          marks: dict[str, torch.Tensor] | None = None, ax=None, max_colors: int = 9) -> Figure:
    """The greedy continuation at every grid point: one colour per distinct continuation."""
    if not isinstance(cmap, ContinuationMap) or not isinstance(grid, PlaneGrid):
        raise TypeError("cmap must be a ContinuationMap and grid a PlaneGrid (tinyformer.boundary)")
    fig, ax = _axes(ax, (8, 5.2))
    colors, shown = category_colors(cmap.label, max_colors)
    ax.imshow(colors, origin="lower", extent=_extent(grid), aspect="auto", interpolation="nearest")
    _mark(ax, grid, marks)
    ax.set_xlabel(grid.axis_names[0])
    ax.set_ylabel(grid.axis_names[1])
    k = cmap.tokens.shape[-1]
    ax.set_title(f"greedy {k}-token continuation ({len(cmap.continuations)} distinct)")
    text = (lambda ids: token_label(decode(list(ids)))) if decode else (lambda ids: " ".join(map(str, ids)))
    handles = [Patch(color=PALETTE[j], label=f"{text(cmap.continuations[lab])}  ({cmap.counts[lab]})")
               for j, lab in enumerate(shown)]
    if len(cmap.continuations) > len(shown):
        handles.append(Patch(color=OTHER, label="other continuations"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=TEXT_PT, frameon=False)
    fig.tight_layout()
    return fig


def plot_tree_vs_ball(grid: PlaneGrid, token_map: TokenMap, tree: RRTree, ball: torch.Tensor,
                      ball_same: torch.Tensor | None = None, ax=None) -> Figure:
    """The RRT's edges and the ball's samples drawn on the (faded) next-token map of their plane.

    `ball_same` (N,) bool: ball samples with the query's next token are drawn as dots, the others as x.
    Both sets must lie in the plane (grow_rrt / ball_samples with basis=[grid.u, grid.v]); a grid
    centred on the query (plane_grid(u, v, origin=query, span=(-r, r))) shows the whole tree.
    """
    fig, ax = _axes(ax, (6.4, 5.2))
    image, _ = token_map_image(token_map.token, token_map.prob)
    ax.imshow(0.45 * image + 0.55, origin="lower", extent=_extent(grid), aspect="auto", interpolation="nearest")
    xy = grid.coords(tree.nodes).numpy()  # (N, 2)
    for child, parent in enumerate(tree.parent.tolist()):
        if parent >= 0:
            ax.plot(xy[[parent, child], 0], xy[[parent, child], 1], color="black", linewidth=0.8)
    ax.plot(xy[:, 0], xy[:, 1], "o", color="black", markersize=2.5, label=f"tree ({len(xy)} nodes)")
    b = grid.coords(ball).numpy()
    same = np.ones(len(b), dtype=bool) if ball_same is None else ball_same.cpu().numpy().astype(bool)
    ax.plot(b[same, 0], b[same, 1], "o", color="#0072B2", markersize=3.5, label="ball: same next token")
    ax.plot(b[~same, 0], b[~same, 1], "x", color="#D55E00", markersize=5, label="ball: another token")
    ax.plot(xy[:1, 0], xy[:1, 1], "*", color="black", markersize=14, markeredgecolor="white", label="query")
    ax.set_xlabel(grid.axis_names[0])
    ax.set_ylabel(grid.axis_names[1])
    ax.set_title("RRT inside the kept units' boundaries vs a ball")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=TEXT_PT, frameon=False)
    fig.tight_layout()
    return fig


def plot_tree_ball_bars(results: dict[str, dict], ax=None) -> Figure:
    """Grouped bars from `compare_tree_ball`: same next token, same continuation, KL, per point set."""
    if not isinstance(results, dict) or not results:
        raise ValueError("results must be compare_tree_ball's non-empty dict")
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), dpi=max(100, plt.rcParams["figure.dpi"])) if ax is None \
        else (ax[0].figure, ax)
    names = list(results)
    x = np.arange(len(names))
    for j, (key, label) in enumerate([("same_next", "same next token"), ("same_continuation", "same continuation")]):
        axes[0].bar(x + (j - 0.5) * 0.38, [results[n][key] for n in names], 0.38, label=label, color=PALETTE[j])
    axes[0].set_xticks(x, names)
    axes[0].set_ylim(0, 1.3)
    axes[0].set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    axes[0].set_ylabel("share of points")
    axes[0].legend(fontsize=TEXT_PT, frameon=False, loc="upper center", ncol=2)
    axes[1].bar(x, [results[n]["kl"] for n in names], 0.5, color=PALETTE[3])
    axes[1].set_xticks(x, names)
    axes[1].set_ylabel("mean KL to the query (nats)")
    fig.tight_layout()
    return fig


def plot_feature_contexts(contexts: dict[int, Sequence[dict]], decode: Callable[[list[int]], str],
                          width: int = 60) -> Figure:
    """Each feature's top-activating contexts as text, the token it fires on in [[brackets]]."""
    if not isinstance(contexts, dict) or not contexts:
        raise ValueError("contexts must be a non-empty dict feature -> top_activating_contexts(...)")
    lines: list[tuple[str, bool]] = []
    for feature in sorted(contexts):
        lines.append((f"feature {feature}", True))
        for c in contexts[feature]:
            before = token_label(decode(c["tokens"][:-1]))[-width:]
            lines.append((f"  {c['activation']:5.2f}  {before}[[{token_label(decode(c['tokens'][-1:]))}]]", False))
    fig = plt.figure(figsize=(9, 0.26 * len(lines) + 0.4), dpi=max(100, plt.rcParams["figure.dpi"]))
    for i, (text, bold) in enumerate(lines):
        fig.text(0.01, 1 - (i + 0.8) / (len(lines) + 0.6), text, family="monospace", fontsize=TEXT_PT,
                 weight="bold" if bold else "normal")
    return fig
