"""Exercises for notebook 03 (attention): checks that print ✅ or ❌ with a hint."""

from __future__ import annotations

import math
from typing import Callable

import torch

from .core import expect, expect_close, forbid, plain, refusing_tensor, run_check

__all__ = ["check_attention_scores", "check_softmax_rows", "check_attention"]

_NO_SOFTMAX = "the exercise builds softmax from exp and sum, so torch's softmax (in any spelling) is off limits"
_SOFTMAX_NAMES = ("softmax", "log_softmax", "softmin", "Softmax", "LogSoftmax", "Softmin",
                  "scaled_dot_product_attention")


def _qkv(seed: int, batch=(2,), T_q=3, T_k=4, D=5, D_v=2):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*batch, T_q, D, generator=g, dtype=torch.float64),
            torch.randn(*batch, T_k, D, generator=g, dtype=torch.float64),
            torch.randn(*batch, T_k, D_v, generator=g, dtype=torch.float64))


def check_attention_scores(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """`fn(q (..., T_q, D), k (..., T_k, D)) -> (..., T_q, T_k)` = q kᵀ / √D."""

    def test():
        forbid(fn)
        q = torch.tensor([[1.0, 2.0, 0.0, 0.0]], dtype=torch.float64)
        k = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 5.0, 5.0]], dtype=torch.float64)
        expect_close(fn(q, k), torch.tensor([[1.5, 0.0]], dtype=torch.float64), what="fn(q=[[1, 2, 0, 0]], k) (expect (1+2)/√4 = 1.5)")
        q, k, _ = _qkv(0, batch=(2, 3))
        expect_close(fn(q, k), q @ k.transpose(-2, -1) / math.sqrt(5), what="fn(q, k) for q (2, 3, 3, 5), k (2, 3, 4, 5)")

    return run_check("attention scores", test,
                     "multiply q by k with k's last two dimensions swapped (`transpose` of those two only: reversing "
                     "every dimension would also scramble the batch ones), then divide by the square root of D, the "
                     "size of q's last dimension",
                     nudge="what shape should the scores have, (..., T_q, T_k), and which two dimensions of k must "
                           "trade places to get it? Did you scale?")


def check_softmax_rows(fn: Callable[[torch.Tensor], torch.Tensor]) -> bool:
    """`fn(scores (..., T_k)) -> same shape`, softmax over the last dim, stable for large scores, from exp and sum:
    torch's softmax in any spelling is rejected, by reading the code and by scores that refuse it at run time."""

    def test():
        forbid(fn, _NO_SOFTMAX, names=_SOFTMAX_NAMES)
        guard = {"softmax": "softmax", "log_softmax": "log_softmax", "softmin": "softmin"}

        def fn_guarded(x):
            return plain(fn(refusing_tensor(x, guard, _NO_SOFTMAX)))

        s = torch.tensor([[0.0, 0.0], [0.0, math.log(3.0)]], dtype=torch.float64)
        expect_close(fn_guarded(s), torch.tensor([[0.5, 0.5], [0.25, 0.75]], dtype=torch.float64), what="fn([[0, 0], [0, ln 3]])")
        g = torch.Generator().manual_seed(1)
        x = torch.randn(2, 3, 5, generator=g, dtype=torch.float64)
        expect_close(fn_guarded(x), torch.softmax(x, dim=-1), what="fn(x) for x of shape (2, 3, 5)")
        big = torch.tensor([[1000.0, 999.0, 0.0]], dtype=torch.float64)
        got = fn_guarded(big)
        expect(isinstance(got, torch.Tensor) and not got.isnan().any(),
               "fn([[1000, 999, 0]]) gave NaN: exp(1000) overflows")
        expect_close(got, torch.softmax(big, dim=-1), what="fn([[1000, 999, 0]])")

    return run_check("softmax over rows", test,
                     "subtract each row's maximum (keeping the dimension so it broadcasts), exponentiate, then divide "
                     "by the sum over the last dimension; the shift changes nothing mathematically and keeps the "
                     "exponentials finite",
                     nudge="what is the exponential of 1000 in floating point, and what could you subtract from "
                           "every score of a row without changing its softmax?")


def check_attention(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]) -> bool:
    """`fn(q, k, v) -> (out (..., T_q, D_v), weights (..., T_q, T_k))`, no mask."""

    def test():
        forbid(fn)
        for seed, batch in ((0, (2,)), (1, (2, 3))):
            q, k, v = _qkv(seed, batch)
            result = fn(q, k, v)
            expect(isinstance(result, tuple) and len(result) == 2, "fn should return a tuple (out, weights)")
            out, weights = result
            want_w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
            expect_close(weights, want_w, what=f"weights for q of shape {tuple(q.shape)}")
            expect_close(out, want_w @ v, what=f"out for q of shape {tuple(q.shape)}")

    return run_check("scaled dot-product attention", test,
                     "the weights are your softmax of your scores over the last dimension (the keys); the output is "
                     "the matrix product of the weights with v; return both, the output first",
                     nudge="each query's weights should sum to 1 over what: the keys or the queries? And what does "
                           "the check expect back?")
