"""Tests of tinyformer.layers: LayerNorm and the layers against PyTorch's, pre/post-norm, causality, errors."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from tinyformer.layers import DecoderLayer, EncoderLayer, FeedForward, LayerNorm
from tinyformer.masks import padding_mask


def torch_to_ours(state_dict):
    """nn.Transformer*Layer names -> ours: linear1/2 live in `ffn`, multihead_attn is `cross_attn`."""
    out = {}
    for k, v in state_dict.items():
        k = k.replace("multihead_attn.", "cross_attn.")
        if k.startswith(("linear1.", "linear2.")):
            k = "ffn." + k
        out[k] = v
    return out


@pytest.mark.parametrize("fast", [True, False])
def test_layernorm_matches_torch(fast):
    torch.manual_seed(0)
    ref = nn.LayerNorm(12).double()
    nn.init.normal_(ref.weight)
    nn.init.normal_(ref.bias)
    ours = LayerNorm(12, fast=fast).double()
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(3, 5, 12, dtype=torch.float64) * 4 + 2
    torch.testing.assert_close(ours(x), ref(x))
    x.requires_grad_(True)
    g_ours, = torch.autograd.grad(ours(x).pow(2).sum(), x)
    g_ref, = torch.autograd.grad(ref(x).pow(2).sum(), x)
    torch.testing.assert_close(g_ours, g_ref)


def test_layernorm_worked_example():
    """[1, 2, 3]: mean 2, variance (1 + 0 + 1) / 3 = 2/3, so the output is [-1, 0, 1] / sqrt(2/3 + eps)."""
    x = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)
    want = torch.tensor([[-1.0, 0.0, 1.0]], dtype=torch.float64) / math.sqrt(2 / 3 + 1e-5)
    for fast in (True, False):
        torch.testing.assert_close(LayerNorm(3, fast=fast).double()(x), want)


@settings(max_examples=25, deadline=None)
@given(shift=st.floats(-100, 100), scale=st.floats(0.1, 100), seed=st.integers(0, 1000))
def test_layernorm_ignores_shift_and_scale_of_the_input(shift, scale, seed):
    torch.manual_seed(seed)
    ln = LayerNorm(8, eps=0.0, fast=False).double()
    x = torch.randn(4, 8, dtype=torch.float64)
    torch.testing.assert_close(ln(x * scale + shift), ln(x), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("activation,act", [("relu", torch.relu), ("gelu", nn.functional.gelu)])
def test_feedforward_is_two_linears_with_activation(activation, act):
    torch.manual_seed(0)
    ffn = FeedForward(6, 24, activation=activation).double()
    x = torch.randn(2, 3, 6, dtype=torch.float64)
    want = act(x @ ffn.linear1.weight.T + ffn.linear1.bias) @ ffn.linear2.weight.T + ffn.linear2.bias
    torch.testing.assert_close(ffn(x), want)
    # per token: token 0's output does not depend on token 1
    x2 = x.clone()
    x2[:, 1] += 1
    torch.testing.assert_close(ffn(x2)[:, 0], ffn(x)[:, 0])


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_matches_torch(norm_first, activation):
    torch.manual_seed(0)
    ref = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, activation=activation, batch_first=True,
                                     norm_first=norm_first).double()
    ours = EncoderLayer(16, 4, 32, dropout=0.0, activation=activation, norm_first=norm_first).double()
    ours.load_state_dict(torch_to_ours(ref.state_dict()))
    x = torch.randn(2, 6, 16, dtype=torch.float64)
    ids = torch.tensor([[1, 2, 3, 4, 0, 0], [1, 2, 3, 4, 5, 6]])
    want = ref(x, src_key_padding_mask=(ids == 0))
    got = ours(x, mask=padding_mask(ids, 0))
    torch.testing.assert_close(got[0, :4], want[0, :4])  # PyTorch may zero padded rows; compare real tokens
    torch.testing.assert_close(got[1], want[1])


@pytest.mark.parametrize("norm_first", [True, False])
def test_decoder_layer_matches_torch(norm_first):
    torch.manual_seed(0)
    ref = nn.TransformerDecoderLayer(16, 4, 32, dropout=0.0, batch_first=True, norm_first=norm_first).double()
    ours = DecoderLayer(16, 4, 32, dropout=0.0, norm_first=norm_first).double()
    ours.load_state_dict(torch_to_ours(ref.state_dict()))
    x, mem = torch.randn(2, 5, 16, dtype=torch.float64), torch.randn(2, 7, 16, dtype=torch.float64)
    ids = torch.tensor([[1, 2, 3, 0, 0, 0, 0], [1, 2, 3, 4, 5, 6, 7]])
    causal = nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    want = ref(x, mem, tgt_mask=causal, memory_key_padding_mask=(ids == 0))
    torch.testing.assert_close(ours(x, mem, memory_mask=padding_mask(ids, 0)), want)


@pytest.mark.parametrize("train", [True, False])
def test_decoder_layer_is_causal_in_train_and_eval(train):
    torch.manual_seed(0)
    layer = DecoderLayer(16, 4, 32, dropout=0.0).double().train(train)
    x, mem = torch.randn(2, 6, 16, dtype=torch.float64), torch.randn(2, 4, 16, dtype=torch.float64)
    x2 = x.clone()
    x2[:, 3:] = torch.randn(2, 3, 16, dtype=torch.float64)
    torch.testing.assert_close(layer(x, mem)[:, :3], layer(x2, mem)[:, :3])
    assert not torch.allclose(layer(x, mem)[:, 3:], layer(x2, mem)[:, 3:])


def test_encoder_layer_causal_flag_and_stored_weights():
    torch.manual_seed(0)
    layer = EncoderLayer(8, 2, 16, dropout=0.0).eval()
    x = torch.randn(1, 5, 8)
    x2 = x.clone()
    x2[:, 4] = torch.randn(1, 8)  # (a constant shift would be undone by the LayerNorm)
    torch.testing.assert_close(layer(x, causal=True)[:, :4], layer(x2, causal=True)[:, :4])
    assert not torch.allclose(layer(x)[:, :4], layer(x2)[:, :4])  # without causal, everything mixes
    layer(x, causal=True, need_weights=True)
    w = layer.last_attention
    assert w.shape == (1, 2, 5, 5)
    torch.testing.assert_close(w.sum(-1), torch.ones(1, 2, 5))
    assert w.triu(1).abs().max() == 0


def test_decoder_layer_stores_self_and_cross_weights():
    torch.manual_seed(0)
    layer = DecoderLayer(8, 2, 16, dropout=0.0)
    layer(torch.randn(2, 3, 8), torch.randn(2, 4, 8), need_weights=True)
    assert layer.last_self_attention.shape == (2, 2, 3, 3)
    assert layer.last_cross_attention.shape == (2, 2, 3, 4)


def test_bad_arguments():
    with pytest.raises(ValueError, match="activation='tanh'"):
        FeedForward(8, 16, activation="tanh")
    with pytest.raises(ValueError, match="d_ff"):
        FeedForward(8, 0)
    with pytest.raises(ValueError, match="d_model=10 is not divisible by n_heads=4"):
        EncoderLayer(10, 4, 16)
    with pytest.raises(ValueError, match="dropout"):
        DecoderLayer(8, 2, 16, dropout=-0.1)
    with pytest.raises(ValueError, match="d_model=8"):
        LayerNorm(8)(torch.randn(2, 7))


# ---- notebook 06's drawings and residual-stack widget (pure functions, then the widget reacting to its controls)


def test_layer_gradient_norms_residual_vs_plain(one_thread):
    from tinyformer.viz import layer_gradient_norms

    plain = layer_gradient_norms(12, residual=False)
    res = layer_gradient_norms(12, residual=True)
    assert len(plain) == len(res) == 12
    assert plain[0] < 1e-4 * plain[-1]  # vanishes towards the input
    assert 0.2 < res[0] / res[-1] < 5  # stays the same order of magnitude
    assert layer_gradient_norms(12, residual=True) == res  # deterministic, and leaves the global RNG alone
    state = torch.get_rng_state()
    layer_gradient_norms(3, residual=True, norm=True)
    assert torch.equal(state, torch.get_rng_state())
    with pytest.raises(ValueError, match="depth=0"):
        layer_gradient_norms(0, residual=True)


def test_layer_gradient_norms_he_init_does_not_vanish(one_thread):
    """Notebook 06's control: the plain stack's 1e-17 at layer 1 comes from PyTorch's default init.

    Default nn.Linear init shrinks a block's mean square about 17x, so 24 plain blocks shrink the gradient
    reaching layer 1 by ~18^23; He init keeps the scale and layer 1 gets a gradient of order 0.1-1.
    """
    from tinyformer.viz import layer_gradient_norms

    default = layer_gradient_norms(24, residual=False)
    he = layer_gradient_norms(24, residual=False, init="he")
    assert default[0] < 1e-10
    assert he[0] > 1e-3 and 0.01 < he[0] / he[-1] < 100  # same order of magnitude at both ends
    assert layer_gradient_norms(24, residual=False, init="default") == default  # "default" is today's behaviour
    state = torch.get_rng_state()
    assert layer_gradient_norms(24, residual=False, init="he") == he  # deterministic, global RNG untouched
    assert torch.equal(state, torch.get_rng_state())
    with pytest.raises(ValueError, match="init='xavier'"):
        layer_gradient_norms(4, residual=False, init="xavier")


def test_he_init_preserves_the_mean_square():
    """He init: one ReLU FeedForward keeps the input's mean square (default init shrinks it about 17x)."""
    from tinyformer.viz import he_init_

    torch.manual_seed(0)
    x = torch.randn(4096, 64, dtype=torch.float64)
    ratios = {}
    for init in ("default", "he"):
        blocks = [FeedForward(64, 256).double() for _ in range(8)]
        if init == "he":
            blocks = [he_init_(b) for b in blocks]
        with torch.no_grad():
            ratios[init] = sum(b(x).pow(2).mean().item() for b in blocks) / len(blocks) / x.pow(2).mean().item()
    assert 0.8 < ratios["he"] < 1.25
    assert 1 / 25 < ratios["default"] < 1 / 12  # about 1/17 (1/18 from the weights, a bit more from the biases)
    block = he_init_(FeedForward(64, 256))
    assert block.linear1.bias.abs().sum() == 0 and block.linear2.bias.abs().sum() == 0
    assert abs(block.linear1.weight.std().item() - (2 / 64) ** 0.5) < 0.01
    assert abs(block.linear2.weight.std().item() - (1 / 256) ** 0.5) < 0.005
    scaled = he_init_(FeedForward(64, 256), out_scale=0.1)
    assert abs(scaled.linear2.weight.std().item() - 0.1 * (1 / 256) ** 0.5) < 0.0005
    with pytest.raises(ValueError, match="out_scale"):
        he_init_(FeedForward(8, 16), out_scale=0.0)
    with pytest.raises(TypeError, match="FeedForward"):
        he_init_(nn.Linear(8, 8))


def test_block_plots_and_residual_widget(one_thread):
    import matplotlib.pyplot as plt

    from tinyformer.model import GPT, GPTConfig, count_parameters
    from tinyformer.viz import plot_gradient_norms, plot_loss_curves, plot_parameter_breakdown
    from tinyformer.widgets import residual_stack_explorer, residual_summary

    ax = plot_gradient_norms({"a": [1.0, 0.0, 0.1]})
    assert len(ax.lines) == 1
    ax = plot_loss_curves({"a": [2.0, 1.0], "b": [2.0, 1.5]})
    assert len(ax.lines) == 2
    fig = plot_parameter_breakdown({"gpt": count_parameters(GPT(GPTConfig(50, d_model=16, n_heads=2, n_layers=1, d_ff=32)))})
    assert len(fig.axes[0].patches) == 5  # one bar segment per kind
    plt.close("all")
    assert residual_summary(8, True).startswith("residual, 8 layers")
    widget = residual_stack_explorer(depth=8, residual=True)
    (depth, residual, norm, init), info, image = widget.children[0].children, widget.children[1], widget.children[2]
    before_image = image.value
    residual.value = False
    assert "plain, 8 layers" in info.value and image.value != before_image
    depth.value = 16
    assert "16 layers" in info.value
    norm.value = True
    assert "pre-norm" in info.value
    before_image = image.value
    init.value = "he"
    assert "He init" in info.value and image.value != before_image
    assert residual_summary(8, False, init="he").startswith("plain, He init, 8 layers")
