"""Attention masks: which keys each query may look at.

Convention everywhere in tinyformer (as in `F.scaled_dot_product_attention`): a mask is a boolean
tensor and `True` means *may attend*. Masks broadcast against attention scores of shape
(B, H, T_q, T_k): B batch, H heads, T_q queries, T_k keys.

The layers and models take a mask in one of two shapes only, so it cannot be misread
(`check_attention_mask`): (T_q, T_k), the same pattern for every sequence (e.g. `causal_mask`),
or 4-D (B or 1, H or 1, T_q or 1, T_k), e.g. `padding_mask(ids, pad_id)` (B, 1, 1, T).
A (B, T) padding mask is refused: read as (T_q, T_k) it would silently mask the wrong thing.
"""

from __future__ import annotations

import torch

__all__ = ["causal_mask", "padding_mask", "combine_masks", "check_attention_mask"]


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


_HOW_TO_PAD = "for per-sequence padding use tinyformer.masks.padding_mask(ids, pad_id), shape (B, 1, 1, T)"


def check_attention_mask(mask: object, B: int, H: int, T_q: int, T_k: int) -> None:
    """Raise unless `mask` is a boolean (T_q, T_k) or (B|1, H|1, T_q|1, T_k) tensor (or None).

    TypeError for a non-boolean mask (a float mask of -inf/0 would be read the other way round);
    ValueError, naming `mask` and the expected shapes, for any other rank or shape, e.g. a
    (B, T) padding mask. Only shapes are compared: no tensor work is done.
    """
    if mask is None:
        return
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = getattr(mask, "dtype", type(mask).__name__)
        raise TypeError(f"mask must be a boolean tensor (True = may attend), got {got}; "
                        f"from a float mask m of 0/-inf use m == 0")
    shape = tuple(mask.shape)
    if mask.dim() == 2:
        if shape != (T_q, T_k):
            raise ValueError(f"mask of shape {shape} is 2-D, so it must be (T_q, T_k) = {(T_q, T_k)}, one pattern "
                             f"for every sequence (e.g. causal_mask(T)); {_HOW_TO_PAD}")
        return
    if mask.dim() != 4:
        raise ValueError(f"mask of shape {shape} must be 2-D (T_q, T_k) = {(T_q, T_k)} or 4-D "
                         f"(B or 1, H or 1, T_q or 1, T_k) = ({B}|1, {H}|1, {T_q}|1, {T_k}); {_HOW_TO_PAD}")
    fits = all(got in (1, want) for got, want in zip(shape[:3], (B, H, T_q))) and shape[3] == T_k
    if not fits:
        raise ValueError(f"mask of shape {shape} does not fit the attention scores (B, H, T_q, T_k) = {(B, H, T_q, T_k)}: "
                         f"each dim must match or be 1, and the last must be T_k = {T_k}; {_HOW_TO_PAD}")
