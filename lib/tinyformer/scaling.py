"""Cost and scale, measured: FLOPs and KV-cache bytes by formula, peak tensor memory, power-law fits,
and the small experiments behind notebook 10 (a scaling sweep, cheaper attention compared).

- FLOPs per token of one GPT block's forward (a multiply-add counts 2, as in Kaplan et al. 2020,
  table 1): the q, k, v and output projections 8·C², the MLP 4·C·d_ff, attention's two (T, T)
  products 4·T·C (scores q·kᵀ and weights·v, each 2·T·C per token when every query meets all T keys).
  `torch.utils.flop_counter.FlopCounterMode` counts the same numbers on our readable attention.
- KV cache: every layer keeps one key and one value vector per head per token:
  2 · n_layers · n_kv_heads · head_dim · bytes per value.
- `PeakTensorMemory`: the largest total of tensor storage alive at once inside a `with` block,
  counted op by op (a TorchDispatchMode), exact and deterministic.
- `fit_power_law`: L = a·N^(-alpha) + c fitted by least squares on log L (grid over c, a straight
  line for the rest), its uncertainty by a bootstrap over the points.
- `run_scaling_sweep`: GPTs of several sizes trained on the same tokens of notebook 08's docs
  corpus (`tinyformer.lm.build_data`), held-out bits per byte, per-token accuracy and exact match
  of whole spans (the "emergence" note); `run_attention_comparison`: full / window / linear
  attention trained alike. `benchmarks/scaling.py` runs both and writes data/results/*.json.

Shapes: B batch, H heads, T time, C d_model, N parameters, D tokens (in the scaling law).
Sources: Kaplan et al. 2020 "Scaling Laws for Neural Language Models"; Hoffmann et al. 2022
"Training Compute-Optimal Large Language Models" (Chinchilla, approach 3 fit).
"""

from __future__ import annotations

import math
import os
import platform
import time
from dataclasses import asdict
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

__all__ = ["PeakTensorMemory", "peak_memory", "block_flops_per_token", "attention_dominates_at",
           "kv_cache_bytes_per_token", "PUBLISHED_SHAPES", "kv_cache_table", "loglog_slope", "fit_power_law",
           "power_law", "CHINCHILLA", "chinchilla_loss", "chinchilla_optimal_split", "non_embedding_parameters",
           "bits_per_byte", "span_scores", "machine_info", "SWEEP_SIZES", "run_scaling_sweep",
           "run_attention_comparison"]


# ---- memory ---------------------------------------------------------------------------------------

class PeakTensorMemory(TorchDispatchMode):
    """Largest total bytes of tensor storage alive at once among the tensors created inside `with`.

    PeakTensorMemory(*outside): tensors made before (the inputs) are not counted. Every ATen op's
    new output storages are added when made and removed when freed (a weak reference says when),
    so the (T, T) scores of a naive attention are seen; scratch space inside one C++ kernel is not.
    `.peak` holds the answer in bytes after the block.
    """

    def __init__(self, *outside: torch.Tensor):
        super().__init__()
        self.outside = {StorageWeakRef(t.untyped_storage()).cdata for t in outside}
        self.live: dict[int, tuple[StorageWeakRef, int]] = {}  # storage id -> (weak ref, bytes)
        self.now = 0
        self.peak = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for key, (ref, nbytes) in list(self.live.items()):  # what died since the last op
            if ref.expired():
                del self.live[key]
                self.now -= nbytes
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                storage = t.untyped_storage()
                ref = StorageWeakRef(storage)
                if ref.cdata not in self.live and ref.cdata not in self.outside:  # new storage, not a view
                    self.live[ref.cdata] = (ref, storage.nbytes())
                    self.now += storage.nbytes()
        self.peak = max(self.peak, self.now)
        return out


def peak_memory(fn: Callable[..., object], *inputs: torch.Tensor) -> int:
    """Peak bytes of tensor storage `fn(*inputs)` has alive at once (inputs excluded), without gradients."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    meter = PeakTensorMemory(*inputs)
    with torch.no_grad(), meter:
        out = fn(*inputs)
    del out
    return meter.peak


# ---- FLOPs and the KV cache -------------------------------------------------------------------------

def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive int")


def block_flops_per_token(d_model: int, d_ff: int, T: int) -> dict[str, int]:
    """Forward FLOPs per token of one transformer block at context T (a multiply-add = 2 FLOPs).

    {"qkv": 6·C², "attention": 4·T·C (q·kᵀ and weights·v over all T keys), "out_proj": 2·C²,
    "mlp": 4·C·d_ff, "total"}. Biases, softmax, norms and the residual adds (O(C) or O(T) per token)
    are left out. A causal kernel that skips the masked half does half the attention FLOPs.
    """
    for name, value in (("d_model", d_model), ("d_ff", d_ff), ("T", T)):
        _check_positive_int(name, value)
    out = {"qkv": 6 * d_model**2, "attention": 4 * T * d_model, "out_proj": 2 * d_model**2, "mlp": 4 * d_model * d_ff}
    out["total"] = sum(out.values())
    return out


def attention_dominates_at(d_model: int, d_ff: int | None = None, causal_half: bool = False) -> float:
    """The context T where attention's FLOPs equal the rest of the block's: (8·C² + 4·C·d_ff) / (4·C).

    d_ff defaults to 4·C, giving T = 6·C (12·C when `causal_half`: a kernel skipping the masked half).
    """
    d_ff = 4 * d_model if d_ff is None else d_ff
    block_flops_per_token(d_model, d_ff, 1)  # checks the arguments
    per_T = 4 * d_model * (0.5 if causal_half else 1.0)
    return (8 * d_model**2 + 4 * d_model * d_ff) / per_T


def kv_cache_bytes_per_token(n_layers: int, n_kv_heads: int, head_dim: int, bytes_per_value: int = 2) -> int:
    """2 (a key and a value) · n_layers · n_kv_heads · head_dim · bytes_per_value."""
    for name, value in (("n_layers", n_layers), ("n_kv_heads", n_kv_heads), ("head_dim", head_dim),
                        ("bytes_per_value", bytes_per_value)):
        _check_positive_int(name, value)
    return 2 * n_layers * n_kv_heads * head_dim * bytes_per_value


# name: (n_layers, n_kv_heads, head_dim, bytes per value, context length), from the papers / model cards
PUBLISHED_SHAPES = {
    "course GPT (nb 08, float32)": (4, 4, 32, 4, 512),
    "GPT-2 small (fp16)": (12, 12, 64, 2, 1024),
    "GPT-2 xl (fp16)": (48, 25, 64, 2, 1024),
    "GPT-3 175B (fp16)": (96, 96, 128, 2, 2048),
    "Llama 2 7B (fp16)": (32, 32, 128, 2, 4096),
    "Llama 2 70B (fp16, 8 KV heads)": (80, 8, 128, 2, 4096),
}


def kv_cache_table(shapes: dict[str, tuple[int, int, int, int, int]] | None = None) -> list[dict]:
    """[{name, bytes_per_token, context, bytes_full_context}] for each shape (default PUBLISHED_SHAPES)."""
    rows = []
    for name, (layers, heads, head_dim, nbytes, context) in (shapes or PUBLISHED_SHAPES).items():
        per_token = kv_cache_bytes_per_token(layers, heads, head_dim, nbytes)
        rows.append({"name": name, "bytes_per_token": per_token, "context": context,
                     "bytes_full_context": per_token * context})
    return rows


# ---- fits ---------------------------------------------------------------------------------------------

def _as_positive_array(name: str, values: Sequence[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size < 2:
        raise ValueError(f"{name} must be a 1-d sequence of at least 2 numbers, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must hold finite numbers > 0")
    return arr


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """The exponent k of y ∝ x^k: the slope of a straight line fitted to (log x, log y)."""
    x, y = _as_positive_array("x", x), _as_positive_array("y", y)
    if x.size != y.size:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def power_law(N, a: float, alpha: float, c: float):
    """L = a · N^(-alpha) + c (N a number or an array)."""
    return a * np.power(np.asarray(N, dtype=np.float64), -alpha) + c


def _fit_once(N: np.ndarray, L: np.ndarray, grid: int = 400) -> tuple[float, float, float]:
    """(a, alpha, c) minimising Σ (log L - log(a N^-alpha + c))²: a grid over c in [0, min L), a line for the rest."""
    best = (math.inf, 0.0, 0.0, 0.0)
    for c in np.linspace(0.0, L.min(), grid, endpoint=False):
        slope, intercept = np.polyfit(np.log(N), np.log(L - c), 1)
        if slope >= 0:
            continue
        pred = np.log(np.exp(intercept) * N**slope + c)
        sse = float(np.sum((np.log(L) - pred) ** 2))
        if sse < best[0]:
            best = (sse, float(np.exp(intercept)), float(-slope), float(c))
    if best[0] == math.inf:
        raise ValueError("the losses do not fall with N; a power law cannot be fitted")
    return best[1], best[2], best[3]


def fit_power_law(N: Sequence[float], L: Sequence[float], n_boot: int = 500, seed: int = 0) -> dict[str, float]:
    """Fit L = a·N^(-alpha) + c; uncertainty by resampling the points with replacement `n_boot` times.

    Returns {"a", "alpha", "c", "alpha_lo", "alpha_hi", "alpha_std", "n_boot_used"}: lo/hi are the
    16th/84th percentiles of alpha over the resamples with at least 3 distinct N (a ±1σ band).
    Raises ValueError for fewer than 3 points, non-positive or non-finite values, or losses that do
    not fall with N.
    """
    N, L = _as_positive_array("N", N), _as_positive_array("L", L)
    if N.size != L.size or N.size < 3:
        raise ValueError(f"N and L must have the same length >= 3, got {N.size} and {L.size}")
    _check_positive_int("n_boot", n_boot)
    a, alpha, c = _fit_once(N, L)
    rng = np.random.default_rng(seed)
    alphas = []
    for _ in range(n_boot):
        idx = rng.integers(0, N.size, N.size)
        if np.unique(N[idx]).size < 3:
            continue
        try:
            alphas.append(_fit_once(N[idx], L[idx], grid=100)[1])
        except ValueError:
            continue
    alphas = np.array(alphas)
    return {"a": a, "alpha": alpha, "c": c, "alpha_lo": float(np.percentile(alphas, 16)),
            "alpha_hi": float(np.percentile(alphas, 84)), "alpha_std": float(alphas.std()),
            "n_boot_used": int(alphas.size)}


# Hoffmann et al. 2022, approach 3: L(N, D) = E + A / N^alpha + B / D^beta (nats per token, MassiveText)
CHINCHILLA = {"E": 1.69, "A": 406.4, "alpha": 0.34, "B": 410.7, "beta": 0.28}


def chinchilla_loss(N: float, D: float) -> float:
    """Chinchilla's fitted loss for N parameters trained on D tokens."""
    c = CHINCHILLA
    return c["E"] + c["A"] / N ** c["alpha"] + c["B"] / D ** c["beta"]


def chinchilla_optimal_split(flops: float) -> tuple[float, float]:
    """(N, D) minimising `chinchilla_loss` at a compute budget C = 6·N·D FLOPs (closed form of the fit)."""
    if not flops > 0:
        raise ValueError(f"flops={flops!r} must be > 0")
    c = CHINCHILLA
    G = (c["alpha"] * c["A"] / (c["beta"] * c["B"])) ** (1 / (c["alpha"] + c["beta"]))
    a = c["beta"] / (c["alpha"] + c["beta"])
    N = G * (flops / 6) ** a
    return N, flops / (6 * N)


# ---- measuring a language model ----------------------------------------------------------------------

def non_embedding_parameters(model: torch.nn.Module) -> int:
    """Parameters outside the token and position embeddings (Kaplan et al.'s N); a tied output layer is not counted."""
    from .model import count_parameters

    counts = count_parameters(model)
    return counts["total"] - counts["embeddings"] - counts["output"]


def bits_per_byte(loss_nats: float, n_tokens: int, n_bytes: int) -> float:
    """Mean loss in nats per token -> bits per byte of the text: loss · tokens / (bytes · ln 2)."""
    if n_tokens < 1 or n_bytes < 1:
        raise ValueError(f"n_tokens={n_tokens} and n_bytes={n_bytes} must be >= 1")
    return loss_nats * n_tokens / (n_bytes * math.log(2))


@torch.no_grad()
def span_scores(model: torch.nn.Module, ids: torch.Tensor, seq_len: int, span_lengths: Sequence[int],
                context: int, token_bytes: Callable[[int], bytes] | None = None) -> dict:
    """Held-out scores over non-overlapping windows of `ids` (as `tinyformer.lm.evaluate_lm` cuts them).

    - loss (nats per token) over every position, and bits per byte when `token_bytes` (id -> bytes) is given;
    - per-token accuracy: the argmax is the next token, at positions >= `context`;
    - exact match for each k in `span_lengths`: spans of k consecutive positions (from `context` on)
      whose argmaxes are all right, which is greedy decoding reproducing the span given the text before it.
    """
    n = (ids.numel() - 1) // seq_len
    x = ids[: n * seq_len].view(n, seq_len)  # (N, T)
    y = ids[1 : n * seq_len + 1].view(n, seq_len)
    was_training = model.training
    model.eval()
    total, correct = 0.0, []
    for i in range(0, n, 32):
        logits = model(x[i : i + 32])  # (B, T, V)
        total += F.cross_entropy(logits.flatten(0, 1), y[i : i + 32].flatten(), reduction="sum").item()
        correct.append(logits.argmax(-1) == y[i : i + 32])  # (B, T)
    model.train(was_training)
    right = torch.cat(correct)[:, context:]  # (N, T - context)
    out = {"loss": total / (n * seq_len), "token_accuracy": right.float().mean().item(), "exact_match": {}}
    for k in span_lengths:
        spans = right[:, : (right.shape[1] // k) * k].reshape(n, -1, k)  # (N, spans, k)
        out["exact_match"][str(k)] = spans.all(dim=-1).float().mean().item()
    if token_bytes is not None:
        n_bytes = sum(len(token_bytes(int(t))) for t in y.flatten())
        out["bits_per_byte"] = bits_per_byte(out["loss"], n * seq_len, n_bytes)
    return out


def machine_info() -> dict:
    """Where a result was measured: CPU, threads, torch version, Python, OS."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(), "system": platform.system()}


# ---- the experiments -----------------------------------------------------------------------------------

# (d_model, n_layers, n_heads) of the sweep, d_ff = 4·d_model; smallest to largest
SWEEP_SIZES = ((16, 1, 2), (24, 2, 2), (32, 2, 2), (48, 2, 4), (64, 3, 4), (96, 3, 4), (128, 4, 4))


def _recipe(vocab_size: int, steps: int, batch_size: int, seq_len: int, lr: float, seed: int, d_model: int,
            n_layers: int, n_heads: int, attention: str = "full", window: int | None = None):
    from .lm import LMRecipe
    from .model import GPTConfig

    model = GPTConfig(vocab_size=vocab_size, block_size=seq_len, d_model=d_model, n_heads=n_heads,
                      n_layers=n_layers, d_ff=4 * d_model, attention=attention, attention_window=window)
    return LMRecipe(vocab_size=vocab_size, steps=steps, batch_size=batch_size, seq_len=seq_len, lr=lr,
                    warmup_steps=min(30, steps // 10), seed=seed, model=model)


def run_scaling_sweep(sizes: Sequence[tuple[int, int, int]] = SWEEP_SIZES, steps: int = 400, batch_size: int = 16,
                      seq_len: int = 64, vocab_size: int = 512, lr: float = 3e-3, seed: int = 0,
                      curve_size: int | None = None, eval_every: int = 50, span_lengths: Sequence[int] = (1, 2, 4, 8),
                      context: int = 32, data=None, log: Callable[[str], None] | None = print) -> dict:
    """Train one GPT per size on the same tokens (steps · batch_size · seq_len of them) and score each.

    Returns a JSON-ready dict: the settings, one row per size (non-embedding and total parameters,
    held-out loss, bits per byte, per-token accuracy, exact match per span length, seconds), and
    "curve": held-out bits per byte every `eval_every` steps for sizes[curve_size] (default the middle
    size) against tokens seen. `data` (from `tinyformer.lm.build_data(vocab_size)`) saves rebuilding it.
    """
    from .lm import build_data, evaluate_lm, train_gpt

    if data is None:
        data = build_data(vocab_size)
    held = data.held_out_ids
    n = (held.numel() - 1) // seq_len
    y = held[1 : n * seq_len + 1]
    bytes_per_token = sum(len(data.tokenizer.token_bytes(int(t))) for t in y) / y.numel()
    to_bpb = lambda loss: loss / (bytes_per_token * math.log(2))  # noqa: E731
    curve_size = len(sizes) // 2 if curve_size is None else curve_size
    rows, curve = [], []
    for i, (d_model, n_layers, n_heads) in enumerate(sizes):
        recipe = _recipe(vocab_size, steps, batch_size, seq_len, lr, seed, d_model, n_layers, n_heads)
        evals: list[dict] = []
        start = time.perf_counter()
        model, result = train_gpt(data, recipe, progress=False, eval_every=eval_every if i == curve_size else 0,
                                  on_eval=evals.append)
        seconds = time.perf_counter() - start
        scores = span_scores(model, held, seq_len, span_lengths, context, data.tokenizer.token_bytes)
        row = {"d_model": d_model, "n_layers": n_layers, "n_heads": n_heads,
               "params_non_embedding": non_embedding_parameters(model),
               "params_total": sum(p.numel() for p in model.parameters()), "held_out_loss": scores["loss"],
               "bits_per_byte": scores["bits_per_byte"], "token_accuracy": scores["token_accuracy"],
               "exact_match": scores["exact_match"], "train_loss_last": float(np.mean(result.losses[-20:])),
               "seconds": seconds}
        rows.append(row)
        if i == curve_size:
            curve = [{"step": e["step"], "tokens": e["step"] * batch_size * seq_len, "bits_per_byte": to_bpb(e["loss"])}
                     for e in evals]
        if log:
            log(f"d_model {d_model:4d} layers {n_layers}: N {row['params_non_embedding']:8d}  "
                f"{row['bits_per_byte']:.4f} bits/byte  {seconds:6.1f} s")
    assert abs(to_bpb(evaluate_lm(model, held, seq_len)["loss"]) - rows[-1]["bits_per_byte"]) < 1e-6
    return {"settings": {"steps": steps, "batch_size": batch_size, "seq_len": seq_len, "vocab_size": vocab_size,
                         "lr": lr, "seed": seed, "tokens_seen": steps * batch_size * seq_len,
                         "train_tokens": data.train_ids.numel(), "held_out_tokens": int(y.numel()),
                         "bytes_per_token": bytes_per_token, "span_context": context,
                         "curve_size": list(sizes[curve_size])},
            "sizes": rows, "curve": curve, "machine": machine_info()}


def run_attention_comparison(kinds: Sequence[tuple[str, int | None]] = (("full", None), ("window", 16), ("linear", None)),
                             steps: int = 300, batch_size: int = 16, seq_len: int = 128, vocab_size: int = 512,
                             d_model: int = 64, n_layers: int = 2, n_heads: int = 4, lr: float = 3e-3, seed: int = 0,
                             memory_lengths: Sequence[int] = (256, 512, 1024, 2048), data=None,
                             log: Callable[[str], None] | None = print) -> dict:
    """Full, sliding-window and linear attention in the same GPT, trained on the same batches and steps.

    Per kind: held-out loss and bits per byte, seconds per training step (the run's mean), and the
    peak tensor memory of one attention layer's forward (B=1, no gradients) at each T of
    `memory_lengths`, with its time, in the readable forms: full and window with fast=False (they form
    the (T, T) scores; the window is a mask on them), linear in its recurrent running-sum form.
    Training uses each module's default (fast) path. Returns a JSON-ready dict.
    """
    from .cheap_attention import build_attention
    from .lm import build_data, train_gpt

    if data is None:
        data = build_data(vocab_size)
    held = data.held_out_ids
    rows = []
    for kind, window in kinds:
        recipe = _recipe(vocab_size, steps, batch_size, seq_len, lr, seed, d_model, n_layers, n_heads, kind, window)
        model, result = train_gpt(data, recipe, progress=False)
        scores = span_scores(model, held, seq_len, (), 0, data.tokenizer.token_bytes)
        # the readable forms: full and window form the (T, T) scores (fast=False), linear its running sums
        layer = build_attention(kind, d_model, n_heads, fast=kind == "linear", window=window).eval()
        memory, times = [], []
        for T in memory_lengths:
            x = torch.randn(1, T, d_model, generator=torch.Generator().manual_seed(T))  # (B, T, C)
            memory.append(peak_memory(lambda x: layer(x, causal=True)[0], x))
            with torch.no_grad():
                start = time.perf_counter()
                layer(x, causal=True)
                times.append(time.perf_counter() - start)
        rows.append({"attention": kind, "window": window, "held_out_loss": scores["loss"],
                     "bits_per_byte": scores["bits_per_byte"], "seconds_per_step": result.seconds / max(result.step, 1),
                     "memory_lengths": list(memory_lengths), "peak_bytes": memory, "forward_seconds": times})
        if log:
            log(f"{kind:6s} window {window}: {scores['bits_per_byte']:.4f} bits/byte, "
                f"{rows[-1]['seconds_per_step'] * 1000:.1f} ms/step, peak at T={memory_lengths[-1]}: "
                f"{memory[-1] / 2**20:.1f} MiB")
    return {"settings": {"steps": steps, "batch_size": batch_size, "seq_len": seq_len, "vocab_size": vocab_size,
                         "d_model": d_model, "n_layers": n_layers, "n_heads": n_heads, "lr": lr, "seed": seed},
            "kinds": rows, "machine": machine_info()}
