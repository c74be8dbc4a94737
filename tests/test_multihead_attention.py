"""Tests of tinyformer.attention.MultiHeadAttention: against nn.MultiheadAttention, fast == readable, masks, errors."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from tinyformer.attention import MultiHeadAttention, scaled_dot_product_attention
from tinyformer.masks import causal_mask, padding_mask


def _pair(d_model=16, n_heads=4, bias=True, seed=0):
    torch.manual_seed(seed)
    ref = nn.MultiheadAttention(d_model, n_heads, bias=bias, batch_first=True).double()
    ours = MultiHeadAttention(d_model, n_heads, bias=bias).double()
    ours.load_state_dict(ref.state_dict())  # same parameter names and layout
    return ours, ref


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_self_attention_matches_torch_output_and_averaged_weights(fast, bias):
    ours, ref = _pair(bias=bias)
    ours.fast = fast
    x = torch.randn(3, 7, 16, dtype=torch.float64)
    want, want_w = ref(x, x, x, need_weights=True, average_attn_weights=True)
    got, w = ours(x, need_weights=True)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(w.mean(dim=1), want_w, atol=1e-5, rtol=1e-5)
    got_no_w, none = ours(x)
    assert none is None
    torch.testing.assert_close(got_no_w, want, atol=1e-5, rtol=1e-5)


def test_cross_attention_with_padding_matches_torch():
    ours, ref = _pair()
    x = torch.randn(2, 4, 16, dtype=torch.float64)
    ctx = torch.randn(2, 6, 16, dtype=torch.float64)
    ids = torch.tensor([[5, 6, 7, 8, 0, 0], [1, 2, 3, 4, 5, 6]])
    want, want_w = ref(x, ctx, ctx, key_padding_mask=(ids == 0), need_weights=True)  # torch: True = ignore
    for fast in (True, False):
        ours.fast = fast
        got, _ = ours(x, context=ctx, mask=padding_mask(ids, 0))
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    _, w = ours(x, context=ctx, mask=padding_mask(ids, 0), need_weights=True)
    torch.testing.assert_close(w.mean(1), want_w, atol=1e-5, rtol=1e-5)
    assert w[0, :, :, 4:].abs().max() == 0  # padded keys get no weight


def test_causal_flag_matches_torch_with_causal_mask():
    ours, ref = _pair()
    x = torch.randn(2, 5, 16, dtype=torch.float64)
    want, _ = ref(x, x, x, attn_mask=~causal_mask(5))  # torch: True = may NOT attend
    for fast in (True, False):
        ours.fast = fast
        got, _ = ours(x, causal=True)
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
        got_mask, _ = ours(x, mask=causal_mask(5))
        torch.testing.assert_close(got_mask, want, atol=1e-5, rtol=1e-5)


@settings(max_examples=20, deadline=None)
@given(B=st.integers(1, 3), T=st.integers(1, 6), S=st.integers(1, 6), H=st.sampled_from([1, 2, 4]), seed=st.integers(0, 1000))
def test_fast_and_readable_paths_agree(B, T, S, H, seed):
    torch.manual_seed(seed)
    mha = MultiHeadAttention(8, H).double()
    x, ctx = torch.randn(B, T, 8, dtype=torch.float64), torch.randn(B, S, 8, dtype=torch.float64)
    mask = torch.rand(B, 1, T, S) > 0.3
    mha.fast = True
    fast, _ = mha(x, context=ctx, mask=mask)
    mha.fast = False
    slow, _ = mha(x, context=ctx, mask=mask)
    torch.testing.assert_close(fast, slow)


def test_heads_by_hand_with_a_loop():
    """Head h uses rows h*D..(h+1)*D of W_Q, W_K, W_V; the heads are concatenated, then W_O."""
    torch.manual_seed(1)
    mha = MultiHeadAttention(6, 3).double()
    x = torch.randn(2, 4, 6, dtype=torch.float64)
    Wq, Wk, Wv = mha.in_proj_weight.chunk(3)
    bq, bk, bv = mha.in_proj_bias.chunk(3)
    heads = []
    for h in range(3):
        rows = slice(2 * h, 2 * h + 2)
        q, k, v = x @ Wq[rows].T + bq[rows], x @ Wk[rows].T + bk[rows], x @ Wv[rows].T + bv[rows]
        heads.append(scaled_dot_product_attention(q, k, v)[0])
    want = mha.out_proj(torch.cat(heads, dim=-1))
    torch.testing.assert_close(mha(x)[0], want)


def test_dropout_only_in_training():
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4, dropout=0.5)
    x = torch.randn(2, 5, 16)
    mha.eval()
    torch.testing.assert_close(mha(x)[0], mha(x)[0])
    mha.train()
    assert not torch.allclose(mha(x)[0], mha(x)[0])


@pytest.mark.parametrize("causal", [False, True])
def test_training_with_dropout_on_cpu_gives_the_same_numbers_fast_or_readable(causal):
    """PyTorch's fused CPU kernel cannot drop weights; the fast path then runs our math and dropout."""
    mha = MultiHeadAttention(16, 4, dropout=0.3).train()
    x = torch.randn(3, 7, 16)
    out = {}
    for fast in (True, False):
        mha.fast = fast
        torch.manual_seed(5)
        out[fast] = mha(x, causal=causal)[0]
    torch.testing.assert_close(out[True], out[False], rtol=0, atol=0)
    torch.manual_seed(5)
    mha.eval()
    assert not torch.allclose(out[True], mha(x, causal=causal)[0])  # dropout did act


def test_gradients_flow_to_every_parameter():
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2)
    x, ctx = torch.randn(2, 3, 8), torch.randn(2, 5, 8)
    (mha(x)[0].sum() + mha(x, context=ctx)[0].sum()).backward()
    for name, p in mha.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_bad_input_errors_name_the_values():
    with pytest.raises(ValueError, match="d_model=10 is not divisible by n_heads=4"):
        MultiHeadAttention(10, 4)
    with pytest.raises(ValueError, match="n_heads"):
        MultiHeadAttention(8, 0)
    with pytest.raises(ValueError, match="dropout"):
        MultiHeadAttention(8, 2, dropout=1.5)
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"d_model=8.*\(2, 3, 6\)"):
        mha(torch.randn(2, 3, 6))
    with pytest.raises(ValueError, match=r"\(B, T, d_model=8\)"):
        mha(torch.randn(3, 8))
    with pytest.raises(ValueError, match="context"):
        mha(torch.randn(2, 3, 8), context=torch.randn(3, 5, 8))
    with pytest.raises(TypeError, match="mask"):
        mha(torch.randn(2, 3, 8), mask=torch.ones(3, 3))
    with pytest.raises(ValueError, match="causal=True applies to self-attention only"):
        mha(torch.randn(2, 3, 8), context=torch.randn(2, 5, 8), causal=True)


# ---- notebook 05's drawings and head-picker widget (pure functions, then the widget reacting to its control)


def _two_heads():
    """Head 0 looks one step back (query 0 at itself); head 1 looks at the first token."""
    w = torch.zeros(2, 4, 4)
    w[0, 0, 0] = 1.0
    w[0, 1:, :3] = torch.eye(3)
    w[1, :, 0] = 1.0
    return w


def test_head_offset_profile_and_description():
    from tinyformer.viz import describe_head, head_offset_profile

    prof = head_offset_profile(_two_heads())
    assert prof.shape == (2, 7)
    assert prof[0, 2].item() == 1.0  # offset -1: every query that has one puts weight 1 there
    assert prof[0, 3].item() == 0.25  # offset 0: only query 0 of 4
    assert describe_head(_two_heads(), 0) == "head 0: looks 1 step back (offset -1) with average weight 1.00"
    assert describe_head(_two_heads(), 1) == "head 1: looks at the first token with average weight 1.00"
    with pytest.raises(ValueError, match="head=2"):
        describe_head(_two_heads(), 2)
    with pytest.raises(ValueError, match=r"\(H, T, T\)"):
        head_offset_profile(torch.zeros(4, 4))


def test_plot_head_grid_and_picker_widget():
    import matplotlib.pyplot as plt

    from tinyformer.viz import plot_head_grid
    from tinyformer.widgets import head_picker, plot_head_with_profile

    fig = plot_head_grid(_two_heads(), list("abcd"))
    assert len([ax for ax in fig.axes if ax.has_data()]) == 2
    plt.close(fig)
    plt.close(plot_head_with_profile(_two_heads(), list("abcd"), 1))
    with pytest.raises(ValueError, match="4 tokens"):
        plot_head_grid(_two_heads(), list("abc"))
    widget = head_picker(_two_heads(), list("abcd"), head=0)
    pick, info, image = widget.children
    before_info, before_image = info.value, image.value
    assert "1 step back" in before_info
    pick.value = 1
    assert "first token" in info.value and image.value != before_image
