"""Solutions to notebook 04's exercises (masking). Try them first."""

from __future__ import annotations

import torch

__all__ = ["my_causal_mask", "my_padding_mask", "masked_softmax"]


def my_causal_mask(T: int) -> torch.Tensor:
    """(T, T) bool, True where key s <= query t: on and below the diagonal."""
    return torch.ones(T, T, dtype=torch.bool).tril()


def my_padding_mask(ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(B, 1, 1, T) bool, True at real tokens, so it broadcasts over (B, H, T_q, T_k)."""
    real = ids != pad_id  # (B, T)
    return real[:, None, None, :]  # (B, 1, 1, T)


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over the allowed keys; masked weights exactly 0, a fully masked row all 0 (not NaN)."""
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
    no_key = ~mask.any(dim=-1, keepdim=True)  # rows with nothing to attend to came out NaN
    return weights.masked_fill(no_key, 0.0)
