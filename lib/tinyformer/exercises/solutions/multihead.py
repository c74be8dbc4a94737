"""Solutions to notebook 05's exercises (multi-head attention). Try them first."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["split_heads", "merge_heads", "multi_head_attention"]


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """(B, T, C) -> (B, H, T, D): head h holds columns h*D .. (h+1)*D-1 of every token."""
    B, T, C = x.shape
    D = C // n_heads
    return x.view(B, T, n_heads, D).transpose(1, 2)  # (B, H, T, D)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, H, T, D) -> (B, T, H*D), the inverse of split_heads (the concatenation of the heads)."""
    B, H, T, D = x.shape
    return x.transpose(1, 2).reshape(B, T, H * D)  # reshape: the transpose is not contiguous


def multi_head_attention(x: torch.Tensor, in_proj_weight: torch.Tensor, in_proj_bias: torch.Tensor,
                         out_weight: torch.Tensor, out_bias: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Self-attention without a mask from MultiHeadAttention's raw weights; (B, T, C) -> (B, T, C)."""
    q, k, v = F.linear(x, in_proj_weight, in_proj_bias).chunk(3, dim=-1)  # each (B, T, C)
    q, k, v = split_heads(q, n_heads), split_heads(k, n_heads), split_heads(v, n_heads)  # (B, H, T, D)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, T, T)
    weights = torch.softmax(scores, dim=-1)
    out = merge_heads(weights @ v)  # (B, T, C)
    return F.linear(out, out_weight, out_bias)
