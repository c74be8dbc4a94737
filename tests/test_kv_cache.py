"""Tests of the key/value cache: logits with a cache == logits without, for GPT and the Transformer decoder."""

import pytest
import torch

from tinyformer.attention import AttentionCache, KVCache, MultiHeadAttention
from tinyformer.masks import padding_mask
from tinyformer.model import GPT, GPTConfig, Transformer, TransformerConfig


def _gpt(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = dict(vocab_size=23, block_size=32, d_model=16, n_heads=4, n_layers=3, d_ff=32, dropout=0.0)
    return GPT(GPTConfig(**{**cfg, **kw})).double().eval()


def _transformer(seed=0, norm_first=True):
    torch.manual_seed(seed)
    cfg = TransformerConfig(19, 21, d_model=16, n_heads=4, n_encoder_layers=2, n_decoder_layers=2, d_ff=32,
                            dropout=0.0, max_len=24, norm_first=norm_first)
    return Transformer(cfg).double().eval()


@pytest.mark.parametrize("chunks", [[5, 1, 1, 1, 1], [1] * 8, [3, 2, 4, 1], [12]])
def test_gpt_logits_with_cache_equal_without(chunks):
    model = _gpt()
    idx = torch.randint(0, 23, (2, sum(chunks)))
    want = model(idx)  # (B, T, V) in one pass, no cache
    cache = model.new_cache(batch_size=2)
    got, pos = [], 0
    with torch.no_grad():
        for n in chunks:
            got.append(model(idx[:, pos:pos + n], cache=cache))
            pos += n
            assert cache.length == pos
    torch.testing.assert_close(torch.cat(got, dim=1), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("norm_first", [True, False])
def test_transformer_decoder_logits_with_cache_equal_without(norm_first):
    model = _transformer(norm_first=norm_first)
    src = torch.tensor([[4, 5, 6, 7, 0, 0], [3, 4, 5, 6, 7, 8]])
    tgt = torch.randint(1, 21, (2, 9))
    src_mask = padding_mask(src, 0)
    memory = model.encode(src)
    want = model.decode(tgt, memory, src_mask)
    cache = model.new_cache(batch_size=2)
    with torch.no_grad():
        got = [model.decode(tgt[:, :3], memory, src_mask, cache=cache)]
        for t in range(3, 9):
            got.append(model.decode(tgt[:, t:t + 1], memory, src_mask, cache=cache))
    torch.testing.assert_close(torch.cat(got, dim=1), want, atol=1e-5, rtol=1e-5)


def test_cross_attention_keys_computed_once():
    model = _transformer()
    src = torch.randint(1, 19, (1, 5))
    memory = model.encode(src)
    cache = model.new_cache(1)
    model.decode(torch.tensor([[1]]), memory, cache=cache)
    k0 = cache.layers[0].cross_attn.k
    assert k0.shape == (1, 4, 5, 4)
    model.decode(torch.tensor([[2]]), memory, cache=cache)
    assert cache.layers[0].cross_attn.k is k0  # reused, not recomputed


def _greedy(model, idx, steps, use_cache):
    cache = model.new_cache(idx.shape[0]) if use_cache else None
    feed = idx
    out = idx
    for _ in range(steps):
        logits = model(feed, cache=cache) if use_cache else model(out)
        nxt = logits[:, -1].argmax(-1, keepdim=True)
        out = torch.cat([out, nxt], dim=1)
        feed = nxt
    return out


def test_greedy_tokens_identical_with_and_without_cache_float32(one_thread):
    torch.manual_seed(1)
    model = GPT(GPTConfig(vocab_size=50, block_size=64, d_model=32, n_heads=4, n_layers=2, d_ff=64)).eval()
    prompt = torch.randint(0, 50, (3, 6))
    with torch.no_grad():
        assert torch.equal(_greedy(model, prompt, 40, True), _greedy(model, prompt, 40, False))


def test_cache_preallocates_and_writes_in_place():
    model = _gpt()
    cache = model.new_cache(batch_size=1, max_len=10)
    buf = cache.layers[0].self_attn.k
    assert buf.shape == (1, 4, 10, 4) and buf.dtype == torch.float64
    with torch.no_grad():
        model(torch.tensor([[1, 2, 3]]), cache=cache)
        model(torch.tensor([[4]]), cache=cache)
    assert cache.layers[0].self_attn.k is buf and cache.length == 4
    assert buf[:, :, :4].abs().sum() > 0 and buf[:, :, 4:].abs().sum() == 0


def test_cache_overflow_and_batch_errors():
    model = _gpt()
    cache = model.new_cache(batch_size=1, max_len=4)
    with torch.no_grad():
        model(torch.tensor([[1, 2, 3]]), cache=cache)
        with pytest.raises(ValueError, match="max_len=4"):
            model(torch.tensor([[4, 5]]), cache=cache)
    full = model.new_cache(1)
    with torch.no_grad():
        model(torch.zeros(1, 30, dtype=torch.long), cache=full)
        with pytest.raises(ValueError, match=r"idx has length 3 after 30 cached positions.*max_len=32"):
            model(torch.zeros(1, 3, dtype=torch.long), cache=full)
    with pytest.raises(ValueError, match="batch_size=2"):
        AttentionCache(2, 4, 8, 4).append(torch.zeros(3, 4, 1, 4), torch.zeros(3, 4, 1, 4))
    with pytest.raises(ValueError, match="max_len=0"):
        KVCache(2, 1, 4, 4, max_len=0)


def test_reorder_follows_beams():
    model = _gpt()
    idx = torch.randint(0, 23, (3, 5))
    cache = model.new_cache(3)
    with torch.no_grad():
        model(idx, cache=cache)
        cache.reorder(torch.tensor([2, 2, 0]))
        got = model(torch.tensor([[7], [8], [9]]), cache=cache)
        want = model(torch.cat([idx[[2, 2, 0]], torch.tensor([[7], [8], [9]])], dim=1))[:, -1:]
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_mha_readable_path_with_cache_matches_fast():
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2).double().eval()
    x = torch.randn(1, 6, 8, dtype=torch.float64)
    for fast in (True, False):
        mha.fast = fast
        c = AttentionCache(1, 2, 6, 4, dtype=torch.float64)
        a, _ = mha(x[:, :4], causal=True, cache=c)
        b, _ = mha(x[:, 4:], causal=True, cache=c)
        torch.testing.assert_close(torch.cat([a, b], 1), mha(x, causal=True)[0])
