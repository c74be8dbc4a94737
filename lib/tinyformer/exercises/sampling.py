"""Auto-checked exercises for notebook 08 (sampling): temperature, top-k, top-p, a greedy loop.

Each check compares the learner's function with `tinyformer.sampling` on a few seeded cases (calling
that library is rejected), prints a pass, or a fail with a nudge or hint, and returns a bool; it never raises.
"""

from __future__ import annotations

from typing import Callable

import torch

from tinyformer.exercises.core import CheckFailed, Forbidden, expect, expect_close, forbid, run_check
from tinyformer.sampling import generate, next_token_probs, top_k_filter, top_p_filter

__all__ = ["check_temperature_probs", "check_top_k", "check_top_p", "check_greedy_generate"]

INF = float("inf")


def _logits(seed: int, shape: tuple[int, ...]) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * 2


def _expect_same_filter(got, want: torch.Tensor, what: str) -> None:
    """Same kept set (finite entries) and the same values there."""
    if not isinstance(got, torch.Tensor):
        raise CheckFailed(f"{what} should be a torch.Tensor, got {type(got).__name__}")
    if tuple(got.shape) != tuple(want.shape):
        raise CheckFailed(f"{what} has shape {tuple(got.shape)}, expected {tuple(want.shape)} (same as the logits)")
    kept_got, kept_want = got > -INF, want > -INF
    if torch.isnan(got).any():
        raise CheckFailed(f"{what} contains NaN")
    n_got, n_want = int(kept_got.sum()), int(kept_want.sum())
    if n_got != n_want:
        raise CheckFailed(f"{what} keeps {n_got} logits finite, expected {n_want}; dropped ones must be -inf")
    if not torch.equal(kept_got, kept_want):
        raise CheckFailed(f"{what} keeps the right number of tokens but not the right ones")
    expect_close(got[kept_got], want[kept_want], what=f"the kept logits of {what}")


def check_temperature_probs(temperature_probs: Callable[[torch.Tensor, float], torch.Tensor]) -> bool:
    """`temperature_probs(logits, temperature) -> probs`: softmax(logits / T) over the last dim, T > 0."""

    def test() -> None:
        forbid(temperature_probs)
        for seed, shape, t in [(0, (6,), 1.0), (1, (2, 10), 0.5), (2, (3, 7), 2.0), (3, (5,), 0.1)]:
            z = _logits(seed, shape)
            got = temperature_probs(z.clone(), t)
            expect_close(got, next_token_probs(z, temperature=t), what=f"temperature_probs(logits of shape {shape}, T={t})")

    return run_check("temperature_probs", test,
                     "divide the logits by the temperature first, then take the softmax over the last dimension",
                     nudge="does the temperature scale the logits or the probabilities? And over which dimension "
                           "do the probabilities sum to 1?")


def check_top_k(top_k_filter_fn: Callable[[torch.Tensor, int], torch.Tensor]) -> bool:
    """`top_k_filter(logits, k) -> logits`: keep the k largest of each row, set the others to -inf."""

    def test() -> None:
        forbid(top_k_filter_fn)
        for seed, shape, k in [(0, (8,), 3), (1, (2, 12), 1), (2, (3, 9), 5), (3, (6,), 6)]:
            z = _logits(seed, shape)
            got = top_k_filter_fn(z.clone(), k)
            _expect_same_filter(got, top_k_filter(z, k), what=f"top_k_filter(logits of shape {shape}, k={k})")

    return run_check(
        "top_k_filter", test,
        "`torch.topk` over the last dimension gives each row's k largest logits; the smallest of them is that "
        "row's threshold (keep the dimension so it broadcasts); fill the logits below it with minus infinity "
        "(`masked_fill`)",
        nudge="in each row, what is the smallest logit you keep, and what must the others become so that their "
              "probability is exactly 0?",
    )


def check_top_p(top_p_filter_fn: Callable[[torch.Tensor, float], torch.Tensor]) -> bool:
    """`top_p_filter(logits, p) -> logits`: keep the smallest set of most likely tokens with probability >= p.

    Vectorised over rows: a Python loop (for, while, comprehension) is rejected.
    """

    def test() -> None:
        forbid(top_p_filter_fn, "the exercise asks for top-p vectorised over rows: sorting, cumulative sums and a "
                                "scatter, with no Python loop", loops=True)
        hand = torch.tensor([0.05, 0.5, 0.15, 0.3]).log()  # p=0.75 keeps 0.5 and 0.3: together 0.8 >= 0.75
        got = top_p_filter_fn(hand.clone(), 0.75)
        _expect_same_filter(got, top_p_filter(hand, 0.75), what="top_p_filter(log [0.05, 0.5, 0.15, 0.3], p=0.75)")
        for seed, shape, p in [(1, (10,), 0.9), (2, (3, 12), 0.5), (3, (2, 8), 0.05)]:
            z = _logits(seed, shape)
            got = top_p_filter_fn(z.clone(), p)
            _expect_same_filter(got, top_p_filter(z, p), what=f"top_p_filter(logits of shape {shape}, p={p})")

    return run_check(
        "top_p_filter", test,
        "take the softmax and sort each row in descending order (`torch.sort` also returns the order); a token is "
        "kept while the mass of the tokens ranked above it is still below p (`cumsum`, minus the token's own "
        "share), so the token that crosses p stays and so does the top one; put that mask back in vocabulary "
        "order with `scatter` and the sort order, and fill the dropped logits with minus infinity",
        nudge="after sorting the probabilities from large to small, which tokens do you need to reach p? Is the "
              "token that crosses p in or out? And how do you get back to the vocabulary order?",
    )


class _PatternLM(torch.nn.Module):
    """A tiny fixed 'model' for the check: next-token logits depend on the last two tokens."""

    def __init__(self, vocab_size: int = 11, block_size: int = 6):
        super().__init__()
        self.config = type("Config", (), {"vocab_size": vocab_size, "block_size": block_size})()
        self.table = torch.nn.Parameter(torch.randn(vocab_size, vocab_size, vocab_size, generator=torch.Generator().manual_seed(0)))

    def forward(self, idx: torch.Tensor, cache=None) -> torch.Tensor:
        if cache is not None:
            raise Forbidden("your code passed a cache to the model: this exercise generates without one, feeding "
                            "the last block_size ids every step")
        if idx.size(1) > self.config.block_size:
            raise ValueError(f"this model sees at most block_size={self.config.block_size} tokens, got {idx.size(1)}")
        prev = torch.cat([idx[:, :1], idx[:, :-1]], dim=1)  # (B, T) the token before each position
        return self.table[prev, idx]  # (B, T, V)


def check_greedy_generate(greedy_generate: Callable[[torch.nn.Module, list[int], int], list[int]]) -> bool:
    """`greedy_generate(model, ids, n) -> ids + n new tokens`: argmax of model(x)[0, -1] each step, last block_size
    tokens, without a cache (passing one to the model is rejected)."""

    def test() -> None:
        forbid(greedy_generate)
        model = _PatternLM()
        for prompt, n in [([3], 4), ([1, 2, 3], 5), ([4, 0, 9, 9, 2, 7, 5, 1], 6)]:
            got = greedy_generate(model, list(prompt), n)
            want = generate(model, prompt, n, temperature=0, use_cache=False)
            expect(isinstance(got, list), f"greedy_generate should return a list of ints, got {type(got).__name__}")
            expect(len(got) == len(want), f"greedy_generate(model, {prompt}, {n}) returned {len(got)} ids, expected "
                                          f"{len(want)} (the prompt plus {n} new tokens)")
            expect(got == want, f"greedy_generate(model, {prompt}, {n}) = {got}, expected {want}")

    return run_check(
        "greedy_generate", test,
        "n times: keep only the last model.config.block_size ids, make them a batch of one, (1, T), run the "
        "model, take the argmax of the logits at the last position, and append it as a Python int; return the "
        "prompt followed by the n new ids. Without the crop the longest prompt fails",
        nudge="how many tokens can the model see at once, and which position's logits predict the next token?",
    )
