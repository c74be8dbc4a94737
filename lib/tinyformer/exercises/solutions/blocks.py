"""Solutions to notebook 06's exercises (FFN, residuals, LayerNorm). Try them first."""

from __future__ import annotations

from typing import Callable

import torch

__all__ = ["layer_norm", "feed_forward", "pre_norm_block"]


def layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Normalise each token over its C features (biased variance, as nn.LayerNorm), then scale and shift."""
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, unbiased=False, keepdim=True)  # divides by C, not C - 1
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def feed_forward(x: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor, W2: torch.Tensor,
                 b2: torch.Tensor) -> torch.Tensor:
    """relu(x W1ᵀ + b1) W2ᵀ + b2 with weights stored (out, in) like nn.Linear's; (B, T, C) -> (B, T, C)."""
    h = torch.relu(x @ W1.T + b1)  # (B, T, d_ff)
    return h @ W2.T + b2  # (B, T, C)


def pre_norm_block(x: torch.Tensor, attn: Callable, ffn: Callable, norm1: Callable, norm2: Callable) -> torch.Tensor:
    """Pre-norm: each sublayer reads a normalised copy and adds its output to the untouched residual stream."""
    x = x + attn(norm1(x))
    x = x + ffn(norm2(x))
    return x
