"""Tests of tinyformer.masks: causal, padding, combining, and their shape/type errors."""

import pytest
import torch

from tinyformer.masks import causal_mask, combine_masks, padding_mask


def test_causal_mask_worked_example():
    """Row t is True for columns 0..t: position t sees itself and the past."""
    want = torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=torch.bool)
    assert torch.equal(causal_mask(3), want)


def test_causal_mask_matches_pytorch_is_causal_convention():
    # nn.Transformer's float mask has -inf above the diagonal: the positions we mark False
    ref = torch.nn.Transformer.generate_square_subsequent_mask(6)
    assert torch.equal(causal_mask(6), ref == 0)


@pytest.mark.parametrize("bad", [0, -2, 2.0, True, "3"])
def test_causal_mask_rejects_bad_length(bad):
    with pytest.raises(ValueError, match="T="):
        causal_mask(bad)


def test_padding_mask_shape_and_values():
    ids = torch.tensor([[5, 6, 7, 0], [8, 0, 0, 0]])
    m = padding_mask(ids, pad_id=0)
    assert m.shape == (2, 1, 1, 4) and m.dtype == torch.bool
    assert m[:, 0, 0].tolist() == [[True, True, True, False], [True, False, False, False]]


def test_padding_mask_broadcasts_over_heads_and_queries():
    ids = torch.tensor([[1, 2, 0]])
    scores = torch.zeros(1, 4, 3, 3)  # (B, H, T_q, T_k)
    assert (scores.masked_fill(~padding_mask(ids, 0), 1.0)[..., 2] == 1).all()


def test_padding_mask_errors():
    with pytest.raises(TypeError, match="integer"):
        padding_mask(torch.zeros(2, 3), 0)
    with pytest.raises(ValueError, match=r"\(B, T\).*\(3,\)"):
        padding_mask(torch.tensor([1, 2, 0]), 0)
    with pytest.raises(TypeError, match="pad_id"):
        padding_mask(torch.tensor([[1, 2, 0]]), None)


def test_combine_causal_and_padding_gives_decoder_mask():
    ids = torch.tensor([[4, 5, 0]])
    m = combine_masks(causal_mask(3), padding_mask(ids, 0))
    assert m.shape == (1, 1, 3, 3)
    want = torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 0]], dtype=torch.bool)
    assert torch.equal(m[0, 0], want)


def test_combine_skips_none_and_returns_none_for_nothing():
    c = causal_mask(4)
    assert torch.equal(combine_masks(None, c, None), c)
    assert combine_masks() is None and combine_masks(None) is None


def test_combine_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(3, 3\) and \(2, 1, 1, 4\)"):
        combine_masks(causal_mask(3), padding_mask(torch.ones(2, 4, dtype=torch.long), 0))


def test_combine_rejects_non_boolean_masks():
    with pytest.raises(TypeError, match="boolean"):
        combine_masks(causal_mask(3), torch.ones(3, 3))
