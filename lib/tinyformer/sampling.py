"""Turning next-token logits into a choice, and generating text one token at a time.

A language model gives logits z over the vocabulary; sampling draws the next token from
p = softmax(z / T). The knobs, applied in this order (as in Hugging Face `generate`):

- temperature T: T < 1 sharpens p, T > 1 flattens it, T = 0 is greedy (always the argmax);
- top-k (Fan et al. 2018): keep only the k most likely tokens;
- top-p, "nucleus" (Holtzman et al. 2019, arXiv:1904.09751): keep the smallest set of most likely
  tokens whose probability adds up to at least p.

Filters set the logits they drop to -inf, so softmax gives them probability 0 and the rest is
renormalised. `generate` runs a `GPT` (or the decoder of a `Transformer`, given `src`) in a loop,
with or without the KV cache; both give exactly the same tokens. It leaves out repetition
penalties, min-p, typical sampling and speculative decoding. Shapes: B batch, T time,
S source time, V vocab.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import torch

from tinyformer.attention import KVCache
from tinyformer.masks import padding_mask

__all__ = ["apply_temperature", "top_k_filter", "top_p_filter", "next_token_probs", "generate", "context_size"]

NEG_INF = float("-inf")
SINGLE_THREAD_MAX_TOKENS = 8  # cached generation of at most this many rows runs on one thread


# ---------------------------------------------------------------- argument checks


def _check_logits(logits: torch.Tensor) -> None:
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"logits must be a torch.Tensor, got {type(logits).__name__}")
    if not logits.is_floating_point():
        raise TypeError(f"logits must be a floating-point tensor, got dtype {logits.dtype}")
    if logits.dim() == 0 or logits.size(-1) == 0:
        raise ValueError(f"logits must have a vocabulary dimension last, got shape {tuple(logits.shape)}")
    if torch.isnan(logits).any():
        raise ValueError("logits contain NaN; check the model's output (a diverged training run?)")
    if (logits == float("inf")).any():
        raise ValueError("logits contain +inf; softmax of +inf is undefined")
    if (logits == NEG_INF).all(dim=-1).any():
        raise ValueError("every logit in a row is -inf, so no token is left to choose")


def _check_temperature(temperature: float) -> None:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(f"temperature must be a number, got {type(temperature).__name__}")
    if not (temperature >= 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature={temperature} is invalid; use a finite temperature >= 0 (0 means greedy)")


def _check_top_k(k: int | None) -> None:
    if k is None:
        return
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"top_k must be an int or None, got {type(k).__name__}")
    if k < 1:
        raise ValueError(f"top_k={k} is invalid; keep at least one token (top_k >= 1) or pass None")


def _check_top_p(p: float | None) -> None:
    if p is None:
        return
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"top_p must be a number or None, got {type(p).__name__}")
    if not 0 < p <= 1:
        raise ValueError(f"top_p={p} is invalid; use 0 < top_p <= 1 (1 keeps every token) or None")


# ---------------------------------------------------------------- pure functions on logits (..., V)


def _greedy_logits(logits: torch.Tensor) -> torch.Tensor:
    """Keep only the argmax (the first one on ties); every other logit becomes -inf."""
    keep = torch.zeros_like(logits, dtype=torch.bool).scatter_(-1, logits.argmax(-1, keepdim=True), True)
    return logits.masked_fill(~keep, NEG_INF)


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """logits / T; T = 0 keeps only the argmax (greedy), so softmax gives a one-hot."""
    _check_logits(logits)
    _check_temperature(temperature)
    if temperature == 0:
        return _greedy_logits(logits)
    return logits / temperature


def _top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    if k >= logits.size(-1):
        return logits.clone()
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1) the k-th largest logit
    return logits.masked_fill(logits < kth, NEG_INF)


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest logits, set the rest to -inf. Ties with the k-th value are all kept."""
    _check_logits(logits)
    _check_top_k(k)
    return _top_k(logits, k)


def _top_p_tolerance(dtype: torch.dtype) -> float:
    """How close to p a cumulative mass must come to count as reaching it: 8 roundings of the logits' dtype.

    Logits are rounded (log 0.3 is not a float), so a set whose true mass is exactly p sums to p
    give or take a few units of rounding; without the slack, that rounding decides whether one
    more token is kept. bfloat16 gets float16's unit (its own, 2^-7, would blur p by 6%).
    """
    eps = min(torch.finfo(dtype).eps, torch.finfo(torch.float16).eps)
    return 8 * eps


def _top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    if p >= 1:
        return logits.clone()
    probs = torch.softmax(logits.double(), dim=-1)  # float64: the running sums add no rounding of their own
    sorted_probs, order = probs.sort(dim=-1, descending=True, stable=True)  # (..., V)
    mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs  # probability of the tokens ranked above
    drop_sorted = mass_before >= p - _top_p_tolerance(logits.dtype)  # the set is already complete without this token
    drop_sorted[..., 0] = False  # always keep the most likely token
    drop = torch.zeros_like(drop_sorted).scatter_(-1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, NEG_INF)


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filter: keep the smallest set of most likely tokens with total probability >= p.

    logits (..., V) -> logits (..., V), the dropped ones -inf (Holtzman et al. 2019). A set whose
    mass equals p up to the rounding of the logits (`_top_p_tolerance`) is complete: probabilities
    [0.3, 0.1, 0.1, 0.5] with p = 0.8 keep 0.5 and 0.3, in float32 and float64 alike.
    Raises TypeError/ValueError for non-float logits, NaN/+inf, and p outside (0, 1].
    """
    _check_logits(logits)
    _check_top_p(p)
    return _top_p(logits, p)


def _filtered_logits(logits: torch.Tensor, temperature: float, top_k: int | None, top_p: float | None) -> torch.Tensor:
    if temperature == 0:
        return _greedy_logits(logits)
    logits = logits / temperature
    if top_k is not None:
        logits = _top_k(logits, top_k)
    if top_p is not None:
        logits = _top_p(logits, top_p)
    return logits


def next_token_probs(
    logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> torch.Tensor:
    """The distribution the next token is drawn from: temperature, then top-k, then top-p, then softmax.

    logits (..., V) -> probabilities (..., V) that sum to 1 along the last dimension.
    """
    _check_logits(logits)
    _check_temperature(temperature)
    _check_top_k(top_k)
    _check_top_p(top_p)
    return torch.softmax(_filtered_logits(logits, temperature, top_k, top_p), dim=-1)


# ---------------------------------------------------------------- generation


def context_size(model: torch.nn.Module) -> int:
    """How many tokens the model can look at: `block_size` for a GPT, `max_len` for a Transformer."""
    config = getattr(model, "config", None)
    for name in ("block_size", "max_len"):
        if config is not None and hasattr(config, name):
            return int(getattr(config, name))
    raise TypeError(f"{type(model).__name__} has no config.block_size or config.max_len; pass a GPT or a Transformer")


def _as_batch(prompt_ids: Sequence[int] | torch.Tensor) -> tuple[torch.Tensor, str]:
    """The prompt as a (B, T) long tensor, plus how it came in so the result can go back the same way."""
    if isinstance(prompt_ids, torch.Tensor):
        if prompt_ids.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8, torch.int8):
            raise TypeError(f"prompt_ids must hold integer token ids, got dtype {prompt_ids.dtype}")
        if prompt_ids.dim() not in (1, 2):
            raise ValueError(f"prompt_ids must have shape (T,) or (B, T), got {tuple(prompt_ids.shape)}")
        kind = "tensor1d" if prompt_ids.dim() == 1 else "tensor2d"
        ids = prompt_ids.long().reshape(-1, prompt_ids.size(-1))
    elif isinstance(prompt_ids, (list, tuple)):
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in prompt_ids):
            raise TypeError("prompt_ids must be a list of int token ids (or a tensor)")
        kind, ids = "list", torch.tensor([list(prompt_ids)], dtype=torch.long)
    else:
        raise TypeError(f"prompt_ids must be a list of ints or a tensor, got {type(prompt_ids).__name__}")
    if ids.size(1) == 0:
        raise ValueError("prompt_ids is empty; give at least one token (e.g. a start or newline token)")
    return ids, kind


def _pick(logits: torch.Tensor, temperature: float, top_k, top_p, generator) -> torch.Tensor:
    """One next token per row: argmax when greedy, else a draw from the filtered distribution. (B, V) -> (B, 1)"""
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    probs = torch.softmax(_filtered_logits(logits.float(), temperature, top_k, top_p), dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator)


def _check_generate_args(max_new_tokens, temperature, top_k, top_p, seed, stop_token) -> None:
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens={max_new_tokens!r} is invalid; use an int >= 0")
    _check_temperature(temperature)
    _check_top_k(top_k)
    _check_top_p(top_p)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
    if stop_token is not None and (isinstance(stop_token, bool) or not isinstance(stop_token, int)):
        raise TypeError(f"stop_token must be an int token id or None, got {type(stop_token).__name__}")


def _check_model_and_src(model: torch.nn.Module, src, B: int) -> bool:
    """Whether `model` is an encoder-decoder, after checking that `src` comes exactly when it needs one."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a GPT or a Transformer, got {type(model).__name__}")
    context_size(model)  # TypeError for a model without a context size
    is_seq2seq = hasattr(model, "encode") and hasattr(model, "decode")
    if is_seq2seq and src is None:
        raise ValueError("a Transformer needs the source: pass src=(B, S) token ids of the sentence(s) to translate")
    if not is_seq2seq and src is not None:
        raise ValueError(f"src is only for encoder-decoder models; {type(model).__name__} is decoder-only")
    if is_seq2seq and (not isinstance(src, torch.Tensor) or src.dim() != 2 or src.size(0) != B):
        raise ValueError(f"src must have shape (B={B}, S), got {tuple(getattr(src, 'shape', ())) or type(src).__name__}")
    return is_seq2seq


def _check_prompt_ids_in_vocab(ids: torch.Tensor, model: torch.nn.Module) -> None:
    """Every prompt id must index the (target) vocabulary: checked once here, not at every step."""
    config = model.config
    V = getattr(config, "vocab_size", None) or getattr(config, "tgt_vocab_size", None)
    if isinstance(V, int) and (int(ids.min()) < 0 or int(ids.max()) >= V):
        bad = int(ids.min()) if int(ids.min()) < 0 else int(ids.max())
        raise ValueError(f"prompt_ids contain {bad}, outside the model's vocabulary of {V} tokens (valid: 0..{V - 1})")


def _decoder_fn(model: torch.nn.Module, src, src_mask) -> Callable[[torch.Tensor, KVCache | None], torch.Tensor]:
    """`logits(tokens (B, t), cache) -> (B, V)`, the next token's logits; a Transformer encodes `src` once here.

    After the prompt, one token per row goes through the model's cached step (`stepper`), when it has one.
    """
    if src is None:  # a GPT
        forward = lambda tokens, cache: model(tokens, cache=cache)[:, -1]  # noqa: E731
        step = model.stepper() if hasattr(model, "stepper") else None
    else:
        if src_mask is None:
            src_mask = padding_mask(src, model.config.pad_id)  # (B, 1, 1, S) True = real token
        memory = model.encode(src, src_mask)  # (B, S, C), computed once
        forward = lambda tokens, cache: model.decode(tokens, memory, src_mask=src_mask, cache=cache)[:, -1]  # noqa: E731
        step = model.stepper(memory, src_mask) if hasattr(model, "stepper") else None

    def logits(tokens: torch.Tensor, cache: KVCache | None) -> torch.Tensor:
        if step is not None and cache is not None and tokens.shape[1] == 1:
            return step(tokens[:, 0], cache)  # (B, V)
        return forward(tokens, cache)  # (B, V)

    return logits


def _decode_loop(model, logits_fn, out: torch.Tensor, T0: int, use_cache: bool, pick, stop_token) -> int:
    """Fill out[:, T0:] one token per step; return the length reached (less when every row stopped).

    With the cache, each step feeds only the tokens the cache has not seen (one per row after the
    prompt). Once the text outgrows the context `limit`, the window slides: positions are absolute,
    so the cache is rebuilt from the last `limit` tokens, exactly what the uncached path reads.
    """
    B, limit = out.shape[0], context_size(model)
    cache, fed = None, 0  # fed: how many tokens of `out` the cache has seen
    done = torch.zeros(B, 1, dtype=torch.bool, device=out.device)
    for length in range(T0, out.shape[1]):
        window = max(0, length - limit)  # the first token the model may see
        if not use_cache:
            fed = window  # re-read the whole window
        elif cache is None or window > 0:  # the first step, or the window slid: a fresh cache
            cache, fed = model.new_cache(B, max_len=limit), window
        logits = logits_fn(out[:, fed:length], cache)  # (B, V): only what the cache has not seen
        fed = length
        nxt = pick(logits)  # (B, 1)
        if stop_token is not None:
            nxt = nxt.masked_fill(done, stop_token)
            done |= nxt == stop_token
        out[:, length : length + 1] = nxt
        if stop_token is not None and bool(done.all()):
            return length + 1
    return out.shape[1]


@contextmanager
def _num_threads(n: int) -> Iterator[None]:
    """Run the body on n torch threads, then restore the caller's count (set once per call, not per step)."""
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


@torch.inference_mode()
def generate(
    model: torch.nn.Module,
    prompt_ids: Sequence[int] | torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    stop_token: int | None = None,
    use_cache: bool = True,
    src: torch.Tensor | None = None,
    src_mask: torch.Tensor | None = None,
) -> list[int] | torch.Tensor:
    """Continue `prompt_ids` by up to `max_new_tokens` tokens; returns prompt + new tokens.

    - `prompt_ids`: a list of ints (returns a list), a (T,) tensor (returns (T + N,)) or a (B, T)
      tensor (returns (B, T + N)).
    - `model`: a `GPT`, or a `Transformer` together with `src` (B, S), the source sentence(s): the
      encoder runs once and the decoder continues `prompt_ids` (usually `[sos_id]`). `src_mask`
      defaults to the padding mask of `src`.
    - Context: the model only sees the last `context_size(model)` tokens (`block_size` for a GPT).
      A longer prompt is cropped to its last `block_size` tokens. Once the text outgrows the
      context, every step re-reads the last `block_size` tokens from scratch (positions are
      absolute, so cached keys cannot be reused), exactly like generation without the cache.
    - `seed`: draws from a private `torch.Generator`, so the same seed gives the same tokens and the
      global RNG is untouched. `None` uses the global RNG.
    - `stop_token`: a row that produces it stops; it is kept in the output, and finished rows are
      padded with it until every row has stopped (then generation ends early).
    - `use_cache`: reuse the keys and values of earlier tokens (KV cache); the tokens are the same.
      Cached generation of at most SINGLE_THREAD_MAX_TOKENS rows runs on one torch thread (set once
      for the call, restored after): one token per row is too little work to share between threads.

    Raises TypeError/ValueError naming the argument (prompt_ids, max_new_tokens, temperature,
    top_k, top_p, seed, stop_token, model, src, src_mask) before any work.
    """
    _check_generate_args(max_new_tokens, temperature, top_k, top_p, seed, stop_token)
    ids, kind = _as_batch(prompt_ids)
    B, T0 = ids.shape
    is_seq2seq = _check_model_and_src(model, src, B)
    _check_prompt_ids_in_vocab(ids, model)
    device = next(model.parameters()).device
    out = torch.empty(B, T0 + max_new_tokens, dtype=torch.long, device=device)  # prompt, then the new tokens
    out[:, :T0] = ids
    generator = None if seed is None else torch.Generator(device=device).manual_seed(seed)
    pick = lambda logits: _pick(logits, temperature, top_k, top_p, generator)  # noqa: E731
    threads = 1 if use_cache and B <= SINGLE_THREAD_MAX_TOKENS else torch.get_num_threads()
    was_training = model.training
    model.eval()
    try:
        logits_fn = _decoder_fn(model, src.to(device) if is_seq2seq else None, src_mask)
        with _num_threads(threads):
            length = _decode_loop(model, logits_fn, out, T0, use_cache, pick, stop_token)
    finally:
        model.train(was_training)
    out = out[:, :length]
    if kind == "list":
        return out[0].tolist()
    if kind == "tensor1d":
        return out[0]
    return out
