"""Exercises for notebook 04 (masking): checks that print ✅ or ❌ with a hint."""

from __future__ import annotations

from typing import Callable

import torch

from .core import expect, expect_close, expect_equal, forbid, run_check

__all__ = ["check_causal_mask", "check_padding_mask", "check_masked_softmax"]


def _expect_bool(got, what: str) -> None:
    expect(isinstance(got, torch.Tensor), f"{what} should be a torch.Tensor, got {type(got).__name__}")
    expect(got.dtype == torch.bool, f"{what} should be boolean (True = may attend), got dtype {got.dtype}")


def check_causal_mask(fn: Callable[[int], torch.Tensor]) -> bool:
    """`fn(T) -> (T, T)` bool, True on and below the diagonal."""

    def test():
        forbid(fn)
        got = fn(3)
        _expect_bool(got, "fn(3)")
        want = torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=torch.bool)
        expect_equal(got.tolist(), want.tolist(), what="fn(3)")
        for T in (1, 6):
            expect_equal(fn(T).tolist(), torch.ones(T, T, dtype=torch.bool).tril().tolist(), what=f"fn({T})")

    return run_check("causal mask", test,
                     "start from a (T, T) boolean grid that is all True and keep its lower triangle, the diagonal "
                     "included (`torch.tril`); the upper triangle would let tokens see the future",
                     nudge="query t may look at keys 0 to t: is that the part of the grid on and below the diagonal, "
                           "or above it? And which dtype does a mask need?")


def check_padding_mask(fn: Callable[[torch.Tensor, int], torch.Tensor]) -> bool:
    """`fn(ids (B, T), pad_id) -> (B, 1, 1, T)` bool, True where a real token is."""

    def test():
        forbid(fn)
        ids = torch.tensor([[5, 6, 7, 0], [8, 0, 0, 0]])
        got = fn(ids, 0)
        _expect_bool(got, "fn(ids, 0)")
        expect_equal(tuple(got.shape), (2, 1, 1, 4), what="the shape of fn(ids, 0) for ids (2, 4)")
        expect_equal(got[:, 0, 0].tolist(), [[True, True, True, False], [True, False, False, False]], what="fn(ids, 0)[:, 0, 0]")
        got = fn(torch.tensor([[3, 9, 9]]), 9)
        expect_equal(got.flatten().tolist(), [True, False, False], what="fn([[3, 9, 9]], pad_id=9)")

    return run_check("padding mask", test,
                     "compare the ids with pad_id (True where a real token is) to get (B, T); then insert two size-1 "
                     "dimensions after the batch one (`unsqueeze`, or indexing with `None`) to get (B, 1, 1, T)",
                     nudge="comparing ids with pad_id gives which shape, and which shape broadcasts over the "
                           "scores (B, H, T_q, T_k)?")


def check_masked_softmax(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """`fn(scores (..., T_k), mask bool broadcastable) -> weights`, masked entries 0, fully masked rows all 0."""

    def test():
        forbid(fn)
        s = torch.tensor([[1.0, 2.0, 3.0], [0.5, 0.5, 0.5]], dtype=torch.float64)
        m = torch.tensor([[True, True, False], [True, True, True]])
        want = torch.softmax(s.masked_fill(~m, float("-inf")), dim=-1)
        expect_close(fn(s, m), want, what="fn(scores, mask) with one masked key")
        got = fn(s, torch.tensor([[True, False, True], [False, False, False]]))
        expect(not got.isnan().any(), "a row with every key masked gave NaN; it should give zeros")
        expect_close(got[1], torch.zeros(3, dtype=torch.float64), what="the fully masked row")
        expect_close(got[0].sum(), torch.tensor(1.0, dtype=torch.float64), what="the sum of a row with allowed keys")
        expect(got[0, 1].item() == 0.0, "a masked weight should be exactly 0")

    return run_check("masked softmax", test,
                     "before the softmax, fill the masked scores with minus infinity (`masked_fill`); after it, set "
                     "the rows where no key is allowed to zero, since they come out as NaN",
                     nudge="if you multiply the weights by the mask after the softmax, do the rows still sum to 1? "
                           "And what does softmax give for a row where every score is minus infinity?")
