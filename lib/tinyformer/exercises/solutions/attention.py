"""Solutions to notebook 03's exercises (attention). Try them first."""

from __future__ import annotations

import math

import torch

__all__ = ["attention_scores", "softmax_rows", "my_attention"]


def attention_scores(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """q (..., T_q, D), k (..., T_k, D) -> q kᵀ / √D, (..., T_q, T_k)."""
    D = q.shape[-1]
    return q @ k.transpose(-2, -1) / math.sqrt(D)  # transpose only the last two dims, so batches stay put


def softmax_rows(scores: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dim from exp and sum; subtracting the row max keeps exp finite."""
    shifted = scores - scores.max(dim=-1, keepdim=True).values
    e = torch.exp(shifted)
    return e / e.sum(dim=-1, keepdim=True)


def my_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(out (..., T_q, D_v), weights (..., T_q, T_k)) with weights = softmax over the keys of the scaled scores."""
    weights = softmax_rows(attention_scores(q, k))  # (..., T_q, T_k)
    out = weights @ v  # (..., T_q, D_v)
    return out, weights
