"""Exercise checks for notebook 05 (multi-head attention): split heads, merge heads, the whole layer."""

from __future__ import annotations

from typing import Callable

import torch

from ..attention import MultiHeadAttention
from .core import expect_close, run_check

__all__ = ["check_split_heads", "check_merge_heads", "check_multi_head_attention"]


def _x(B: int, T: int, C: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, C, generator=g, dtype=torch.float64)


def check_split_heads(split_heads: Callable) -> bool:
    """split_heads(x (B, T, C), n_heads) -> (B, H, T, D): head h holds columns h*D..(h+1)*D-1."""

    def test():
        for (B, T, C, H) in ((1, 3, 4, 2), (2, 5, 12, 3)):
            x = _x(B, T, C, seed=C)
            want = x.view(B, T, H, C // H).transpose(1, 2)
            expect_close(split_heads(x, H), want, what=f"split_heads(x of shape {(B, T, C)}, n_heads={H})")

    return run_check("split_heads", test,
                     "view x as (B, T, H, D), then swap the T and H dims with .transpose(1, 2); "
                     "a plain .view(B, H, T, D) gives the right shape but mixes tokens into heads")


def check_merge_heads(merge_heads: Callable) -> bool:
    """merge_heads(x (B, H, T, D)) -> (B, T, H*D): the inverse of split_heads."""

    def test():
        for (B, H, T, D) in ((1, 2, 3, 2), (2, 3, 4, 5)):
            x = _x(B * H, T, D, seed=D).view(B, H, T, D)
            want = x.transpose(1, 2).reshape(B, T, H * D)
            expect_close(merge_heads(x), want, what=f"merge_heads(x of shape {(B, H, T, D)})")

    return run_check("merge_heads", test,
                     "undo split_heads in reverse order: .transpose(1, 2) back to (B, T, H, D), then "
                     ".reshape(B, T, H * D) (reshape, not view: the transpose made it non-contiguous)")


def check_multi_head_attention(multi_head_attention: Callable) -> bool:
    """multi_head_attention(x, in_proj_weight, in_proj_bias, out_weight, out_bias, n_heads) -> (B, T, C)."""

    def test():
        for (B, T, C, H, seed) in ((1, 4, 8, 2, 0), (2, 5, 12, 3, 1)):
            torch.manual_seed(seed)
            mha = MultiHeadAttention(C, H).double()
            torch.nn.init.normal_(mha.in_proj_bias, std=0.1)  # non-zero biases, so forgetting them shows
            torch.nn.init.normal_(mha.out_proj.bias, std=0.1)
            x = _x(B, T, C, seed=seed + 10)
            with torch.no_grad():
                want, _ = mha(x)
                got = multi_head_attention(x, mha.in_proj_weight, mha.in_proj_bias, mha.out_proj.weight,
                                           mha.out_proj.bias, H)
            expect_close(got, want, what=f"the output for x of shape {(B, T, C)} and {H} heads")

    return run_check("multi_head_attention", test,
                     "q, k, v = F.linear(x, in_proj_weight, in_proj_bias).chunk(3, dim=-1); split each into "
                     "heads; softmax(q kᵀ / √D) v per head; merge the heads; F.linear(..., out_weight, out_bias)")
