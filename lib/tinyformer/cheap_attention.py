"""Cheaper attention: a sliding window (local attention) and linear attention.

Full causal attention compares every query with every earlier key: T² scores per head. Two ways to
pay less:

- Sliding window (local) attention (Child et al., 2019; Beltagy et al., 2020; Mistral's "sliding
  window attention"): query t sees only the `window` most recent keys, t - window + 1 .. t. A stack
  of L such layers still reaches L·(window - 1) positions back. Only T·window scores matter; our
  readable version masks the full (T, T) matrix (a banded kernel would skip the rest), so it shows
  the pattern and its effect, not the saving.
- Linear attention (Katharopoulos et al., 2020, "Transformers are RNNs", eq. 4-9): replace
  exp(q·k / √D) by φ(q)·φ(k) with φ(x) = elu(x) + 1 > 0. Then
      out_t = Σ_s φ(q_t)·φ(k_s) v_s / Σ_s φ(q_t)·φ(k_s) = φ(q_t)ᵀ S / φ(q_t)ᵀ z,
  with S = Σ_s φ(k_s) v_sᵀ (D, D_v) and z = Σ_s φ(k_s) (D): computing S and z first costs T·D·D_v
  instead of T²·D. Causal: S and z become running sums over s <= t, updated once per step, an RNN.
  (No 1/√D: the normalisation by φ(q_t)ᵀ z already fixes the scale, as in the paper.)

Both modules are `MultiHeadAttention` with another `_attend`: the same constructor, parameters and
state_dict, so weights copy across with `load_state_dict`, and the same forward(x, ..., causal=...).
Shapes: B batch, H heads, T queries, S keys, C d_model, D head dim (D_v for values).
Left out: banded kernels, other feature maps (random features, Performer), a recurrent cache
holding (S, z) instead of keys and values, masks other than causal in linear attention.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .attention import MultiHeadAttention, _check_qkv
from .dropout import dropout

__all__ = ["sliding_window_mask", "SlidingWindowAttention", "elu_feature_map", "linear_attention",
           "linear_attention_quadratic", "LinearAttention", "ATTENTION_KINDS", "build_attention"]


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive int")


def _window_mask(T: int, S: int, start: int, window: int, device=None) -> torch.Tensor:
    """(T, S): query i, at position start + i, may attend to key j iff start + i - window < j <= start + i."""
    i = torch.arange(start, start + T, device=device).unsqueeze(1)  # (T, 1) positions of the queries
    j = torch.arange(S, device=device).unsqueeze(0)  # (1, S) positions of the keys
    return (j <= i) & (j > i - window)  # (T, S)


def sliding_window_mask(T: int, window: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(T, T) mask, True where query t may see key s: t - window < s <= t (itself and window - 1 before).

    window >= T gives `masks.causal_mask(T)`; window = 1 lets each position see only itself.
    """
    _check_positive_int("T", T)
    _check_positive_int("window", window)
    return _window_mask(T, T, 0, window, device)


class SlidingWindowAttention(MultiHeadAttention):
    """Causal self-attention in which each query sees only the `window` most recent positions.

    SlidingWindowAttention(d_model, n_heads, dropout=0.0, bias=True, fast=True, *, window)
    forward(x, mask=None, need_weights=False, cache=None, causal=True) -> (out (B, T, C), weights or None),
    as `MultiHeadAttention` (its weights load unchanged). The window is always causal, so `causal`
    must be True; a `mask` (e.g. padding) is combined with it; an `AttentionCache` works as before
    (it still stores every position). Cross-attention (`context`) is refused.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True, fast: bool = True,
                 *, window: int):
        _check_positive_int("window", window)
        super().__init__(d_model, n_heads, dropout=dropout, bias=bias, fast=fast)
        self.window = window

    def _check_inputs(self, x, context, mask, cache, causal):
        if context is not None:
            raise ValueError("context: SlidingWindowAttention is self-attention only; use MultiHeadAttention for cross-attention")
        if not causal:
            raise ValueError("causal=False: SlidingWindowAttention is causal by construction; call it with causal=True")
        return super()._check_inputs(x, context, mask, cache, causal)

    def _attend(self, q, k, v, mask, causal, start, need_weights):
        T, S = q.shape[2], k.shape[2]
        band = _window_mask(T, S, start, self.window, q.device)  # (T, S), causal and local
        mask = band if mask is None else mask & band  # (T, S) or (B|1, H|1, T, S)
        return super()._attend(q, k, v, mask, False, start, need_weights)  # the band already holds causality

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, window={self.window}"


# ---- linear attention ------------------------------------------------------------------------------

def elu_feature_map(x: torch.Tensor) -> torch.Tensor:
    """φ(x) = elu(x) + 1: x + 1 for x > 0, exp(x) otherwise; always > 0, so every weight is positive."""
    return F.elu(x) + 1


def linear_attention_quadratic(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference form: weights = φ(q) φ(k)ᵀ, masked, each row divided by its sum -> (out, weights).

    out (..., T, D_v), weights (..., T, S). A row with nothing to attend to gets zeros.
    """
    _check_qkv(q, k, v, mask)
    if isinstance(dropout_p, bool) or not isinstance(dropout_p, (int, float)) or not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p={dropout_p!r} must be a number in [0, 1)")
    scores = elu_feature_map(q) @ elu_feature_map(k).transpose(-2, -1)  # (..., T, S), all > 0
    if mask is not None:
        scores = scores.masked_fill(~mask, 0.0)
    totals = scores.sum(dim=-1, keepdim=True)  # (..., T, 1)
    weights = scores / totals.masked_fill(totals == 0, 1.0)  # (..., T, S), rows sum to 1 (or are all 0)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p)
    return weights @ v, weights  # (..., T, D_v), (..., T, S)


def linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False) -> torch.Tensor:
    """φ(q)ᵀ S / φ(q)ᵀ z without forming a (T, S) matrix -> out (..., T, D_v).

    causal=False: S and z summed over every key, once. causal=True (T = S): the recurrent form, a
    loop over time keeping the running sums S_t = S_{t-1} + φ(k_t) v_tᵀ and z_t = z_{t-1} + φ(k_t).
    Equal to `linear_attention_quadratic` (with a causal mask when causal) up to rounding.
    """
    _check_qkv(q, k, v, None)
    if causal and q.shape[-2] != k.shape[-2]:
        raise ValueError(f"causal=True needs as many queries as keys (self-attention): q {tuple(q.shape)}, k {tuple(k.shape)}")
    phi_q = elu_feature_map(q)  # (..., T, D)
    phi_k = elu_feature_map(k)  # (..., S, D)
    if not causal:
        S = phi_k.transpose(-2, -1) @ v  # (..., D, D_v) Σ_s φ(k_s) v_sᵀ
        z = phi_k.sum(dim=-2)  # (..., D) Σ_s φ(k_s)
        return (phi_q @ S) / (phi_q @ z.unsqueeze(-1))  # (..., T, D_v) / (..., T, 1)

    batch = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    S = q.new_zeros(*batch, q.shape[-1], v.shape[-1])  # (..., D, D_v) the RNN's state ...
    z = q.new_zeros(*batch, q.shape[-1])  # (..., D) ... and its normaliser
    outs = []
    for t in range(q.shape[-2]):
        S = S + phi_k[..., t, :, None] * v[..., t, None, :]  # (..., D, D_v) add φ(k_t) v_tᵀ
        z = z + phi_k[..., t, :]  # (..., D)
        numerator = (phi_q[..., t, None, :] @ S).squeeze(-2)  # (..., D_v) φ(q_t)ᵀ S_t
        denominator = (phi_q[..., t, :] * z).sum(dim=-1, keepdim=True)  # (..., 1) φ(q_t)ᵀ z_t > 0
        outs.append(numerator / denominator)
    return torch.stack(outs, dim=-2)  # (..., T, D_v)


class LinearAttention(MultiHeadAttention):
    """Multi-head linear attention (φ(x) = elu(x) + 1), with `MultiHeadAttention`'s interface and weights.

    forward(x, context=None, mask=None, need_weights=False, cache=None, causal=False)
    -> (out (B, T, C), weights (B, H, T, S) or None).
    - `causal=True`: the recurrent form (`linear_attention(..., causal=True)`); causal=False or a
      `context`: the non-causal form.
    - `fast=False`, `need_weights=True`, dropout while training (it drops weights, which only the
      quadratic form has) or a non-empty `AttentionCache`: `linear_attention_quadratic`, the same numbers.
    - `mask` is refused (ValueError): a general mask needs the (T, S) matrix; only causal=True is linear.
    """

    def _check_inputs(self, x, context, mask, cache, causal):
        start_S = super()._check_inputs(x, context, mask, cache, causal)
        if mask is not None:
            raise ValueError("mask: LinearAttention takes no mask (its running sums cannot skip arbitrary keys); "
                             "use causal=True for causal attention, or MultiHeadAttention for padding masks")
        return start_S

    def _attend(self, q, k, v, mask, causal, start, need_weights):
        T, S = q.shape[2], k.shape[2]
        p = self.dropout if self.training else 0.0
        if need_weights or not self.fast or p > 0.0 or (causal and start > 0):
            allowed = torch.ones(T, S, dtype=torch.bool, device=q.device).tril(diagonal=start) if causal else None  # (T, S)
            return linear_attention_quadratic(q, k, v, mask=allowed, dropout_p=p)  # (B, H, T, D), (B, H, T, S)
        return linear_attention(q, k, v, causal=causal), None  # (B, H, T, D)


ATTENTION_KINDS = ("full", "window", "linear")


def build_attention(kind: str, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True,
                    fast: bool = True, window: int | None = None) -> MultiHeadAttention:
    """The self-attention module for `kind`: "full" (MultiHeadAttention), "window" (needs `window`) or "linear"."""
    if kind not in ATTENTION_KINDS:
        raise ValueError(f"attention={kind!r} is not supported; choose one of {', '.join(ATTENTION_KINDS)}")
    if kind == "window":
        if window is None:
            raise ValueError('window=None: attention="window" needs the window size (positions each query sees)')
        return SlidingWindowAttention(d_model, n_heads, dropout=dropout, bias=bias, fast=fast, window=window)
    cls = LinearAttention if kind == "linear" else MultiHeadAttention
    return cls(d_model, n_heads, dropout=dropout, bias=bias, fast=fast)
