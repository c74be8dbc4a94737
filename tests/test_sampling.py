"""Tests of tinyformer.sampling: temperature, top-k, top-p, next_token_probs and generate's arguments.

Cache-versus-no-cache agreement on real models lives in test_kv_cache_generate.py.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyformer.sampling import (
    apply_temperature,
    context_size,
    generate,
    next_token_probs,
    top_k_filter,
    top_p_filter,
)

INF = float("inf")


def logits_of(probs: list[float]) -> torch.Tensor:
    """Logits whose softmax is exactly `probs` (up to rounding): log p."""
    return torch.tensor(probs, dtype=torch.float64).log()


# ---------------------------------------------------------------- temperature


def test_temperature_divides_logits():
    """[2, 1, 0] / 2 = [1, 0.5, 0]."""
    torch.testing.assert_close(apply_temperature(torch.tensor([2.0, 1.0, 0.0]), 2.0), torch.tensor([1.0, 0.5, 0.0]))


def test_temperature_one_leaves_softmax_unchanged():
    torch.manual_seed(0)
    z = torch.randn(3, 11, dtype=torch.float64)
    torch.testing.assert_close(next_token_probs(z, temperature=1.0), torch.softmax(z, -1))


def test_temperature_hand_worked_probabilities():
    """p = [0.5, 0.25, 0.25] at T=0.5 is proportional to p^2 = [0.25, 0.0625, 0.0625] -> [2/3, 1/6, 1/6]."""
    got = next_token_probs(logits_of([0.5, 0.25, 0.25]), temperature=0.5)
    torch.testing.assert_close(got, torch.tensor([2 / 3, 1 / 6, 1 / 6], dtype=torch.float64))


def test_temperature_zero_is_one_hot_on_first_argmax():
    z = torch.tensor([[0.1, 3.0, -1.0, 3.0], [5.0, 0.0, 0.0, 0.0]])
    want = torch.tensor([[0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    torch.testing.assert_close(next_token_probs(z, temperature=0), want)
    assert apply_temperature(z, 0)[0, 1] == 3.0  # the kept logit is untouched


def test_entropy_grows_with_temperature():
    torch.manual_seed(1)
    z = torch.randn(50, dtype=torch.float64) * 3
    entropies = []
    for t in [0.25, 0.5, 1.0, 2.0, 4.0]:
        p = next_token_probs(z, temperature=t)
        entropies.append(-(p * p.log()).sum().item())
    assert entropies == sorted(entropies) and entropies[-1] < math.log(50)


def test_high_temperature_tends_to_uniform_low_to_argmax():
    z = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    torch.testing.assert_close(next_token_probs(z, temperature=1e9), torch.full((3,), 1 / 3, dtype=torch.float64))
    torch.testing.assert_close(next_token_probs(z, temperature=1e-3), torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))


# ---------------------------------------------------------------- top-k


def test_top_k_matches_torch_topk():
    torch.manual_seed(2)
    z = torch.randn(4, 30)
    for k in [1, 3, 10, 30]:
        got = top_k_filter(z, k)
        kept = got > -INF
        want = torch.zeros_like(kept).scatter_(-1, torch.topk(z, k, dim=-1).indices, True)
        assert torch.equal(kept, want)
        torch.testing.assert_close(got[kept], z[kept])  # kept logits are untouched


def test_top_k_hand_worked():
    """[1, 4, 2, 3] with k=2 keeps 4 and 3."""
    got = top_k_filter(torch.tensor([1.0, 4.0, 2.0, 3.0]), 2)
    torch.testing.assert_close(got, torch.tensor([-INF, 4.0, -INF, 3.0]))


def test_top_k_keeps_ties_and_k_larger_than_vocab_keeps_all():
    z = torch.tensor([2.0, 1.0, 2.0, 0.0])
    assert (top_k_filter(z, 1) > -INF).tolist() == [True, False, True, False]
    torch.testing.assert_close(top_k_filter(z, 100), z)


def test_top_k_one_equals_greedy():
    torch.manual_seed(3)
    z = torch.randn(5, 17)
    torch.testing.assert_close(next_token_probs(z, top_k=1), next_token_probs(z, temperature=0))


# ---------------------------------------------------------------- top-p


def top_p_by_hand(probs: list[float], p: float) -> set[int]:
    """The reference: walk the tokens from most to least likely until the kept mass reaches p."""
    order = sorted(range(len(probs)), key=lambda i: -probs[i])
    kept, mass = set(), 0.0
    for i in order:
        kept.add(i)
        mass += probs[i]
        if mass >= p:
            break
    return kept


def test_top_p_hand_worked():
    """probs [0.05, 0.5, 0.15, 0.3]: p=0.75 keeps 0.5+0.3 = 0.8; p=0.85 also needs 0.15 (0.95)."""
    z = logits_of([0.05, 0.5, 0.15, 0.3])
    assert (top_p_filter(z, 0.75) > -INF).tolist() == [False, True, False, True]
    assert (top_p_filter(z, 0.85) > -INF).tolist() == [False, True, True, True]
    probs = next_token_probs(z, top_p=0.75)
    torch.testing.assert_close(probs, torch.tensor([0.0, 0.5 / 0.8, 0.0, 0.3 / 0.8], dtype=torch.float64))


def test_top_p_always_keeps_the_top_token_and_one_keeps_all():
    z = logits_of([0.9, 0.05, 0.05])
    assert (top_p_filter(z, 0.01) > -INF).tolist() == [True, False, False]
    torch.testing.assert_close(top_p_filter(z, 1.0), z)


@settings(max_examples=60, deadline=None)
@given(
    probs=st.lists(st.floats(0.01, 1.0), min_size=2, max_size=12),
    p=st.floats(0.05, 0.999),
)
def test_top_p_matches_reference_loop(probs, p):
    total = sum(probs)
    probs = [x / total for x in probs]
    z = logits_of(probs)
    p_exact = torch.softmax(z, -1).tolist()
    # skip the measure-zero cases where a cumulative sum lands within rounding of p
    order = sorted(range(len(p_exact)), key=lambda i: -p_exact[i])
    cums = [sum(p_exact[j] for j in order[: i + 1]) for i in range(len(order))]
    if any(abs(c - p) < 1e-9 for c in cums) or len(set(p_exact)) < len(p_exact):
        return
    kept = {i for i, keep in enumerate((top_p_filter(z, p) > -INF).tolist()) if keep}
    assert kept == top_p_by_hand(p_exact, p)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_top_p_boundary_does_not_keep_an_extra_token(dtype):
    """[0.3, 0.1, 0.1, 0.5], p = 0.8: 0.5 + 0.3 reaches 0.8 exactly, so keep two: [0.3/0.8, 0, 0, 0.5/0.8].

    In float32 the rounded sum is 0.79999995; without a tolerance the first 0.1 was kept as well.
    """
    z = logits_of([0.3, 0.1, 0.1, 0.5]).to(dtype)
    assert (top_p_filter(z, 0.8) > -INF).tolist() == [True, False, False, True]
    torch.testing.assert_close(next_token_probs(z, top_p=0.8), torch.tensor([0.375, 0.0, 0.0, 0.625], dtype=dtype))


def top_p_exact(weights: list[int], p: Fraction) -> set[int]:
    """The reference in exact arithmetic: probabilities w / sum(w) as fractions, walked from the most likely."""
    total = sum(weights)
    order = sorted(range(len(weights)), key=lambda i: -weights[i])  # stable: ties in index order
    kept, mass = set(), Fraction(0)
    for i in order:
        kept.add(i)
        mass += Fraction(weights[i], total)
        if mass >= p:
            break
    return kept


@settings(max_examples=150, deadline=None)
@given(
    weights=st.lists(st.integers(1, 50), min_size=1, max_size=10),
    percent=st.integers(1, 99),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_top_p_matches_exact_arithmetic(weights, percent, dtype):
    """Integer weights and p = k/100 hit the boundary often (total mass exactly p), and every other
    cumulative sum is at least 1/(500 * 100) away from p: far beyond rounding, so the sets must agree."""
    total = sum(weights)
    z = torch.tensor([w / total for w in weights], dtype=torch.float64).log().to(dtype)
    kept = {i for i, keep in enumerate((top_p_filter(z, percent / 100) > -INF).tolist()) if keep}
    assert kept == top_p_exact(weights, Fraction(percent, 100))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    temperature=st.sampled_from([0, 0.3, 1.0, 2.5]),
    top_k=st.sampled_from([None, 1, 3, 50]),
    top_p=st.sampled_from([None, 0.3, 0.9, 1.0]),
)
def test_next_token_probs_is_a_distribution_over_kept_tokens(seed, temperature, top_k, top_p):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(3, 20, generator=g) * 2
    probs = next_token_probs(z, temperature, top_k, top_p)
    torch.testing.assert_close(probs.sum(-1), torch.ones(3))
    assert (probs >= 0).all()
    top = z.argmax(-1, keepdim=True)
    assert (probs.gather(-1, top) > 0).all()  # the most likely token always survives
    if top_k is not None:
        assert ((probs > 0).sum(-1) <= top_k).all()


def test_filters_order_temperature_then_top_k_then_top_p():
    """T=1, top_k=3 on [0.4, 0.3, 0.2, 0.1] renormalises to [4/9, 3/9, 2/9, 0]; then top_p=0.7 keeps 4/9+3/9."""
    z = logits_of([0.4, 0.3, 0.2, 0.1])
    got = next_token_probs(z, top_k=3, top_p=0.7)
    torch.testing.assert_close(got, torch.tensor([4 / 7, 3 / 7, 0.0, 0.0], dtype=torch.float64))


def test_filters_do_not_modify_input():
    z = torch.tensor([1.0, 2.0, 3.0])
    before = z.clone()
    top_k_filter(z, 1), top_p_filter(z, 0.5), apply_temperature(z, 0), next_token_probs(z, 0.5, 2, 0.5)
    assert torch.equal(z, before)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"temperature": float("inf")}, "temperature"),
        ({"top_k": 0}, "top_k"),
        ({"top_k": -3}, "top_k"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_p": -0.2}, "top_p"),
    ],
)
def test_bad_settings_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        next_token_probs(torch.zeros(5), **kwargs)


def test_bad_types_raise_type_error():
    with pytest.raises(TypeError, match="top_k"):
        next_token_probs(torch.zeros(5), top_k=2.5)
    with pytest.raises(TypeError, match="logits"):
        next_token_probs([0.1, 0.2])
    with pytest.raises(TypeError, match="floating"):
        next_token_probs(torch.tensor([1, 2]))


@pytest.mark.parametrize("fn", [lambda z: apply_temperature(z, 1.0), lambda z: top_k_filter(z, 2), lambda z: top_p_filter(z, 0.5), next_token_probs])
def test_nan_logits_raise(fn):
    with pytest.raises(ValueError, match="NaN"):
        fn(torch.tensor([0.0, float("nan"), 1.0]))


def test_all_minus_inf_row_raises():
    with pytest.raises(ValueError, match="-inf"):
        next_token_probs(torch.tensor([[0.0, 1.0], [-INF, -INF]]))


# ---------------------------------------------------------------- generate: arguments and bookkeeping (stand-in model)


class CountingLM(torch.nn.Module):
    """A stand-in decoder-only model: the next token is (last token + 1) mod V, with certainty.

    It has no cache, so these tests use use_cache=False; it records every input it was given.
    """

    def __init__(self, vocab_size: int = 7, block_size: int = 4):
        super().__init__()
        self.config = type("Config", (), {"block_size": block_size, "vocab_size": vocab_size})()
        self.dummy = torch.nn.Parameter(torch.zeros(1))
        self.seen: list[list[list[int]]] = []

    def forward(self, idx, cache=None):
        assert idx.size(1) <= self.config.block_size, "fed more than block_size tokens"
        self.seen.append(idx.tolist())
        nxt = (idx + 1) % self.config.vocab_size
        return torch.nn.functional.one_hot(nxt, self.config.vocab_size).float() * 20  # (B, T, V)


def test_generate_greedy_counts_and_keeps_prompt():
    model = CountingLM()
    assert generate(model, [3], 5, temperature=0, use_cache=False) == [3, 4, 5, 6, 0, 1]


def test_generate_crops_prompt_to_last_block_size_tokens():
    model = CountingLM(block_size=4)
    generate(model, [0, 1, 2, 3, 4, 5], 3, temperature=0, use_cache=False)
    assert model.seen[0] == [[2, 3, 4, 5]]  # only the last block_size tokens
    assert model.seen[1] == [[3, 4, 5, 6]]


def test_generate_return_type_follows_input():
    model = CountingLM()
    assert isinstance(generate(model, [1, 2], 2, temperature=0, use_cache=False), list)
    one = generate(model, torch.tensor([1, 2]), 2, temperature=0, use_cache=False)
    assert one.shape == (4,) and one.tolist() == [1, 2, 3, 4]
    two = generate(model, torch.tensor([[1, 2], [5, 6]]), 2, temperature=0, use_cache=False)
    assert two.tolist() == [[1, 2, 3, 4], [5, 6, 0, 1]]


def test_generate_stop_token_stops_and_pads_finished_rows():
    model = CountingLM()
    assert generate(model, [3], 10, temperature=0, stop_token=5, use_cache=False) == [3, 4, 5]
    out = generate(model, torch.tensor([[3], [4]]), 10, temperature=0, stop_token=5, use_cache=False)
    assert out.tolist() == [[3, 4, 5], [4, 5, 5]]  # row 2 stopped first and is padded with the stop token


def test_generate_zero_new_tokens_returns_prompt():
    assert generate(CountingLM(), [1, 2, 3], 0, use_cache=False) == [1, 2, 3]


class UniformLM(CountingLM):
    def forward(self, idx, cache=None):
        return torch.zeros(*idx.shape, self.config.vocab_size)


def test_generate_seed_reproducible_and_leaves_global_rng_alone():
    model = UniformLM(vocab_size=50, block_size=8)
    torch.manual_seed(0)
    state = torch.get_rng_state()
    a = generate(model, [0], 20, seed=123, use_cache=False)
    assert torch.equal(torch.get_rng_state(), state)
    b = generate(model, [0], 20, seed=123, use_cache=False)
    c = generate(model, [0], 20, seed=124, use_cache=False)
    assert a == b and a != c


def test_generate_top_k_restricts_tokens():
    model = CountingLM(vocab_size=10)  # logit 20 on one token, 0 elsewhere: at T=100 nearly uniform
    out = generate(model, [0], 30, temperature=100.0, top_k=1, seed=0, use_cache=False)
    assert out == [i % 10 for i in range(31)]


def test_generate_restores_training_mode():
    model = CountingLM()
    model.train()
    generate(model, [0], 2, use_cache=False)
    assert model.training


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"max_new_tokens": -1}, ValueError, "max_new_tokens"),
        ({"temperature": -1.0}, ValueError, "temperature"),
        ({"top_k": 0}, ValueError, "top_k"),
        ({"top_p": 2.0}, ValueError, "top_p"),
        ({"prompt_ids": []}, ValueError, "empty"),
        ({"prompt_ids": [1.5]}, TypeError, "prompt_ids"),
        ({"prompt_ids": torch.zeros(1, 1, 2, dtype=torch.long)}, ValueError, "prompt_ids"),
        ({"prompt_ids": torch.zeros(3)}, TypeError, "prompt_ids"),
        ({"src": torch.zeros(1, 3, dtype=torch.long)}, ValueError, "src"),
        ({"seed": "a"}, TypeError, "seed"),
    ],
)
def test_generate_bad_arguments(kwargs, error, match):
    args = {"prompt_ids": [1], "max_new_tokens": 3, "use_cache": False} | kwargs
    with pytest.raises(error, match=match):
        generate(CountingLM(), **args)


def test_context_size_needs_a_config():
    with pytest.raises(TypeError, match="block_size"):
        context_size(torch.nn.Linear(2, 2))
