"""The generation boundary of a GPT: what it would say if one position's hidden state were elsewhere.

Pick a prompt, a block `layer` and the last position (the *query*). The residual stream entering
that block at the query is a vector h (C,). Replace it by any other vector x and let the blocks
from `layer` on run as usual: the model now predicts a next token, and greedily a continuation,
for x. Doing this on a 2-D grid of x (`plane_grid`: the plane through the origin spanned by two
hidden states; `principal_plane`: two principal directions through h) and colouring each point by
its next token (`next_token_map`, confidence = that token's probability as intensity) or by its
k-token greedy continuation (`continuation_map`, batched with the KV cache) draws the decision /
generation boundary: where the colour changes. Earlier positions never see the query (causal
attention), so their keys and values are computed once and shared by every grid point.

EG-BAS on our model (Jeon, Jeong & Choi, "Explorative Sampling Considering the Generative Boundaries
of Deep Generative Neural Networks", AAAI 2020): each MLP unit of block `layer` splits the space
of x by the sign of its pre-activation (a hyperplane of ReLU/GELU networks, curved here by the
LayerNorm and attention before it). `learn_unit_mask` learns a sparse mask (L1-penalised, Adam) of
the units the query's next-token distribution depends on; `grow_rrt` grows a rapidly-exploring
random tree (LaValle, "Rapidly-exploring random trees: a new tool for path planning", TR 98-11,
1998) from h that keeps every kept unit's sign; `ball_samples` draws points uniformly from a ball
of the same radius (and `shell_samples` at the tree's own distances, the fairer control);
`compare_tree_ball` decodes them all and measures the KL to the query's distribution and the share
with the query's next token and greedy continuation.

Shapes: T prompt length, C d_model, F d_ff (MLP units), N points, R grid resolution, K tokens, V vocab.
Left out: the encoder-decoder (GPT only), positions other than the last, sampling instead of greedy
continuations, EG-BAS's Bernoulli mask (we learn a sigmoid relaxation) and its GAN-specific parts.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.nn.functional as F

from tinyformer.model import GPT

__all__ = [
    "PlaneGrid",
    "TokenMap",
    "ContinuationMap",
    "UnitMask",
    "RRTree",
    "prompt_residuals",
    "plane_grid",
    "principal_plane",
    "next_token_logits_at",
    "greedy_continuations",
    "greedy_continuation_uncached",
    "next_token_map",
    "continuation_map",
    "unit_preactivations",
    "learn_unit_mask",
    "grow_rrt",
    "ball_samples",
    "shell_samples",
    "compare_tree_ball",
]


# ---------------------------------------------------------------- argument checks


def _check_model(model: object) -> None:
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a tinyformer.model.GPT, got {type(model).__name__}")


def _as_prompt(model: GPT, idx: object) -> torch.Tensor:
    """idx as a (1, T) long tensor on the model's device; a list, (T,) or (1, T) tensor is accepted."""
    if isinstance(idx, (list, tuple)):
        if not idx or not all(isinstance(i, int) and not isinstance(i, bool) for i in idx):
            raise ValueError("idx must be a non-empty list of token ids (ints)")
        idx = torch.tensor(idx, dtype=torch.long)
    if not isinstance(idx, torch.Tensor) or idx.is_floating_point() or idx.is_complex() or idx.dtype == torch.bool:
        raise TypeError(f"idx must be token ids: a list of ints or an integer tensor (T,) or (1, T), "
                        f"got {getattr(idx, 'dtype', type(idx).__name__)}")
    if idx.dim() == 1:
        idx = idx[None]
    if idx.dim() != 2 or idx.shape[0] != 1 or idx.shape[1] == 0:
        raise ValueError(f"idx must be one prompt, shape (T,) or (1, T) with T >= 1, got {tuple(idx.shape)}")
    V = model.config.vocab_size
    if int(idx.min()) < 0 or int(idx.max()) >= V:
        raise ValueError(f"idx holds ids outside the vocabulary 0..{V - 1}")
    if idx.shape[1] > model.config.block_size:
        raise ValueError(f"idx has {idx.shape[1]} tokens, more than block_size={model.config.block_size}")
    return idx.to(device=model.lm_head.weight.device, dtype=torch.long)


def _check_layer(model: GPT, layer: object) -> int:
    n = model.config.n_layers
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < n:
        raise ValueError(f"layer={layer!r} must be an int in 0..{n - 1} (the block whose input is replaced)")
    return layer


def _check_points(model: GPT, points: object, name: str = "points") -> torch.Tensor:
    C = model.config.d_model
    if not isinstance(points, torch.Tensor) or not points.is_floating_point():
        got = getattr(points, "dtype", type(points).__name__)
        raise TypeError(f"{name} must be a floating-point tensor (N, C={C}), got {got}")
    if points.dim() == 1:
        points = points[None]
    if points.dim() != 2 or points.shape[1] != C or points.shape[0] == 0:
        raise ValueError(f"{name} must have shape (N, C={C}) with N >= 1, got {tuple(points.shape)}")
    if not bool(torch.isfinite(points).all()):
        raise ValueError(f"{name} holds NaN or inf")
    return points.to(model.lm_head.weight)


def _check_int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an int >= {minimum}")
    return value


def _check_number(name: str, value: object, minimum: float = 0.0, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < minimum or (strict and value == minimum):
        raise ValueError(f"{name}={value!r} must be a finite number {'>' if strict else '>='} {minimum}")
    return float(value)


def _check_vector(name: str, v: object, C: int | None = None) -> torch.Tensor:
    if not isinstance(v, torch.Tensor) or not v.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor (C,), got {getattr(v, 'dtype', type(v).__name__)}")
    if v.dim() != 1 or (C is not None and v.shape[0] != C):
        raise ValueError(f"{name} must have shape (C{'=' + str(C) if C else ''},), got {tuple(v.shape)}")
    return v


# ---------------------------------------------------------------- replacing the query's residual


@contextmanager
def _replace_input(model: GPT, layer: int, position: int, values: torch.Tensor) -> Iterator[None]:
    """While active, block `layer`'s input x[:, position] (B, C) is replaced by `values` (B, C)."""

    def hook(module, args):
        x = args[0].clone()  # (B, T, C)
        x[:, position] = values.to(x.dtype)
        return (x, *args[1:])

    handle = model.blocks[layer].register_forward_pre_hook(hook)
    try:
        yield
    finally:
        handle.remove()


@contextmanager
def _eval(model: GPT) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


@torch.no_grad()
def prompt_residuals(model: GPT, idx, layer: int) -> torch.Tensor:
    """The residual stream entering block `layer` at every prompt position: (T, C). The query is row -1."""
    _check_model(model)
    idx = _as_prompt(model, idx)
    layer = _check_layer(model, layer)
    seen: list[torch.Tensor] = []
    handle = model.blocks[layer].register_forward_pre_hook(lambda m, args: seen.append(args[0][0].clone()))
    try:
        with _eval(model):
            model(idx)
    finally:
        handle.remove()
    return seen[0]  # (T, C)


def _prefix_cache(model: GPT, idx: torch.Tensor, n: int, extra: int):
    """A KV cache of batch n holding the prompt's first T - 1 positions (computed once, copied n times)."""
    T = idx.shape[1]
    cache = model.new_cache(1, max_len=min(T + extra, model.config.block_size))
    if T > 1:
        model(idx[:, :-1], cache=cache)
    cache.reorder(torch.zeros(n, dtype=torch.long, device=idx.device))  # (n, H, max_len, D) copies
    return cache


def _query_step(model: GPT, idx: torch.Tensor, layer: int, points: torch.Tensor, extra: int):
    """Logits (N, V) at the query with its block-`layer` input set to `points` (N, C), and the cache."""
    N = points.shape[0]
    cache = _prefix_cache(model, idx, N, extra)
    with _replace_input(model, layer, 0, points):
        logits = model(idx[:, -1:].expand(N, 1), cache=cache)[:, -1]  # (N, V)
    return logits, cache


@torch.no_grad()
def next_token_logits_at(model: GPT, idx, layer: int, points: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Next-token logits (N, V) of the prompt `idx` when the query's input to block `layer` is each point.

    `points` (N, C) or (C,); batched `batch_size` points at a time, the prompt's earlier positions
    cached once per batch. Raises TypeError/ValueError naming model, idx, layer, points or batch_size.
    """
    _check_model(model)
    idx = _as_prompt(model, idx)
    layer = _check_layer(model, layer)
    points = _check_points(model, points)
    _check_int("batch_size", batch_size)
    out = []
    with _eval(model):
        for i in range(0, points.shape[0], batch_size):
            out.append(_query_step(model, idx, layer, points[i : i + batch_size], 0)[0])
    return torch.cat(out)  # (N, V)


@torch.no_grad()
def greedy_continuations(model: GPT, idx, layer: int, points: torch.Tensor, k: int = 4,
                         batch_size: int = 1024) -> torch.Tensor:
    """The k tokens (N, K) greedy decoding appends to `idx` from each point, batched with the KV cache.

    The point replaces the query's input to block `layer` once; the tokens generated after it run
    normally, attending to the cached keys/values the replaced query left in every block. The first
    column is the next token of `next_token_logits_at`. Needs len(idx) + k - 1 <= block_size.
    """
    _check_model(model)
    idx = _as_prompt(model, idx)
    layer = _check_layer(model, layer)
    points = _check_points(model, points)
    k = _check_int("k", k)
    _check_int("batch_size", batch_size)
    if idx.shape[1] + k - 1 > model.config.block_size:
        raise ValueError(f"k={k} new tokens after {idx.shape[1]} prompt tokens do not fit in block_size="
                         f"{model.config.block_size}")
    out = []
    with _eval(model):
        for i in range(0, points.shape[0], batch_size):
            logits, cache = _query_step(model, idx, layer, points[i : i + batch_size], k - 1)
            tokens = [logits.argmax(-1)]  # (n,)
            for _ in range(k - 1):
                tokens.append(model(tokens[-1][:, None], cache=cache)[:, -1].argmax(-1))
            out.append(torch.stack(tokens, dim=1))  # (n, K)
    return torch.cat(out)  # (N, K)


@torch.no_grad()
def greedy_continuation_uncached(model: GPT, idx, layer: int, point: torch.Tensor, k: int = 4) -> list[int]:
    """The reference for `greedy_continuations`: one point, the whole sequence re-run for every token."""
    _check_model(model)
    idx = _as_prompt(model, idx)
    layer = _check_layer(model, layer)
    point = _check_points(model, point, "point")
    if point.shape[0] != 1:
        raise ValueError(f"point must be one vector (C,), got {point.shape[0]} rows")
    k = _check_int("k", k)
    T = idx.shape[1]
    seq = idx
    with _eval(model), _replace_input(model, layer, T - 1, point):
        for _ in range(k):
            nxt = model(seq)[:, -1].argmax(-1, keepdim=True)  # (1, 1)
            seq = torch.cat([seq, nxt], dim=1)
    return seq[0, T:].tolist()


# ---------------------------------------------------------------- planes and maps


@dataclass
class PlaneGrid:
    """A grid on the plane origin + s u + t v: points[i, j] = origin + s[j] u + t[i] v, (R, R, C)."""

    points: torch.Tensor  # (R, R, C), row i = t[i], column j = s[j]
    s: torch.Tensor  # (R,) coefficients along u (x axis)
    t: torch.Tensor  # (R,) coefficients along v (y axis)
    origin: torch.Tensor  # (C,)
    u: torch.Tensor  # (C,)
    v: torch.Tensor  # (C,)
    axis_names: tuple[str, str] = ("u", "v")

    @property
    def resolution(self) -> int:
        return self.s.shape[0]

    def flat(self) -> torch.Tensor:
        return self.points.reshape(-1, self.points.shape[-1])  # (R * R, C)

    def coords(self, x: torch.Tensor) -> torch.Tensor:
        """Least-squares (s, t) of points x (N, C) on this plane: (N, 2), for drawing them on the map."""
        basis = torch.stack([self.u, self.v], dim=1)  # (C, 2)
        return torch.linalg.lstsq(basis, (x - self.origin).T).solution.T  # (N, 2)


def plane_grid(u: torch.Tensor, v: torch.Tensor, origin: torch.Tensor | None = None, resolution: int = 41,
               span: tuple[float, float] = (-0.25, 1.25), axis_names: tuple[str, str] = ("u", "v")) -> PlaneGrid:
    """A resolution x resolution grid on origin + s u + t v, s and t running over `span`.

    With origin None (zeros) and u, v two hidden states, this is the plane spanned by the two states:
    span (0, 1) puts 0, u, v and u + v at the four corners, (-0.25, 1.25) a margin around them.
    Raises TypeError/ValueError naming u, v, origin, resolution or span.
    """
    u = _check_vector("u", u)
    C = u.shape[0]
    v = _check_vector("v", v, C)
    origin = torch.zeros_like(u) if origin is None else _check_vector("origin", origin, C)
    resolution = _check_int("resolution", resolution, 2)
    if (not isinstance(span, (tuple, list)) or len(span) != 2
            or not all(isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a) for a in span)
            or not span[0] < span[1]):
        raise ValueError(f"span={span!r} must be two finite numbers (low, high) with low < high")
    if torch.linalg.matrix_rank(torch.stack([u, v]).double()) < 2:
        raise ValueError("u and v are parallel (or zero): they do not span a plane")
    s = torch.linspace(float(span[0]), float(span[1]), resolution, dtype=u.dtype, device=u.device)  # (R,)
    t = s.clone()
    points = origin + s[None, :, None] * u + t[:, None, None] * v  # (R, R, C)
    return PlaneGrid(points, s, t, origin, u, v, tuple(axis_names))


def principal_plane(states: torch.Tensor, origin: torch.Tensor, resolution: int = 41,
                    span: tuple[float, float] = (-3.0, 3.0)) -> PlaneGrid:
    """The plane through `origin` along the two principal directions of `states` (N, C).

    u and v are the top two right singular vectors of the centred states, each scaled by the
    states' standard deviation along it, so s = 1 is one standard deviation; the sign of each is
    fixed so its largest entry is positive. Needs N >= 3 states.
    """
    if not isinstance(states, torch.Tensor) or not states.is_floating_point() or states.dim() != 2:
        got = getattr(states, "shape", type(states).__name__)
        raise TypeError(f"states must be a floating-point tensor (N, C), got {got}")
    if states.shape[0] < 3:
        raise ValueError(f"states must hold at least 3 rows to have two principal directions, got {states.shape[0]}")
    origin = _check_vector("origin", origin, states.shape[1])
    centred = states - states.mean(0)  # (N, C)
    _, sv, vh = torch.linalg.svd(centred.double(), full_matrices=False)
    std = sv[:2] / math.sqrt(states.shape[0] - 1)  # (2,)
    if not bool((std > 1e-12).all()):
        raise ValueError("states vary along fewer than two directions: no principal plane")
    dirs = vh[:2]  # (2, C)
    flip = torch.sign(dirs.gather(1, dirs.abs().argmax(1, keepdim=True)))  # (2, 1)
    u, v = (dirs * flip * std[:, None]).to(states.dtype)
    return plane_grid(u, v, origin, resolution, span, axis_names=("PC1 (std)", "PC2 (std)"))


@dataclass
class TokenMap:
    """The next token at every grid point and its probability at the map's temperature."""

    token: torch.Tensor  # (R, R) long: the argmax
    prob: torch.Tensor  # (R, R): softmax(logits / temperature) of that token (1 at temperature 0)
    temperature: float


def _confidence(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Probability of the argmax at `temperature` (0: greedy, always 1). logits (..., V) -> (...)."""
    if temperature == 0:
        return torch.ones(logits.shape[:-1], dtype=logits.dtype, device=logits.device)
    return torch.softmax(logits / temperature, dim=-1).amax(-1)


def next_token_map(model: GPT, idx, layer: int, grid: PlaneGrid, temperature: float = 1.0,
                   batch_size: int = 1024) -> TokenMap:
    """Colour each grid point by its next token; confidence = its probability at `temperature`."""
    if not isinstance(grid, PlaneGrid):
        raise TypeError(f"grid must be a PlaneGrid (from plane_grid or principal_plane), got {type(grid).__name__}")
    temperature = _check_number("temperature", temperature)
    logits = next_token_logits_at(model, idx, layer, grid.flat(), batch_size)  # (R * R, V)
    R = grid.resolution
    return TokenMap(logits.argmax(-1).view(R, R), _confidence(logits, temperature).view(R, R), temperature)


@dataclass
class ContinuationMap:
    """The greedy k-token continuation at every grid point, and an integer label per distinct one."""

    tokens: torch.Tensor  # (R, R, K) long
    label: torch.Tensor  # (R, R) long: index into `continuations`
    continuations: list[tuple[int, ...]]  # distinct continuations, most frequent first (ties: smallest ids)
    counts: list[int]  # grid points per continuation


def continuation_map(model: GPT, idx, layer: int, grid: PlaneGrid, k: int = 4,
                     batch_size: int = 1024) -> ContinuationMap:
    """Colour each grid point by the k tokens greedy decoding generates from it (batched, KV cache)."""
    if not isinstance(grid, PlaneGrid):
        raise TypeError(f"grid must be a PlaneGrid (from plane_grid or principal_plane), got {type(grid).__name__}")
    tokens = greedy_continuations(model, idx, layer, grid.flat(), k, batch_size)  # (R * R, K)
    R = grid.resolution
    uniq, inverse, counts = torch.unique(tokens.cpu(), dim=0, return_inverse=True, return_counts=True)
    order = sorted(range(len(uniq)), key=lambda i: (-int(counts[i]), uniq[i].tolist()))
    rank = torch.empty(len(uniq), dtype=torch.long)
    rank[torch.tensor(order)] = torch.arange(len(uniq))
    return ContinuationMap(tokens.view(R, R, k), rank[inverse].view(R, R),
                           [tuple(uniq[i].tolist()) for i in order], [int(counts[i]) for i in order])


# ---------------------------------------------------------------- EG-BAS: unit boundaries, mask, tree, ball


@torch.no_grad()
def unit_preactivations(model: GPT, idx, layer: int, points: torch.Tensor) -> torch.Tensor:
    """Pre-activations (N, F) of block `layer`'s MLP units at the query, its input set to each point.

    The sign of unit f's pre-activation is the side of unit f's boundary the point lies on.
    """
    _check_model(model)
    idx = _as_prompt(model, idx)
    layer = _check_layer(model, layer)
    points = _check_points(model, points)
    seen: list[torch.Tensor] = []
    handle = model.blocks[layer].ffn.linear1.register_forward_hook(lambda m, a, out: seen.append(out[:, -1]))
    try:
        with _eval(model):
            N = points.shape[0]
            cache = _prefix_cache(model, idx, N, 0)
            placeholder = points.new_zeros(N, 1, points.shape[1])  # (N, 1, C), overwritten by the hook
            with _replace_input(model, layer, 0, points):
                model.blocks[layer](placeholder, causal=True, cache=cache.layers[layer])
    finally:
        handle.remove()
    return seen[-1]  # (N, F): the last call is the query's (the prefix's own pass came first)


@dataclass
class UnitMask:
    """The MLP units of block `layer` the query's next-token distribution depends on."""

    mask: torch.Tensor  # (F,) in [0, 1]: the learnt soft mask
    kept: torch.Tensor  # (K,) long: units with mask > 0.5, ascending
    kl_kept: float  # KL(query || only kept units active, the others at their mean), nats
    kl_none: float  # the same with no unit kept: how much the units matter at all
    losses: list[float]  # the objective per step


def learn_unit_mask(model: GPT, idx, layer: int, steps: int = 300, l1: float = 0.5, lr: float = 0.1,
                    init: float = 3.0) -> UnitMask:
    """A sparse mask m (F,) over block `layer`'s MLP units that keeps the query's next-token distribution.

    At the query, unit f's activation a_f becomes m_f a_f + (1 - m_f) mean_f (mean_f: its mean over
    the prompt's positions, "mean ablation"), m = sigmoid(theta), theta starting at `init`. Adam
    (`lr`, `steps`) minimises KL(p_query || p_masked) / KL_none + l1 * mean(m), KL_none being the KL
    with every unit at its mean: a unit is worth keeping when it carries more than about l1 / F of
    the units' whole effect. Units with m > 0.5 are kept. Deterministic: no sampling.
    Raises TypeError/ValueError naming model, idx, layer, steps, l1, lr or init.
    """
    _check_model(model)
    idx = _as_prompt(model, idx)
    layer = _check_layer(model, layer)
    steps = _check_int("steps", steps)
    l1 = _check_number("l1", l1)
    lr = _check_number("lr", lr, strict=True)
    init = _check_number("init", init, minimum=-50.0)
    x0 = prompt_residuals(model, idx, layer)[None]  # (1, T, C), fixed: nothing before block `layer` changes
    linear2 = model.blocks[layer].ffn.linear2
    acts: list[torch.Tensor] = []
    grab = linear2.register_forward_pre_hook(lambda m, args: acts.append(args[0].detach()))
    try:
        with torch.no_grad(), _eval(model):
            target = F.log_softmax(_run_from(model, layer, x0), -1)  # (V,)
    finally:
        grab.remove()
    mean_act = acts[0][0].mean(0)  # (F,) mean activation over the prompt's positions
    gate = {"m": torch.zeros_like(mean_act)}

    def masked(m, args):
        h = args[0]  # (1, T, F)
        last = gate["m"] * h[:, -1] + (1 - gate["m"]) * mean_act  # (1, F)
        return (torch.cat([h[:, :-1], last[:, None]], dim=1), *args[1:])

    def kl_now() -> torch.Tensor:
        logp = F.log_softmax(_run_from(model, layer, x0), -1)  # (V,)
        return F.kl_div(logp, target, log_target=True, reduction="sum")

    params = list(model.parameters())
    needs = [p.requires_grad for p in params]
    handle = linear2.register_forward_pre_hook(masked)
    theta = torch.full_like(mean_act, init, requires_grad=True)
    opt = torch.optim.Adam([theta], lr=lr)
    losses = []
    try:
        for p in params:
            p.requires_grad_(False)  # gradients for the mask only
        with _eval(model):
            with torch.no_grad():
                kl_none = float(kl_now())  # every unit at its mean
            scale = max(kl_none, 1e-8)
            for _ in range(steps):
                gate["m"] = torch.sigmoid(theta)
                loss = kl_now() / scale + l1 * gate["m"].mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.item())
            with torch.no_grad():
                mask = torch.sigmoid(theta).detach()
                gate["m"] = (mask > 0.5).to(mask.dtype)
                kl_kept = float(kl_now())
    finally:
        handle.remove()
        for p, need in zip(params, needs):
            p.requires_grad_(need)
    return UnitMask(mask, (mask > 0.5).nonzero().flatten(), kl_kept, kl_none, losses)


def _run_from(model: GPT, layer: int, x: torch.Tensor) -> torch.Tensor:
    """Blocks layer.. then the final norm and output layer on x (1, T, C): the query's logits (V,)."""
    for block in model.blocks[layer:]:
        x = block(x, causal=True)  # (1, T, C)
    return model.lm_head(model.norm(x[:, -1]))[0]  # (V,)


@dataclass
class RRTree:
    """A rapidly-exploring random tree in the query's residual space."""

    nodes: torch.Tensor  # (N, C), nodes[0] = the query's residual
    parent: torch.Tensor  # (N,) long, parent[0] = -1
    tries: int  # candidate nodes proposed
    rejected: int  # candidates that crossed a kept unit's boundary

    @property
    def radius(self) -> float:
        return float((self.nodes - self.nodes[0]).norm(dim=1).max())


def _kept_units(kept: object, n_units: int) -> torch.Tensor:
    if isinstance(kept, UnitMask):
        kept = kept.kept
    if not isinstance(kept, torch.Tensor) or kept.is_floating_point() or kept.dim() != 1:
        raise TypeError("kept must be a UnitMask or a 1-d integer tensor of unit indices")
    if kept.numel() and (int(kept.min()) < 0 or int(kept.max()) >= n_units):
        raise ValueError(f"kept holds unit indices outside 0..{n_units - 1}")
    return kept.long()


def grow_rrt(model: GPT, idx, layer: int, kept, radius: float, n_nodes: int = 200, step: float | None = None,
             max_tries: int | None = None, seed: int = 0, batch: int = 32,
             basis: torch.Tensor | None = None) -> RRTree:
    """Grow an RRT (LaValle 1998) from the query's residual that keeps every kept unit's sign.

    Each round draws `batch` random targets uniformly in the ball of `radius` around the query,
    extends the nearest tree node towards each by `step` (default radius / 8, never past the target
    or outside the ball), and keeps the new nodes whose kept units' pre-activations have the query's
    signs (checked in one batched forward: a batched RRT, the candidates of a round extend the tree
    as it was at the round's start). Stops at n_nodes nodes or max_tries (default 20 n_nodes) candidates.
    `basis` (D, C): grow within query + span(basis) (e.g. a map's plane, so the tree can be drawn on
    it). In all C dims a random target is nearly orthogonal to every branch, so the node nearest it
    is almost always the root and the tree grows as a star; in a few dims RRT's pull to the
    unexplored (its Voronoi bias) works as LaValle describes.
    """
    _check_model(model)
    idx = _as_prompt(model, idx)
    layer = _check_layer(model, layer)
    kept = _kept_units(kept, model.config.d_ff)
    radius = _check_number("radius", radius, strict=True)
    n_nodes = _check_int("n_nodes", n_nodes)
    step = radius / 8 if step is None else _check_number("step", step, strict=True)
    max_tries = 20 * n_nodes if max_tries is None else _check_int("max_tries", max_tries)
    _check_int("seed", seed, 0)
    batch = _check_int("batch", batch)
    q = _orthonormal(basis, model.config.d_model)
    query = prompt_residuals(model, idx, layer)[-1]  # (C,)
    sign = unit_preactivations(model, idx, layer, query)[0, kept] > 0  # (K,)
    g = torch.Generator().manual_seed(seed)
    nodes, parent = [query], [-1]
    tries = rejected = 0
    while len(nodes) < n_nodes and tries < max_tries:
        tree = torch.stack(nodes)  # (N, C)
        target = _uniform_ball(query, radius, batch, g, q)  # (b, C)
        near = torch.cdist(target, tree).argmin(1)  # (b,)
        delta = target - tree[near]  # (b, C)
        dist = delta.norm(dim=1, keepdim=True).clamp_min(1e-12)
        cand = tree[near] + delta * (dist.clamp(max=step) / dist)  # (b, C): at most `step` towards the target
        ok = (unit_preactivations(model, idx, layer, cand)[:, kept] > 0) == sign  # (b, K)
        ok = ok.all(1)
        tries += batch
        rejected += int((~ok).sum())
        for i in ok.nonzero().flatten().tolist():
            if len(nodes) < n_nodes:
                nodes.append(cand[i])
                parent.append(int(near[i]))
    return RRTree(torch.stack(nodes), torch.tensor(parent), tries, rejected)


def _orthonormal(basis: object, C: int) -> torch.Tensor | None:
    """basis (D, C) -> Q (C, D) with orthonormal columns spanning the same subspace; None stays None."""
    if basis is None:
        return None
    if not isinstance(basis, torch.Tensor) or not basis.is_floating_point() or basis.dim() != 2 or basis.shape[1] != C:
        raise ValueError(f"basis must be a floating-point tensor (D, C={C}) of directions, got "
                         f"{tuple(getattr(basis, 'shape', ())) or type(basis).__name__}")
    if torch.linalg.matrix_rank(basis.double()) < basis.shape[0]:
        raise ValueError("basis rows are linearly dependent: they do not span a subspace of their number of dims")
    return torch.linalg.qr(basis.double().T).Q  # (C, D)


def _uniform_ball(center: torch.Tensor, radius: float, n: int, g: torch.Generator,
                  q: torch.Tensor | None = None) -> torch.Tensor:
    """n points uniform in the ball of `radius` around center (C,), within span(q) (C, D) if given."""
    D = center.shape[0] if q is None else q.shape[1]
    d = torch.randn(n, D, generator=g, dtype=torch.float64)
    d = d / d.norm(dim=1, keepdim=True)  # (n, D) uniform directions
    r = radius * torch.rand(n, 1, generator=g, dtype=torch.float64) ** (1.0 / D)  # uniform in volume
    z = d * r  # (n, D)
    return center + (z if q is None else z @ q.T).to(center)  # (n, C)


def ball_samples(center: torch.Tensor, radius: float, n: int, seed: int = 0,
                 basis: torch.Tensor | None = None) -> torch.Tensor:
    """n points drawn uniformly from the ball of `radius` around `center` (C,): (n, C).

    With `basis` (D, C), the ball is the D-dimensional one within center + span(basis). In
    D = 128 dimensions nearly all of a ball's volume is near its surface (most samples lie beyond
    0.95 radius); `shell_samples` matches a tree's own distances instead.
    """
    center = _check_vector("center", center)
    radius = _check_number("radius", radius, strict=True)
    n = _check_int("n", n)
    _check_int("seed", seed, 0)
    q = _orthonormal(basis, center.shape[0])
    return _uniform_ball(center, radius, n, torch.Generator().manual_seed(seed), q)


def shell_samples(center: torch.Tensor, distances: torch.Tensor, seed: int = 0,
                  basis: torch.Tensor | None = None) -> torch.Tensor:
    """One point per distance d_i, in a uniformly random direction from `center` (within span(basis)): (N, C)."""
    center = _check_vector("center", center)
    if not isinstance(distances, torch.Tensor) or distances.dim() != 1 or not distances.is_floating_point():
        raise TypeError("distances must be a 1-d floating-point tensor (N,)")
    if bool((distances < 0).any()):
        raise ValueError("distances must be >= 0")
    _check_int("seed", seed, 0)
    q = _orthonormal(basis, center.shape[0])
    g = torch.Generator().manual_seed(seed)
    d = torch.randn(distances.shape[0], center.shape[0] if q is None else q.shape[1], generator=g, dtype=torch.float64)
    d = d / d.norm(dim=1, keepdim=True)  # (N, D)
    z = d * distances.double()[:, None]
    return center + (z if q is None else z @ q.T).to(center)  # (N, C)


def compare_tree_ball(model: GPT, idx, layer: int, sets: dict[str, torch.Tensor], k: int = 4) -> dict[str, dict]:
    """Decode each named point set and compare it with the query (sets: e.g. {"tree": ..., "ball": ...}).

    Per set: "kl" mean KL(p_query || p_point) of the next-token distributions (nats), "same_next"
    and "same_continuation" the shares of points whose next token / greedy k-token continuation
    equal the query's, "distance" the mean distance to the query, "n" the number of points.
    The query itself (distance 0) is left out of every set.
    """
    _check_model(model)
    idx = _as_prompt(model, idx)
    layer = _check_layer(model, layer)
    if not isinstance(sets, dict) or not sets:
        raise TypeError("sets must be a non-empty dict of name -> points (N, C)")
    query = prompt_residuals(model, idx, layer)[-1]  # (C,)
    q_logp = F.log_softmax(next_token_logits_at(model, idx, layer, query)[0], -1)  # (V,)
    q_cont = greedy_continuations(model, idx, layer, query, k)[0]  # (K,)
    out = {}
    for name in sorted(sets):
        pts = _check_points(model, sets[name], f"sets[{name!r}]")
        dist = (pts - query).norm(dim=1)
        pts = pts[dist > 0]
        if pts.shape[0] == 0:
            raise ValueError(f"sets[{name!r}] holds only the query itself")
        logp = F.log_softmax(next_token_logits_at(model, idx, layer, pts), -1)  # (N, V)
        kl = (q_logp.exp() * (q_logp - logp)).sum(-1)  # (N,)
        cont = greedy_continuations(model, idx, layer, pts, k)  # (N, K)
        out[name] = {"n": pts.shape[0], "distance": float(dist[dist > 0].mean()), "kl": float(kl.mean()),
                     "same_next": float((cont[:, 0] == q_cont[0]).double().mean()),
                     "same_continuation": float((cont == q_cont).all(1).double().mean())}
    return out
