"""Experiments of notebook 09 built on `tinyformer.interpret`: causal tracing, ablation sweeps,
the logit lens's first layer, and attention weight vs causal effect in a translator.

- `causal_trace`: corrupt the subject's input embeddings with Gaussian noise, then restore one
  layer's clean activation (residual stream, MLP output or attention output) at one position and
  measure how much of the answer's probability comes back (Meng et al., 2022, "Locating and Editing
  Factual Associations in GPT", section 2.1). Every (layer, position) of one kind is one batched
  forward pass: the corrupted prompts are repeated once per position, each row restoring its own.
- `ablation_sweep`: recall with each MLP and each attention head knocked out (zero or mean).
- `position_ablation`: recall, and the share of answers still of the right kind (a sport after
  "plays"), with one layer's MLP mean-ablated at one position only.
- `lens_agreement`: for each layer, the share of positions whose logit-lens argmax already is the
  final prediction, and the first layer from which it stays so.
- `source_effects`: for a translator's output token, the cross-attention weight on each source
  position beside the drop in that token's log-probability when the decoder may not attend there.

Shapes: B batch (prompts), K noise samples, T time, S source time, L layers, C d_model, V vocab.
Left out: restoring windows of layers, attribution patching, the ROME edit itself.
"""

from __future__ import annotations

from typing import Sequence

import torch

from .interpret import ablate, logit_lens, mean_activations, n_layers, patch, residual_hook, run_with_cache
from .model import GPT, Transformer

__all__ = ["TRACE_KINDS", "causal_trace", "ablation_sweep", "position_ablation", "lens_agreement", "source_effects"]

TRACE_KINDS = {"resid": "resid_post", "mlp": "mlp_out", "attn": "attn_out"}


def _answer_prob(logits: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
    """p(answer) at the last position: logits (N, T, V), answers (N,) -> (N,)."""
    probs = torch.softmax(logits[:, -1].float(), dim=-1)  # (N, V)
    return probs.gather(1, answers[:, None])[:, 0]


def _check_prompts(prompts: object, answers: object) -> None:
    if not isinstance(prompts, torch.Tensor) or prompts.dim() != 2 or prompts.is_floating_point():
        raise ValueError(f"prompts must be an integer tensor (B, T), got {getattr(prompts, 'shape', type(prompts).__name__)}")
    if not isinstance(answers, torch.Tensor) or answers.shape != prompts.shape[:1]:
        raise ValueError(f"answers must be a tensor (B,) of token ids, one per prompt, got "
                         f"{tuple(getattr(answers, 'shape', ()))} for {prompts.shape[0]} prompts")


@torch.no_grad()
def causal_trace(model: GPT, prompts: torch.Tensor, answers: torch.Tensor, subject: Sequence[int],
                 kinds: Sequence[str] = ("resid", "mlp", "attn"), noise: float = 3.0, samples: int = 5,
                 seed: int = 0) -> dict[str, torch.Tensor]:
    """Causal tracing of p(answer): -> {"clean": (), "corrupt": (), kind: (L, T) mean restored p}.

    prompts (B, T) end where the answer comes next; `subject` lists the positions whose embeddings
    are corrupted by N(0, (noise * sigma)^2) noise, sigma the std of the model's token embeddings
    (ROME uses 3 sigma); `samples` noise draws per prompt. Restoring kind ("resid": the stream
    leaving block l, "mlp", "attn": what block l's MLP / attention adds) at layer l, position t
    puts back its clean value from the uncorrupted run. Values are mean probabilities over prompts
    and samples; (restored - corrupt) / (clean - corrupt) is the share of recall brought back.
    """
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a tinyformer GPT, got {type(model).__name__}")
    _check_prompts(prompts, answers)
    B, T = prompts.shape
    bad = [p for p in subject if isinstance(p, bool) or not isinstance(p, int) or not 0 <= p < T]
    if not subject or bad:
        raise ValueError(f"subject must list positions in 0..{T - 1}, got {list(subject)}")
    unknown = sorted(set(kinds) - set(TRACE_KINDS))
    if unknown:
        raise ValueError(f"kinds holds {unknown}; choose from {', '.join(TRACE_KINDS)}")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples={samples!r} must be a positive int")
    L = n_layers(model)
    clean_logits, clean = run_with_cache(model, prompts, names=list(TRACE_KINDS.values()))
    sigma = float(model.tok_embed.weight.std())
    g = torch.Generator().manual_seed(seed)
    C = model.config.d_model
    where = torch.zeros(T, 1)
    where[list(subject)] = 1.0
    eps = torch.randn(samples, B, T, C, generator=g) * noise * sigma * where  # (K, B, T, C), zero off the subject
    eps = eps.flatten(0, 1)  # (K*B, T, C)

    def corrupted(x: torch.Tensor) -> torch.Tensor:
        return x + eps.repeat(x.shape[0] // eps.shape[0], 1, 1)  # the same noise for every restored copy

    rows = prompts.repeat(samples, 1)  # (K*B, T)
    rows_ans = answers.repeat(samples)
    with residual_hook(model, 0, corrupted):
        corrupt_p = _answer_prob(model(rows), rows_ans).mean()
    out = {"clean": _answer_prob(clean_logits, answers).mean(), "corrupt": corrupt_p}
    every = rows.repeat(T, 1)  # (T*K*B, T): one copy per restored position
    every_ans = rows_ans.repeat(T)
    position = torch.arange(T).repeat_interleave(samples * B)  # (T*K*B,)
    for kind in kinds:
        name = TRACE_KINDS[kind]
        grid = torch.zeros(L, T)
        for layer in range(L):
            act = clean[f"{name}.{layer}"].repeat(samples, 1, 1)  # (K*B, T, C)
            value = act.repeat(T, 1, 1)[torch.arange(every.shape[0]), position]  # (T*K*B, C)
            with residual_hook(model, 0, corrupted), patch(model, name, layer, position, value):
                p = _answer_prob(model(every), every_ans)  # (T*K*B,)
            grid[layer] = p.view(T, samples * B).mean(dim=1)
        out[kind] = grid
    return out


@torch.no_grad()
def ablation_sweep(model: GPT, prompts: torch.Tensor, answers: torch.Tensor, mode: str = "mean",
                   mean_over: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Recall (share of argmax == answer) with each component knocked out.

    -> {"none": (), "mlp": (L,), "heads": (L, H), "attn": (L,) all heads of a layer at once,
    "attn_all": () every head of every layer, "attn_only": (L,) every head but layer l's}.
    mode="mean" replaces the component by its average over `mean_over` (token ids (N, T'); default
    the prompts themselves), "zero" by zero.
    """
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a tinyformer GPT, got {type(model).__name__}")
    _check_prompts(prompts, answers)
    means = mean_activations(model, prompts if mean_over is None else mean_over) if mode == "mean" else None
    L, H = n_layers(model), model.config.n_heads

    def acc(**kw) -> torch.Tensor:
        with ablate(model, mode=mode, means=means, **kw):
            return (model(prompts)[:, -1].argmax(-1) == answers).float().mean()

    return {"none": acc(),
            "mlp": torch.stack([acc(mlps=[l]) for l in range(L)]),
            "heads": torch.stack([torch.stack([acc(heads=[(l, h)]) for h in range(H)]) for l in range(L)]),
            "attn": torch.stack([acc(heads=[(l, h) for h in range(H)]) for l in range(L)]),
            "attn_all": acc(heads=[(l, h) for l in range(L) for h in range(H)]),
            "attn_only": torch.stack([acc(heads=[(k, h) for k in range(L) if k != l for h in range(H)])
                                      for l in range(L)])}


@torch.no_grad()
def position_ablation(model: GPT, prompts: torch.Tensor, answers: torch.Tensor,
                      allowed: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each layer's MLP output replaced by its mean (over the prompts' positions) at one position only.

    -> {"right": (L, T) share of argmax == answer, "kind": (L, T) share of argmax in `allowed` (the ids
    of every valid answer, e.g. all sports)}. A drop in "right" with "kind" kept means that site holds
    which answer, not what kind of answer.
    """
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a tinyformer GPT, got {type(model).__name__}")
    _check_prompts(prompts, answers)
    means = mean_activations(model, prompts)
    L, T = n_layers(model), prompts.shape[1]
    right, kind = torch.zeros(L, T), torch.zeros(L, T)
    for layer in range(L):
        for t in range(T):
            with patch(model, "mlp_out", layer, t, means[f"mlp_out.{layer}"]):
                pred = model(prompts)[:, -1].argmax(-1)  # (B,)
            right[layer, t] = (pred == answers).float().mean()
            kind[layer, t] = torch.isin(pred, allowed).float().mean()
    return {"right": right, "kind": kind}


@torch.no_grad()
def lens_agreement(model: GPT, idx: torch.Tensor) -> dict[str, torch.Tensor]:
    """The logit lens over a batch idx (B, T): -> {"agree": (L+1,), "first": (B, T), "settled": (L+1,)}.

    agree[l]: share of positions where layer l's lens argmax equals the final argmax.
    first[b, t]: the first layer from which the lens argmax equals the final one at every later layer.
    settled[l]: share of positions whose `first` is <= l (so settled[L] = 1).
    """
    _, cache = run_with_cache(model, idx, names=["resid_pre", "resid_post"])
    top = logit_lens(model, cache).argmax(-1)  # (L+1, B, T)
    same = top == top[-1]  # (L+1, B, T)
    stays = same.flip(0).cumprod(0).flip(0).bool()  # same at l and at every later layer
    L1 = top.shape[0]
    first = L1 - stays.sum(0)  # (B, T)
    settled = torch.stack([(first <= l).float().mean() for l in range(L1)])
    return {"agree": same.float().mean(dim=(1, 2)), "first": first, "settled": settled}


@torch.no_grad()
def source_effects(model: Transformer, src: torch.Tensor, tgt: torch.Tensor, pad_id: int) -> dict[str, torch.Tensor]:
    """Attention weight vs effect of each source position, for every output token of one sentence.

    src (1, S) source ids, tgt (1, T + 1) the decoder's input then output (SOS, y_1, ..., y_T).
    -> {"weight": (T, S) cross-attention weight on s when producing y_t (mean over layers and
    heads), "effect": (T, S) drop in log p(y_t) when no decoder layer may attend to s (the encoder
    still sees it), "logp": (T,) log p(y_t) unchanged}. One batched pass: row s hides position s.
    """
    if not isinstance(model, Transformer):
        raise TypeError(f"model must be a tinyformer Transformer, got {type(model).__name__}")
    if src.dim() != 2 or src.shape[0] != 1 or tgt.dim() != 2 or tgt.shape[0] != 1 or tgt.shape[1] < 2:
        raise ValueError(f"src (1, S) and tgt (1, T + 1) with T >= 1 expected, got {tuple(src.shape)}, {tuple(tgt.shape)}")
    S = src.shape[1]
    x, y = tgt[:, :-1], tgt[0, 1:]  # (1, T), (T,)
    mask = model.source_mask(src)  # None without padding
    logits, cache = run_with_cache(model, x, src, names=["cross_attn_weights"])
    logp = torch.log_softmax(logits[0].float(), -1).gather(1, y[:, None])[:, 0]  # (T,)
    L = n_layers(model)
    weight = cache.stack("cross_attn_weights", L)[:, 0].mean(dim=(0, 1))  # (T, S)
    memory = model.encode(src, mask).expand(S, -1, -1)  # (S, S_len, C): the encoder sees every token
    real = src[0] != pad_id  # (S,)
    hide = (~torch.eye(S, dtype=torch.bool)) & real  # (S, S): row s may not attend to s (nor padding)
    out = model.decode(x.expand(S, -1), memory, hide[:, None, None, :])  # (S, T, V)
    hidden_logp = torch.log_softmax(out.float(), -1).gather(2, y.expand(S, -1)[:, :, None])[:, :, 0]  # (S, T)
    effect = (logp[None, :] - hidden_logp).T  # (T, S)
    return {"weight": weight, "effect": effect, "logp": logp}
