"""Drawings for notebook 01 (tokenization): token segmentations as colored boxes, merge steps, curves.

The pure helpers (`token_bytes_label`, `segmentation`, `merge_steps`) compute what is drawn, so tests and
the merge-stepper widget use them without matplotlib.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from tinyformer.tokenizer import BPETokenizer

from .fonts import font_has
from .style import MIN_FONT_PT, font_size

__all__ = [
    "TOKEN_COLORS",
    "token_bytes_label",
    "segmentation",
    "merge_steps",
    "draw_segmentation",
    "plot_segmentations",
    "plot_merge_steps",
    "plot_tokens_per_char",
]

# pale, distinct fills; neighbouring tokens always differ
TOKEN_COLORS = ("#fbd4b4", "#c6e2f5", "#d4f0c4", "#f5d0e6", "#fff2b3", "#dcd3f5", "#c9efe9", "#f2d6c9")


def token_bytes_label(token: bytes, printable: bool = False) -> str:
    """A token's bytes as readable text: '␣' for a space, '⏎' for a newline, hex for a cut UTF-8 character.

    With `printable=True`, characters the plotting font lacks (Hangul, emoji) are shown as U+XXXX.
    """
    try:
        text = token.decode("utf-8")
    except UnicodeDecodeError:  # a piece of a multi-byte character: show its bytes
        return " ".join(f"{b:02x}" for b in token)
    shown = text.replace(" ", "␣").replace("\n", "⏎").replace("\t", "⇥")
    if printable:
        shown = "".join(c if font_has(c) else f"U+{ord(c):04X}" for c in shown)
    return shown


def segmentation(tokenizer: BPETokenizer, text: str) -> list[bytes]:
    """The tokens of `text` as bytes, in order (special tokens allowed)."""
    return [tokenizer.token_bytes(i) for i in tokenizer.encode(text, allowed_special="all")]


def merge_steps(tokenizer: BPETokenizer, text: str, steps: Sequence[int]) -> list[list[bytes]]:
    """The segmentation of `text` after only the first `k` merges, for each `k` in `steps`."""
    merges = list(tokenizer.merges.items())
    out = []
    for k in steps:
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= len(merges):
            raise ValueError(f"steps contains {k!r}; a step is a number of merges from 0 to {len(merges)}")
        partial = BPETokenizer(dict(merges[:k]), pattern=tokenizer.pattern)
        out.append(segmentation(partial, text))
    return out


def draw_segmentation(tokens: Sequence[bytes], ax=None, width: float = 60.0, title: str | None = None, fontsize: float | None = None):
    """Tokens as colored boxes, left to right, wrapping after `width` characters; returns the axes.

    `fontsize=None` follows the figure style (`tinyformer.viz.use_style`); never below MIN_FONT_PT.
    """
    fontsize = font_size(0.9) if fontsize is None else max(fontsize, MIN_FONT_PT)
    if ax is None:
        rows = _layout(tokens, width)[1]
        _, ax = plt.subplots(figsize=(9, 0.45 * rows + 0.5))
    positions, rows = _layout(tokens, width)
    for i, (tok, (x, row, w)) in enumerate(zip(tokens, positions)):
        y = -row
        ax.add_patch(plt.Rectangle((x + 0.1, y - 0.4), w - 0.2, 0.8, facecolor=TOKEN_COLORS[i % len(TOKEN_COLORS)], edgecolor="0.35", lw=0.7))
        ax.text(x + w / 2, y, token_bytes_label(tok, printable=True), ha="center", va="center", fontsize=fontsize, family="DejaVu Sans Mono")
    ax.set_xlim(-0.2, width + 0.5)
    ax.set_ylim(-rows + 0.4, 0.6)
    ax.axis("off")
    if title:
        ax.set_title(title, loc="left")
    return ax


def _layout(tokens: Sequence[bytes], width: float) -> tuple[list[tuple[float, int, float]], int]:
    """(x, row, box width) per token, boxes as wide as their labels, wrapped at `width`."""
    positions, x, row = [], 0.0, 0
    for tok in tokens:
        w = max(len(token_bytes_label(tok, printable=True)), 1) + 0.6
        if x > 0 and x + w > width:
            x, row = 0.0, row + 1
        positions.append((x, row, w))
        x += w
    return positions, row + 1


def plot_segmentations(rows: dict[str, Sequence[bytes]], width: float = 60.0) -> Figure:
    """One block of token boxes per entry of `rows` ({title: tokens}), stacked."""
    heights = [_layout(tokens, width)[1] for tokens in rows.values()]
    fig, axes = plt.subplots(len(rows), 1, figsize=(9, 0.45 * sum(heights) + 0.55 * len(rows)), height_ratios=heights, squeeze=False)
    for ax, (title, tokens) in zip(axes[:, 0], rows.items()):
        draw_segmentation(tokens, ax=ax, width=width, title=title)
    fig.tight_layout()
    return fig


def plot_merge_steps(tokenizer: BPETokenizer, text: str, steps: Sequence[int], width: float = 60.0) -> Figure:
    """One row of token boxes per number of merges: watch bytes fuse into subwords."""
    segs = merge_steps(tokenizer, text, steps)
    return plot_segmentations({f"after {k} merges: {len(seg)} tokens": seg for k, seg in zip(steps, segs)}, width)


def plot_tokens_per_char(vocab_sizes: Sequence[int], series: dict[str, Sequence[float]], title: str = "Tokens per character vs vocabulary size") -> Figure:
    """One line per `series` label: tokens per character (lower = shorter sequences) against vocab size."""
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    for label, values in series.items():
        ax.plot(vocab_sizes, values, marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(vocab_sizes), [str(v) for v in vocab_sizes])
    ax.set_xlabel("vocabulary size (256 bytes + merges)")
    ax.set_ylabel("tokens per character")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    return fig
