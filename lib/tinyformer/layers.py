"""The pieces around attention: LayerNorm, the feed-forward network, and the encoder/decoder layers.

From "Attention Is All You Need" (Vaswani et al., 2017, sections 3.1 and 3.3):

    LayerNorm(x) = (x - mean(x)) / sqrt(var(x) + eps) * gamma + beta    over the last dim C
    FFN(x)       = act(x W_1 + b_1) W_2 + b_2                            per token, C -> d_ff -> C
                   (act: "relu", "gelu" exact, or "gelu_tanh", the approximation GPT-2 uses)
    post-norm:   x = LayerNorm(x + Sublayer(x))          (the paper, nn.Transformer's default)
    pre-norm:    x = x + Sublayer(LayerNorm(x))          (GPT-2 and most models since: trains stabler)

An `EncoderLayer` is self-attention + FFN; with `causal=True` it is also GPT's decoder-only block.
A `DecoderLayer` is masked self-attention + cross-attention over the encoder memory + FFN.
Parameter names follow `torch.nn.TransformerEncoderLayer`/`DecoderLayer` (self_attn, norm1, ...,
linear1, linear2 inside `ffn`) so their weights copy over one to one.

Attention weights for plots: call a layer with `need_weights=True` and read `layer.last_attention`
(encoder) or `layer.last_self_attention` / `layer.last_cross_attention` (decoder), each (B, H, T, S).

Shapes: B batch, T time, S source time, C d_model, H heads.
Left out: RMSNorm, gated FFNs (SwiGLU), stochastic depth.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .attention import LayerCache, MultiHeadAttention
from .dropout import Dropout

__all__ = ["LayerNorm", "FeedForward", "EncoderLayer", "DecoderLayer", "ACTIVATIONS"]


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """GELU by its tanh approximation, as GPT-2 was trained (Hendrycks & Gimpel, 2016, section 2):
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). Plain "gelu" is the exact x Phi(x)."""
    return F.gelu(x, approximate="tanh")


ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "gelu_tanh": gelu_tanh}


def _check_positive_int(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive int")


def _check_dropout(dropout: object) -> None:
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout={dropout!r} must be a number in [0, 1)")


class LayerNorm(nn.Module):
    """Normalise each token's C features to mean 0, variance 1, then scale by gamma and shift by beta.

    `fast=True` calls the fused `F.layer_norm` kernel (same numbers, much faster backward);
    `fast=False` runs the formula line by line. Parameter names `weight` (gamma) and `bias` (beta)
    match `nn.LayerNorm`.
    """

    def __init__(self, d_model: int, eps: float = 1e-5, fast: bool = True):
        super().__init__()
        _check_positive_int("d_model", d_model)
        self.d_model = d_model
        self.eps = eps
        self.fast = fast
        self.weight = nn.Parameter(torch.ones(d_model))  # gamma
        self.bias = nn.Parameter(torch.zeros(d_model))  # beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() == 0 or x.shape[-1] != self.d_model:
            raise ValueError(f"LayerNorm expects the last dim to be d_model={self.d_model}, got shape {tuple(getattr(x, 'shape', ())) or type(x).__name__}")
        if self.fast:
            return F.layer_norm(x, (self.d_model,), self.weight, self.bias, self.eps)
        mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
        var = x.var(dim=-1, keepdim=True, unbiased=False)  # (..., 1): divide by C, not C - 1
        x_hat = (x - mean) / torch.sqrt(var + self.eps)  # (..., C): mean 0, variance 1 per token
        return x_hat * self.weight + self.bias

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, eps={self.eps}, fast={self.fast}"


class FeedForward(nn.Module):
    """Two linear maps with a nonlinearity between, applied to every token on its own: C -> d_ff -> C."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "relu", bias: bool = True):
        super().__init__()
        _check_positive_int("d_model", d_model)
        _check_positive_int("d_ff", d_ff)
        _check_dropout(dropout)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation={activation!r} is not supported; choose one of {sorted(ACTIVATIONS)}")
        self.activation = activation
        self.act = ACTIVATIONS[activation]
        self.linear1 = nn.Linear(d_model, d_ff, bias=bias)  # W_1: expand
        self.dropout = Dropout(dropout)
        self.linear2 = nn.Linear(d_ff, d_model, bias=bias)  # W_2: project back

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d_model = self.linear1.in_features
        if not isinstance(x, torch.Tensor) or x.dim() == 0 or x.shape[-1] != d_model:
            raise ValueError(f"FeedForward expects x of shape (..., d_model={d_model}), got {tuple(getattr(x, 'shape', ())) or type(x).__name__}")
        h = self.act(self.linear1(x))  # (B, T, d_ff)
        return self.linear2(self.dropout(h))  # (B, T, C)

    def extra_repr(self) -> str:
        return f"activation={self.activation!r}"


class EncoderLayer(nn.Module):
    """Self-attention then FFN, each wrapped in a residual connection and a LayerNorm.

    forward(x (B, T, C), mask=None, causal=False, cache=None, need_weights=False) -> (B, T, C).
    `causal=True` (with an optional `LayerCache`) makes it GPT's block.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1, activation: str = "relu",
                 norm_first: bool = True, fast: bool = True):
        super().__init__()
        _check_dropout(dropout)
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout=dropout, fast=fast)
        self.ffn = FeedForward(d_model, d_ff, dropout=dropout, activation=activation)
        self.norm1 = LayerNorm(d_model, fast=fast)
        self.norm2 = LayerNorm(d_model, fast=fast)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.last_attention: torch.Tensor | None = None  # (B, H, T, T), set when need_weights=True

    def _sa(self, x, mask, causal, cache, need_weights):
        out, weights = self.self_attn(x, mask=mask, need_weights=need_weights, causal=causal,
                                      cache=None if cache is None else cache.self_attn)
        if need_weights:
            self.last_attention = weights.detach()
        return self.dropout1(out)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, causal: bool = False,
                cache: LayerCache | None = None, need_weights: bool = False) -> torch.Tensor:
        if self.norm_first:
            x = x + self._sa(self.norm1(x), mask, causal, cache, need_weights)  # (B, T, C)
            x = x + self.dropout2(self.ffn(self.norm2(x)))  # (B, T, C)
        else:
            x = self.norm1(x + self._sa(x, mask, causal, cache, need_weights))
            x = self.norm2(x + self.dropout2(self.ffn(x)))
        return x

    def stepper(self) -> Callable[[torch.Tensor, LayerCache], torch.Tensor] | None:
        """`forward(x, causal=True, cache=cache)` for one new token per row, as a function
        step(x (B, 1, C), cache) -> (B, 1, C): no checks, no module calls, the weights read once
        (see `MultiHeadAttention.stepper`). None when it would not do what forward does (`can_step`):
        in training mode, with a readable (`fast=False`) part, another attention than ours (e.g.
        windowed), or a forward hook on the block or a part of it (a step calls no module).
        """
        if not can_step(self):
            return None
        attend, ffn = self.self_attn.stepper(), _ffn_fn(self.ffn)
        norm1, norm2 = _layer_norm_fn(self.norm1), _layer_norm_fn(self.norm2)
        if self.norm_first:
            def step(x: torch.Tensor, cache: LayerCache) -> torch.Tensor:
                x = x + attend(norm1(x), cache.self_attn)  # (B, 1, C)
                return x + ffn(norm2(x))
        else:
            def step(x: torch.Tensor, cache: LayerCache) -> torch.Tensor:
                x = norm1(x + attend(x, cache.self_attn))  # (B, 1, C)
                return norm2(x + ffn(x))
        return step


def has_forward_hooks(*modules: nn.Module) -> bool:
    """Whether a forward hook (or pre-hook) would run inside any of `modules` or their parts, e.g.
    an ablation or a steering vector (`tinyformer.interpret`, `tinyformer.sae`); global hooks count."""
    from torch.nn.modules import module as torch_module

    if torch_module._global_forward_hooks or torch_module._global_forward_pre_hooks:
        return True
    return any(m._forward_hooks or m._forward_pre_hooks for module in modules for m in module.modules())


def can_step(*modules: nn.Module, own: tuple[type, ...] = ()) -> bool:
    """Whether a stepper may compute what `modules` compute without calling them (it reads their
    weights and skips their forward): in eval mode, every part is one of our own modules or `own`
    classes, not a subclass or a swapped-in module (a windowed attention, a LoRA linear), every
    part is `fast`, and no forward hook would run inside them (`has_forward_hooks`).
    """
    known = (EncoderLayer, DecoderLayer, MultiHeadAttention, FeedForward, LayerNorm, Dropout, nn.Linear,
             nn.ModuleList, *own)
    parts = [m for module in modules for m in module.modules()]
    return (all(type(m) in known and not m.training and getattr(m, "fast", True) for m in parts)
            and not has_forward_hooks(*modules))


def _layer_norm_fn(norm: LayerNorm) -> Callable[[torch.Tensor], torch.Tensor]:
    """`norm` (fused) as a plain function of x, its weights read once."""
    shape, weight, bias, eps = (norm.d_model,), norm.weight, norm.bias, norm.eps
    return lambda x: F.layer_norm(x, shape, weight, bias, eps)


def _ffn_fn(ffn: FeedForward) -> Callable[[torch.Tensor], torch.Tensor]:
    """`ffn` in eval mode (no dropout) as a plain function of x (..., C), its weights read once."""
    act, W1, b1, W2, b2 = ffn.act, ffn.linear1.weight, ffn.linear1.bias, ffn.linear2.weight, ffn.linear2.bias
    return lambda x: F.linear(act(F.linear(x, W1, b1)), W2, b2)  # (..., d_ff), then (..., C)


class DecoderLayer(nn.Module):
    """Masked (causal) self-attention, cross-attention over the encoder memory, then FFN.

    forward(x (B, T, C), memory (B, S, C), memory_mask=None, cache=None, need_weights=False) -> (B, T, C).
    `memory_mask` (B, 1, 1, S), True = a real source token, hides the source padding.
    The self-attention is causal in training and in evaluation alike.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1, activation: str = "relu",
                 norm_first: bool = True, fast: bool = True):
        super().__init__()
        _check_dropout(dropout)
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout=dropout, fast=fast)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout=dropout, fast=fast)
        self.ffn = FeedForward(d_model, d_ff, dropout=dropout, activation=activation)
        self.norm1 = LayerNorm(d_model, fast=fast)
        self.norm2 = LayerNorm(d_model, fast=fast)
        self.norm3 = LayerNorm(d_model, fast=fast)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.last_self_attention: torch.Tensor | None = None  # (B, H, T, T)
        self.last_cross_attention: torch.Tensor | None = None  # (B, H, T, S)

    def _sa(self, x, cache, need_weights):
        out, weights = self.self_attn(x, causal=True, need_weights=need_weights,
                                      cache=None if cache is None else cache.self_attn)
        if need_weights:
            self.last_self_attention = weights.detach()
        return self.dropout1(out)

    def _ca(self, x, memory, memory_mask, cache, need_weights):
        out, weights = self.cross_attn(x, context=memory, mask=memory_mask, need_weights=need_weights,
                                       cache=None if cache is None else cache.cross_attn)
        if need_weights:
            self.last_cross_attention = weights.detach()
        return self.dropout2(out)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor | None = None,
                cache: LayerCache | None = None, need_weights: bool = False) -> torch.Tensor:
        if self.norm_first:
            x = x + self._sa(self.norm1(x), cache, need_weights)  # (B, T, C)
            x = x + self._ca(self.norm2(x), memory, memory_mask, cache, need_weights)  # (B, T, C)
            x = x + self.dropout3(self.ffn(self.norm3(x)))  # (B, T, C)
        else:
            x = self.norm1(x + self._sa(x, cache, need_weights))
            x = self.norm2(x + self._ca(x, memory, memory_mask, cache, need_weights))
            x = self.norm3(x + self.dropout3(self.ffn(x)))
        return x

    def stepper(self) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None, LayerCache], torch.Tensor] | None:
        """`forward(x, memory, memory_mask, cache=cache)` for one new token per row, as a function
        step(x (B, 1, C), memory, memory_mask, cache) -> (B, 1, C); None when `can_step` says no
        (see `EncoderLayer.stepper`).
        """
        if not can_step(self):
            return None
        attend, attend_memory, ffn = self.self_attn.stepper(), self.cross_attn.cross_stepper(), _ffn_fn(self.ffn)
        norm1, norm2, norm3 = _layer_norm_fn(self.norm1), _layer_norm_fn(self.norm2), _layer_norm_fn(self.norm3)
        if self.norm_first:
            def step(x: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor | None, cache: LayerCache) -> torch.Tensor:
                x = x + attend(norm1(x), cache.self_attn)  # (B, 1, C)
                x = x + attend_memory(norm2(x), memory, memory_mask, cache.cross_attn)
                return x + ffn(norm3(x))
        else:
            def step(x: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor | None, cache: LayerCache) -> torch.Tensor:
                x = norm1(x + attend(x, cache.self_attn))  # (B, 1, C)
                x = norm2(x + attend_memory(x, memory, memory_mask, cache.cross_attn))
                return norm3(x + ffn(x))
        return step
