"""Figures for notebook 02: positional-encoding heatmaps and waves, cosine histograms, word maps."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch

from ..embeddings import sinusoidal_positional_encoding
from .style import font_size

__all__ = [
    "pe_wavelength",
    "describe_positional_encoding",
    "plot_positional_encoding",
    "plot_positional_encoding_explorer",
    "plot_cosine_histograms",
    "plot_word_vectors_2d",
]


def pe_wavelength(dimension: int, d_model: int, base: float = 10000.0) -> float:
    """Wavelength (in positions) of column `dimension` of the sinusoidal table: 2π·base^(2i/C), i = dimension // 2."""
    if not 0 <= dimension < d_model:
        raise ValueError(f"dimension={dimension} must be in 0..{d_model - 1} (d_model={d_model})")
    return 2 * math.pi * base ** (2 * (dimension // 2) / d_model)


def describe_positional_encoding(position: int, dimension: int, d_model: int, n_positions: int) -> str:
    """One line: the value PE[position, dimension], its sin/cos kind and wavelength."""
    pe = sinusoidal_positional_encoding(n_positions, d_model)
    if not 0 <= position < n_positions:
        raise ValueError(f"position={position} must be in 0..{n_positions - 1}")
    kind = "sin" if dimension % 2 == 0 else "cos"
    wl = pe_wavelength(dimension, d_model)
    return (f"PE[{position}, {dimension}] = {kind}({position} / {wl / (2 * math.pi):.1f}) = {pe[position, dimension].item():+.4f}"
            f"   (wavelength {wl:.1f} positions)")


def plot_positional_encoding(pe: torch.Tensor, position: int | None = None, dimension: int | None = None, ax=None):
    """Heatmap of a (T, C) positional table; optional lines mark one position (row) and one dimension (column)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    im = ax.imshow(pe.detach().numpy(), aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xlabel("dimension")
    ax.set_ylabel("position")
    ax.figure.colorbar(im, ax=ax, fraction=0.04)
    if position is not None:
        ax.axhline(position, color="k", lw=1)
    if dimension is not None:
        ax.axvline(dimension, color="k", lw=1, ls="--")
    return ax


def plot_positional_encoding_explorer(position: int = 10, dimension: int = 4, d_model: int = 64, n_positions: int = 100):
    """The explorer's figure: the heatmap with the chosen row/column, the column's wave, and the row's vector."""
    pe = sinusoidal_positional_encoding(n_positions, d_model)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.3), gridspec_kw={"width_ratios": [1.3, 1, 1]})
    plot_positional_encoding(pe, position, dimension, ax=axes[0])
    axes[0].set_title("the table PE (rows = positions)")
    axes[1].plot(pe[:, dimension].numpy(), lw=1.5)
    axes[1].plot([position], [pe[position, dimension].item()], "ko")
    axes[1].set_title(f"dimension {dimension}: wavelength {pe_wavelength(dimension, d_model):.1f}")
    axes[1].set_xlabel("position")
    axes[1].set_ylim(-1.1, 1.1)
    axes[2].bar(range(d_model), pe[position].numpy(), width=1.0)
    axes[2].axvline(dimension, color="k", lw=1, ls="--")
    axes[2].set_title(f"the vector of position {position}")
    axes[2].set_xlabel("dimension")
    axes[2].set_ylim(-1.1, 1.1)
    fig.tight_layout()
    return fig


def plot_cosine_histograms(sims_by_dim: dict[int, torch.Tensor]):
    """One histogram of cosine similarities per dimension d, on the same axis."""
    fig, ax = plt.subplots(figsize=(7, 3))
    for d, sims in sorted(sims_by_dim.items()):
        ax.hist(sims.numpy(), bins=60, range=(-1, 1), histtype="step", density=True, lw=1.5, label=f"d = {d}")
    ax.set_xlabel("cosine similarity of two random vectors")
    ax.set_ylabel("density")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_word_vectors_2d(vectors: torch.Tensor, words: list[str], arrows: list[tuple[str, str]] = ()):
    """Project word vectors to their top-2 principal components; draw arrows between word pairs."""
    x = vectors.detach().double()
    x = x - x.mean(0)
    _, _, vt = torch.linalg.svd(x, full_matrices=False)
    xy = (x @ vt[:2].T).numpy()
    pos = {w: xy[i] for i, w in enumerate(words)}
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.scatter(xy[:, 0], xy[:, 1], s=12)
    for w, (px, py) in pos.items():
        ax.annotate(w, (px, py), fontsize=font_size(0.9), xytext=(3, 3), textcoords="offset points")
    for a, b in arrows:
        ax.annotate("", xy=pos[b], xytext=pos[a], arrowprops=dict(arrowstyle="->", color="C3"))
    ax.set_title("word vectors, first two principal components")
    fig.tight_layout()
    return fig
