"""Notebook 06's exercise checks reject the stub, plausible mistakes and F.layer_norm, and accept the solutions."""

import pytest
import torch
import torch.nn.functional as F
from torch.nn.functional import layer_norm as aliased_layer_norm

from tinyformer.exercises import check_feed_forward, check_layer_norm, check_pre_norm_block
from tinyformer.exercises.core import reset_hints
from tinyformer.exercises.solutions.blocks import feed_forward, layer_norm, pre_norm_block
from tinyformer.layers import EncoderLayer, LayerNorm


@pytest.fixture(autouse=True)
def fresh_hints():
    reset_hints()


def stub(*args, **kwargs):
    raise NotImplementedError


def layer_norm_unbiased(x, weight, bias, eps=1e-5):  # divides by C - 1
    return (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + eps) * weight + bias


def layer_norm_wrong_dim(x, weight, bias, eps=1e-5):  # normalises over the batch instead of features
    mean = x.mean(0, keepdim=True)
    var = x.var(0, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def feed_forward_relu_last(x, W1, b1, W2, b2):
    return F.relu((x @ W1.T + b1) @ W2.T + b2)


def post_norm_block(x, attn, ffn, norm1, norm2):
    x = norm1(x + attn(x))
    return norm2(x + ffn(x))


def no_residual_block(x, attn, ffn, norm1, norm2):
    x = attn(norm1(x))
    return ffn(norm2(x))


def test_layer_norm_check(verdict):
    assert not verdict(check_layer_norm, stub)
    assert not verdict(check_layer_norm, layer_norm_unbiased)
    assert not verdict(check_layer_norm, layer_norm_wrong_dim)
    assert verdict(check_layer_norm, layer_norm)


def test_feed_forward_check(verdict):
    assert not verdict(check_feed_forward, stub)
    assert not verdict(check_feed_forward, feed_forward_relu_last)
    assert verdict(check_feed_forward, feed_forward)


def test_pre_norm_block_check(verdict):
    assert not verdict(check_pre_norm_block, stub)
    assert not verdict(check_pre_norm_block, post_norm_block)
    assert not verdict(check_pre_norm_block, no_residual_block)
    assert verdict(check_pre_norm_block, pre_norm_block)


def functional(x, weight, bias, eps=1e-5):
    return F.layer_norm(x, x.shape[-1:], weight, bias, eps)


def aliased(x, weight, bias, eps=1e-5):
    return aliased_layer_norm(x, x.shape[-1:], weight, bias, eps)


def torch_module(x, weight, bias, eps=1e-5):
    norm = torch.nn.LayerNorm(x.shape[-1], eps=eps).double()
    norm.weight.data, norm.bias.data = weight, bias
    return norm(x)


def library_module(x, weight, bias, eps=1e-5):
    norm = LayerNorm(x.shape[-1]).double()
    norm.weight.data, norm.bias.data = weight, bias
    return norm(x)


def hidden(x, weight, bias, eps=1e-5):  # the name is built at run time: the guarded input refuses it
    return getattr(F, "layer" + "_norm")(x, x.shape[-1:], weight, bias, eps)


@pytest.mark.parametrize("shortcut", [functional, aliased, torch_module, library_module, hidden])
def test_layer_norm_rejects_f_layer_norm(capsys, shortcut):
    assert check_layer_norm(shortcut) is False
    out = capsys.readouterr().out
    assert "your code use" in out and ("without F.layer_norm" in out or "tinyformer.layers" in out)


def test_pre_norm_block_rejects_the_library(capsys):
    def via_library(x, attn, ffn, norm1, norm2):
        layer = EncoderLayer(x.shape[-1], 2, 2 * x.shape[-1], norm_first=True)
        return layer(x)

    assert check_pre_norm_block(via_library) is False
    assert "`EncoderLayer` from tinyformer.layers" in capsys.readouterr().out
