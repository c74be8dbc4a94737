"""Exercise checks for notebook 06 (FFN, residuals, LayerNorm): layer_norm, feed_forward, a pre-norm block."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from ..layers import EncoderLayer
from .core import expect_close, forbid, plain, refusing_tensor, run_check

__all__ = ["check_layer_norm", "check_feed_forward", "check_pre_norm_block"]

_NO_LAYER_NORM = "the exercise computes the normalisation from the mean and variance yourself, without F.layer_norm"
_NORM_OPS = {"layer_norm": "F.layer_norm", "native_layer_norm": "layer_norm", "group_norm": "group_norm"}


def _randn(*shape: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def check_layer_norm(layer_norm: Callable) -> bool:
    """layer_norm(x (..., C), weight (C,), bias (C,), eps=1e-5) == F.layer_norm, without F.layer_norm or a
    LayerNorm module (rejected by reading the code and by an input that refuses them at run time)."""

    def test():
        forbid(layer_norm, _NO_LAYER_NORM,
               names=("layer_norm", "LayerNorm", "native_layer_norm", "group_norm", "GroupNorm"))
        for shape, seed in (((2, 3, 4), 0), ((5, 8), 1)):
            x = _randn(*shape, seed=seed) * 3 + 1
            w, b = _randn(shape[-1], seed=seed + 10), _randn(shape[-1], seed=seed + 20)
            want = F.layer_norm(x, (shape[-1],), w, b, 1e-5)
            got = plain(layer_norm(refusing_tensor(x, _NORM_OPS, _NO_LAYER_NORM), w, b))
            expect_close(got, want, what=f"layer_norm of x with shape {shape}", atol=1e-6)

    return run_check("layer_norm", test,
                     "per token, over the last dimension: subtract the mean, divide by the square root of the "
                     "variance plus eps, with the biased variance (`unbiased=False`: divide by C, not C - 1); "
                     "then scale by weight and shift by bias",
                     nudge="over which dimension are the mean and the variance taken, and does LayerNorm's variance "
                           "divide by C or by C - 1?")


def check_feed_forward(feed_forward: Callable) -> bool:
    """feed_forward(x (B, T, C), W1 (d_ff, C), b1, W2 (C, d_ff), b2) == relu(x W1ᵀ + b1) W2ᵀ + b2."""

    def test():
        forbid(feed_forward)
        for (B, T, C, d_ff, seed) in ((1, 2, 3, 6, 0), (2, 4, 8, 32, 1)):
            x = _randn(B, T, C, seed=seed)
            W1, b1 = _randn(d_ff, C, seed=seed + 1), _randn(d_ff, seed=seed + 2)
            W2, b2 = _randn(C, d_ff, seed=seed + 3), _randn(C, seed=seed + 4)
            want = F.linear(F.relu(F.linear(x, W1, b1)), W2, b2)
            expect_close(feed_forward(x, W1, b1, W2, b2), want, what=f"feed_forward with C={C}, d_ff={d_ff}")

    return run_check("feed_forward", test,
                     "the weights are stored as nn.Linear stores them, (out, in): multiply x by the transpose of W1 "
                     "and add b1, apply the ReLU, then multiply by the transpose of W2 and add b2 (`F.linear` does "
                     "both steps of a map); the ReLU sits between the two maps, not after the second",
                     nudge="W1 is (d_ff, C) and x is (B, T, C): which way round must W1 be for the product to work? "
                           "And where does the ReLU go?")


def check_pre_norm_block(pre_norm_block: Callable) -> bool:
    """pre_norm_block(x, attn, ffn, norm1, norm2) == tinyformer's EncoderLayer(norm_first=True) in eval mode."""

    def test():
        forbid(pre_norm_block)
        for (B, T, C, H, seed) in ((1, 3, 8, 2, 0), (2, 5, 16, 4, 1)):
            torch.manual_seed(seed)
            layer = EncoderLayer(C, H, 2 * C, dropout=0.0, norm_first=True).double().eval()
            for norm in (layer.norm1, layer.norm2):  # non-trivial gamma/beta, so each norm's place matters
                torch.nn.init.normal_(norm.weight, 1.0, 0.3)
                torch.nn.init.normal_(norm.bias, 0.0, 0.3)
            x = _randn(B, T, C, seed=seed + 5)

            def attn(h):
                return layer.self_attn(h)[0]

            with torch.no_grad():
                got = pre_norm_block(x, attn, layer.ffn, layer.norm1, layer.norm2)
                want = layer(x)
            expect_close(got, want, what=f"the block's output for x of shape {(B, T, C)}")

    return run_check("pre_norm_block", test,
                     "two residual steps: add attn applied to norm1 of x to x itself; then add ffn applied to norm2 "
                     "of that new x to it. The norms only touch what goes into a sublayer, never the residual path "
                     "(post-norm, the other order, normalises after the add)",
                     nudge="in pre-norm, what goes into each sublayer: x itself, or a normalised copy? And what is "
                           "the sublayer's output added to?")
