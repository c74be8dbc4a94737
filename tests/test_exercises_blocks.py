"""Notebook 06's exercise checks reject the stub and plausible mistakes, and accept a correct answer."""

import torch
import torch.nn.functional as F

from tinyformer.exercises import check_feed_forward, check_layer_norm, check_pre_norm_block


def stub(*args, **kwargs):
    raise NotImplementedError


def layer_norm(x, weight, bias, eps=1e-5):
    mean = x.mean(-1, keepdim=True)
    var = x.var(-1, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def layer_norm_unbiased(x, weight, bias, eps=1e-5):  # divides by C - 1
    return (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + eps) * weight + bias


def layer_norm_wrong_dim(x, weight, bias, eps=1e-5):  # normalises over the batch instead of features
    mean = x.mean(0, keepdim=True)
    var = x.var(0, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def feed_forward(x, W1, b1, W2, b2):
    return F.relu(x @ W1.T + b1) @ W2.T + b2


def feed_forward_relu_last(x, W1, b1, W2, b2):
    return F.relu((x @ W1.T + b1) @ W2.T + b2)


def pre_norm_block(x, attn, ffn, norm1, norm2):
    x = x + attn(norm1(x))
    return x + ffn(norm2(x))


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
