"""The whole pipeline on one sentence: text -> UTF-8 bytes -> tokens -> vectors -> attention -> next token.

Notebook 00 runs one sentence through every stage of a transformer language model and draws each
stage. The stage functions are pure (they compute the data of a figure; tests call them without a
display) and the `draw_*` functions draw that data. The network here is *untrained*: random
embeddings and projections, so the attention pattern and the probabilities show the shapes, not
knowledge. Each later notebook builds and trains one stage for real.

Shapes: `T` tokens in the sentence, `C` d_model, `V` vocabulary size.
Left out: multiple heads, layers, feed-forward blocks and training (notebooks 05-08).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from tinyformer.attention import scaled_dot_product_attention
from tinyformer.embeddings import TokenEmbedding, sinusoidal_positional_encoding
from tinyformer.masks import causal_mask

from .fonts import font_has
from .style import MIN_FONT_PT, font_size

__all__ = [
    "STAGES",
    "STAGE_NOTEBOOKS",
    "STAGE_FIGSIZES",
    "stage_figsize",
    "PipelineTrace",
    "utf8_bytes",
    "token_pieces",
    "token_vectors",
    "untrained_projections",
    "untrained_attention",
    "next_token_distribution",
    "top_next_tokens",
    "trace_pipeline",
    "piece_label",
    "draw_bytes",
    "draw_tokens",
    "draw_vectors",
    "draw_attention",
    "draw_next_token",
    "draw_stage",
    "draw_pipeline",
]

STAGES = ("bytes", "tokens", "vectors", "attention", "next token")
STAGE_NOTEBOOKS = {  # where each stage is built for real
    "bytes": "01-tokenization.ipynb",
    "tokens": "01-tokenization.ipynb",
    "vectors": "02-embeddings-and-positions.ipynb",
    "attention": "03-attention.ipynb",
    "next token": "08-sampling.ipynb",
}
STAGE_FIGSIZE = (8.0, 3.0)
STAGE_FIGSIZES = {stage: STAGE_FIGSIZE for stage in STAGES} | {"attention": (6.0, 4.6)}


class Tokenizer(Protocol):
    vocab_size: int

    def encode(self, text: str) -> list[int]: ...

    def token_bytes(self, id: int) -> bytes: ...


# ---------------------------------------------------------------- the stages (pure)


def utf8_bytes(text: str) -> list[tuple[str, list[int]]]:
    """Each character of `text` with its UTF-8 bytes: 1 for ASCII, 2-4 for the rest."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return [(ch, list(ch.encode("utf-8"))) for ch in text]


def token_pieces(tokenizer: Tokenizer, text: str) -> list[tuple[int, bytes]]:
    """(id, bytes) of each token of `text`; the pieces concatenate back to the UTF-8 text."""
    ids = tokenizer.encode(text)
    pieces = [(i, tokenizer.token_bytes(i)) for i in ids]
    if b"".join(p for _, p in pieces) != text.encode("utf-8"):  # a broken tokenizer would mislead the figure
        raise ValueError("the tokenizer's pieces do not join back to the text's UTF-8 bytes")
    return pieces


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def token_vectors(token_ids: Sequence[int], vocab_size: int, d_model: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(table, tok, pos, x): a random (V, C) embedding table, its rows for the ids (T, C), the sinusoids (T, C), and tok + pos."""
    if len(token_ids) == 0:
        raise ValueError("token_ids is empty: give at least one token")
    with torch.random.fork_rng(devices=[]):  # a fixed table without touching the caller's random state
        torch.manual_seed(seed)
        table = TokenEmbedding(vocab_size, d_model, scale=True)
    ids = torch.tensor(list(token_ids), dtype=torch.long)  # (T,)
    with torch.no_grad():
        tok = table(ids)  # (T, C)
    pos = sinusoidal_positional_encoding(len(ids), d_model)  # (T, C)
    return table.weight.detach(), tok, pos, tok + pos


def untrained_projections(d_model: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random (C, C) matrices W_q, W_k, W_v, scaled by 1/sqrt(C) so q, k, v keep the size of x."""
    g = _seeded(seed)
    return tuple(torch.randn(d_model, d_model, generator=g) / math.sqrt(d_model) for _ in range(3))


def untrained_attention(x: torch.Tensor, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(out (T, C), weights (T, T)): one causal attention head with random W_q, W_k, W_v."""
    if x.dim() != 2:
        raise ValueError(f"x must have shape (T, C), got {tuple(x.shape)}")
    T, C = x.shape
    w_q, w_k, w_v = untrained_projections(C, seed)
    q, k, v = x @ w_q, x @ w_k, x @ w_v  # (T, C) each
    return scaled_dot_product_attention(q, k, v, mask=causal_mask(T))  # (T, C), (T, T)


def next_token_distribution(h_last: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """(V,) probabilities of the next token: softmax of the last position's vector against every embedding row."""
    if h_last.dim() != 1 or table.dim() != 2 or table.shape[1] != h_last.shape[0]:
        raise ValueError(f"h_last must be (C,) and table (V, C), got {tuple(h_last.shape)} and {tuple(table.shape)}")
    logits = table @ h_last  # (V,) one score per vocabulary entry (weights tied to the embedding, like GPT-2)
    return torch.softmax(logits, dim=-1)


def top_next_tokens(probs: torch.Tensor, k: int = 10) -> list[tuple[int, float]]:
    """The k most likely (id, probability) pairs, most likely first (ties: smaller id first)."""
    order = sorted(range(len(probs)), key=lambda i: (-float(probs[i]), i))
    return [(i, float(probs[i])) for i in order[:k]]


def piece_label(piece: bytes) -> str:
    """A token's bytes as readable text: the characters when they decode, else hex like <f0 9f>."""
    try:
        text = piece.decode("utf-8")
    except UnicodeDecodeError:
        return "<" + " ".join(f"{b:02x}" for b in piece) + ">"
    return text.replace(" ", "␣").replace("\n", "⏎")


@dataclass(frozen=True)
class PipelineTrace:
    """Everything one sentence becomes on its way through an untrained one-layer language model."""

    text: str
    chars: list[tuple[str, list[int]]]  # each character with its UTF-8 bytes
    tokens: list[tuple[int, bytes]]  # each token's id and bytes
    table: torch.Tensor  # (V, C) token embedding table
    tok: torch.Tensor  # (T, C) token vectors
    pos: torch.Tensor  # (T, C) position vectors
    x: torch.Tensor  # (T, C) tok + pos, the input of attention
    weights: torch.Tensor  # (T, T) attention weights, causal
    out: torch.Tensor  # (T, C) attention output
    probs: torch.Tensor  # (V,) next-token probabilities after the last token

    @property
    def n_bytes(self) -> int:
        return sum(len(b) for _, b in self.chars)

    @property
    def labels(self) -> list[str]:
        return [piece_label(p) for _, p in self.tokens]


def trace_pipeline(text: str, tokenizer: Tokenizer, d_model: int = 16, seed: int = 0) -> PipelineTrace:
    """Run `text` through every stage (untrained weights from `seed`) and keep each stage's data."""
    if not text:
        raise ValueError("text is empty: give a sentence")
    chars = utf8_bytes(text)
    tokens = token_pieces(tokenizer, text)
    table, tok, pos, x = token_vectors([i for i, _ in tokens], tokenizer.vocab_size, d_model, seed)
    out, weights = untrained_attention(x, seed)
    h_last = x[-1] + out[-1]  # residual: the last position's vector after attention
    probs = next_token_distribution(h_last, table)
    return PipelineTrace(text, chars, tokens, table, tok, pos, x, weights, out, probs)


# ---------------------------------------------------------------- drawing


def _char_label(ch: str) -> str:
    if ch == " ":
        return "␣"
    if ch == "\n":
        return "⏎"
    return ch if font_has(ch) else f"U+{ord(ch):04X}"


def _shown(label: str) -> str:
    return "".join(c if c in "␣⏎<>" or font_has(c) else "?" for c in label)


def _box(ax, x0: float, y0: float, w: float, h: float, text: str, color, fontsize: float | None = None) -> None:
    ax.add_patch(plt.Rectangle((x0 + 0.04, y0), w - 0.08, h, facecolor=color, edgecolor="0.3", lw=0.8))
    _cell_text(ax, x0 + w / 2, y0 + h / 2, text, fontsize)


def _cell_text(ax, x: float, y: float, text: str, fontsize: float | None, **kw) -> None:
    """Text centred at (x, y); `fontsize=None` (it does not fit across its cells) writes it upright at the minimum size."""
    rotation = 0 if fontsize is not None else 90
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize or MIN_FONT_PT, rotation=rotation, **kw)


def _fit(label: str, n_cells: int, total_cells: int, ax, largest: float = 9) -> float | None:
    """A font size (points) at which `label` fits across `n_cells` of the `total_cells` of the axes.

    `largest` is relative to a 10 pt figure font (the style scales it); None when even MIN_FONT_PT does
    not fit, so the caller turns the label upright instead of shrinking it below readable.
    """
    width_pt = ax.figure.get_figwidth() * 72 * ax.get_position().width  # the axes' width in points
    fits = width_pt * n_cells / max(total_cells, 1) / (0.7 * max(len(label), 1))
    size = min(font_size(largest / 10), fits)
    return size if size >= MIN_FONT_PT else None


def stage_figsize(trace: PipelineTrace, stage: str) -> tuple[float, float]:
    """(width, height) in inches for one stage, grown with the sentence so its labels stay >= MIN_FONT_PT."""
    w, h = STAGE_FIGSIZES[stage]
    T = len(trace.tokens)
    row = 1.6 * max(plt.rcParams["xtick.labelsize"], plt.rcParams["ytick.labelsize"], MIN_FONT_PT) / 72  # inches
    if stage == "vectors":
        h = max(h, row * T + 1.2)
    elif stage == "attention":
        w, h = max(w, row * T + 2.6), max(h, row * T + 1.6)
    return w, h


def _new_ax(ax, stage: str = "bytes", trace: PipelineTrace | None = None):
    if ax is not None:
        return ax.figure, ax
    return plt.subplots(figsize=STAGE_FIGSIZES[stage] if trace is None else stage_figsize(trace, stage))


def draw_bytes(trace: PipelineTrace | str, ax=None) -> Figure:
    """Characters on top, each over its UTF-8 bytes (hex); multi-byte characters shaded. Takes a trace or a str."""
    chars = utf8_bytes(trace) if isinstance(trace, str) else trace.chars
    fig, ax = _new_ax(ax)
    col, total = 0, sum(len(bs) for _, bs in chars)
    for ch, bs in chars:
        color = "#fde0b0" if len(bs) > 1 else "#d8e8f8"
        label = _char_label(ch)
        _box(ax, col, 1.1, len(bs), 0.9, label, color, _fit(label, len(bs), total, ax, 10))
        for b in bs:
            _box(ax, col, 0, 1, 0.9, f"{b:02x}", color, _fit("00", 1, total, ax, 8))
            col += 1
    ax.set_xlim(0, max(col, 1))
    ax.set_ylim(-0.1, 2.1)
    ax.set_yticks([0.45, 1.55], ["bytes", "characters"])
    ax.set_xticks([])
    ax.set_title(f"{len(chars)} characters -> {col} UTF-8 bytes (hex)")
    ax.spines[:].set_visible(False)
    return fig


def draw_tokens(trace: PipelineTrace, ax=None) -> Figure:
    """The bytes on the bottom, each token's box spanning the bytes it merges, with its id."""
    fig, ax = _new_ax(ax)
    col, total = 0, trace.n_bytes
    for k, (i, piece) in enumerate(trace.tokens):
        color = plt.cm.Pastel1(k % 9)
        for b in piece:
            _box(ax, col, 0, 1, 0.9, f"{b:02x}", color, _fit("00", 1, total, ax, 8))
            col += 1
        start, label = col - len(piece), _shown(piece_label(piece))
        _box(ax, start, 1.1, len(piece), 0.9, label, color, _fit(label, len(piece), total, ax))
        _cell_text(ax, start + len(piece) / 2, 2.4, str(i), _fit(str(i), len(piece), total, ax, 8), color="0.25")
    ax.set_xlim(0, max(col, 1))
    ax.set_ylim(-0.1, 2.75)
    ax.set_yticks([0.45, 1.55, 2.4], ["bytes", "tokens", "ids"])
    ax.set_xticks([])
    ax.set_title(f"{trace.n_bytes} bytes -> {len(trace.tokens)} tokens")
    ax.spines[:].set_visible(False)
    return fig


def draw_vectors(trace: PipelineTrace, ax=None) -> Figure:
    """Each token's input vector (token embedding + position), one row per token."""
    fig, ax = _new_ax(ax, "vectors", trace)
    lim = float(trace.x.abs().max())
    im = ax.imshow(trace.x.numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_yticks(range(len(trace.tokens)), [_shown(s) for s in trace.labels])
    ax.set_xlabel(f"dimension (d_model = {trace.x.shape[1]})")
    ax.set_title("tokens -> vectors: token embedding + position (random, untrained)")
    fig.colorbar(im, ax=ax, fraction=0.03)
    return fig


def draw_attention(trace: PipelineTrace, ax=None) -> Figure:
    """The causal attention weights: row t shows how much token t takes from each earlier token."""
    fig, ax = _new_ax(ax, "attention", trace)
    im = ax.imshow(trace.weights.numpy(), cmap="Blues", vmin=0, vmax=1)
    labels = [_shown(s) for s in trace.labels]
    ax.set_xticks(range(len(labels)), labels, rotation=90)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("key (looked at)")
    ax.set_ylabel("query (looking)")
    ax.set_title("attention weights (untrained; each row sums to 1)")
    fig.colorbar(im, ax=ax, fraction=0.03)
    return fig


def draw_next_token(trace: PipelineTrace, tokenizer: Tokenizer | None = None, k: int = 10, ax=None) -> Figure:
    """The k most likely next tokens after the sentence, with a line at the uniform 1/V."""
    fig, ax = _new_ax(ax)
    top = top_next_tokens(trace.probs, k)
    names = [_shown(piece_label(tokenizer.token_bytes(i))) if tokenizer else str(i) for i, _ in top]
    ax.bar(range(len(top)), [p for _, p in top], color="#7aa6d6")
    ax.axhline(1 / len(trace.probs), color="0.3", ls="--", lw=1, label=f"uniform 1/V = {1 / len(trace.probs):.4f}")
    ax.set_xticks(range(len(top)), names, rotation=45)
    ax.set_ylabel("probability")
    ax.set_title(f"next token after {trace.labels[-1]!r} (untrained: a random guess)")
    ax.legend()
    return fig


def draw_stage(trace: PipelineTrace, stage: str, tokenizer: Tokenizer | None = None, ax=None) -> Figure:
    """Draw one of STAGES."""
    if stage not in STAGES:
        raise ValueError(f"stage={stage!r} is not a stage; choose one of {', '.join(STAGES)}")
    if stage == "next token":
        return draw_next_token(trace, tokenizer, ax=ax)
    draw = {"bytes": draw_bytes, "tokens": draw_tokens, "vectors": draw_vectors, "attention": draw_attention}[stage]
    return draw(trace, ax=ax)


def draw_pipeline(trace: PipelineTrace, tokenizer: Tokenizer | None = None,
                  stages: Sequence[str] = STAGES) -> Figure:
    """`stages` (all of STAGES by default) on one page, top to bottom. ValueError for an unknown stage."""
    stages = tuple(stages)
    bad = [s for s in stages if s not in STAGES]
    if bad or not stages:
        raise ValueError(f"stages={stages!r} must be a non-empty selection of {', '.join(STAGES)}")
    sizes = [stage_figsize(trace, stage) for stage in stages]
    heights = [h for _, h in sizes]
    fig, axes = plt.subplots(len(stages), 1, figsize=(max(w for w, _ in sizes) + 1, sum(heights) * 0.95),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for stage, ax in zip(stages, axes[:, 0]):
        draw_stage(trace, stage, tokenizer, ax=ax)
    fig.tight_layout()
    return fig
