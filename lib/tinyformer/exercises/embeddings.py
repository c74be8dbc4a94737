"""Exercises for notebook 02 (embeddings and positions): checks that print ✅ or ❌ with a hint."""

from __future__ import annotations

import math
from typing import Callable

import torch

from ..embeddings import sinusoidal_positional_encoding
from .core import expect, expect_close, run_check

__all__ = ["check_one_hot_lookup", "check_positional_encoding", "check_cosine_similarity_matrix"]


def check_one_hot_lookup(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """`fn(ids (B, T) long, table (V, C)) -> (B, T, C)` computed as one_hot(ids) @ table."""

    def test():
        g = torch.Generator().manual_seed(0)
        table = torch.randn(7, 3, generator=g, dtype=torch.float64)
        for ids in (torch.tensor([[0, 6, 2]]), torch.tensor([[3, 3], [1, 5]])):
            expect_close(fn(ids, table), table[ids], what=f"fn(ids of shape {tuple(ids.shape)}, table)")

    return run_check("one-hot lookup", test, "torch.nn.functional.one_hot(ids, num_classes=V) gives (B, T, V) of 0/1; "
                     "convert it to the table's dtype, then multiply by table (V, C)")


def check_positional_encoding(fn: Callable[[int, int], torch.Tensor]) -> bool:
    """`fn(n_positions, d_model) -> (n_positions, d_model)` sinusoidal table (even d_model)."""

    def test():
        for T, C in ((4, 2), (10, 8), (50, 16)):
            want = sinusoidal_positional_encoding(T, C).double()
            got = fn(T, C)
            expect(isinstance(got, torch.Tensor), f"fn({T}, {C}) should return a tensor, got {type(got).__name__}")
            expect_close(got, want, what=f"fn({T}, {C})", atol=1e-5)

    return run_check("sinusoidal positional encoding", test,
                     "even columns 2i hold sin(p / 10000**(2i / d_model)), odd columns 2i+1 the cos of the same angle; "
                     "position 0 is [0, 1, 0, 1, ...]")


def check_cosine_similarity_matrix(fn: Callable[[torch.Tensor], torch.Tensor]) -> bool:
    """`fn(x (N, d)) -> (N, N)` with entry [i, j] = cos(x_i, x_j)."""

    def test():
        g = torch.Generator().manual_seed(0)
        x = torch.randn(5, 4, generator=g, dtype=torch.float64) * torch.tensor([[1.0], [2.0], [0.5], [3.0], [1.0]], dtype=torch.float64)
        xn = x / x.norm(dim=1, keepdim=True)
        expect_close(fn(x), xn @ xn.T, what="fn(x) for x of shape (5, 4)")
        y = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]], dtype=torch.float64)
        want = torch.tensor([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 1.0]], dtype=torch.float64)
        expect_close(fn(y), want, what="fn([[1, 0], [0, 2], [-3, 0]])")
        expect(math.isclose(float(fn(x).diagonal().mean()), 1.0, abs_tol=1e-5), "the diagonal should be 1 (each vector with itself)")

    return run_check("cosine similarity matrix", test,
                     "divide each row by its length (x.norm(dim=1, keepdim=True)), then the matrix of dot products is xn @ xn.T")
