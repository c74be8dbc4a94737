"""The notebook 03 checks reject stubs and plausible mistakes and accept a correct solution."""

import math

import pytest
import torch

from tinyformer.exercises import check_attention, check_attention_scores, check_softmax_rows


def stub(*args):
    raise NotImplementedError


def scores_right(q, k):
    return q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])


def softmax_right(s):
    e = torch.exp(s - s.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)


@pytest.mark.filterwarnings("ignore:The use of `x.T`")  # the wrong answer below uses .T on 4-D tensors on purpose
def test_attention_scores(capsys):
    assert check_attention_scores(stub) is False
    assert "not done yet" in capsys.readouterr().out
    assert check_attention_scores(lambda q, k: q @ k.transpose(-2, -1)) is False  # forgot √D
    assert check_attention_scores(lambda q, k: q @ k.T / math.sqrt(q.shape[-1])) is False  # .T breaks batches
    assert "❌" in capsys.readouterr().out
    assert check_attention_scores(scores_right) is True
    assert "✅" in capsys.readouterr().out


def test_softmax_rows(capsys):
    assert check_softmax_rows(stub) is False
    naive = lambda s: torch.exp(s) / torch.exp(s).sum(dim=-1, keepdim=True)  # noqa: E731  overflows at 1000
    assert check_softmax_rows(naive) is False
    assert "NaN" in capsys.readouterr().out
    wrong_dim = lambda s: torch.exp(s) / torch.exp(s).sum(dim=0, keepdim=True)  # noqa: E731
    assert check_softmax_rows(wrong_dim) is False
    assert check_softmax_rows(softmax_right) is True
    assert "✅" in capsys.readouterr().out


def test_attention(capsys):
    assert check_attention(stub) is False

    def no_scale(q, k, v):
        w = softmax_right(q @ k.transpose(-2, -1))
        return w @ v, w

    def softmax_over_queries(q, k, v):
        w = torch.softmax(scores_right(q, k), dim=-2)
        return w @ v, w

    def only_out(q, k, v):
        return softmax_right(scores_right(q, k)) @ v

    for wrong in (no_scale, softmax_over_queries, only_out):
        assert check_attention(wrong) is False
        assert "❌" in capsys.readouterr().out

    def right(q, k, v):
        w = softmax_right(scores_right(q, k))
        return w @ v, w

    assert check_attention(right) is True
    assert "✅" in capsys.readouterr().out
