"""Attention: softmax(Q Kᵀ / √D) V, from "Attention Is All You Need" (Vaswani et al., 2017), eq. 1.

Shapes: B batch, H heads, T_q queries, T_k keys, D head dim (D_v for values).
Masks are boolean, True = may attend, and broadcast to (..., T_q, T_k).
This module's function is the readable version; `MultiHeadAttention` can also use PyTorch's fused
`F.scaled_dot_product_attention` as a fast path.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .dropout import dropout
from .masks import check_attention_mask


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
    scores = (q / math.sqrt(q.shape[-1])) @ k.transpose(-2, -1)  # (..., T_q, T_k); q / √D = (q kᵀ) / √D, cheaper
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (..., T_q, T_k), each row sums to 1 ...
    if mask is not None:
        # ... except a fully masked row: softmax of all -inf is 0/0 = NaN; give it zeros instead.
        # (Only those rows: a NaN coming from the inputs themselves is left visible.)
        has_any = mask.any(dim=-1, keepdim=True)  # (..., T_q, 1)
        if not bool(has_any.all()):
            weights = weights.masked_fill(~has_any, 0.0)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p)
    return weights @ v, weights  # (..., T_q, D_v), (..., T_q, T_k)


# ---------------------------------------------------------------------------------------------
# Multi-head attention (Vaswani et al., 2017, section 3.2.2) and its key/value cache.
#
#   MultiHead(Q, K, V) = Concat(head_1, ..., head_H) W_O,   head_h = Attention(Q W_Q^h, K W_K^h, V W_V^h)
#
# Shapes: B batch, T queries, S keys (S = T in self-attention), C d_model, H heads, D = C / H.
# The H projections W_Q^h (C, D) side by side are one (C, C) matrix, and W_Q, W_K, W_V stacked are
# one (3C, C) matrix `in_proj_weight`: the layout of `torch.nn.MultiheadAttention`, so its
# state_dict loads into ours unchanged. Left out: grouped-query attention, rotary positions.
# ---------------------------------------------------------------------------------------------


class AttentionCache:
    """Keys and values of one self-attention layer, preallocated as (B, H, max_len, D).

    `append(k, v)` writes the new steps in place after the `length` already filled and returns
    views of the filled prefix, so a generation step costs no concatenation. Inference only:
    the buffers are overwritten in place, which autograd cannot differentiate through.
    """

    def __init__(self, batch_size: int, n_heads: int, max_len: int, head_dim: int,
                 dtype: torch.dtype | None = None, device: torch.device | str | None = None):
        self.k = torch.zeros(batch_size, n_heads, max_len, head_dim, dtype=dtype, device=device)  # (B, H, max_len, D)
        self.v = torch.zeros_like(self.k)  # (B, H, max_len, D)
        self.max_len = max_len
        self.length = 0

    def check_room(self, batch_size: int, n_new: int) -> None:
        """ValueError unless `n_new` more positions of a batch of `batch_size` fit."""
        if batch_size != self.k.shape[0]:
            raise ValueError(f"the cache was made for batch_size={self.k.shape[0]}, got a batch of {batch_size}")
        if self.length + n_new > self.max_len:
            raise ValueError(f"the cache holds max_len={self.max_len} positions; cannot add {n_new} after {self.length}")

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k, v (B, H, T_new, D) at positions length..length+T_new-1; return the filled (B, H, length, D)."""
        self.check_room(k.shape[0], k.shape[2])
        start = self.length
        end = start + k.shape[2]
        self.k.narrow(2, start, end - start).copy_(k)  # in place: no new tensor, no concatenation
        self.v.narrow(2, start, end - start).copy_(v)
        self.length = end
        return self.k.narrow(2, 0, end), self.v.narrow(2, 0, end)  # (B, H, end, D), views

    def reorder(self, index: torch.Tensor) -> None:
        """Keep batch rows `index` (beam search: follow each surviving beam's history)."""
        self.k = self.k.index_select(0, index)
        self.v = self.v.index_select(0, index)


class CrossAttentionCache:
    """Keys and values of the encoder memory for one cross-attention layer: computed once, reused."""

    def __init__(self) -> None:
        self.k: torch.Tensor | None = None  # (B, H, S, D) after the first step
        self.v: torch.Tensor | None = None

    def reorder(self, index: torch.Tensor) -> None:
        if self.k is not None:
            self.k = self.k.index_select(0, index)
            self.v = self.v.index_select(0, index)


class LayerCache:
    """What one layer caches: its self-attention keys/values and (decoder only) cross-attention ones."""

    def __init__(self, self_attn: AttentionCache, cross_attn: CrossAttentionCache | None = None):
        self.self_attn = self_attn
        self.cross_attn = cross_attn


class KVCache:
    """The cache of a whole model while it generates: one `LayerCache` per layer.

    `length` is how many positions are stored; the next tokens fed to the model get positions
    length, length+1, ... Make one with `model.new_cache(batch_size)`, one per generation.
    """

    def __init__(self, n_layers: int, batch_size: int, n_heads: int, head_dim: int, max_len: int,
                 cross_attention: bool = False, dtype: torch.dtype | None = None,
                 device: torch.device | str | None = None):
        for name, value in (("n_layers", n_layers), ("batch_size", batch_size), ("n_heads", n_heads),
                            ("head_dim", head_dim), ("max_len", max_len)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive int")
        self.layers = [
            LayerCache(AttentionCache(batch_size, n_heads, max_len, head_dim, dtype, device),
                       CrossAttentionCache() if cross_attention else None)
            for _ in range(n_layers)
        ]
        self.batch_size = batch_size
        self.max_len = max_len

    @property
    def length(self) -> int:
        return self.layers[0].self_attn.length

    def reorder(self, index: torch.Tensor) -> None:
        """Keep batch rows `index` in every layer (for beam search)."""
        for layer in self.layers:
            layer.self_attn.reorder(index)
            if layer.cross_attn is not None:
                layer.cross_attn.reorder(index)
        self.batch_size = int(index.numel())

    def __repr__(self) -> str:
        return f"KVCache(n_layers={len(self.layers)}, batch_size={self.batch_size}, length={self.length}, max_len={self.max_len})"


class MultiHeadAttention(nn.Module):
    """H attention heads in parallel on D = C / H dims each, concatenated and mixed by W_O.

    forward(x, context=None, mask=None, need_weights=False, cache=None, causal=False)
    -> (out (B, T, C), weights (B, H, T, S) or None).

    - `context` (B, S, C): where keys and values come from (cross-attention); None = x itself.
    - `mask`: boolean, True = may attend: (T, S), one pattern for every sequence (`causal_mask`), or
      (B|1, H|1, T|1, S), e.g. `padding_mask(src)` (B, 1, 1, S). Any other shape, a (B, S) padding
      mask included, raises ValueError naming `mask` (`masks.check_attention_mask`); a float mask TypeError.
    - `causal=True`: query t sees keys 0..t only (with a cache: positions up to cache.length + t).
    - `need_weights=True`: also return the per-head attention weights; they come from the readable
      path (the fused kernel never forms them), which gives the same output.
    - `fast=True` (constructor): `F.scaled_dot_product_attention`; False: our readable
      `scaled_dot_product_attention` above. Tests check both agree. One exception: training with
      dropout on a CPU. PyTorch's fused CPU kernel cannot drop weights, so it falls back to the same
      math as ours with its own, slower dropout; we run ours (1.5-1.8x faster here, see `dropout.py`).
    - `cache`: an `AttentionCache` (self-attention: keys/values appended) or a `CrossAttentionCache`
      (cross-attention: the context's keys/values computed on the first call, then reused).

    Every argument is checked before any work (ValueError/TypeError naming it), on both paths alike.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True, fast: bool = True):
        super().__init__()
        for name, value in (("d_model", d_model), ("n_heads", n_heads)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive int")
        if d_model % n_heads != 0:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}; choose n_heads that divides d_model")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout!r} must be a number in [0, 1)")
        self.d_model = d_model
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.dropout = float(dropout)
        self.fast = fast
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))  # rows: W_Q, then W_K, then W_V
        self.in_proj_bias = nn.Parameter(torch.empty(3 * d_model)) if bias else None
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)  # W_O
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # as torch.nn.MultiheadAttention: Xavier-uniform projections, zero biases
        nn.init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            nn.init.zeros_(self.in_proj_bias)
            nn.init.zeros_(self.out_proj.bias)

    def _split_heads(self, t: torch.Tensor, n: int) -> tuple[torch.Tensor, ...]:
        """(B, T, n*C) -> n tensors (B, H, T, D), views of t."""
        B, T, _ = t.shape
        return t.view(B, T, n, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)  # n x (B, H, T, D)

    def _check_inputs(self, x, context, mask, cache, causal) -> tuple[int, int]:
        """Validate every argument before any work; return (start, S): the first query's position, the keys' count."""
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must have shape (B, T, d_model={self.d_model}), got {tuple(getattr(x, 'shape', ())) or type(x).__name__}")
        B, T, C = x.shape
        if context is None:
            if cache is not None and not isinstance(cache, AttentionCache):
                raise TypeError(f"cache for self-attention must be an AttentionCache, got {type(cache).__name__}")
            start = 0 if cache is None else cache.length
            S = start + T
            if cache is not None:
                cache.check_room(B, T)
        else:
            if causal:
                raise ValueError("causal=True applies to self-attention only; cross-attention (context given) sees the whole context")
            if cache is not None and not isinstance(cache, CrossAttentionCache):
                raise TypeError(f"cache for cross-attention must be a CrossAttentionCache, got {type(cache).__name__}")
            if not isinstance(context, torch.Tensor) or context.dim() != 3 or context.shape[0] != B or context.shape[-1] != C:
                raise ValueError(f"context must have shape (B={B}, S, d_model={C}), got {tuple(getattr(context, 'shape', ())) or type(context).__name__}")
            start, S = 0, context.shape[1]
        check_attention_mask(mask, B, self.n_heads, T, S)
        return start, S

    def _self_qkv(self, x: torch.Tensor, cache: AttentionCache | None) -> tuple[torch.Tensor, ...]:
        """Self-attention: one matmul by the stacked (3C, C) weight gives q, k and v; the cache adds the past."""
        q, k, v = self._split_heads(F.linear(x, self.in_proj_weight, self.in_proj_bias), 3)  # 3 x (B, H, T, D)
        if cache is not None:
            k, v = cache.append(k, v)  # (B, H, start + T, D): the stored keys/values, then these
        return q, k, v

    def _cross_qkv(self, x: torch.Tensor, context: torch.Tensor, cache: CrossAttentionCache | None) -> tuple[torch.Tensor, ...]:
        """Cross-attention: queries from x, keys and values from the context (once, when cached)."""
        W, b = self.in_proj_weight, self.in_proj_bias
        C = self.d_model
        (q,) = self._split_heads(F.linear(x, W[:C], None if b is None else b[:C]), 1)  # (B, H, T, D)
        if cache is not None and cache.k is not None:
            return q, cache.k, cache.v  # (B, H, S, D), computed at the first step
        k, v = self._split_heads(F.linear(context, W[C:], None if b is None else b[C:]), 2)  # 2 x (B, H, S, D)
        if cache is not None:
            cache.k, cache.v = k, v
        return q, k, v

    def _attend(self, q, k, v, mask, causal: bool, start: int, need_weights: bool):
        """Attention of q (B, H, T, D) over k, v (B, H, S, D) -> (out (B, H, T, D), weights (B, H, T, S) or None)."""
        T = q.shape[2]
        p = self.dropout if self.training else 0.0
        use_readable = need_weights or not self.fast or (p > 0.0 and q.device.type == "cpu")
        is_causal = False
        if causal and T > 1:  # a single newest query may see every stored key: no mask needed
            if mask is None and start == 0 and not use_readable:
                is_causal = True  # the fused kernel builds the triangle itself
            else:
                tri = torch.ones(T, start + T, dtype=torch.bool, device=q.device).tril(diagonal=start)  # (T, S)
                mask = tri if mask is None else mask & tri
        if use_readable:
            return scaled_dot_product_attention(q, k, v, mask=mask, dropout_p=p)  # (B, H, T, D), (B, H, T, S)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p, is_causal=is_causal), None

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        need_weights: bool = False,
        cache: AttentionCache | CrossAttentionCache | None = None,
        causal: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        start, _ = self._check_inputs(x, context, mask, cache, causal)
        B, T, C = x.shape
        if context is None:
            q, k, v = self._self_qkv(x, cache)  # (B, H, T, D), (B, H, S, D) x 2
        else:
            q, k, v = self._cross_qkv(x, context, cache)
        out, weights = self._attend(q, k, v, mask, causal, start, need_weights)  # (B, H, T, D)
        out = out.transpose(1, 2).reshape(B, T, C)  # (B, T, C): the heads side by side (a view when T = 1)
        return self.out_proj(out), (weights if need_weights else None)

    def stepper(self) -> Callable[[torch.Tensor, AttentionCache], torch.Tensor]:
        """Cached self-attention of one new token per row, as a function step(x (B, 1, C), cache) -> (B, 1, C).

        The same numbers as `forward(x, cache=cache, causal=True)[0]` in eval mode with `fast=True`,
        without its checks and its path for T queries (the newest token may see every stored key: no
        mask). The weights are read here, once: reading a module's parameter costs about as much as a
        small operation (microseconds), and a step has dozens of both. Make a new stepper after
        assigning new parameters (in-place updates, e.g. `load_state_dict`, are seen).
        """
        W_in, b_in, W_out, b_out = self.in_proj_weight, self.in_proj_bias, self.out_proj.weight, self.out_proj.bias
        H, D = self.n_heads, self.head_dim

        def step(x: torch.Tensor, cache: AttentionCache) -> torch.Tensor:
            B, _, C = x.shape
            q, k, v = F.linear(x, W_in, b_in).view(B, 3, H, 1, D).unbind(1)  # 3 x (B, H, 1, D)
            k, v = cache.append(k, v)  # (B, H, length, D): the stored keys and values, these included
            out = F.scaled_dot_product_attention(q, k, v)  # (B, H, 1, D)
            return F.linear(out.view(B, 1, C), W_out, b_out)  # (B, 1, C): the heads side by side, then W_O

        return step

    def cross_stepper(self) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None, CrossAttentionCache], torch.Tensor]:
        """Cross-attention of one new token per row, as a function step(x (B, 1, C), context (B, S, C),
        mask, cache) -> (B, 1, C): `forward(x, context, mask, cache=cache)[0]` in eval mode with
        `fast=True`, without its checks; the context's keys and values are computed at the first step
        and kept in `cache`. The weights are read once, here (see `stepper`).
        """
        C, H, D = self.d_model, self.n_heads, self.head_dim
        W, b = self.in_proj_weight, self.in_proj_bias
        W_q, b_q, W_kv, b_kv = W[:C], None if b is None else b[:C], W[C:], None if b is None else b[C:]
        W_out, b_out = self.out_proj.weight, self.out_proj.bias

        def step(x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor | None,
                 cache: CrossAttentionCache) -> torch.Tensor:
            B = x.shape[0]
            q = F.linear(x, W_q, b_q).view(B, H, 1, D)  # (B, H, 1, D)
            if cache.k is None:  # the first step: the context's keys and values, once
                kv = F.linear(context, W_kv, b_kv).view(B, context.shape[1], 2, H, D)  # (B, S, 2, H, D)
                cache.k, cache.v = kv.permute(2, 0, 3, 1, 4).unbind(0)  # 2 x (B, H, S, D)
            out = F.scaled_dot_product_attention(q, cache.k, cache.v, attn_mask=mask)  # (B, H, 1, D)
            return F.linear(out.view(B, 1, C), W_out, b_out)  # (B, 1, C)

        return step

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, n_heads={self.n_heads}, head_dim={self.head_dim}, dropout={self.dropout}, fast={self.fast}"


# The same attention computed by tiles with an online softmax (FlashAttention's idea) lives in its
# own module; it is re-exported here so `tinyformer.attention.tiled_attention` sits beside the
# readable version it is tested against. (Imported last: tiled_attention.py uses _check_qkv above.)
from .tiled_attention import tiled_attention  # noqa: E402
