"""Tiled attention with an online softmax: the idea of FlashAttention (Dao et al., 2022, Algorithm 1).

softmax(q kᵀ / √D) v is computed one block of queries at a time, and for each, one block of keys at
a time, so the full (T_q, T_k) score matrix never exists: only a (block, block) tile of it does.
The softmax over a row is assembled as the tiles arrive, with the online softmax of Milakov &
Gimelshein (2018): keep, per query, the running max m of its scores, the running sum l of
exp(score - m), and the running output acc = Σ exp(score - m) v. When a new tile raises the max
from m to m', the old sum and output are rescaled by exp(m - m'); at the end out = acc / l and the
row's log-sum-exp is m + log l (what FlashAttention keeps for its backward pass).

Shapes: T_q queries, T_k keys, D head dim (D_v for values), Bq / Bk the rows of one query / key block,
"..." any batch dims (B, H). Masks are boolean, True = may attend, broadcastable to (..., T_q, T_k).

Left out: the GPU part (tiles kept in fast on-chip memory; that is where FlashAttention's speed
comes from, which plain PyTorch cannot control), the recomputing backward pass (autograd here
saves every tile for the backward, so only the forward's memory is saved), dropout, and skipping
the tiles above the diagonal in causal attention.
"""

from __future__ import annotations

import math

import torch

from .attention import _check_qkv

__all__ = ["tiled_attention"]


def _check_block_size(block_size: object) -> None:
    if isinstance(block_size, bool) or not isinstance(block_size, int):
        raise TypeError(f"block_size must be an int (rows per tile), got {type(block_size).__name__}")
    if block_size < 1:
        raise ValueError(f"block_size={block_size} must be at least 1 (rows per tile)")


def tiled_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    block_size: int = 64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q kᵀ / √D) v by tiles -> (out (..., T_q, D_v), logsumexp (..., T_q)).

    Equal to `tinyformer.attention.scaled_dot_product_attention(q, k, v, mask)[0]` (and to
    `F.scaled_dot_product_attention`) up to rounding; `logsumexp` is torch.logsumexp of the masked,
    scaled scores over the keys. A query whose mask row is all False gets zeros (as ours does) and
    logsumexp -inf. The largest intermediate is a (..., block_size, block_size) tile of scores.
    """
    _check_qkv(q, k, v, mask)
    _check_block_size(block_size)
    try:
        batch = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])  # the "..." of the output
    except RuntimeError:
        raise ValueError(f"the batch dims of q {tuple(q.shape)}, k {tuple(k.shape)} and v {tuple(v.shape)} "
                         f"do not broadcast together") from None
    T_q, D = q.shape[-2:]
    T_k, D_v = v.shape[-2:]
    if mask is not None:
        mask = mask.expand(*mask.shape[:-2], T_q, T_k)  # a view: size-1 dims become slicable
    q = q / math.sqrt(D)  # (..., T_q, D): scale once, not once per tile
    out = q.new_zeros(*batch, T_q, D_v)  # (..., T_q, D_v)
    lse = q.new_empty(*batch, T_q)  # (..., T_q)

    for i0 in range(0, T_q, block_size):
        i1 = min(i0 + block_size, T_q)
        q_blk = q[..., i0:i1, :]  # (..., Bq, D)
        m = q.new_full((*batch, i1 - i0), float("-inf"))  # (..., Bq) running max of each row's scores
        l = q.new_zeros(*batch, i1 - i0)  # (..., Bq) running Σ exp(score - m)
        acc = q.new_zeros(*batch, i1 - i0, D_v)  # (..., Bq, D_v) running Σ exp(score - m) v

        for j0 in range(0, T_k, block_size):
            j1 = min(j0 + block_size, T_k)
            s = q_blk @ k[..., j0:j1, :].transpose(-2, -1)  # (..., Bq, Bk) one tile of scores
            if mask is not None:
                s = s.masked_fill(~mask[..., i0:i1, j0:j1], float("-inf"))
            m_new = torch.maximum(m, s.amax(dim=-1))  # (..., Bq)
            # a row with every score so far masked has m_new = -inf, and -inf - (-inf) is NaN:
            # subtract 0 there instead (its exp(score - 0) are all exp(-inf) = 0 anyway)
            m_safe = m_new.masked_fill(m_new == float("-inf"), 0.0)  # (..., Bq)
            p = torch.exp(s - m_safe.unsqueeze(-1))  # (..., Bq, Bk) unnormalised weights of this tile
            rescale = torch.exp(m - m_safe)  # (..., Bq) exp(old max - new max) <= 1; 0 while nothing seen
            l = rescale * l + p.sum(dim=-1)  # (..., Bq)
            acc = rescale.unsqueeze(-1) * acc + p @ v[..., j0:j1, :]  # (..., Bq, D_v)
            m = m_new

        # a fully masked row has l = 0 and acc = 0: divide by 1 there, giving zeros (not 0/0 = NaN)
        l_safe = l.masked_fill(l == 0, 1.0)  # (..., Bq)
        out[..., i0:i1, :] = acc / l_safe.unsqueeze(-1)  # (..., Bq, D_v)
        lse[..., i0:i1] = m + torch.log(l)  # (..., Bq) a fully masked row: -inf + log 0 = -inf
    return out, lse
