"""Tests of tinyformer.attention.tiled_attention (tiled attention with an online softmax).

Against F.scaled_dot_product_attention and our readable scaled_dot_product_attention first (output)
and torch.logsumexp of the masked scaled scores (logsumexp), for random shapes, masks and block
sizes; then a case worked by hand; then gradients, float32, bad input, and the benchmark's last line.
"""

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode

from tinyformer.attention import scaled_dot_product_attention, tiled_attention

ROOT = Path(__file__).resolve().parents[1]
MASK_KINDS = ("none", "random", "causal", "padding", "fully_masked_rows")


def _make(seed, batch, T_q, T_k, D, D_v, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*batch, T_q, D, generator=g, dtype=dtype)
    k = torch.randn(*batch, T_k, D, generator=g, dtype=dtype)
    v = torch.randn(*batch, T_k, D_v, generator=g, dtype=dtype)
    return q, k, v, g


def _mask(kind, batch, T_q, T_k, g):
    if kind == "none":
        return None
    if kind == "random":
        return torch.rand(*batch, T_q, T_k, generator=g) > 0.5  # some rows may come out fully masked
    if kind == "causal":
        return torch.ones(T_q, T_k, dtype=torch.bool).tril(diagonal=T_k - T_q)  # query t sees keys up to its place
    if kind == "padding":
        lengths = torch.randint(1, T_k + 1, (*batch[:1], 1, 1, 1), generator=g)  # (B, 1, 1, 1)
        return (torch.arange(T_k) < lengths).reshape(*batch[:1], *[1] * (len(batch) - 1), 1, T_k)  # (B, 1.., 1, T_k)
    mask = torch.rand(*batch, T_q, T_k, generator=g) > 0.3
    mask[..., ::2, :] = False  # every other query sees nothing
    return mask


def _reference_logsumexp(q, k, mask):
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])  # (..., T_q, T_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.logsumexp(scores, dim=-1)  # (..., T_q); -inf for a fully masked row


# ---- against the references, for random shapes, masks and block sizes -----------------------------

@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), batch=st.sampled_from([(), (3,), (2, 3)]), T_q=st.integers(1, 40),
       T_k=st.integers(1, 40), D=st.integers(1, 9), D_v=st.integers(1, 9), kind=st.sampled_from(MASK_KINDS),
       block_size=st.one_of(st.just(1), st.integers(2, 17).map(lambda n: 2 * n - 1), st.integers(41, 80)))
def test_equals_naive_attention_and_its_logsumexp_in_float64(seed, batch, T_q, T_k, D, D_v, kind, block_size):
    q, k, v, g = _make(seed, batch, T_q, T_k, D, D_v)
    if kind == "padding" and not batch:
        kind = "random"
    mask = _mask(kind, batch, T_q, T_k, g)
    out, lse = tiled_attention(q, k, v, mask=mask, block_size=block_size)
    ours, _ = scaled_dot_product_attention(q, k, v, mask=mask)
    torch_out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # zeros for fully masked rows (torch 2.13, CPU)
    torch.testing.assert_close(out, ours, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(out, torch_out, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(lse, _reference_logsumexp(q, k, mask), atol=1e-6, rtol=1e-6)  # -inf == -inf
    assert out.shape == (*batch, T_q, D_v) and lse.shape == (*batch, T_q)


@pytest.mark.parametrize("block_size", [1, 3, 64, 1000])
def test_fully_masked_rows_give_zeros_and_minus_infinity(block_size):
    q, k, v, g = _make(0, (2,), 9, 11, 4, 4)
    mask = torch.rand(2, 9, 11, generator=g) > 0.5
    mask[:, 4] = False
    mask[1, 0] = False
    out, lse = tiled_attention(q, k, v, mask=mask, block_size=block_size)
    for b, t in ((0, 4), (1, 4), (1, 0)):
        assert torch.equal(out[b, t], torch.zeros(4, dtype=torch.float64))
        assert lse[b, t] == float("-inf")
    assert not out.isnan().any()
    assert torch.isfinite(lse).sum() == 2 * 9 - 3


def test_padding_mask_with_size_one_dims_is_sliced_per_tile():
    """A (B, 1, 1, T_k) mask broadcasts over heads and queries; each tile must still see its own keys."""
    q, k, v, _ = _make(1, (2, 3), 10, 12, 4, 4)
    mask = torch.tensor([[True] * 12, [True] * 5 + [False] * 7])[:, None, None, :]  # (2, 1, 1, 12)
    out, lse = tiled_attention(q, k, v, mask=mask, block_size=4)
    torch.testing.assert_close(out, scaled_dot_product_attention(q, k, v, mask=mask)[0])
    torch.testing.assert_close(lse, _reference_logsumexp(q, k, mask))


# ---- a case worked by hand -------------------------------------------------------------------------

def test_worked_example_one_key_per_tile():
    """D = 1, q = 1, keys 0, 2, 4: scores 0, 2, 4 arrive one tile at a time, each raising the max.

    After key 0: m = 0, l = 1,                         acc = 1·1
    after key 2: m = 2, l = 1·e⁻² + 1,                 acc = 1·e⁻² + 2
    after key 4: m = 4, l = e⁻⁴ + e⁻² + 1,             acc = e⁻⁴ + 2e⁻² + 3
    out = acc / l = (1 + 2e² + 3e⁴) / (1 + e² + e⁴), logsumexp = 4 + log l = log(1 + e² + e⁴).
    """
    q = torch.tensor([[1.0]], dtype=torch.float64)
    k = torch.tensor([[0.0], [2.0], [4.0]], dtype=torch.float64)
    v = torch.tensor([[1.0], [2.0], [3.0]], dtype=torch.float64)
    out, lse = tiled_attention(q, k, v, block_size=1)
    e = math.e
    torch.testing.assert_close(out, torch.tensor([[(1 + 2 * e**2 + 3 * e**4) / (1 + e**2 + e**4)]], dtype=torch.float64))
    torch.testing.assert_close(lse, torch.tensor([math.log(1 + e**2 + e**4)], dtype=torch.float64))


def test_large_scores_do_not_overflow():
    """Scores of 1000 would overflow exp() without the running max; the online softmax never exponentiates them."""
    q = torch.full((1, 3, 2), 30.0, dtype=torch.float32)
    k = torch.tensor([[[40.0, 40.0], [50.0, 50.0], [45.0, 45.0], [10.0, 10.0]]])
    v = torch.arange(8, dtype=torch.float32).reshape(1, 4, 2)
    out, lse = tiled_attention(q, k, v, block_size=1)
    assert torch.isfinite(out).all() and torch.isfinite(lse).all()
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v))


# ---- float32, gradients, batch broadcasting --------------------------------------------------------

@pytest.mark.parametrize("block_size", [5, 16, 64, 100])
def test_float32_close_to_naive(block_size):
    q, k, v, g = _make(2, (2, 4), 70, 90, 16, 16, dtype=torch.float32)
    mask = torch.rand(70, 90, generator=g) > 0.2
    out, lse = tiled_attention(q, k, v, mask=mask, block_size=block_size)
    torch.testing.assert_close(out, scaled_dot_product_attention(q, k, v, mask=mask)[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(lse, _reference_logsumexp(q, k, mask), atol=1e-5, rtol=1e-5)


def test_gradients_equal_naive_gradients():
    q, k, v, g = _make(3, (2,), 13, 11, 4, 3)
    mask = torch.ones(13, 11, dtype=torch.bool).tril()
    mask[0] = False  # a fully masked row must not send NaN into the gradients
    grads = []
    for fn in (lambda *a: tiled_attention(*a, mask=mask, block_size=4)[0],
               lambda *a: scaled_dot_product_attention(*a, mask=mask)[0]):
        leaves = [t.clone().requires_grad_() for t in (q, k, v)]
        fn(*leaves).pow(2).sum().backward()
        grads.append([t.grad for t in leaves])
    for got, want in zip(*grads):
        assert not got.isnan().any()
        torch.testing.assert_close(got, want)


def test_batch_dims_broadcast_like_matmul():
    q, _, _, g = _make(4, (2, 3), 6, 6, 4, 4)
    k = torch.randn(1, 3, 8, 4, generator=g, dtype=torch.float64)  # one set of keys for every batch row
    v = torch.randn(1, 3, 8, 5, generator=g, dtype=torch.float64)
    out, lse = tiled_attention(q, k, v, block_size=3)
    assert out.shape == (2, 3, 6, 5) and lse.shape == (2, 3, 6)
    torch.testing.assert_close(out, scaled_dot_product_attention(q, k, v)[0])


# ---- bad input: named, before any work --------------------------------------------------------------

class _RecordOps(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(func)
        return func(*args, **(kwargs or {}))


_q, _k, _v, _ = _make(5, (2,), 4, 6, 3, 3)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(block_size=0), ValueError, "block_size"),
    (dict(block_size=-3), ValueError, "block_size"),
    (dict(block_size=2.0), TypeError, "block_size"),
    (dict(block_size=True), TypeError, "block_size"),
    (dict(block_size="8"), TypeError, "block_size"),
    (dict(mask=torch.ones(4, 6)), TypeError, "mask"),
    (dict(mask=torch.ones(4, 5, dtype=torch.bool)), ValueError, "mask"),
    (dict(mask=torch.ones(3, 2, 4, 6, dtype=torch.bool)), ValueError, "mask"),
    (dict(k=torch.zeros(2, 6, 4, dtype=torch.float64)), ValueError, "q and k"),
    (dict(v=torch.zeros(2, 5, 3, dtype=torch.float64)), ValueError, "k and v"),
    (dict(v=torch.zeros(3, 6, 3, dtype=torch.float64)), ValueError, "batch dims"),
    (dict(q=torch.zeros(2, 4, 3, dtype=torch.long)), TypeError, "q"),
    (dict(q=torch.zeros(3, dtype=torch.float64)), ValueError, "q"),
])
def test_bad_input_raises_naming_the_argument_before_any_work(kwargs, error, match):
    args = dict(q=_q, k=_k, v=_v, mask=None, block_size=2) | kwargs
    mode = _RecordOps()
    with pytest.raises(error, match=match), mode:
        tiled_attention(**args)
    assert mode.ops == [], f"tensor work before the error: {mode.ops}"


# ---- the benchmark runs and ends with its ratio ------------------------------------------------------

def test_benchmark_prints_exponents_and_the_memory_ratio_last():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "attention_cost.py"), "--lengths", "32", "64",
                          "--memory-length", "128", "--repeats", "1", "--threads", "1"],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    lines = out.strip().splitlines()
    assert any(line.startswith("fitted exponent") and "tiled" in line for line in lines), out
    assert re.fullmatch(r"tiled_attention_peak_memory_ratio_at_T128: \d+\.\d{2}", lines[-1]), lines[-1]
