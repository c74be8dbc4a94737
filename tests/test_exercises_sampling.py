"""Each notebook-08 check rejects the stub and plausible wrong answers, and accepts a correct solution."""

from __future__ import annotations

import torch

import pytest

from tinyformer.exercises import check_greedy_generate, check_temperature_probs, check_top_k, check_top_p
from tinyformer.exercises.core import reset_hints
from tinyformer.exercises.solutions.sampling import greedy_generate as greedy_solution
from tinyformer.exercises.solutions.sampling import temperature_probs as temperature_solution
from tinyformer.exercises.solutions.sampling import top_k as top_k_solution
from tinyformer.exercises.solutions.sampling import top_p as top_p_solution
from tinyformer.sampling import generate, next_token_probs, top_k_filter, top_p_filter

INF = float("inf")


@pytest.fixture(autouse=True)
def fresh_hints():
    reset_hints()


def stub(*args):
    raise NotImplementedError


def assert_fails(check, fn, capsys) -> str:
    assert check(fn) is False
    out = capsys.readouterr().out
    assert out.startswith("❌") and ("Nudge:" in out or "Hint:" in out)
    return out


def assert_passes(check, fn, capsys) -> None:
    assert check(fn) is True
    assert capsys.readouterr().out.startswith("✅")


# ---------------------------------------------------------------- temperature


def test_temperature_check(capsys):
    assert "not done yet" in assert_fails(check_temperature_probs, stub, capsys)
    assert "wrong values" in assert_fails(check_temperature_probs, lambda z, t: torch.softmax(z * t, dim=-1), capsys)
    assert_fails(check_temperature_probs, lambda z, t: torch.softmax(z, dim=-1) / t, capsys)
    assert_fails(check_temperature_probs, lambda z, t: torch.softmax(z / t, dim=0), capsys)  # wrong dim on 2-D input
    assert_passes(check_temperature_probs, temperature_solution, capsys)


# ---------------------------------------------------------------- top-k


def test_top_k_check(capsys):
    assert_fails(check_top_k, stub, capsys)
    zero_instead_of_inf = lambda z, k: z.masked_fill(z < torch.topk(z, k, dim=-1).values[..., -1:], 0.0)
    assert "keeps" in assert_fails(check_top_k, zero_instead_of_inf, capsys)
    k_plus_one = lambda z, k: top_k_solution(z, min(k + 1, z.size(-1)))
    assert_fails(check_top_k, k_plus_one, capsys)
    global_k = lambda z, k: z.masked_fill(z < torch.topk(z.flatten(), k).values[-1], float("-inf"))  # not per row
    assert_fails(check_top_k, global_k, capsys)
    assert_passes(check_top_k, top_k_solution, capsys)


# ---------------------------------------------------------------- top-p


def top_p_drops_the_crossing_token(logits, p):
    """A common mistake: keep only tokens whose cumulative probability is <= p."""
    probs = torch.softmax(logits, dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    drop_sorted = sorted_probs.cumsum(-1) > p
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def top_p_unsorted(logits, p):
    """Another: cumulative sum in vocabulary order instead of most-likely-first."""
    probs = torch.softmax(logits, dim=-1)
    return logits.masked_fill(probs.cumsum(-1) - probs >= p, float("-inf"))


def test_top_p_check(capsys):
    assert_fails(check_top_p, stub, capsys)
    assert_fails(check_top_p, top_p_drops_the_crossing_token, capsys)
    assert_fails(check_top_p, top_p_unsorted, capsys)
    assert_passes(check_top_p, top_p_solution, capsys)


# ---------------------------------------------------------------- greedy loop


def greedy_without_crop(model, ids, n):
    ids = list(ids)
    for _ in range(n):
        ids.append(model(torch.tensor([ids]))[0, -1].argmax().item())
    return ids


def greedy_only_new(model, ids, n):
    return greedy_solution(model, ids, n)[len(ids) :]


def greedy_first_position(model, ids, n):
    ids = list(ids)
    for _ in range(n):
        x = torch.tensor([ids[-model.config.block_size :]])
        ids.append(model(x)[0, 0].argmax().item())  # reads the wrong position
    return ids


def test_greedy_check(capsys):
    assert_fails(check_greedy_generate, stub, capsys)
    assert "block_size" in assert_fails(check_greedy_generate, greedy_without_crop, capsys)
    assert "prompt plus" in assert_fails(check_greedy_generate, greedy_only_new, capsys)
    assert_fails(check_greedy_generate, greedy_first_position, capsys)
    assert_passes(check_greedy_generate, greedy_solution, capsys)


# ---------------------------------------------------------------- shortcuts


def top_p_row_by_row(logits, p):
    """Right values, but a Python loop over rows: the exercise asks for it vectorised."""
    rows = [top_p_solution(row, p) for row in logits.reshape(-1, logits.size(-1))]
    return torch.stack(rows).reshape(logits.shape)


def test_top_p_rejects_a_loop_over_rows(capsys):
    out = assert_fails(check_top_p, top_p_row_by_row, capsys)
    assert "your code uses a loop" in out and "vectorised over rows" in out


def test_checks_reject_the_library(capsys):
    out = assert_fails(check_temperature_probs, lambda z, t: next_token_probs(z, temperature=t), capsys)
    assert "`next_token_probs` from tinyformer.sampling" in out
    assert "`top_k_filter` from" in assert_fails(check_top_k, lambda z, k: top_k_filter(z, k), capsys)
    assert "`top_p_filter` from" in assert_fails(check_top_p, lambda z, p: top_p_filter(z, p), capsys)
    via_generate = lambda model, ids, n: generate(model, ids, n, temperature=0, use_cache=False)  # noqa: E731
    assert "`generate` from" in assert_fails(check_greedy_generate, via_generate, capsys)


def test_greedy_rejects_a_cache(capsys):
    def with_cache(model, ids, n):
        ids = list(ids)
        for _ in range(n):
            x = torch.tensor([ids[-model.config.block_size:]])
            ids.append(model(x, cache=[])[0, -1].argmax().item())
        return ids

    assert "generates without one" in assert_fails(check_greedy_generate, with_cache, capsys)
