"""Figures for notebook 10 (cost and scale): cost curves against context length, the sliding window's
reach, and the stored experiments (scaling sweep, cheaper attention, fine-tuning, "emergence").

Pure functions first (`cost_curves`, `window_reach`), which the tests and the widgets call; every
`plot_*` returns a matplotlib figure (100 dpi, text >= 10 pt).
Shapes: T context length, C d_model, H heads, L layers.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..cheap_attention import sliding_window_mask
from ..scaling import attention_dominates_at, block_flops_per_token, power_law

__all__ = ["cost_curves", "plot_cost_curves", "window_reach", "plot_window", "plot_scaling", "plot_attention_comparison",
           "plot_finetune", "plot_emergence", "DPI"]

DPI = 100
FONT = 10


def cost_curves(T_values: Sequence[int], d_model: int = 128, d_ff: int = 512, n_heads: int = 4,
                block_size: int = 64, bytes_per_value: int = 4) -> dict[str, list[float]]:
    """Per T: FLOPs per token of one block (attention, the rest) and attention's share; bytes of one layer's
    (H, T, T) score matrix (naive attention) and of its (H, block, block) tile (tiled attention)."""
    out: dict[str, list[float]] = {"T": [], "attention_flops": [], "other_flops": [], "attention_share": [],
                                   "naive_score_bytes": [], "tile_bytes": []}
    for T in T_values:
        f = block_flops_per_token(d_model, d_ff, int(T))
        out["T"].append(int(T))
        out["attention_flops"].append(f["attention"])
        out["other_flops"].append(f["total"] - f["attention"])
        out["attention_share"].append(f["attention"] / f["total"])
        out["naive_score_bytes"].append(n_heads * T * T * bytes_per_value)
        out["tile_bytes"].append(n_heads * min(T, block_size) ** 2 * bytes_per_value)
    return out


def plot_cost_curves(T: int = 512, d_model: int = 128, d_ff: int = 512, n_heads: int = 4, T_max: int = 8192):
    """Left: FLOPs per token of one block against T (attention vs the rest), the crossover 6·C marked.
    Right: bytes of one layer's score matrix (naive) against a tile's (tiled). A marker at `T`."""
    grid = np.unique(np.geomspace(16, T_max, 60).astype(int))
    c = cost_curves(grid, d_model, d_ff, n_heads)
    here = cost_curves([T], d_model, d_ff, n_heads)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=DPI)
    a1.loglog(c["T"], c["attention_flops"], label="attention (4·T·C)")
    a1.loglog(c["T"], c["other_flops"], label="projections + MLP")
    cross = attention_dominates_at(d_model, d_ff)
    a1.axvline(cross, color="grey", ls=":", label=f"equal at T = {cross:.0f}")
    a1.axvline(T, color="black", lw=1)
    a1.set(xlabel="context length T", ylabel="forward FLOPs per token",
           title=f"attention is {100 * here['attention_share'][0]:.0f}% of the block at T={T}")
    a1.legend(fontsize=FONT)
    a2.loglog(c["T"], np.array(c["naive_score_bytes"]) / 2**20, label="naive: (H, T, T) scores")
    a2.loglog(c["T"], np.array(c["tile_bytes"]) / 2**20, label="tiled: one (H, 64, 64) tile")
    a2.axvline(T, color="black", lw=1)
    a2.set(xlabel="context length T", ylabel="MiB per layer (float32)",
           title=f"scores at T={T}: {here['naive_score_bytes'][0] / 2**20:.2f} MiB")
    a2.legend(fontsize=FONT)
    fig.tight_layout()
    return fig


def window_reach(T: int, window: int, n_layers: int) -> torch.Tensor:
    """(n_layers, T) bool: which positions the last token's state can depend on after 1..n_layers windowed layers."""
    mask = sliding_window_mask(T, window).to(torch.int64)  # (T, T)
    reach = torch.zeros(T, dtype=torch.int64)
    reach[-1] = 1
    rows = []
    for _ in range(n_layers):
        reach = ((reach @ mask) > 0).to(torch.int64)  # positions some reached position attends to
        rows.append(reach.bool())
    return torch.stack(rows)  # (L, T)


def plot_window(window: int = 4, T: int = 16, n_layers: int = 3):
    """Left: the (T, T) sliding-window mask. Right: what the last token reaches after each layer."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=DPI, gridspec_kw={"width_ratios": [1, 1.4]})
    a1.imshow(sliding_window_mask(T, window).numpy(), cmap="Blues", vmin=0, vmax=1.3)
    a1.set(xlabel="key position", ylabel="query position", title=f"window {window}: True = may attend")
    reach = window_reach(T, window, n_layers)
    a2.imshow(reach.numpy(), cmap="Oranges", vmin=0, vmax=1.3, aspect="auto")
    a2.set_yticks(range(n_layers), [f"after layer {i + 1}" for i in range(n_layers)])
    a2.set(xlabel="position", title=f"the last token reaches {int(reach[-1].sum())} of {T} positions")
    fig.tight_layout()
    return fig


def plot_scaling(sweep: dict):
    """Left: held-out bits per byte against non-embedding parameters, with the fitted power law.
    Right: bits per byte against tokens seen for one size."""
    rows = sorted(sweep["sizes"], key=lambda r: r["params_non_embedding"])
    N = np.array([r["params_non_embedding"] for r in rows], dtype=float)
    bpb = np.array([r["bits_per_byte"] for r in rows])
    fit = sweep["fit"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=DPI)
    a1.loglog(N, bpb, "o", label="measured")
    grid = np.geomspace(N.min(), N.max(), 100)
    a1.loglog(grid, power_law(grid, fit["a"], fit["alpha"], fit["c"]),
              label=f"{fit['a']:.3g}·N^-{fit['alpha']:.2f} + {fit['c']:.2f}")
    a1.set(xlabel="non-embedding parameters N", ylabel="held-out bits per byte", title="loss against model size")
    a1.legend(fontsize=FONT)
    curve = sweep["curve"]
    a2.semilogx([p["tokens"] for p in curve], [p["bits_per_byte"] for p in curve], "o-")
    d, layers, _ = sweep["settings"]["curve_size"]
    a2.set(xlabel="training tokens seen", ylabel="held-out bits per byte",
           title=f"loss against data (d_model {d}, {layers} layers)")
    fig.tight_layout()
    return fig


def plot_attention_comparison(result: dict):
    """Left: held-out bits per byte against seconds per step. Right: peak memory of one layer against T."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=DPI)
    for r in result["kinds"]:
        name = r["attention"] + (f" ({r['window']})" if r["window"] else "")
        a1.plot(r["seconds_per_step"], r["bits_per_byte"], "o", ms=8, label=name)
        a2.loglog(r["memory_lengths"], np.array(r["peak_bytes"]) / 2**20, "o-", label=name)
    a1.set(xlabel="seconds per training step", ylabel="held-out bits per byte", title="quality against time")
    a2.set(xlabel="context length T", ylabel="peak MiB, one layer's forward", title="memory against T")
    for ax in (a1, a2):
        ax.legend(fontsize=FONT)
    fig.tight_layout()
    return fig


def plot_finetune(result: dict):
    """Held-out accuracy against labelled examples: pretrained vs from scratch, causal vs bidirectional."""
    rows = result["rows"]
    n = [r["n_labelled"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.5, 3.8), dpi=DPI)
    for key, style in (("pretrained_causal", "o-"), ("pretrained_bidirectional", "s-"), ("scratch_causal", "o--"),
                       ("scratch_bidirectional", "s--")):
        ax.semilogx(n, [r[key] for r in rows], style, label=key.replace("_", ", "))
    ax.axhline(0.5, color="grey", ls=":", label="chance")
    ax.set(xlabel="labelled examples", ylabel="held-out accuracy", title="real or shuffled word order?")
    ax.legend(fontsize=FONT)
    fig.tight_layout()
    return fig


def plot_emergence(sweep: dict, k: str = "4"):
    """Per-token accuracy (smooth) and exact match of k-token spans (sharp) against model size."""
    rows = sorted(sweep["sizes"], key=lambda r: r["params_non_embedding"])
    N = [r["params_non_embedding"] for r in rows]
    p = np.array([r["token_accuracy"] for r in rows])
    fig, ax = plt.subplots(figsize=(6.5, 3.8), dpi=DPI)
    ax.semilogx(N, p, "o-", label="per-token accuracy")
    ax.semilogx(N, [r["exact_match"][k] for r in rows], "s-", label=f"exact match, {k}-token spans")
    ax.semilogx(N, p ** int(k), ":", color="grey", label=f"(per-token accuracy)^{k}")
    ax.set(xlabel="non-embedding parameters N", ylabel="score on held-out text", title="one ability, two metrics")
    ax.legend(fontsize=FONT)
    fig.tight_layout()
    return fig
