"""Notebook 10's exercise checks reject the stub and plausible mistakes, and accept the solutions."""

import math

import torch

from tinyformer.attention import scaled_dot_product_attention
from tinyformer.exercises.cost_and_scale import (check_attention_crossover, check_kv_cache_bytes,
                                                 check_online_softmax, check_tiled_attention)
from tinyformer.exercises.solutions import cost_and_scale as solutions


def stub(*args, **kwargs):
    raise NotImplementedError


def test_solutions_pass(capsys):
    assert check_kv_cache_bytes(solutions.kv_cache_bytes)
    assert check_attention_crossover(solutions.attention_crossover)
    assert check_online_softmax(solutions.online_softmax)
    assert check_tiled_attention(solutions.tiled_attention_2d)
    assert capsys.readouterr().out.count("✅") == 4


def test_stubs_fail_with_the_not_done_message(capsys):
    for check in (check_kv_cache_bytes, check_attention_crossover, check_online_softmax, check_tiled_attention):
        assert not check(stub)
    assert capsys.readouterr().out.count("not done yet") == 4


def test_kv_cache_bytes_rejects_a_missing_value_vector(capsys):
    assert not check_kv_cache_bytes(lambda L, H, D, b: L * H * D * b)
    assert "half of what the cache holds" in capsys.readouterr().out
    assert not check_kv_cache_bytes(lambda L, H, D, b: 2 * L * H * H * D * b)


def test_crossover_rejects_forgetting_the_mlp_and_one_product(capsys):
    assert not check_attention_crossover(lambda C, d_ff: 8 * C * C / (4 * C))
    assert "the MLP is part of the block" in capsys.readouterr().out
    assert not check_attention_crossover(lambda C, d_ff: (8 * C * C + 4 * C * d_ff) / (2 * C))
    assert "two T-long products" in capsys.readouterr().out


def online_softmax_no_rescale(blocks):
    m, l = -math.inf, 0.0
    for block in blocks:
        m = max(m, block.max().item())
        l = l + torch.exp(block - m).sum().item()  # forgets to rescale the old sum
    return m, l


def online_softmax_no_max(blocks):
    l = 0.0
    for block in blocks:
        l += torch.exp(block).sum().item()
    return 0.0, l


def online_softmax_keeps_everything(blocks):
    scores = torch.cat(list(blocks))  # right numbers, but every block kept
    m = scores.max()
    return m, torch.exp(scores - m).sum()


def test_online_softmax_rejects_the_common_mistakes(capsys):
    assert not check_online_softmax(online_softmax_no_rescale)
    assert "wrong values" in capsys.readouterr().out
    assert not check_online_softmax(online_softmax_no_max)
    assert not check_online_softmax(online_softmax_keeps_everything)
    assert "never all the scores" in capsys.readouterr().out


def tiled_materialising(q, k, v, block_size):
    return scaled_dot_product_attention(q, k, v)[0]  # right answer, (T, S) scores built


def tiled_no_rescale(q, k, v, block_size):
    T, D = q.shape
    out = []
    for i in range(0, T, block_size):
        qi = q[i : i + block_size] / math.sqrt(D)
        l = torch.zeros(qi.shape[0], 1, dtype=q.dtype)
        acc = torch.zeros(qi.shape[0], v.shape[1], dtype=q.dtype)
        for j in range(0, k.shape[0], block_size):
            p = torch.exp(qi @ k[j : j + block_size].T)
            l = l + p.sum(1, keepdim=True)
            acc = acc + p @ v[j : j + block_size]
        out.append(acc / l)
    return torch.cat(out)


def tiled_no_sqrt(q, k, v, block_size):
    return solutions.tiled_attention_2d(q * math.sqrt(q.shape[1]), k, v, block_size)


def test_tiled_attention_rejects_the_full_matrix_and_wrong_math(capsys):
    assert not check_tiled_attention(tiled_materialising)
    assert "it was built after all" in capsys.readouterr().out
    assert not check_tiled_attention(tiled_no_sqrt)
    assert "wrong values" in capsys.readouterr().out
    assert not check_tiled_attention(tiled_no_rescale)
    assert "exp overflowed" in capsys.readouterr().out
