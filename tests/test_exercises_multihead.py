"""Notebook 05's exercise checks reject the stub and plausible mistakes, and accept a correct answer."""

import math

import torch
import torch.nn.functional as F

from tinyformer.exercises import check_merge_heads, check_multi_head_attention, check_split_heads


def stub(*args):
    raise NotImplementedError


def split_heads(x, n_heads):
    B, T, C = x.shape
    return x.view(B, T, n_heads, C // n_heads).transpose(1, 2)


def split_heads_no_transpose(x, n_heads):  # right shape, tokens mixed into heads
    B, T, C = x.shape
    return x.view(B, n_heads, T, C // n_heads)


def merge_heads(x):
    B, H, T, D = x.shape
    return x.transpose(1, 2).reshape(B, T, H * D)


def merge_heads_no_transpose(x):
    B, H, T, D = x.shape
    return x.reshape(B, T, H * D)


def mha(x, w_in, b_in, w_out, b_out, n_heads):
    q, k, v = (split_heads(t, n_heads) for t in F.linear(x, w_in, b_in).chunk(3, dim=-1))
    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return F.linear(merge_heads(w @ v), w_out, b_out)


def mha_unscaled(x, w_in, b_in, w_out, b_out, n_heads):
    q, k, v = (split_heads(t, n_heads) for t in F.linear(x, w_in, b_in).chunk(3, dim=-1))
    w = torch.softmax(q @ k.transpose(-2, -1), dim=-1)
    return F.linear(merge_heads(w @ v), w_out, b_out)


def mha_one_head(x, w_in, b_in, w_out, b_out, n_heads):  # ignores n_heads: single-head attention
    return mha(x, w_in, b_in, w_out, b_out, 1)


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
    assert verdict(check_multi_head_attention, mha)
