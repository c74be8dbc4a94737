"""Exercise checks for notebook 10 (cost and scale): KV-cache bytes, the attention crossover, an online
softmax over blocks, and tiled attention without the (T, T) matrix."""

from __future__ import annotations

import math
import weakref
from typing import Callable

import torch

from ..attention import scaled_dot_product_attention
from ..scaling import PeakTensorMemory
from .core import CheckFailed, expect, expect_close, run_check

__all__ = ["check_kv_cache_bytes", "check_attention_crossover", "check_online_softmax", "check_tiled_attention"]


def check_kv_cache_bytes(kv_cache_bytes: Callable) -> bool:
    """kv_cache_bytes(n_layers, n_kv_heads, head_dim, bytes_per_value) -> bytes the cache holds per token."""

    def test():
        for args in ((12, 12, 64, 2), (4, 4, 32, 4), (80, 8, 128, 2), (1, 1, 1, 1)):
            got = kv_cache_bytes(*args)
            want = 2 * math.prod(args)
            expect(isinstance(got, (int, float)), f"kv_cache_bytes{args} returned a {type(got).__name__}, not a number")
            if got == want / 2:
                raise CheckFailed(f"kv_cache_bytes{args} is {got}, half of what the cache holds")
            expect(got == want, f"kv_cache_bytes{args} is {got}, which is not what the cache holds per token")

    return run_check("kv_cache_bytes", test,
                     "every layer stores two vectors per head per token (which two?), each head_dim values of "
                     "bytes_per_value bytes",
                     nudge="what does a layer keep for each past token so it never recomputes it? Count it for one "
                           "token first")


def check_attention_crossover(crossover: Callable) -> bool:
    """crossover(d_model, d_ff) -> the context length T at which attention's FLOPs per token equal the rest's."""

    def test():
        for C, d_ff in ((128, 512), (768, 3072), (64, 128)):
            got = crossover(C, d_ff)
            want = (8 * C * C + 4 * C * d_ff) / (4 * C)
            expect(isinstance(got, (int, float)), f"crossover({C}, {d_ff}) returned a {type(got).__name__}")
            if math.isclose(got, 2 * C):
                raise CheckFailed(f"crossover({C}, {d_ff}) = {got} counts only the projections; the MLP is part "
                                  "of the block too")
            if math.isclose(got, 2 * want):
                raise CheckFailed(f"crossover({C}, {d_ff}) = {got}, twice the answer: attention does two T-long "
                                  "products per token, q·kᵀ and weights·v")
            expect(math.isclose(got, want, rel_tol=1e-9), f"crossover({C}, {d_ff}) = {got}, not where the FLOPs meet")

    return run_check("attention_crossover", test,
                     "count FLOPs per token as 2 per multiply-add: q, k, v and the output projection are C x C "
                     "matrices, the MLP two C x d_ff ones; attention's two products cost 2·T·C each",
                     nudge="which part of a block grows with the context length T, and which parts do not?")


class _OnePass:
    """Yields score blocks and fails when an earlier block is still alive two blocks later (kept in a list)."""

    def __init__(self, blocks: list[torch.Tensor]):
        self.blocks = blocks

    def __iter__(self):
        refs = []
        for i, block in enumerate(self.blocks):
            if i >= 2 and refs[i - 2]() is not None:
                raise CheckFailed("an earlier block of scores was still kept while later ones arrived: the point "
                                  "is to keep only running numbers, never all the scores")
            fresh = block.clone()
            refs.append(weakref.ref(fresh))
            yield fresh
            del fresh


def check_online_softmax(online_softmax: Callable) -> bool:
    """online_softmax(blocks) -> (m, l): the max of all scores and Σ exp(score - m), in one pass over 1-d blocks."""

    def test():
        g = torch.Generator().manual_seed(0)
        for sizes, scale, shift in (((3, 4, 2), 1.0, 0.0), ((5, 1, 6, 3), 3.0, 0.0), ((4, 4, 4), 1.0, 1000.0)):
            blocks = [torch.randn(n, generator=g, dtype=torch.float64) * scale + shift for n in sizes]
            blocks[-1][0] += 5 * scale  # the max arrives late, so earlier sums must be rescaled
            scores = torch.cat(blocks)
            want_m = scores.max()
            want_l = torch.exp(scores - want_m).sum()
            got = online_softmax(_OnePass(blocks))
            expect(isinstance(got, tuple) and len(got) == 2, "online_softmax should return a tuple (m, l)")
            m, l = (torch.as_tensor(x, dtype=torch.float64) for x in got)
            expect(torch.isfinite(l), f"l is {l.item()} for scores near {shift:g}: subtract the running max "
                                      "before exp")
            expect_close(m, want_m, what="m (the running max)")
            expect_close(l, want_l, what="l (the running sum)", atol=1e-9, rtol=1e-9)

    return run_check("online_softmax", test,
                     "keep two numbers, the running max m and the running sum l; when a block raises m, the old l "
                     "was summed against the old m: by what factor must it change before you add the block's part?",
                     nudge="if you only see the scores one block at a time, which two numbers must you carry from "
                           "block to block?")


def check_tiled_attention(tiled_attention: Callable) -> bool:
    """tiled_attention(q (T, D), k (S, D), v (S, D_v), block_size) -> softmax(q kᵀ/√D) v, without a (T, S) matrix."""

    def test():
        g = torch.Generator().manual_seed(0)
        for T, S, D, block in ((5, 7, 3, 2), (8, 8, 4, 8), (10, 6, 5, 3), (4, 9, 2, 16)):
            q, k, v = (torch.randn(n, D, generator=g, dtype=torch.float64) for n in (T, S, S))
            v = v * 2 + 1
            want = scaled_dot_product_attention(q, k, v)[0]
            expect_close(tiled_attention(q, k, v, block), want, what=f"the output for T={T}, S={S}, block {block}",
                         atol=1e-9, rtol=1e-9)
        q, k, v = (torch.randn(6, 4, generator=g, dtype=torch.float64) * 30 for _ in range(3))  # scores ~ ±1000
        got = tiled_attention(q, k, v, 4)
        expect(isinstance(got, torch.Tensor) and bool(torch.isfinite(got).all()),
               "with scores near ±1000 your output holds inf or nan: exp overflowed (keep a running max)")
        expect_close(got, scaled_dot_product_attention(q, k, v)[0], what="the output for scores near ±1000",
                     atol=1e-9, rtol=1e-9)
        T, D, block = 256, 8, 32
        q, k, v = (torch.randn(T, D, generator=g) for _ in range(3))
        meter = PeakTensorMemory(q, k, v)
        with torch.no_grad(), meter:
            out = tiled_attention(q, k, v, block)
        expect_close(out, scaled_dot_product_attention(q, k, v)[0], what=f"the output for T={T}", atol=1e-5)
        full = T * T * 4
        expect(meter.peak < full / 4, f"at T={T} your function had {meter.peak / 2**20:.2f} MiB of tensors alive at "
                                      f"once, as much as the ({T}, {T}) score matrix ({full / 2**20:.2f} MiB): it "
                                      "was built after all")

    return run_check("tiled_attention", test,
                     "loop over blocks of queries; for each, loop over blocks of keys with running m, l and acc "
                     "per query (the online softmax, on rows); only a (block, block) tile of scores may exist",
                     nudge="the full (T, T) score matrix is what this exercise avoids: which smaller piece of it can "
                           "you compute, use and forget?")
