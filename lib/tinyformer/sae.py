"""A sparse autoencoder (dictionary learning) on one layer's residual stream of the course GPT.

    f     = ReLU(W_enc (x / s - b_dec) + b_enc)          (F,) sparse, non-negative feature activations
    x_hat = s (W_dec f + b_dec)                          W_dec's F columns have unit norm
    loss  = mean ||x / s - x_hat / s||^2 + l1 * mean sum_f |f_f|

x (C,) is the residual stream entering block `layer` at one position; s is a fixed scale making
mean ||x / s||^2 = C. Each decoder column is a *feature direction*; the L1 penalty keeps few
features active per token, so each may come to mean one thing (Olshausen & Field 1996 for the
idea; Bricken et al. 2023, "Towards Monosemanticity", and Cunningham et al. 2023, arXiv:2309.08600,
for transformers: ReLU encoder, unit-norm decoder columns renormalised after every step).

`load_or_train_sae` caches the trained SAE under `generated_dir()`, keyed by its exact `SAERecipe`
and a digest of the GPT's weights. `reconstruction_metrics` reports the fraction of variance
explained and the loss recovered when the SAE's output replaces the residual stream;
`top_activating_contexts` finds the tokens a feature fires on; `steer` generates with a feature's
decoder direction added to the stream.
Shapes: N windows, T time, C d_model, F features, V vocab.
Left out: ghost grads / resampling dead features, TopK or gated SAEs, transcoders.
"""

from __future__ import annotations

import hashlib
import math
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from tinyformer.checkpoint import read_checkpoint, save_checkpoint
from tinyformer.corpus import python_docs_split
from tinyformer.data import encode_text
from tinyformer.model import GPT
from tinyformer.sampling import generate
from tinyformer.utils import generated_dir

__all__ = [
    "SAERecipe",
    "SparseAutoencoder",
    "gpt_digest",
    "token_windows",
    "residual_activations",
    "train_sae",
    "load_or_train_sae",
    "reconstruction_metrics",
    "feature_activations",
    "top_activating_contexts",
    "steer",
]


@dataclass
class SAERecipe:
    """Everything that decides the trained SAE; the defaults train in 10-30 s on one CPU thread."""

    layer: int = 2  # the residual stream entering this block
    n_features: int = 512  # F: 4 x d_model of the course GPT
    l1: float = 1.0  # L1 coefficient on the feature activations (of x / s, so mean ||x / s||^2 = C)
    steps: int = 1000
    batch_size: int = 256  # tokens per step
    lr: float = 3e-3
    n_windows: int = 256  # training windows of the GPT's training text ...
    seq_len: int = 128  # ... of this many tokens: n_windows * seq_len activations
    seed: int = 0
    version: int = 1  # raised when the training procedure changes, so saved SAEs retrain

    def __post_init__(self) -> None:
        for name in ("layer", "n_features", "steps", "batch_size", "n_windows", "seq_len", "seed", "version"):
            value = getattr(self, name)
            low = 0 if name in ("layer", "seed") else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name}={value!r} must be an int >= {low}")
        for name in ("l1", "lr"):
            value = getattr(self, name)
            number = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
            if not number or value < 0 or (name == "lr" and value == 0):
                raise ValueError(f"{name}={value!r} must be a finite number {'> 0' if name == 'lr' else '>= 0'}")


class SparseAutoencoder(nn.Module):
    """forward(x (..., C)) -> (x_hat (..., C), f (..., F)). `scale` s is a buffer set from the data."""

    def __init__(self, d_model: int, n_features: int):
        super().__init__()
        for name, value in (("d_model", d_model), ("n_features", n_features)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive int")
        self.W_enc = nn.Parameter(torch.empty(n_features, d_model))  # (F, C)
        self.b_enc = nn.Parameter(torch.zeros(n_features))  # (F,)
        self.W_dec = nn.Parameter(torch.empty(d_model, n_features))  # (C, F), unit-norm columns
        self.b_dec = nn.Parameter(torch.zeros(d_model))  # (C,)
        self.register_buffer("scale", torch.ones(()))
        nn.init.kaiming_uniform_(self.W_dec, a=math.sqrt(5))
        self.normalize_decoder()
        with torch.no_grad():
            self.W_enc.copy_(self.W_dec.T)  # tied at the start, as Towards Monosemanticity's update does

    @property
    def n_features(self) -> int:
        return self.W_enc.shape[0]

    @torch.no_grad()
    def normalize_decoder(self) -> None:
        """Give every decoder column (feature direction) unit norm."""
        self.W_dec.div_(self.W_dec.norm(dim=0, keepdim=True).clamp_min(1e-8))

    def _check(self, x: torch.Tensor) -> None:
        C = self.W_dec.shape[0]
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() == 0 or x.shape[-1] != C:
            raise ValueError(f"x must be a floating-point tensor (..., C={C}), got "
                             f"{tuple(getattr(x, 'shape', ())) or type(x).__name__}")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x (..., C) -> feature activations f (..., F) >= 0."""
        self._check(x)
        return F.relu((x / self.scale - self.b_dec) @ self.W_enc.T + self.b_enc)  # (..., F)

    def decode(self, f: torch.Tensor) -> torch.Tensor:
        """f (..., F) -> x_hat (..., C)."""
        return (f @ self.W_dec.T + self.b_dec) * self.scale  # (..., C)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.encode(x)  # (..., F)
        return self.decode(f), f


def gpt_digest(model: nn.Module) -> str:
    """SHA-256 of a model's weights (names, shapes, bytes): which GPT an SAE was trained on."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def token_windows(tokenizer, n_windows: int, seq_len: int, seed: int = 0, held_out: bool = False) -> torch.Tensor:
    """n_windows random windows (N, T) of the GPT's training text (or its held-out topics) as token ids."""
    for name, value in (("n_windows", n_windows), ("seq_len", seq_len)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value!r} must be a positive int")
    train_text, held_out_text = python_docs_split()
    ids = torch.tensor(encode_text(tokenizer, held_out_text if held_out else train_text), dtype=torch.long)
    if ids.numel() < seq_len:
        raise ValueError(f"the text has {ids.numel()} tokens, fewer than seq_len={seq_len}")
    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, ids.numel() - seq_len + 1, (n_windows, 1), generator=g)  # (N, 1)
    return ids[starts + torch.arange(seq_len)]  # (N, T)


def _check_gpt_and_windows(model: object, windows: object, layer: object) -> None:
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a tinyformer.model.GPT, got {type(model).__name__}")
    if (not isinstance(windows, torch.Tensor) or windows.dim() != 2 or windows.is_floating_point()
            or windows.numel() == 0):
        raise ValueError(f"windows must be an integer tensor of token ids (N, T), got "
                         f"{tuple(getattr(windows, 'shape', ())) or type(windows).__name__}")
    n = model.config.n_layers
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < n:
        raise ValueError(f"layer={layer!r} must be an int in 0..{n - 1} (the block whose input is read)")


@contextmanager
def _block_input(model: GPT, layer: int, fn) -> Iterator[None]:
    """While active, block `layer`'s input x (B, T, C) becomes fn(x)."""
    handle = model.blocks[layer].register_forward_pre_hook(lambda m, args: (fn(args[0]), *args[1:]))
    try:
        yield
    finally:
        handle.remove()


@torch.no_grad()
def residual_activations(model: GPT, windows: torch.Tensor, layer: int, batch_size: int = 32) -> torch.Tensor:
    """The residual stream entering block `layer` at every position of every window: (N, T, C)."""
    _check_gpt_and_windows(model, windows, layer)
    out: list[torch.Tensor] = []

    def grab(x: torch.Tensor) -> torch.Tensor:
        out.append(x.detach().clone())
        raise _Stop  # nothing after block `layer`'s input is needed

    was_training = model.training
    model.eval()
    try:
        with _block_input(model, layer, grab):
            for i in range(0, windows.shape[0], batch_size):
                try:
                    model(windows[i : i + batch_size])
                except _Stop:
                    pass
    finally:
        model.train(was_training)
    return torch.cat(out)  # (N, T, C)


class _Stop(Exception):
    pass


def train_sae(acts: torch.Tensor, recipe: SAERecipe, progress: bool = False) -> tuple[SparseAutoencoder, list[float]]:
    """Train an SAE on activations (M, C) with Adam; returns it and the loss per step.

    Batches are drawn with a generator seeded by recipe.seed; decoder columns are renormalised after
    every step. b_dec starts at the (scaled) data mean.
    """
    if not isinstance(recipe, SAERecipe):
        raise TypeError(f"recipe must be an SAERecipe, got {type(recipe).__name__}")
    if not isinstance(acts, torch.Tensor) or not acts.is_floating_point() or acts.dim() != 2 or acts.shape[0] < 2:
        raise ValueError(f"acts must be a floating-point tensor (M >= 2, C), got {tuple(getattr(acts, 'shape', ()))}")
    torch.manual_seed(recipe.seed)
    sae = SparseAutoencoder(acts.shape[1], recipe.n_features)
    with torch.no_grad():
        sae.scale.fill_(float(acts.pow(2).sum(1).mean().div(acts.shape[1]).sqrt()))  # mean ||x / s||^2 = C
        sae.b_dec.copy_(acts.mean(0) / sae.scale)
    opt = torch.optim.Adam(sae.parameters(), lr=recipe.lr)
    g = torch.Generator().manual_seed(recipe.seed)
    losses = []
    steps = range(recipe.steps)
    if progress:
        from tqdm.auto import tqdm
        steps = tqdm(steps, desc="SAE")
    for _ in steps:
        x = acts[torch.randint(0, acts.shape[0], (recipe.batch_size,), generator=g)]  # (B, C)
        x_hat, f = sae(x)
        mse = (x - x_hat).div(sae.scale).pow(2).sum(-1).mean()
        loss = mse + recipe.l1 * f.sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sae.normalize_decoder()
        losses.append(loss.item())
    return sae.eval(), losses


def _sae_path(recipe: SAERecipe, digest: str) -> Path:
    key = hashlib.sha256((repr(sorted(asdict(recipe).items())) + digest).encode()).hexdigest()[:16]
    return generated_dir() / f"sae_{key}.pt"


def load_or_train_sae(model: GPT, tokenizer, recipe: SAERecipe | None = None, *, retrain: bool = False,
                      progress: bool = False) -> tuple[SparseAutoencoder, dict]:
    """The SAE saved for exactly this recipe and this GPT's weights, or one trained now and saved.

    Returns (sae, extra): extra holds "recipe", "gpt" (the weights' digest), "losses", "seconds"
    and "path". The file lives under generated_dir() (sae_<key>.pt, the key a hash of both).
    """
    import time

    recipe = recipe or SAERecipe()
    if not isinstance(recipe, SAERecipe):
        raise TypeError(f"recipe must be an SAERecipe, got {type(recipe).__name__}")
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a tinyformer.model.GPT, got {type(model).__name__}")
    if recipe.layer >= model.config.n_layers:
        raise ValueError(f"recipe.layer={recipe.layer} must be below the GPT's n_layers={model.config.n_layers}")
    if not isinstance(retrain, bool):
        raise TypeError(f"retrain must be True or False, got {retrain!r}")
    digest = gpt_digest(model)
    path = _sae_path(recipe, digest)
    if path.is_file() and not retrain:
        state = read_checkpoint(path)
        extra = state["extra"]
        if extra.get("recipe") == asdict(recipe) and extra.get("gpt") == digest:
            sae = SparseAutoencoder(model.config.d_model, recipe.n_features)
            sae.load_state_dict(state["model"])
            return sae.eval(), {**extra, "losses": list(state["losses"]), "path": str(path)}
    start = time.perf_counter()
    windows = token_windows(tokenizer, recipe.n_windows, recipe.seq_len, recipe.seed)
    acts = residual_activations(model, windows, recipe.layer).flatten(0, 1)  # (N * T, C)
    sae, losses = train_sae(acts, recipe, progress)
    extra = {"recipe": asdict(recipe), "gpt": digest, "seconds": time.perf_counter() - start}
    save_checkpoint(path, sae, step=recipe.steps, extra=extra, losses=losses)
    return sae, {**extra, "losses": losses, "path": str(path)}


@torch.no_grad()
def reconstruction_metrics(model: GPT, sae: SparseAutoencoder, windows: torch.Tensor, layer: int) -> dict[str, float]:
    """How well the SAE stands in for the residual stream entering block `layer` on `windows` (N, T).

    "fve": fraction of variance explained, 1 - sum ||x - x_hat||^2 / sum ||x - mean x||^2;
    "l0": mean number of active features per token; "dead": share of features never active here;
    "loss_clean" / "loss_sae" / "loss_zero": next-token cross-entropy (nats) of the GPT as it is,
    with x_hat spliced in at every position, and with the stream zeroed there;
    "loss_recovered": (loss_zero - loss_sae) / (loss_zero - loss_clean), 1 = as good as the real stream.
    """
    _check_gpt_and_windows(model, windows, layer)
    if not isinstance(sae, SparseAutoencoder):
        raise TypeError(f"sae must be a SparseAutoencoder, got {type(sae).__name__}")
    x = residual_activations(model, windows, layer).flatten(0, 1)  # (M, C)
    x_hat, f = sae(x)
    fve = 1 - float((x - x_hat).pow(2).sum() / (x - x.mean(0)).pow(2).sum())
    was_training = model.training
    model.eval()

    def lm_loss() -> float:
        logits = model(windows[:, :-1])  # (N, T - 1, V)
        return float(F.cross_entropy(logits.flatten(0, 1), windows[:, 1:].flatten()))

    try:
        clean = lm_loss()
        with _block_input(model, layer, lambda h: sae(h)[0]):
            spliced = lm_loss()
        with _block_input(model, layer, torch.zeros_like):
            zero = lm_loss()
    finally:
        model.train(was_training)
    return {"fve": fve, "l0": float((f > 0).sum(-1).double().mean()), "dead": float((f.amax(0) == 0).double().mean()),
            "loss_clean": clean, "loss_sae": spliced, "loss_zero": zero,
            "loss_recovered": (zero - spliced) / (zero - clean) if zero != clean else float("nan")}


@torch.no_grad()
def feature_activations(model: GPT, sae: SparseAutoencoder, windows: torch.Tensor, layer: int) -> torch.Tensor:
    """Every feature's activation at every position of `windows`: (N, T, F)."""
    _check_gpt_and_windows(model, windows, layer)
    return sae.encode(residual_activations(model, windows, layer))  # (N, T, F)


def top_activating_contexts(acts: torch.Tensor, windows: torch.Tensor, feature: int, k: int = 5,
                            width: int = 8) -> list[dict]:
    """The k positions where `feature` fires hardest in feature activations `acts` (N, T, F).

    Each: {"activation": float, "window": n, "position": t, "tokens": the up-to-`width` token ids
    ending at t (the token the feature fires on is the last)}. Ties: earlier window, earlier position.
    Positions where the feature is 0 are never returned (fewer than k if it rarely fires).
    """
    if not isinstance(acts, torch.Tensor) or acts.dim() != 3:
        raise ValueError(f"acts must be feature activations (N, T, F), got {tuple(getattr(acts, 'shape', ()))}")
    if not isinstance(windows, torch.Tensor) or tuple(windows.shape) != tuple(acts.shape[:2]):
        raise ValueError(f"windows must be the (N, T) token ids acts were computed on, shape {tuple(acts.shape[:2])}")
    if isinstance(feature, bool) or not isinstance(feature, int) or not 0 <= feature < acts.shape[2]:
        raise ValueError(f"feature={feature!r} must be an int in 0..{acts.shape[2] - 1}")
    for name, value in (("k", k), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value!r} must be a positive int")
    a = acts[..., feature].flatten()  # (N * T,)
    order = torch.argsort(-a, stable=True)[:k].tolist()  # largest first; ties: the earlier position
    T = acts.shape[1]
    out = []
    for i in order:
        if float(a[i]) <= 0:
            break
        n, t = divmod(int(i), T)
        out.append({"activation": float(a[i]), "window": n, "position": t,
                    "tokens": windows[n, max(0, t - width + 1) : t + 1].tolist()})
    return out


@torch.no_grad()
def steer(model: GPT, sae: SparseAutoencoder, layer: int, feature: int, prompt_ids: list[int], strength: float,
          max_new_tokens: int = 20) -> list[int]:
    """Greedy generation with strength x s x (feature's decoder direction) added to the stream entering block `layer`.

    s is the SAE's scale, so strength 1 adds one typical residual norm / sqrt(C) per unit; the
    direction is added at every position, prompt included. strength 0 is plain greedy generation.
    Returns the new tokens only.
    """
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a tinyformer.model.GPT, got {type(model).__name__}")
    if not isinstance(sae, SparseAutoencoder):
        raise TypeError(f"sae must be a SparseAutoencoder, got {type(sae).__name__}")
    n = model.config.n_layers
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < n:
        raise ValueError(f"layer={layer!r} must be an int in 0..{n - 1}")
    if isinstance(feature, bool) or not isinstance(feature, int) or not 0 <= feature < sae.n_features:
        raise ValueError(f"feature={feature!r} must be an int in 0..{sae.n_features - 1}")
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not math.isfinite(strength):
        raise ValueError(f"strength={strength!r} must be a finite number")
    direction = sae.W_dec[:, feature] * sae.scale * strength  # (C,)
    with _block_input(model, layer, lambda h: h + direction.to(h)):
        out = generate(model, list(prompt_ids), max_new_tokens, temperature=0)
    return out[len(prompt_ids):]
