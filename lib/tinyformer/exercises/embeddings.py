"""Exercises for notebook 02 (embeddings and positions): checks that print ✅ or ❌ with a hint."""

from __future__ import annotations

import math
from typing import Callable

import torch

from ..embeddings import sinusoidal_positional_encoding
from .core import expect, expect_close, forbid, plain, refusing_tensor, run_check

__all__ = ["check_one_hot_lookup", "check_positional_encoding", "check_cosine_similarity_matrix"]

_NO_INDEXING = "the exercise writes the lookup as a product of one-hot rows with the table, without indexing the table"
_INDEXING_OPS = {  # torch function name -> what the learner wrote
    "__getitem__": "indexing (table[...])", "index_select": "index_select", "gather": "gather", "take": "take",
    "take_along_dim": "take_along_dim", "embedding": "F.embedding", "embedding_bag": "F.embedding_bag",
    "select": "select", "narrow": "narrow", "unbind": "the table's rows one by one (unbind, or a loop over it)",
    "__iter__": "the table's rows one by one (a loop over it)",
    "tolist": "tolist", "numpy": "numpy", "copy_": "a copy of the table into another tensor",
}


def check_one_hot_lookup(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """`fn(ids (B, T) long, table (V, C)) -> (B, T, C)` computed as one_hot(ids) @ table.

    No indexing: F.embedding, nn.Embedding, index_select, gather and indexing the table are rejected, by
    reading the code and by a table that refuses them at run time.
    """

    def test():
        forbid(fn, _NO_INDEXING, names=("embedding", "Embedding", "embedding_bag", "EmbeddingBag", "index_select",
                                        "gather", "take", "take_along_dim"))
        g = torch.Generator().manual_seed(0)
        table = torch.randn(7, 3, generator=g, dtype=torch.float64)
        for ids in (torch.tensor([[0, 6, 2]]), torch.tensor([[3, 3], [1, 5]])):
            got = plain(fn(ids, refusing_tensor(table, _INDEXING_OPS, _NO_INDEXING)))
            expect_close(got, table[ids], what=f"fn(ids of shape {tuple(ids.shape)}, table)")

    return run_check("one-hot lookup", test,
                     "`F.one_hot` turns ids (B, T) into rows of 0s with a single 1, (B, T, V), with V read from the "
                     "table's shape; convert them to the table's dtype and matrix-multiply them with the table (V, C)",
                     nudge="if an id became a row of 0s with a single 1 at its position, what would multiplying "
                           "that row by the table pick out?")


def check_positional_encoding(fn: Callable[[int, int], torch.Tensor]) -> bool:
    """`fn(n_positions, d_model) -> (n_positions, d_model)` sinusoidal table (even d_model), from the formula."""

    def test():
        forbid(fn)
        for T, C in ((4, 2), (10, 8), (50, 16)):
            want = sinusoidal_positional_encoding(T, C).double()
            got = fn(T, C)
            expect(isinstance(got, torch.Tensor), f"fn({T}, {C}) should return a tensor, got {type(got).__name__}")
            expect_close(got, want, what=f"fn({T}, {C})", atol=1e-5)

    return run_check("sinusoidal positional encoding", test,
                     "for position p and column pair i (columns 2i and 2i + 1) the angle is p divided by 10000 to the "
                     "power 2i / d_model; the even column holds its sine, the odd column its cosine, so position 0 "
                     "reads 0, 1, 0, 1 and so on",
                     nudge="which columns hold a sine and which a cosine, and how slowly does the angle turn in the "
                           "last columns compared with the first?")


def check_cosine_similarity_matrix(fn: Callable[[torch.Tensor], torch.Tensor]) -> bool:
    """`fn(x (N, d)) -> (N, N)` with entry [i, j] = cos(x_i, x_j)."""

    def test():
        forbid(fn)
        g = torch.Generator().manual_seed(0)
        x = torch.randn(5, 4, generator=g, dtype=torch.float64) * torch.tensor([[1.0], [2.0], [0.5], [3.0], [1.0]], dtype=torch.float64)
        xn = x / x.norm(dim=1, keepdim=True)
        expect_close(fn(x), xn @ xn.T, what="fn(x) for x of shape (5, 4)")
        y = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]], dtype=torch.float64)
        want = torch.tensor([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 1.0]], dtype=torch.float64)
        expect_close(fn(y), want, what="fn([[1, 0], [0, 2], [-3, 0]])")
        expect(math.isclose(float(fn(x).diagonal().mean()), 1.0, abs_tol=1e-5), "the diagonal should be 1 (each vector with itself)")

    return run_check("cosine similarity matrix", test,
                     "divide each row by its length (`norm` over the row, keeping the dimension so it broadcasts); "
                     "then one matrix product of the normalised rows with their transpose gives every pair at once",
                     nudge="the cosine is the dot product of two vectors of length 1: what could you do to every "
                           "row first?")
