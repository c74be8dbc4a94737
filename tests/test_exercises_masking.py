"""The notebook 04 checks reject stubs, plausible mistakes and the library, and accept the solutions."""

import pytest
import torch

from tinyformer.exercises import check_causal_mask, check_masked_softmax, check_padding_mask
from tinyformer.exercises.core import reset_hints
from tinyformer.exercises.solutions.masking import masked_softmax, my_causal_mask, my_padding_mask
from tinyformer.masks import causal_mask, padding_mask


@pytest.fixture(autouse=True)
def fresh_hints():
    reset_hints()


def stub(*args):
    raise NotImplementedError


def test_causal_mask(capsys):
    assert check_causal_mask(stub) is False
    assert "not done yet" in capsys.readouterr().out
    assert check_causal_mask(lambda T: torch.ones(T, T, dtype=torch.bool).triu()) is False  # sees the future
    assert check_causal_mask(lambda T: torch.ones(T, T).tril()) is False  # float, not boolean
    assert "boolean" in capsys.readouterr().out
    assert check_causal_mask(lambda T: torch.ones(T, T, dtype=torch.bool).tril(-1)) is False  # not even itself
    assert check_causal_mask(my_causal_mask) is True
    assert "✅" in capsys.readouterr().out


def test_padding_mask(capsys):
    assert check_padding_mask(stub) is False
    assert check_padding_mask(lambda ids, pad_id: ids != pad_id) is False  # (B, T): does not broadcast over heads
    assert "shape" in capsys.readouterr().out
    assert check_padding_mask(lambda ids, pad_id: (ids == pad_id)[:, None, None, :]) is False  # inverted
    assert check_padding_mask(lambda ids, pad_id: (ids != 0)[:, None, None, :]) is False  # ignores pad_id
    assert check_padding_mask(my_padding_mask) is True


def test_masked_softmax(capsys):
    assert check_masked_softmax(stub) is False

    def multiply_after(scores, mask):
        return torch.softmax(scores, dim=-1) * mask

    def nan_rows(scores, mask):
        return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)

    def large_negative(scores, mask):  # -1e9 instead of -inf: a fully masked row becomes uniform, not zero
        return torch.softmax(scores.masked_fill(~mask, -1e9), dim=-1)

    for wrong in (multiply_after, nan_rows, large_negative):
        assert check_masked_softmax(wrong) is False
        assert "❌" in capsys.readouterr().out

    assert check_masked_softmax(masked_softmax) is True
    assert "✅" in capsys.readouterr().out


def test_masks_reject_the_library(capsys):
    assert check_causal_mask(lambda T: causal_mask(T)) is False
    assert "`causal_mask` from tinyformer.masks" in capsys.readouterr().out
    assert check_padding_mask(lambda ids, pad_id: padding_mask(ids, pad_id)) is False
    assert "`padding_mask` from tinyformer.masks" in capsys.readouterr().out
