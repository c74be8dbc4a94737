"""Exercise checks for notebook 05 (multi-head attention): split heads, merge heads, the whole layer."""

from __future__ import annotations

from typing import Callable

import torch

from ..attention import MultiHeadAttention
from .core import expect_close, forbid, run_check

__all__ = ["check_split_heads", "check_merge_heads", "check_multi_head_attention"]


def _x(B: int, T: int, C: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, C, generator=g, dtype=torch.float64)


def check_split_heads(split_heads: Callable) -> bool:
    """split_heads(x (B, T, C), n_heads) -> (B, H, T, D): head h holds columns h*D..(h+1)*D-1."""

    def test():
        forbid(split_heads)
        for (B, T, C, H) in ((1, 3, 4, 2), (2, 5, 12, 3)):
            x = _x(B, T, C, seed=C)
            want = x.view(B, T, H, C // H).transpose(1, 2)
            expect_close(split_heads(x, H), want, what=f"split_heads(x of shape {(B, T, C)}, n_heads={H})")

    return run_check("split_heads", test,
                     "view x as (B, T, H, D) with D the head size, so each token's columns are cut into H groups, "
                     "then swap dimensions 1 and 2 (`transpose`); viewing it straight as (B, H, T, D) has the right "
                     "shape but mixes tokens into heads",
                     nudge="head h should hold columns h·D to (h+1)·D - 1 of every token: which dimension of x do "
                           "you cut, and in which order do the dimensions come out?")


def check_merge_heads(merge_heads: Callable) -> bool:
    """merge_heads(x (B, H, T, D)) -> (B, T, H*D): the inverse of split_heads."""

    def test():
        forbid(merge_heads)
        for (B, H, T, D) in ((1, 2, 3, 2), (2, 3, 4, 5)):
            x = _x(B * H, T, D, seed=D).view(B, H, T, D)
            want = x.transpose(1, 2).reshape(B, T, H * D)
            expect_close(merge_heads(x), want, what=f"merge_heads(x of shape {(B, H, T, D)})")

    return run_check("merge_heads", test,
                     "undo split_heads step by step in reverse: swap dimensions 1 and 2 back to (B, T, H, D), then "
                     "`reshape` to (B, T, H·D) (not `view`: the swap left the memory non-contiguous)",
                     nudge="split_heads was a view then a transpose: what undoes it, and in which order?")


def check_multi_head_attention(multi_head_attention: Callable) -> bool:
    """multi_head_attention(x, in_proj_weight, in_proj_bias, out_weight, out_bias, n_heads) -> (B, T, C).

    A ready-made layer (tinyformer's MultiHeadAttention, nn.MultiheadAttention) is rejected; the library's
    scaled_dot_product_attention (notebook 03) is allowed.
    """

    def test():
        forbid(multi_head_attention, "the exercise builds the layer from its raw weights",
               names=("MultiHeadAttention", "MultiheadAttention", "multi_head_attention_forward"),
               allow=("scaled_dot_product_attention",))
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
                     "project x with in_proj_weight and in_proj_bias (`F.linear`), cut the result into q, k and v "
                     "along the last dimension (`chunk`), split each into heads, run scaled dot-product attention "
                     "in every head at once, merge the heads, and finish with the output projection",
                     nudge="in_proj_weight is W_Q, W_K and W_V stacked: how do you get q, k and v out of one "
                           "projection? Which of your two functions come before and after the attention?")
