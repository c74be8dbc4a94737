"""Turning a trained model into output sentences: greedy decoding and beam search, batched.

Greedy picks the most likely next token at every step. Beam search keeps the `beam_size` best
partial sentences by total log-probability and returns the best finished one, scored with the GNMT
length penalty lp(L) = ((5 + L) / 6) ** alpha (Wu et al. 2016, eq. 14): score = log p / lp(L), so
alpha = 0 compares raw log-probabilities (favouring short outputs) and larger alpha favours longer.
Both stop a row at EOS and stop the batch when every row is done.

Encoder-decoder models need `encode(src, src_mask) -> memory` and
`decode(tgt, memory, src_mask, cache=None) -> logits`; decoder-only models need `model(idx) -> logits`.
Both use the model's KV cache when it has `new_cache` (beam search reorders it to follow the
beams); without one they re-run the decoder on the whole prefix each step. Left out: sampling (see `tinyformer.sampling`),
coverage penalties, constrained decoding.
Shapes: `B` batch, `K` beams, `S` source time, `T` target time, `C` d_model, `V` vocab.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import torch
import torch.nn as nn

from .masks import padding_mask

__all__ = ["greedy_decode", "beam_search", "beam_search_lm", "length_penalty", "strip_special"]


def length_penalty(length: int, alpha: float) -> float:
    """GNMT length penalty ((5 + length) / 6) ** alpha; 1 when alpha = 0."""
    return ((5 + length) / 6) ** alpha


def strip_special(ids: Sequence[int] | torch.Tensor, sos_id: int | None, eos_id: int, pad_id: int | None = None) -> list[int]:
    """One decoded row as a list: drop a leading SOS, cut at the first EOS, drop padding."""
    ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
    if ids and sos_id is not None and ids[0] == sos_id:
        ids = ids[1:]
    if eos_id in ids:
        ids = ids[: ids.index(eos_id)]
    return [i for i in ids if pad_id is None or i != pad_id]


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_common(model: nn.Module, src: torch.Tensor, max_len: int, sos_id: int, eos_id: int) -> None:
    """Arguments shared by greedy_decode and beam_search, checked before any work."""
    if not isinstance(src, torch.Tensor) or src.dtype != torch.long or src.dim() != 2:
        raise ValueError(f"src must be a (B, S) long tensor of token ids, got "
                         f"{getattr(src, 'dtype', type(src).__name__)} {tuple(getattr(src, 'shape', ()))}")
    if src.numel() == 0:
        raise ValueError(f"src must hold at least one sentence of at least one token, got shape {tuple(src.shape)}")
    if not _is_int(max_len) or max_len < 1:
        raise ValueError(f"max_len={max_len!r} must be a positive int (the most tokens to generate)")
    for name, value in (("sos_id", sos_id), ("eos_id", eos_id)):
        if not _is_int(value):
            raise TypeError(f"{name} must be an int token id, got {type(value).__name__}")
    table = getattr(getattr(model, "config", None), "max_len", None)  # the decoder's positional table
    if isinstance(table, int) and max_len > table:  # fed: the start token, then all but the last new token
        raise ValueError(f"max_len={max_len} needs target positions 0..{max_len - 1}, but the model's positional "
                         f"table holds config.max_len={table} positions; use max_len <= {table}")


def _pad_id(model: nn.Module, pad_id: int | None) -> int:
    if pad_id is not None:
        return pad_id
    return int(getattr(getattr(model, "config", None), "pad_id", 0))


def _cached_step(model: nn.Module, memory: torch.Tensor, src_mask: torch.Tensor | None, cache) -> Callable:
    """step(tokens (B,), cache) -> next-token logits (B, V): the model's `stepper` when it has one."""
    if cache is not None and hasattr(model, "stepper"):
        return model.stepper(memory, src_mask)
    return lambda tokens, cache: model.decode(tokens[:, None], memory, src_mask, cache=cache)[:, -1]


def greedy_decode(model: nn.Module, src: torch.Tensor, max_len: int, sos_id: int, eos_id: int, *,
                  src_mask: torch.Tensor | None = None, pad_id: int | None = None,
                  use_cache: bool = True) -> torch.Tensor:
    """Greedy decoding of a batch. Returns (B, 1 + L) ids: SOS, the tokens, EOS, then `pad_id`.

    L <= max_len; a row that never produced EOS is cut at max_len. `src_mask` defaults to the
    padding mask of `src` (pad id from `model.config.pad_id`). Raises ValueError before any work
    when max_len exceeds the model's positional table (`config.max_len`), and for bad arguments.
    """
    _check_common(model, src, max_len, sos_id, eos_id)
    pad = _pad_id(model, pad_id)
    if src_mask is None:
        src_mask = padding_mask(src, pad)                              # (B, 1, 1, S)
    B = src.size(0)
    with _eval_mode(model):
        memory = model.encode(src, src_mask)                           # (B, S, C)
        ys = torch.full((B, 1), sos_id, dtype=torch.long, device=src.device)
        done = torch.zeros(B, dtype=torch.bool, device=src.device)
        cache = model.new_cache(B, max_len + 1) if use_cache and hasattr(model, "new_cache") else None
        step = _cached_step(model, memory, src_mask, cache)
        for _ in range(max_len):
            if cache is not None:
                logits = step(ys[:, -1], cache)                                    # (B, V): the new token only
            else:
                logits = model.decode(ys, memory, src_mask)[:, -1]                 # (B, V): the whole prefix again
            next_id = logits.argmax(dim=-1)                                        # (B,)
            next_id = torch.where(done, torch.full_like(next_id, pad), next_id)
            ys = torch.cat([ys, next_id[:, None]], dim=1)                          # (B, T + 1)
            done |= next_id == eos_id
            if bool(done.all()):
                break
    return ys


def _beam_core(step_fn: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor], start: torch.Tensor,
               beam_size: int, max_new: int, eos_id: int | None, alpha: float, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Beam search over continuations of `start` (B, t0).

    `step_fn(prefixes (B*K, t), parents) -> log-probs (B*K, V)`; `parents` (B*K,) says which row of the
    previous step each prefix extends (None at the first step), so a KV cache can follow the beams.

    Returns the best sequence per row (B, t0 + L), padded with `pad`, and its length-penalised score (B,).
    """
    B, t0 = start.shape
    K = beam_size
    seqs = start.repeat_interleave(K, dim=0)                           # (B*K, t0)
    scores = torch.full((B, K), float("-inf"), device=start.device)
    scores[:, 0] = 0.0                                                 # all beams start equal: keep one
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(B)]
    done = [False] * B
    lp_max = length_penalty(max_new, alpha)
    parents: torch.Tensor | None = None
    for t in range(1, max_new + 1):
        logp = step_fn(seqs, parents).float()                          # (B*K, V)
        V = logp.size(-1)
        cand = (scores[:, :, None] + logp.view(B, K, V)).view(B, K * V)   # (B, K*V)
        top_scores, top_idx = cand.topk(min(2 * K, K * V), dim=-1)     # (B, 2K)
        rows, toks, new_scores = [], [], []
        for b in range(B):
            alive: list[tuple[float, int, int]] = []
            if not done[b]:
                for rank, (s, i) in enumerate(zip(top_scores[b].tolist(), top_idx[b].tolist())):
                    if s == float("-inf") or len(alive) == K:
                        break
                    beam, tok = divmod(i, V)
                    if eos_id is not None and tok == eos_id:
                        if rank < K:                                   # a finished hypothesis among the best K
                            finished[b].append((s / length_penalty(t, alpha), seqs[b * K + beam].tolist() + [tok]))
                    else:
                        alive.append((s, beam, tok))
            # a row is done once K hypotheses are finished and no live beam can still beat the worst of them
            best = sorted(finished[b], key=lambda h: -h[0])[:K]
            bound = alive[0][0] / (lp_max if alive[0][0] < 0 else length_penalty(t, alpha)) if alive else float("-inf")
            if not done[b] and (not alive or (len(best) >= K and best[-1][0] >= bound)):
                done[b] = True
            if done[b]:
                alive = []
            alive += [(float("-inf"), 0, pad)] * (K - len(alive))        # dead filler beams
            for s, beam, tok in alive:
                rows.append(b * K + beam)
                toks.append(tok)
                new_scores.append(s)
        if all(done):
            break
        parents = torch.tensor(rows, device=seqs.device)
        seqs = torch.cat([seqs[parents], torch.tensor(toks, device=seqs.device)[:, None]], dim=1)   # (B*K, t0 + t)
        scores = torch.tensor(new_scores, device=start.device).view(B, K)
    for b in range(B):                                                 # rows cut at max_new keep their live beams
        if not done[b]:
            for k in range(K):
                s = scores[b, k].item()
                if s > float("-inf"):
                    finished[b].append((s / length_penalty(seqs.size(1) - t0, alpha), seqs[b * K + k].tolist()))
    best = [max(f, key=lambda h: h[0]) for f in finished]
    width = max(len(seq) for _, seq in best)
    out = torch.full((B, width), pad, dtype=torch.long, device=start.device)
    for b, (_, seq) in enumerate(best):
        out[b, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    return out, torch.tensor([s for s, _ in best])


def beam_search(model: nn.Module, src: torch.Tensor, beam_size: int, max_len: int, sos_id: int, eos_id: int, *,
                length_penalty: float = 0.6, src_mask: torch.Tensor | None = None, pad_id: int | None = None,
                use_cache: bool = True, return_scores: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Beam search for an encoder-decoder model. Returns (B, 1 + L) ids like `greedy_decode`.

    `length_penalty` is GNMT's alpha (0 = raw log-probability). With `return_scores=True` also the
    (B,) score log p / lp(L) of each returned sentence. With the model's KV cache (if it has one
    with `reorder`), each step feeds only the new tokens and the cache follows the surviving beams.
    """
    _check_common(model, src, max_len, sos_id, eos_id)
    if not _is_int(beam_size) or beam_size < 1:
        raise ValueError(f"beam_size={beam_size!r} must be a positive int")
    if isinstance(length_penalty, bool) or not isinstance(length_penalty, (int, float)) or not length_penalty >= 0:
        raise ValueError(f"length_penalty={length_penalty!r} must be a number >= 0 (GNMT's alpha)")
    pad = _pad_id(model, pad_id)
    if src_mask is None:
        src_mask = padding_mask(src, pad)                              # (B, 1, 1, S)
    B = src.size(0)
    with _eval_mode(model):
        memory = model.encode(src, src_mask)                           # (B, S, C)
        memory = memory.repeat_interleave(beam_size, dim=0)            # (B*K, S, C)
        mask = src_mask.repeat_interleave(beam_size, dim=0) if src_mask.size(0) == B else src_mask

        cache = model.new_cache(B * beam_size, max_len + 1) if use_cache and hasattr(model, "new_cache") else None
        cached_step = _cached_step(model, memory, mask, cache)

        def step(prefixes: torch.Tensor, parents: torch.Tensor | None) -> torch.Tensor:
            if cache is None:
                logits = model.decode(prefixes, memory, mask)[:, -1]   # (B*K, V): the whole prefix again
            else:
                if parents is not None:
                    cache.reorder(parents)                             # each beam inherits its parent's keys/values
                logits = cached_step(prefixes[:, -1], cache)           # (B*K, V): the new tokens only
            return torch.log_softmax(logits.float(), dim=-1)           # (B*K, V)

        start = torch.full((B, 1), sos_id, dtype=torch.long, device=src.device)
        out, scores = _beam_core(step, start, beam_size, max_len, eos_id, length_penalty, pad)
    return (out, scores) if return_scores else out


def beam_search_lm(model: nn.Module, prompt_ids: Sequence[int] | torch.Tensor, beam_size: int, max_new_tokens: int, *,
                   eos_id: int | None = None, length_penalty: float = 0.0, block_size: int | None = None,
                   pad_id: int = 0, return_scores: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Beam search for a decoder-only model `model(idx) -> logits`. Returns prompt + continuation.

    `prompt_ids` is a list of ids or a (B, P) long tensor; the context is cropped to `block_size`
    (default `model.config.block_size` if there is one). Without `eos_id` every beam runs
    `max_new_tokens` tokens and the most likely continuation wins.
    """
    idx = torch.tensor([list(prompt_ids)], dtype=torch.long) if not isinstance(prompt_ids, torch.Tensor) else prompt_ids
    if idx.dim() == 1:
        idx = idx[None]
    if idx.dtype != torch.long or idx.dim() != 2 or idx.size(1) == 0:
        raise ValueError(f"prompt_ids must be a non-empty list of ids or a (B, P) long tensor, got {tuple(idx.shape)}")
    if not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError(f"beam_size={beam_size!r} must be a positive int")
    if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens={max_new_tokens!r} must be a positive int")
    block = block_size or getattr(getattr(model, "config", None), "block_size", None)

    def step(prefixes: torch.Tensor, parents: torch.Tensor | None) -> torch.Tensor:
        context = prefixes if block is None else prefixes[:, -block:]  # (B*K, <= block)
        return torch.log_softmax(model(context)[:, -1].float(), dim=-1)   # (B*K, V)

    with _eval_mode(model):
        out, scores = _beam_core(step, idx, beam_size, max_new_tokens, eos_id, length_penalty, pad_id)
    return (out, scores) if return_scores else out
