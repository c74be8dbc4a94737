"""Attention masks: which keys each query may look at.

Convention everywhere in tinyformer (as in `F.scaled_dot_product_attention`): a mask is a boolean
tensor and `True` means *may attend*. Masks broadcast against attention scores of shape
(B, H, T_q, T_k): B batch, H heads, T_q queries, T_k keys.
"""

from __future__ import annotations

import torch

__all__ = ["causal_mask", "padding_mask", "combine_masks"]


def causal_mask(T: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(T, T) mask, True on and below the diagonal: position t sees positions 0..t only."""
    if not isinstance(T, int) or isinstance(T, bool) or T < 1:
        raise ValueError(f"T={T!r} must be a positive int (the sequence length)")
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def padding_mask(ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(B, 1, 1, T) mask, True where ids holds a real token; broadcasts over heads and queries."""
    if not isinstance(ids, torch.Tensor) or ids.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise TypeError(f"ids must be an integer tensor of token ids, got {getattr(ids, 'dtype', type(ids).__name__)}")
    if ids.dim() != 2:
        raise ValueError(f"ids must have shape (B, T), got {tuple(ids.shape)}")
    if not isinstance(pad_id, int) or isinstance(pad_id, bool):
        raise TypeError(f"pad_id must be an int (the id of the padding token), got {type(pad_id).__name__}")
    return (ids != pad_id)[:, None, None, :]  # (B, 1, 1, T)


def combine_masks(*masks: torch.Tensor | None) -> torch.Tensor | None:
    """Logical AND of masks that broadcast together; None entries are skipped (None if all are None)."""
    present = [m for m in masks if m is not None]
    for m in present:
        if not isinstance(m, torch.Tensor) or m.dtype != torch.bool:
            raise TypeError(f"masks must be boolean tensors (True = may attend), got {getattr(m, 'dtype', type(m).__name__)}")
    if not present:
        return None
    try:
        shape = torch.broadcast_shapes(*(m.shape for m in present))
    except RuntimeError:
        shapes = " and ".join(str(tuple(m.shape)) for m in present)
        raise ValueError(f"masks of shapes {shapes} do not broadcast together") from None
    out = present[0].expand(shape)
    for m in present[1:]:
        out = out & m
    return out
