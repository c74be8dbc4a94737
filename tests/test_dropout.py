"""tinyformer.dropout: the statistics of nn.Dropout, drawn four values per random word."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyformer.dropout import Dropout, dropout, keep_mask
from tinyformer.utils import seed_everything

N = 1_000_000


@pytest.mark.parametrize("p", [0.05, 0.1, 0.3, 0.5, 0.9])
def test_drops_a_fraction_p_and_keeps_the_mean(p):
    seed_everything(0)
    y = dropout(torch.ones(N), p)
    dropped = (y == 0).float().mean().item()
    assert abs(dropped - p) < 5 * math.sqrt(p * (1 - p) / N)  # five binomial standard deviations
    kept = y[y != 0]
    assert torch.allclose(kept, torch.full_like(kept, 1 / (1 - p)), rtol=1e-4)  # survivors scaled by 1/(1-p)
    assert abs(y.mean().item() - 1.0) < 5 * math.sqrt(p / (1 - p) / N)  # expectation unchanged


def test_every_slot_of_a_random_word_is_uniform_and_neighbours_are_independent():
    seed_everything(1)
    keep, _ = keep_mask((N,), 0.5)
    slots = keep.view(-1, 4).float()  # the four 16-bit pieces of each 64-bit word
    assert torch.allclose(slots.mean(0), torch.full((4,), 0.5), atol=5 * 0.5 / math.sqrt(N / 4))
    a, b = keep[:-1].float(), keep[1:].float()
    corr = ((a - a.mean()) * (b - b.mean())).mean() / (a.std() * b.std())
    assert abs(corr.item()) < 5 / math.sqrt(N)


def test_scale_uses_the_rounded_p_so_the_expectation_is_exact():
    _, scale = keep_mask((4,), 0.1)
    p_used = round(0.1 * 65536) / 65536
    assert abs(p_used - 0.1) <= 2**-17
    assert scale == pytest.approx(1 / (1 - p_used), rel=1e-12)


def test_a_tiny_p_still_drops_and_a_p_near_one_still_keeps():
    seed_everything(0)
    assert (dropout(torch.ones(N), 1e-9) == 0).any()  # rounded up to 1/65536, not silently to 0
    assert (dropout(torch.ones(N), 1 - 1e-9) != 0).any()  # rounded down to 65535/65536, never 1


def test_eval_and_p_zero_return_the_input_unchanged():
    x = torch.randn(3, 5)
    assert dropout(x, 0.5, training=False) is x
    assert dropout(x, 0.0) is x
    layer = Dropout(0.5).eval()
    assert layer(x) is x


def test_the_same_seed_gives_the_same_mask_and_other_seeds_differ():
    x = torch.ones(1000)
    seed_everything(3)
    a = dropout(x, 0.5)
    seed_everything(3)
    assert torch.equal(a, dropout(x, 0.5))
    seed_everything(4)
    assert not torch.equal(a, dropout(x, 0.5))


def test_gradient_is_the_same_mask_and_scale():
    seed_everything(0)
    x = torch.randn(64, 33, requires_grad=True)
    y = dropout(x, 0.3)
    y.sum().backward()
    _, scale = keep_mask((1,), 0.3)
    assert torch.equal(x.grad, (y != 0).float() * scale)


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(1, 7), min_size=0, max_size=4),
       dtype=st.sampled_from([torch.float32, torch.float64, torch.bfloat16]))
def test_keeps_shape_and_dtype_and_scales_survivors_for_any_shape(shape, dtype):
    x = (torch.rand(shape) + 1).to(dtype)  # no zeros: a zero in y means dropped
    y = dropout(x, 0.5)
    assert y.shape == x.shape and y.dtype == dtype
    kept = y != 0
    assert torch.equal(y[kept], x[kept] * 2)


def test_other_devices_use_pytorchs_dropout():
    x = torch.empty(10, device="meta")  # no CPU data: our mask would fail on it
    assert dropout(x, 0.5).device.type == "meta"


def test_layer_shows_p_and_has_nn_dropouts_empty_state_dict():
    layer = Dropout(0.25)
    assert "p=0.25" in repr(layer)
    assert layer.state_dict() == torch.nn.Dropout(0.25).state_dict() == {}


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, "0.1", True, None])
def test_bad_p_raises_naming_it(p):
    with pytest.raises(ValueError, match="dropout p"):
        dropout(torch.ones(3), p)
    with pytest.raises(ValueError, match="dropout p"):
        Dropout(p)


def test_statistics_match_pytorchs_dropout():
    """Same drop rate and scale as F.dropout (which draws one Bernoulli per value)."""
    seed_everything(0)
    ours, theirs = dropout(torch.ones(N), 0.2), F.dropout(torch.ones(N), 0.2)
    assert abs((ours == 0).float().mean() - (theirs == 0).float().mean()) < 10 * math.sqrt(0.16 / N)
    assert torch.allclose(ours.max(), theirs.max(), rtol=1e-4)
