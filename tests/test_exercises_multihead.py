"""Notebook 05's checks reject the stub, plausible mistakes and a ready-made layer, and accept the solutions."""

import math

import pytest
import torch
import torch.nn.functional as F

from tinyformer.attention import MultiHeadAttention, scaled_dot_product_attention
from tinyformer.exercises import check_merge_heads, check_multi_head_attention, check_split_heads
from tinyformer.exercises.core import reset_hints
from tinyformer.exercises.solutions.multihead import merge_heads, multi_head_attention, split_heads


@pytest.fixture(autouse=True)
def fresh_hints():
    reset_hints()


def stub(*args):
    raise NotImplementedError


def split_heads_no_transpose(x, n_heads):  # right shape, tokens mixed into heads
    B, T, C = x.shape
    return x.view(B, n_heads, T, C // n_heads)


def merge_heads_no_transpose(x):
    B, H, T, D = x.shape
    return x.reshape(B, T, H * D)


def mha_unscaled(x, w_in, b_in, w_out, b_out, n_heads):
    q, k, v = (split_heads(t, n_heads) for t in F.linear(x, w_in, b_in).chunk(3, dim=-1))
    w = torch.softmax(q @ k.transpose(-2, -1), dim=-1)
    return F.linear(merge_heads(w @ v), w_out, b_out)


def mha_one_head(x, w_in, b_in, w_out, b_out, n_heads):  # ignores n_heads: single-head attention
    return multi_head_attention(x, w_in, b_in, w_out, b_out, 1)


def test_split_heads_check(verdict):
    assert not verdict(check_split_heads, stub)
    assert not verdict(check_split_heads, split_heads_no_transpose)
    assert verdict(check_split_heads, split_heads)


def test_merge_heads_check(verdict):
    assert not verdict(check_merge_heads, stub)
    assert not verdict(check_merge_heads, merge_heads_no_transpose)
    assert verdict(check_merge_heads, merge_heads)


def test_multi_head_attention_check(verdict):
    assert not verdict(check_multi_head_attention, stub)
    assert not verdict(check_multi_head_attention, mha_unscaled)
    assert not verdict(check_multi_head_attention, mha_one_head)
    assert verdict(check_multi_head_attention, multi_head_attention)


def mha_library_attention(x, w_in, b_in, w_out, b_out, n_heads):  # the attention of notebook 03, from the library
    q, k, v = (split_heads(t, n_heads) for t in F.linear(x, w_in, b_in).chunk(3, dim=-1))
    out, _ = scaled_dot_product_attention(q, k, v)
    return F.linear(merge_heads(out), w_out, b_out)


def mha_library_layer(x, w_in, b_in, w_out, b_out, n_heads):
    layer = MultiHeadAttention(x.shape[-1], n_heads).double()
    layer.in_proj_weight.data, layer.in_proj_bias.data = w_in, b_in
    layer.out_proj.weight.data, layer.out_proj.bias.data = w_out, b_out
    return layer(x)[0]


def mha_torch_layer(x, w_in, b_in, w_out, b_out, n_heads):
    layer = torch.nn.MultiheadAttention(x.shape[-1], n_heads, batch_first=True).double()
    return layer(x, x, x)[0]


def test_multi_head_attention_may_use_the_library_attention_but_not_a_whole_layer(capsys):
    assert check_multi_head_attention(mha_library_attention) is True
    capsys.readouterr()
    assert check_multi_head_attention(mha_library_layer) is False
    assert "`MultiHeadAttention`" in capsys.readouterr().out
    assert check_multi_head_attention(mha_torch_layer) is False
    assert "`.MultiheadAttention`: the exercise builds the layer from its raw weights" in capsys.readouterr().out
