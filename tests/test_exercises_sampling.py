"""Each notebook-08 check rejects the stub and plausible wrong answers, and accepts a correct solution."""

from __future__ import annotations

import torch

from tinyformer.exercises import check_greedy_generate, check_temperature_probs, check_top_k, check_top_p

INF = float("inf")


def stub(*args):
    raise NotImplementedError


def assert_fails(check, fn, capsys) -> str:
    assert check(fn) is False
    out = capsys.readouterr().out
    assert out.startswith("❌") and "Hint:" in out
    return out


def assert_passes(check, fn, capsys) -> None:
    assert check(fn) is True
    assert capsys.readouterr().out.startswith("✅")


# ---------------------------------------------------------------- temperature


def temperature_solution(logits, temperature):
    return torch.softmax(logits / temperature, dim=-1)


def test_temperature_check(capsys):
    assert "not done yet" in assert_fails(check_temperature_probs, stub, capsys)
    assert "wrong values" in assert_fails(check_temperature_probs, lambda z, t: torch.softmax(z * t, dim=-1), capsys)
    assert_fails(check_temperature_probs, lambda z, t: torch.softmax(z, dim=-1) / t, capsys)
    assert_fails(check_temperature_probs, lambda z, t: torch.softmax(z / t, dim=0), capsys)  # wrong dim on 2-D input
    assert_passes(check_temperature_probs, temperature_solution, capsys)


# ---------------------------------------------------------------- top-k


def top_k_solution(logits, k):
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


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


def top_p_solution(logits, p):
    probs = torch.softmax(logits, dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    drop_sorted = sorted_probs.cumsum(-1) - sorted_probs >= p
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


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


def greedy_solution(model, ids, n):
    ids = list(ids)
    for _ in range(n):
        x = torch.tensor([ids[-model.config.block_size :]])
        ids.append(model(x)[0, -1].argmax().item())
    return ids


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
