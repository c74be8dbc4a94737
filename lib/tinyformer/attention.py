"""Attention: softmax(Q Kᵀ / √D) V, from "Attention Is All You Need" (Vaswani et al., 2017), eq. 1.

Shapes: B batch, H heads, T_q queries, T_k keys, D head dim (D_v for values).
Masks are boolean, True = may attend, and broadcast to (..., T_q, T_k).
This module's function is the readable version; `MultiHeadAttention` can also use PyTorch's fused
`F.scaled_dot_product_attention` as a fast path.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> None:
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got {getattr(t, 'dtype', type(t).__name__)}")
        if t.dim() < 2:
            raise ValueError(f"{name} must have shape (..., T, D), got {tuple(t.shape)}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must share the last dim D: q {tuple(q.shape)}, k {tuple(k.shape)}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v must have the same number of keys T_k: k {tuple(k.shape)}, v {tuple(v.shape)}")
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise TypeError(f"mask must be a boolean tensor (True = may attend), got {getattr(mask, 'dtype', type(mask).__name__)}")
        scores_shape = (*torch.broadcast_shapes(q.shape[:-2], k.shape[:-2]), q.shape[-2], k.shape[-2])
        try:
            fits = torch.broadcast_shapes(mask.shape, scores_shape) == scores_shape
        except RuntimeError:
            fits = False
        if not fits:  # a mask may not add dims or grow any: that would silently change the output's shape
            raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to the scores' shape {scores_shape} (..., T_q, T_k)")


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q kᵀ / √D) v -> (out (..., T_q, D_v), weights (..., T_q, T_k)).

    A query whose mask row is all False has nothing to attend to: its weights and output are
    zeros, never NaN (PyTorch 2.13's `F.scaled_dot_product_attention` also gives zeros on CPU;
    older versions and a plain softmax give NaN). `dropout_p` > 0 drops weights at random (training).
    """
    _check_qkv(q, k, v, mask)
    if isinstance(dropout_p, bool) or not isinstance(dropout_p, (int, float)) or not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p={dropout_p!r} must be a number in [0, 1)")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., T_q, T_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (..., T_q, T_k), each row sums to 1 ...
    if mask is not None:
        # ... except a fully masked row: softmax of all -inf is 0/0 = NaN; give it zeros instead.
        # (Only those rows: a NaN coming from the inputs themselves is left visible.)
        has_any = mask.any(dim=-1, keepdim=True)  # (..., T_q, 1)
        weights = weights.masked_fill(~has_any, 0.0)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ v, weights  # (..., T_q, D_v), (..., T_q, T_k)
