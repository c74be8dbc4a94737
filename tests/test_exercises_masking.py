"""The notebook 04 checks reject stubs and plausible mistakes and accept a correct solution."""

import torch

from tinyformer.exercises import check_causal_mask, check_masked_softmax, check_padding_mask


def stub(*args):
    raise NotImplementedError


def test_causal_mask(capsys):
    assert check_causal_mask(stub) is False
    assert "not done yet" in capsys.readouterr().out
    assert check_causal_mask(lambda T: torch.ones(T, T, dtype=torch.bool).triu()) is False  # sees the future
    assert check_causal_mask(lambda T: torch.ones(T, T).tril()) is False  # float, not boolean
    assert "boolean" in capsys.readouterr().out
    assert check_causal_mask(lambda T: torch.ones(T, T, dtype=torch.bool).tril(-1)) is False  # not even itself
    assert check_causal_mask(lambda T: torch.ones(T, T, dtype=torch.bool).tril()) is True
    assert "✅" in capsys.readouterr().out


def test_padding_mask(capsys):
    assert check_padding_mask(stub) is False
    assert check_padding_mask(lambda ids, pad_id: ids != pad_id) is False  # (B, T): does not broadcast over heads
    assert "shape" in capsys.readouterr().out
    assert check_padding_mask(lambda ids, pad_id: (ids == pad_id)[:, None, None, :]) is False  # inverted
    assert check_padding_mask(lambda ids, pad_id: (ids != 0)[:, None, None, :]) is False  # ignores pad_id
    assert check_padding_mask(lambda ids, pad_id: (ids != pad_id)[:, None, None, :]) is True


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

    def right(scores, mask):
        w = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        return w.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)

    assert check_masked_softmax(right) is True
    assert "✅" in capsys.readouterr().out
