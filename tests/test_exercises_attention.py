"""The notebook 03 checks reject stubs, plausible mistakes and the shortcuts they rule out, and accept the solutions."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.nn.functional import softmax as aliased_softmax

from tinyformer.attention import scaled_dot_product_attention
from tinyformer.exercises import check_attention, check_attention_scores, check_softmax_rows
from tinyformer.exercises.core import reset_hints
from tinyformer.exercises.solutions.attention import attention_scores, my_attention, softmax_rows


@pytest.fixture(autouse=True)
def fresh_hints():
    reset_hints()


def stub(*args):
    raise NotImplementedError


@pytest.mark.filterwarnings("ignore:The use of `x.T`")  # the wrong answer below uses .T on 4-D tensors on purpose
def test_attention_scores(capsys):
    assert check_attention_scores(stub) is False
    assert "not done yet" in capsys.readouterr().out
    assert check_attention_scores(lambda q, k: q @ k.transpose(-2, -1)) is False  # forgot √D
    assert check_attention_scores(lambda q, k: q @ k.T / math.sqrt(q.shape[-1])) is False  # .T breaks batches
    assert "❌" in capsys.readouterr().out
    assert check_attention_scores(attention_scores) is True
    assert "✅" in capsys.readouterr().out


def test_softmax_rows(capsys):
    assert check_softmax_rows(stub) is False
    naive = lambda s: torch.exp(s) / torch.exp(s).sum(dim=-1, keepdim=True)  # noqa: E731  overflows at 1000
    assert check_softmax_rows(naive) is False
    assert "NaN" in capsys.readouterr().out
    wrong_dim = lambda s: torch.exp(s) / torch.exp(s).sum(dim=0, keepdim=True)  # noqa: E731
    assert check_softmax_rows(wrong_dim) is False
    assert check_softmax_rows(softmax_rows) is True
    assert "✅" in capsys.readouterr().out


def torch_softmax(s):
    return torch.softmax(s, dim=-1)


def functional_softmax(s):
    return F.softmax(s, dim=-1)


def method_softmax(s):
    return s.softmax(-1)


def alias_softmax(s):
    return aliased_softmax(s, dim=-1)


def module_softmax(s):
    return torch.nn.Softmax(dim=-1)(s)


def exp_of_log_softmax(s):
    return torch.exp(F.log_softmax(s, dim=-1))


def hidden_softmax(s):  # the name is built at run time, so only the guarded scores can refuse it
    return getattr(torch, "soft" + "max")(s, dim=-1)


@pytest.mark.parametrize("shortcut", [torch_softmax, functional_softmax, method_softmax, alias_softmax,
                                      module_softmax, exp_of_log_softmax, hidden_softmax])
def test_softmax_rows_rejects_torch_softmax(capsys, shortcut):
    assert check_softmax_rows(shortcut) is False
    out = capsys.readouterr().out
    assert "softmax" in out.split(":")[1].lower() and "builds softmax from exp and sum" in out


def test_attention(capsys):
    assert check_attention(stub) is False

    def no_scale(q, k, v):
        w = softmax_rows(q @ k.transpose(-2, -1))
        return w @ v, w

    def softmax_over_queries(q, k, v):
        w = torch.softmax(attention_scores(q, k), dim=-2)
        return w @ v, w

    def only_out(q, k, v):
        return softmax_rows(attention_scores(q, k)) @ v

    for wrong in (no_scale, softmax_over_queries, only_out):
        assert check_attention(wrong) is False
        assert "❌" in capsys.readouterr().out

    assert check_attention(my_attention) is True
    assert "✅" in capsys.readouterr().out


def test_attention_rejects_the_library(capsys):
    def via_library(q, k, v):
        return scaled_dot_product_attention(q, k, v)

    def scores_via_library(q, k):
        return scaled_dot_product_attention(q, k, k)[1]

    assert check_attention(via_library) is False
    assert "`scaled_dot_product_attention` from tinyformer.attention" in capsys.readouterr().out
    assert check_attention_scores(scores_via_library) is False
    assert "tinyformer.attention" in capsys.readouterr().out
