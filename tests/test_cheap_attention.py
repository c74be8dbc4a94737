"""Tests of tinyformer.cheap_attention: sliding-window attention and linear attention.

Against references first (MultiHeadAttention with the weights copied and an explicit mask; the
quadratic form of linear attention), then worked cases, then properties (causality, locality,
cache == full forward), shapes, bad input, and the course GPT with its attention swapped.
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyformer.attention import AttentionCache, MultiHeadAttention
from tinyformer.cheap_attention import (LinearAttention, SlidingWindowAttention, build_attention, elu_feature_map,
                                        linear_attention, linear_attention_quadratic, sliding_window_mask)
from tinyformer.masks import causal_mask, padding_mask

C, H = 16, 4


def _copied(cls, seed=0, bias=True, fast=True, **kwargs):
    """A MultiHeadAttention and a `cls` holding exactly its weights, float64, eval mode."""
    torch.manual_seed(seed)
    ref = MultiHeadAttention(C, H, bias=bias, fast=fast).double().eval()
    ours = cls(C, H, bias=bias, fast=fast, **kwargs).double().eval()
    ours.load_state_dict(ref.state_dict())  # same names and layout: strict load
    return ours, ref


def _x(B=2, T=9, seed=1):
    return torch.randn(B, T, C, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# ---- sliding_window_mask ---------------------------------------------------------------------------

def test_sliding_window_mask_worked_example():
    """T = 5, window = 2: each position sees itself and the one before."""
    want = torch.tensor([[1, 0, 0, 0, 0],
                         [1, 1, 0, 0, 0],
                         [0, 1, 1, 0, 0],
                         [0, 0, 1, 1, 0],
                         [0, 0, 0, 1, 1]], dtype=torch.bool)
    assert torch.equal(sliding_window_mask(5, 2), want)


@pytest.mark.parametrize("T", [1, 2, 7])
def test_sliding_window_mask_extremes(T):
    assert torch.equal(sliding_window_mask(T, T), causal_mask(T))
    assert torch.equal(sliding_window_mask(T, T + 5), causal_mask(T))
    assert torch.equal(sliding_window_mask(T, 1), torch.eye(T, dtype=torch.bool))
    assert sliding_window_mask(T, 3).sum(dim=-1).tolist() == [min(t + 1, 3) for t in range(T)]


@pytest.mark.parametrize("T, window, match", [(0, 2, "T"), (3, 0, "window"), (3, -1, "window"), (3, 2.0, "window"),
                                               (3, True, "window"), (2.5, 2, "T")])
def test_sliding_window_mask_bad_input(T, window, match):
    with pytest.raises(ValueError, match=match):
        sliding_window_mask(T, window)


# ---- SlidingWindowAttention -------------------------------------------------------------------------

@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("extra", [0, 4])
def test_window_of_T_equals_full_causal_attention(fast, bias, extra):
    T = 9
    ours, ref = _copied(SlidingWindowAttention, bias=bias, fast=fast, window=T + extra)
    x = _x(T=T)
    torch.testing.assert_close(ours(x, causal=True)[0], ref(x, causal=True)[0], atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("window", [1, 2, 5])
def test_window_equals_multihead_attention_with_the_window_mask(fast, window):
    ours, ref = _copied(SlidingWindowAttention, fast=fast, window=window)
    x = _x(T=11)
    got, _ = ours(x, causal=True)
    want, _ = ref(x, mask=sliding_window_mask(11, window))
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-6)


def test_window_combines_with_a_padding_mask_and_returns_banded_weights():
    ours, ref = _copied(SlidingWindowAttention, window=3)
    x = _x(T=8)
    pad = padding_mask(torch.tensor([[1] * 8, [1] * 6 + [0] * 2]), pad_id=0)  # (2, 1, 1, 8)
    got, w = ours(x, mask=pad, causal=True, need_weights=True)
    want, _ = ref(x, mask=pad & sliding_window_mask(8, 3))
    torch.testing.assert_close(got, want)
    assert w.shape == (2, H, 8, 8)
    assert (w[..., ~sliding_window_mask(8, 3)] == 0).all()  # nothing outside the band
    torch.testing.assert_close(w.sum(-1), torch.ones(2, H, 8, dtype=torch.float64))


def test_window_output_ignores_positions_outside_the_window():
    """Locality: changing x[:, :t - window + 1] leaves out[:, t] unchanged (one layer)."""
    window, t = 3, 7
    ours, _ = _copied(SlidingWindowAttention, window=window)
    x = _x(T=10)
    y = x.clone()
    y[:, : t - window + 1] = torch.randn_like(y[:, : t - window + 1])
    out_x, out_y = ours(x, causal=True)[0], ours(y, causal=True)[0]
    torch.testing.assert_close(out_x[:, t:], out_y[:, t:])  # every later position too: t' - window + 1 >= t - window + 1
    assert not torch.allclose(out_x[:, t - 1], out_y[:, t - 1])  # the control: position t - 1 sees a changed key


# ---- linear attention: the functions -----------------------------------------------------------------

def test_elu_feature_map_is_positive_and_matches_its_definition():
    x = torch.tensor([-30.0, -1.0, 0.0, 2.0], dtype=torch.float64)
    torch.testing.assert_close(elu_feature_map(x), torch.tensor([torch.exp(torch.tensor(-30.0)).item(),
                                                                 torch.exp(torch.tensor(-1.0)).item(), 1.0, 3.0],
                                                                dtype=torch.float64))
    assert (elu_feature_map(x) > 0).all()


def test_linear_attention_worked_example():
    """D = 1, q = 0, keys 0 and 1: φ(0) = 1, φ(1) = 2, so the weights are 1·1 / 3 and 1·2 / 3.

    out = (v0 + 2 v1) / 3; causally the first query sees only key 0: out0 = v0.
    """
    q = torch.zeros(2, 1, dtype=torch.float64)
    k = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    v = torch.tensor([[3.0, 0.0], [6.0, 3.0]], dtype=torch.float64)
    want = torch.tensor([[5.0, 2.0], [5.0, 2.0]], dtype=torch.float64)
    torch.testing.assert_close(linear_attention(q, k, v), want)
    torch.testing.assert_close(linear_attention_quadratic(q, k, v)[0], want)
    torch.testing.assert_close(linear_attention(q, k, v, causal=True), torch.tensor([[3.0, 0.0], [5.0, 2.0]], dtype=torch.float64))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), batch=st.sampled_from([(), (3,), (2, 3)]), T=st.integers(1, 24),
       D=st.integers(1, 8), D_v=st.integers(1, 8))
def test_recurrent_form_equals_quadratic_form(seed, batch, T, D, D_v):
    g = torch.Generator().manual_seed(seed)
    q, k = (torch.randn(*batch, T, D, generator=g, dtype=torch.float64) for _ in range(2))
    v = torch.randn(*batch, T, D_v, generator=g, dtype=torch.float64)
    want, w = linear_attention_quadratic(q, k, v, mask=causal_mask(T))
    torch.testing.assert_close(linear_attention(q, k, v, causal=True), want, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(w.sum(-1), torch.ones(*batch, T, dtype=torch.float64))
    assert (w[..., ~causal_mask(T)] == 0).all()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), batch=st.sampled_from([(), (3,), (2, 3)]), T=st.integers(1, 24),
       S=st.integers(1, 24), D=st.integers(1, 8), D_v=st.integers(1, 8))
def test_non_causal_form_equals_quadratic_form(seed, batch, T, S, D, D_v):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*batch, T, D, generator=g, dtype=torch.float64)
    k = torch.randn(*batch, S, D, generator=g, dtype=torch.float64)
    v = torch.randn(*batch, S, D_v, generator=g, dtype=torch.float64)
    torch.testing.assert_close(linear_attention(q, k, v), linear_attention_quadratic(q, k, v)[0], atol=1e-6, rtol=1e-6)


def test_quadratic_form_gives_zeros_for_a_fully_masked_row():
    q, k, v = (torch.randn(4, 3, dtype=torch.float64) for _ in range(3))
    mask = causal_mask(4).clone()
    mask[2] = False
    out, w = linear_attention_quadratic(q, k, v, mask=mask)
    assert torch.equal(out[2], torch.zeros(3, dtype=torch.float64)) and not out.isnan().any()


def test_linear_attention_functions_bad_input():
    q = torch.randn(4, 3)
    with pytest.raises(ValueError, match="causal"):
        linear_attention(q, torch.randn(5, 3), torch.randn(5, 3), causal=True)
    with pytest.raises(ValueError, match="q and k"):
        linear_attention(q, torch.randn(4, 2), torch.randn(4, 3))
    with pytest.raises(TypeError, match="mask"):
        linear_attention_quadratic(q, q, q, mask=torch.ones(4, 4))
    with pytest.raises(ValueError, match="dropout_p"):
        linear_attention_quadratic(q, q, q, dropout_p=1.0)


# ---- LinearAttention, the module ---------------------------------------------------------------------

@pytest.mark.parametrize("causal", [True, False])
def test_linear_attention_module_fast_equals_quadratic_and_the_functions(causal):
    fast, _ = _copied(LinearAttention, fast=True)
    slow, _ = _copied(LinearAttention, fast=False)
    x = _x(T=10)
    got, none = fast(x, causal=causal)
    want, w = slow(x, causal=causal, need_weights=True)
    assert none is None and w.shape == (2, H, 10, 10)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-6)
    # by hand from the module's own projections: heads split, the function, heads joined, W_O
    q, k, v = fast._self_qkv(x, None)  # 3 x (B, H, T, D)
    by_hand = linear_attention(q, k, v, causal=causal).transpose(1, 2).reshape(2, 10, C)  # (B, T, C)
    torch.testing.assert_close(got, fast.out_proj(by_hand))


def test_linear_attention_module_cross_attention():
    ours, _ = _copied(LinearAttention)
    x, ctx = _x(T=4), _x(T=7, seed=2)
    out, _ = ours(x, context=ctx)
    _, w = ours(x, context=ctx, need_weights=True)
    assert out.shape == (2, 4, C) and w.shape == (2, H, 4, 7)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, H, 4, dtype=torch.float64))


def test_linear_attention_dropout_drops_weights_in_training_only():
    torch.manual_seed(0)
    m = LinearAttention(C, H, dropout=0.5).double()
    x = _x(T=6)
    eval_out = m.eval()(x, causal=True)[0]
    train_out = m.train()(x, causal=True)[0]
    assert not torch.allclose(train_out, eval_out)
    torch.testing.assert_close(m.eval()(x, causal=True)[0], eval_out)


# ---- properties of both modules ----------------------------------------------------------------------

MODULES = [(SlidingWindowAttention, dict(window=3)), (LinearAttention, {})]


@pytest.mark.parametrize("cls, kwargs", MODULES)
@settings(max_examples=15, deadline=None)
@given(t=st.integers(0, 9), seed=st.integers(0, 2**16))
def test_causal_no_leak(cls, kwargs, t, seed):
    """Changing x[:, t+1:] leaves out[:, :t+1] unchanged."""
    ours, _ = _copied(cls, **kwargs)
    x = _x(T=10, seed=seed)
    y = x.clone()
    y[:, t + 1:] = torch.randn_like(y[:, t + 1:])
    torch.testing.assert_close(ours(x, causal=True)[0][:, : t + 1], ours(y, causal=True)[0][:, : t + 1])


@pytest.mark.parametrize("cls, kwargs", MODULES)
def test_a_cache_gives_the_full_forward_step_by_step(cls, kwargs):
    ours, _ = _copied(cls, **kwargs)
    x = _x(T=9)
    full, _ = ours(x, causal=True)
    cache = AttentionCache(2, H, 9, C // H, dtype=torch.float64)
    steps = [ours(x[:, :4], causal=True, cache=cache)[0]]  # a prompt of 4, then one token at a time
    steps += [ours(x[:, t: t + 1], causal=True, cache=cache)[0] for t in range(4, 9)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("cls, kwargs", MODULES)
def test_weights_copy_across_and_shapes(cls, kwargs):
    ours, ref = _copied(cls, bias=False, **kwargs)  # strict load_state_dict, no biases
    assert list(ours.state_dict()) == list(ref.state_dict())
    out, w = ours(_x(B=3, T=5), causal=True, need_weights=True)
    assert out.shape == (3, 5, C) and w.shape == (3, H, 5, 5)


def test_bad_input_names_the_argument():
    for window in (0, 2.0, None):
        with pytest.raises(ValueError, match="window"):
            SlidingWindowAttention(C, H, window=window)
    with pytest.raises(TypeError, match="window"):
        SlidingWindowAttention(C, H)  # window is required
    sw, _ = _copied(SlidingWindowAttention, window=2)
    lin, _ = _copied(LinearAttention)
    x = _x(T=5)
    with pytest.raises(ValueError, match="causal"):
        sw(x)
    with pytest.raises(ValueError, match="context"):
        sw(x, context=_x(T=3), causal=True)
    with pytest.raises(ValueError, match="mask"):
        lin(x, mask=causal_mask(5))
    with pytest.raises(ValueError, match="mask"):
        lin(x, mask=torch.ones(2, 5, dtype=torch.bool), causal=True)  # a (B, T) mask: refused by shape first
    with pytest.raises(ValueError, match="d_model"):
        LinearAttention(10, 4)


# ---- the course GPT with its attention swapped (the hook GPTConfig would use) --------------------------

def test_build_attention_makes_each_kind_and_names_bad_choices():
    assert type(build_attention("full", C, H)) is MultiHeadAttention
    sw = build_attention("window", C, H, dropout=0.1, bias=False, window=5)
    assert type(sw) is SlidingWindowAttention and sw.window == 5 and sw.dropout == 0.1 and sw.in_proj_bias is None
    assert type(build_attention("linear", C, H, fast=False)) is LinearAttention
    with pytest.raises(ValueError, match="attention='local'"):
        build_attention("local", C, H)
    with pytest.raises(ValueError, match="window"):
        build_attention("window", C, H)


def test_gpt_runs_with_either_attention_swapped_in_and_a_full_window_changes_nothing():
    from tinyformer.model import GPT, GPTConfig

    torch.manual_seed(0)
    config = GPTConfig(vocab_size=50, block_size=12, d_model=C, n_heads=H, n_layers=2, d_ff=32)
    model = GPT(config).double().eval()
    idx = torch.randint(0, 50, (2, 12))
    want = model(idx)
    for block in model.blocks:
        swapped = SlidingWindowAttention(C, H, window=config.block_size).double()
        swapped.load_state_dict(block.self_attn.state_dict())
        block.self_attn = swapped
    torch.testing.assert_close(model(idx), want, atol=1e-6, rtol=1e-6)
    for block in model.blocks:
        swapped = LinearAttention(C, H).double()
        swapped.load_state_dict(block.self_attn.state_dict())
        block.self_attn = swapped
    logits = model(idx)
    assert logits.shape == (2, 12, 50) and torch.isfinite(logits).all()
