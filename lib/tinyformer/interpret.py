"""Looking inside a trained model: record, ablate and patch activations; the logit lens.

Everything works through PyTorch forward hooks on the modules of `tinyformer.model.GPT` and
`tinyformer.model.Transformer`, so the models themselves are untouched and a recording run gives
bitwise the same logits as a plain one (tests/test_interpret.py checks it).

Names in an `ActivationCache` (layer l counts from 0; for a Transformer these are the decoder's,
and the encoder's carry the prefix "enc.", e.g. "enc.resid_pre.0"):

    resid_pre.l           (B, T, C)     the residual stream entering block l
    resid_post.l          (B, T, C)     the residual stream leaving block l (= resid_pre.{l+1})
    attn_out.l            (B, T, C)     what self-attention adds to the stream (after W_O)
    z.l                   (B, T, H, D)  each head's output before W_O mixes them (the heads' "z")
    attn_weights.l        (B, H, T, S)  attention weights per head (plain causal/cross attention only)
    mlp_pre.l             (B, T, F)     the MLP's hidden pre-activations x W_1 + b_1 (F = d_ff)
    mlp_out.l             (B, T, C)     what the MLP adds to the stream
    cross_attn_out.l, cross_z.l, cross_attn_weights.l   the same for a decoder's cross-attention

Tools:
- `run_with_cache(model, idx, src=None)` -> (logits, cache): one forward pass that records.
- `ablate(model, heads=[(l, h)], mlps=[l], cross_heads=[...], mode="zero"|"mean", means=...)`:
  a context manager that knocks components out (mean ablation uses `mean_activations`).
- `patch(model, name, layer, position, value)`: a context manager that replaces one activation
  (the building block of activation patching and causal tracing, Meng et al., 2022, "ROME").
- `residual_hook(model, layer, fn)`: apply fn to the residual stream entering block `layer`.
- `logit_lens(model, cache)`: every layer's residual stream read through the final norm and the
  output layer (nostalgebraist, 2020, "interpreting GPT: the logit lens").

Positions count within one call of the model: with a KV cache, position 0 is the first new token.
Shapes: B batch, T (target) time, S source time, C d_model, H heads, D head dim, F d_ff, V vocab.
Left out: gradient-based attribution, attention-pattern patching, path patching.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .attention import AttentionCache, CrossAttentionCache, MultiHeadAttention
from .model import GPT, Transformer

__all__ = [
    "ActivationCache",
    "ACTIVATION_NAMES",
    "PATCHABLE_NAMES",
    "run_with_cache",
    "mean_activations",
    "ablate",
    "patch",
    "residual_hook",
    "logit_lens",
    "n_layers",
]

ACTIVATION_NAMES = ("resid_pre", "resid_post", "attn_out", "z", "attn_weights", "mlp_pre", "mlp_out",
                    "cross_attn_out", "cross_z", "cross_attn_weights")
PATCHABLE_NAMES = ("resid_pre", "resid_post", "attn_out", "mlp_pre", "mlp_out", "cross_attn_out")


class ActivationCache(dict):
    """A dict name -> tensor from `run_with_cache`; a missing name's KeyError lists the names there are."""

    def __missing__(self, key: str):
        raise KeyError(f"{key!r} was not recorded; recorded: {', '.join(sorted(self))}")

    def stack(self, name: str, n: int) -> torch.Tensor:
        """name.0 ... name.{n-1} stacked on a new first dim: (n, ...)."""
        return torch.stack([self[f"{name}.{i}"] for i in range(n)])


# ---------------------------------------------------------------------------------------------
# where things are


def _check_model(model: object) -> None:
    if not isinstance(model, (GPT, Transformer)):
        raise TypeError(f"model must be a tinyformer GPT or Transformer, got {type(model).__name__}")


def _stacks(model: GPT | Transformer) -> dict[str, nn.ModuleList]:
    """prefix -> the layers: {"": GPT's blocks} or {"enc.": encoder layers, "": decoder layers}."""
    if isinstance(model, GPT):
        return {"": model.blocks}
    return {"enc.": model.encoder_layers, "": model.decoder_layers}


def _final(model: GPT | Transformer) -> tuple[nn.Module, nn.Module]:
    """(final norm, output layer) of the stack whose residual stream gives the logits."""
    if isinstance(model, GPT):
        return model.norm, model.lm_head
    return model.decoder_norm, model.generator


def n_layers(model: GPT | Transformer) -> int:
    """Blocks of a GPT, decoder layers of a Transformer (the stack the logit lens reads)."""
    _check_model(model)
    return len(_stacks(model)[""])


def _check_layer(model: GPT | Transformer, layer: object, name: str = "layer", allow_end: bool = False) -> None:
    n = n_layers(model)
    top = n if allow_end else n - 1
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer <= top:
        raise ValueError(f"{name}={layer!r} must be an int in 0..{top} (the model has {n} layers)")


@contextlib.contextmanager
def _hooks(registrations: Iterable[Callable[[], torch.utils.hooks.RemovableHandle]]) -> Iterator[None]:
    """Register hooks (each a zero-argument call returning its handle); remove them all on exit."""
    handles = []
    try:
        for register in registrations:
            handles.append(register())
        yield
    finally:
        for h in handles:
            h.remove()


# ---------------------------------------------------------------------------------------------
# recording


def _attention_weights(attn: MultiHeadAttention, args: tuple, kwargs: dict) -> torch.Tensor | None:
    """Recompute a MultiHeadAttention call's weights (B, H, T, S) from its inputs, after the call.

    Done beside the real forward (not through need_weights) so the model's own output is untouched:
    the fused kernel it uses and our readable path round differently. None for other attention kinds.
    """
    if type(attn) is not MultiHeadAttention:  # sliding-window / linear attention: other weights
        return None
    x = args[0]
    context = kwargs.get("context", args[1] if len(args) > 1 else None)
    mask = kwargs.get("mask")
    causal = kwargs.get("causal", False)
    cache = kwargs.get("cache")
    B, T, C = x.shape
    H, D = attn.n_heads, attn.head_dim
    W, b = attn.in_proj_weight, attn.in_proj_bias
    q = F.linear(x, W[:C], None if b is None else b[:C]).view(B, T, H, D).transpose(1, 2)  # (B, H, T, D)
    start = 0
    if context is None and isinstance(cache, AttentionCache):
        k = cache.k.narrow(2, 0, cache.length)  # (B, H, S, D): the forward already appended these
        start = cache.length - T
    elif context is not None and isinstance(cache, CrossAttentionCache) and cache.k is not None:
        k = cache.k  # (B, H, S, D)
    else:
        src = x if context is None else context
        k = F.linear(src, W[C:2 * C], None if b is None else b[C:2 * C])  # (B, S, C)
        k = k.view(B, src.shape[1], H, D).transpose(1, 2)  # (B, H, S, D)
    S = k.shape[2]
    scores = (q / D**0.5) @ k.transpose(-2, -1)  # (B, H, T, S)
    allowed = torch.ones(T, S, dtype=torch.bool, device=x.device)  # (T, S)
    if causal:
        allowed = allowed.tril(diagonal=start)
    if mask is not None:
        allowed = allowed & mask
    scores = scores.masked_fill(~allowed, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (B, H, T, S)
    return torch.nan_to_num(weights, nan=0.0)  # a fully masked row attends to nothing


def _recorders(model, store: dict, wanted: set[str] | None, detach: bool):
    """The hook registrations that write each activation into `store`."""

    def keep(key: str, t: torch.Tensor) -> None:
        store[key] = t.detach() if detach else t

    def want(name: str) -> bool:
        return wanted is None or name in wanted

    regs = []
    for prefix, layers in _stacks(model).items():
        for i, layer in enumerate(layers):
            def pre(mod, args, key=f"{prefix}resid_pre.{i}"):
                keep(key, args[0])

            def post(mod, args, out, key=f"{prefix}resid_post.{i}"):
                keep(key, out)

            if want("resid_pre"):
                regs.append(lambda layer=layer, f=pre: layer.register_forward_pre_hook(f))
            if want("resid_post"):
                regs.append(lambda layer=layer, f=post: layer.register_forward_hook(f))
            attns = [("", layer.self_attn)]
            if hasattr(layer, "cross_attn"):
                attns.append(("cross_", layer.cross_attn))
            for kind, attn in attns:
                def out0(mod, args, out, key=f"{prefix}{kind}attn_out.{i}"):
                    keep(key, out[0])

                def weights(mod, args, kwargs, out, key=f"{prefix}{kind}attn_weights.{i}"):
                    w = _attention_weights(mod, args, kwargs)
                    if w is not None:
                        keep(key, w)

                def z(mod, args, key=f"{prefix}{kind}z.{i}", H=attn.n_heads):
                    B, T, C = args[0].shape
                    keep(key, args[0].reshape(B, T, H, C // H))  # (B, T, H, D)

                if want(f"{kind}attn_out"):
                    regs.append(lambda a=attn, f=out0: a.register_forward_hook(f))
                if want(f"{kind}attn_weights"):
                    regs.append(lambda a=attn, f=weights: a.register_forward_hook(f, with_kwargs=True))
                if want(f"{kind}z"):
                    regs.append(lambda a=attn, f=z: a.out_proj.register_forward_pre_hook(f))

            def mlp_pre(mod, args, out, key=f"{prefix}mlp_pre.{i}"):
                keep(key, out)

            def mlp_out(mod, args, out, key=f"{prefix}mlp_out.{i}"):
                keep(key, out)

            if want("mlp_pre"):
                regs.append(lambda layer=layer, f=mlp_pre: layer.ffn.linear1.register_forward_hook(f))
            if want("mlp_out"):
                regs.append(lambda layer=layer, f=mlp_out: layer.ffn.register_forward_hook(f))
    return regs


def _check_names(names: object) -> set[str] | None:
    if names is None:
        return None
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):
        raise TypeError(f"names must be a list of activation names, got {names!r}")
    unknown = sorted(set(names) - set(ACTIVATION_NAMES))
    if unknown:
        raise ValueError(f"names holds unknown activation names {unknown}; choose from {', '.join(ACTIVATION_NAMES)}")
    return set(names)


def _forward(model: GPT | Transformer, idx: torch.Tensor, src: torch.Tensor | None, kv_cache=None) -> torch.Tensor:
    if isinstance(model, GPT):
        if src is not None:
            raise ValueError("src is only for a Transformer (the source sentence); a GPT takes idx alone")
        return model(idx, cache=kv_cache)
    if kv_cache is not None:
        raise ValueError("kv_cache is for a GPT; record a Transformer's decoder steps by running it whole")
    if src is None:
        raise ValueError("a Transformer needs src (B, S), the source ids, besides idx, the target ids (B, T)")
    return model(src, idx)


def run_with_cache(model: GPT | Transformer, idx: torch.Tensor, src: torch.Tensor | None = None, *,
                   names: Sequence[str] | None = None, detach: bool = True,
                   kv_cache=None) -> tuple[torch.Tensor, ActivationCache]:
    """One forward pass that records activations: -> (logits (B, T, V), cache).

    GPT: `run_with_cache(gpt, idx)`. Transformer: `run_with_cache(model, tgt, src)` (it runs
    `model(src, tgt)`). `names` limits what is kept (e.g. ["resid_pre"]); `detach=False` keeps
    the autograd graph. `kv_cache` (a GPT's `model.new_cache(B)`) records one generation step:
    idx holds only the new tokens, and attention weights cover every cached key. The logits are
    bitwise those of `model(...)`. Raises TypeError for a model that is neither, ValueError for src
    given to a GPT or missing for a Transformer, kv_cache given to a Transformer, or unknown names.
    """
    _check_model(model)
    wanted = _check_names(names)
    store = ActivationCache()
    with _hooks(_recorders(model, store, wanted, detach)):
        logits = _forward(model, idx, src, kv_cache)
    return logits, store


@torch.no_grad()
def mean_activations(model: GPT | Transformer, idx: torch.Tensor,
                     src: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Each activation averaged over batch and positions (for mean ablation): name -> (C,), (H, D) or (F,).

    Attention weights are left out (their last dim depends on the length).
    """
    _, cache = run_with_cache(model, idx, src)
    return {k: v.mean(dim=(0, 1)) for k, v in sorted(cache.items()) if "attn_weights" not in k}


# ---------------------------------------------------------------------------------------------
# intervening


def _check_pairs(name: str, pairs: object, model, n_heads: int) -> list[tuple[int, int]]:
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Iterable):
        raise TypeError(f"{name} must be a list of (layer, head) pairs, got {pairs!r}")
    out = []
    for p in pairs:
        if not (isinstance(p, (tuple, list)) and len(p) == 2):
            raise TypeError(f"{name} must be a list of (layer, head) pairs, got the item {p!r}")
        _check_layer(model, p[0], f"{name}'s layer")
        if isinstance(p[1], bool) or not isinstance(p[1], int) or not 0 <= p[1] < n_heads:
            raise ValueError(f"{name}'s head={p[1]!r} must be an int in 0..{n_heads - 1}")
        out.append((p[0], p[1]))
    return out


@contextlib.contextmanager
def ablate(model: GPT | Transformer, *, heads: Sequence[tuple[int, int]] = (), mlps: Sequence[int] = (),
           cross_heads: Sequence[tuple[int, int]] = (), mode: str = "zero",
           means: dict[str, torch.Tensor] | None = None) -> Iterator[None]:
    """Inside the `with`, the listed components are knocked out (decoder layers for a Transformer).

    heads: (layer, head) pairs of self-attention; their output z (before W_O) is set to zero or to
    its mean. mlps: layers whose MLP output is set to zero or its mean. cross_heads: a decoder's
    cross-attention heads. mode="mean" needs `means` from `mean_activations` (keys "z.l",
    "mlp_out.l", "cross_z.l"). Zero ablation removes a component; mean ablation keeps its average
    contribution and removes only what depends on the input. Nothing listed: the model is unchanged.
    """
    _check_model(model)
    if mode not in ("zero", "mean"):
        raise ValueError(f"mode={mode!r} must be 'zero' or 'mean'")
    layers = _stacks(model)[""]
    H = layers[0].self_attn.n_heads
    heads = _check_pairs("heads", heads, model, H)
    cross_heads = _check_pairs("cross_heads", cross_heads, model, H)
    if cross_heads and isinstance(model, GPT):
        raise ValueError("cross_heads are a Transformer decoder's; a GPT has no cross-attention")
    if isinstance(mlps, (str, bytes)) or not isinstance(mlps, Iterable):
        raise TypeError(f"mlps must be a list of layers, got {mlps!r}")
    mlps = list(mlps)
    for m in mlps:
        _check_layer(model, m, "mlps' layer")
    needed = ([f"z.{l}" for l, _ in heads] + [f"mlp_out.{l}" for l in mlps] + [f"cross_z.{l}" for l, _ in cross_heads])
    if mode == "mean":
        if not isinstance(means, dict):
            raise ValueError("mode='mean' needs means=mean_activations(model, idx) (a dict of averages)")
        missing = sorted(set(needed) - set(means))
        if missing:
            raise ValueError(f"means lacks {missing}; make it with mean_activations(model, idx)")

    def head_hook(layer: int, hs: list[int], key: str):
        def hook(mod, args):
            x = args[0]
            B, T, C = x.shape
            z = x.reshape(B, T, H, C // H).clone()  # (B, T, H, D)
            for h in hs:
                z[:, :, h] = 0.0 if mode == "zero" else means[key][h].to(z.dtype)
            return (z.reshape(B, T, C),) + tuple(args[1:])
        return hook

    def mlp_hook(key: str):
        def hook(mod, args, out):
            return torch.zeros_like(out) if mode == "zero" else means[key].to(out.dtype).expand_as(out).clone()
        return hook

    regs = []
    for kind, pairs in (("", heads), ("cross_", cross_heads)):
        by_layer: dict[int, list[int]] = {}
        for l, h in pairs:
            by_layer.setdefault(l, []).append(h)
        for l, hs in sorted(by_layer.items()):
            attn = layers[l].self_attn if kind == "" else layers[l].cross_attn
            f = head_hook(l, sorted(set(hs)), f"{kind}z.{l}")
            regs.append(lambda a=attn, f=f: a.out_proj.register_forward_pre_hook(f))
    for l in sorted(set(mlps)):
        f = mlp_hook(f"mlp_out.{l}")
        regs.append(lambda m=layers[l].ffn, f=f: m.register_forward_hook(f))
    with _hooks(regs):
        yield


def _check_position(position: object) -> None:
    if position is None:
        return
    if isinstance(position, torch.Tensor):
        if position.dim() != 1 or position.is_floating_point() or position.dtype == torch.bool:
            raise ValueError(f"position as a tensor must be 1-d integer (B,), one position per row, got "
                             f"{position.dtype} {tuple(position.shape)}")
        return
    if isinstance(position, bool) or not isinstance(position, int):
        raise TypeError(f"position must be an int, a (B,) integer tensor or None (all positions), got {position!r}")


def _replace(out: torch.Tensor, position, value: torch.Tensor) -> torch.Tensor:
    """out (B, T, X) with out[:, position] (or out[b, position[b]], or all of it) set to value."""
    B, T = out.shape[:2]
    out = out.clone()
    if position is None:
        out[...] = value.to(out.dtype)
        return out
    if isinstance(position, torch.Tensor):
        if position.shape[0] != B:
            raise ValueError(f"position has {position.shape[0]} entries for a batch of {B}")
        if bool(((position < -T) | (position >= T)).any()):
            raise ValueError(f"position {position.tolist()} out of range for length T={T}")
        out[torch.arange(B, device=out.device), position.to(out.device)] = value.to(out.dtype)
        return out
    if not -T <= position < T:
        raise ValueError(f"position={position} out of range for length T={T}")
    out[:, position] = value.to(out.dtype)
    return out


@contextlib.contextmanager
def patch(model: GPT | Transformer, name: str, layer: int, position: int | torch.Tensor | None,
          value: torch.Tensor) -> Iterator[None]:
    """Inside the `with`, activation `name` of `layer` at `position` is replaced by `value`.

    name: one of PATCHABLE_NAMES, optionally with the prefix "enc." for a Transformer's encoder.
    position: an int (every row, negative counts from the end), a (B,) integer tensor (row b at
    position[b], so one batch can patch a different position per row), or None (every position).
    value: broadcastable to the activation at those places: (B, C) or (C,) for one position,
    (B, T, C) for None. Patching a run with its own recorded activation changes nothing (bitwise).
    """
    _check_model(model)
    prefix = "enc." if isinstance(name, str) and name.startswith("enc.") else ""
    base = name[len(prefix):] if isinstance(name, str) else name
    if base not in PATCHABLE_NAMES or (prefix and isinstance(model, GPT)):
        raise ValueError(f"name={name!r} cannot be patched; choose one of {', '.join(PATCHABLE_NAMES)} "
                         f"(prefixed 'enc.' for a Transformer's encoder)")
    if base.startswith("cross_") and (isinstance(model, GPT) or prefix):
        raise ValueError(f"name={name!r}: only a Transformer's decoder has cross-attention")
    layers = _stacks(model)[prefix]
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < len(layers):
        raise ValueError(f"layer={layer!r} must be an int in 0..{len(layers) - 1}")
    _check_position(position)
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        raise TypeError(f"value must be a floating-point tensor, got {getattr(value, 'dtype', type(value).__name__)}")
    block = layers[layer]

    def on_output(mod, args, out):
        if isinstance(out, tuple):  # attention returns (out, weights)
            return (_replace(out[0], position, value),) + out[1:]
        return _replace(out, position, value)

    def on_input(mod, args):
        return (_replace(args[0], position, value),) + tuple(args[1:])

    module, register = {
        "resid_pre": (block, lambda: block.register_forward_pre_hook(on_input)),
        "resid_post": (block, lambda: block.register_forward_hook(on_output)),
        "attn_out": (block.self_attn, lambda: block.self_attn.register_forward_hook(on_output)),
        "mlp_pre": (block.ffn, lambda: block.ffn.linear1.register_forward_hook(on_output)),
        "mlp_out": (block.ffn, lambda: block.ffn.register_forward_hook(on_output)),
        "cross_attn_out": (block, lambda: block.cross_attn.register_forward_hook(on_output)),
    }[base]
    with _hooks([register]):
        yield


@contextlib.contextmanager
def residual_hook(model: GPT | Transformer, layer: int, fn: Callable[[torch.Tensor], torch.Tensor]) -> Iterator[None]:
    """Inside the `with`, the residual stream entering block `layer` is replaced by fn(x).

    x is (B, T, C) (every position of the call; with a KV cache only the new ones); fn must return
    the same shape. layer = n_layers(model) means the stream entering the final norm. For a
    Transformer it is the decoder's stream. Used to move a hidden state across a plane (the
    generation-boundary slice) or along a feature direction (steering).
    """
    _check_model(model)
    _check_layer(model, layer, allow_end=True)
    if not callable(fn):
        raise TypeError(f"fn must be a function (B, T, C) -> (B, T, C), got {type(fn).__name__}")
    layers = _stacks(model)[""]
    target = layers[layer] if layer < len(layers) else _final(model)[0]

    def hook(mod, args):
        x = args[0]
        y = fn(x)
        if not isinstance(y, torch.Tensor) or y.shape != x.shape:
            raise ValueError(f"fn must return a tensor of the input's shape {tuple(x.shape)}, got "
                             f"{tuple(getattr(y, 'shape', ())) or type(y).__name__}")
        return (y,) + tuple(args[1:])

    with _hooks([lambda: target.register_forward_pre_hook(hook)]):
        yield


def logit_lens(model: GPT | Transformer, cache: dict[str, torch.Tensor]) -> torch.Tensor:
    """Every layer's residual stream through the final norm and the output layer: (L + 1, B, T, V).

    Row l < L reads resid_pre.l (the stream entering block l; row 0 is the embeddings), row L reads
    resid_post.{L-1}, which gives the model's own logits. For a Transformer, the decoder's stream.
    Raises ValueError if the cache lacks those residuals (record them with run_with_cache).
    """
    _check_model(model)
    L = n_layers(model)
    keys = [f"resid_pre.{l}" for l in range(L)] + [f"resid_post.{L - 1}"]
    missing = [k for k in keys if k not in cache]
    if missing:
        raise ValueError(f"cache lacks {missing}; record them with run_with_cache(model, ...)")
    norm, head = _final(model)
    with torch.no_grad():
        return torch.stack([head(norm(cache[k])) for k in keys])  # (L + 1, B, T, V)
