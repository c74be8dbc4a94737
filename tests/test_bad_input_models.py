"""A learner's misuses of the model-side API (attention, masks, layers, models, decoding, sampling).

Each case must raise ValueError/TypeError naming the argument and what was expected, before any
work: never PyTorch's raw RuntimeError from deep inside, never a silently wrong answer.
"""

from __future__ import annotations

import pytest
import torch

from tinyformer.attention import KVCache, MultiHeadAttention, scaled_dot_product_attention
from tinyformer.decoding import beam_search, beam_search_lm, greedy_decode
from tinyformer.layers import DecoderLayer, EncoderLayer, FeedForward, LayerNorm
from tinyformer.masks import causal_mask, check_attention_mask, combine_masks, padding_mask
from tinyformer.model import GPT, GPTConfig, Transformer, TransformerConfig
from tinyformer.sampling import generate, next_token_probs, top_p_filter


def gpt() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=11, block_size=8, d_model=16, n_heads=4, n_layers=1, d_ff=32)).eval()


def transformer() -> Transformer:
    torch.manual_seed(0)
    return Transformer(TransformerConfig(src_vocab_size=9, tgt_vocab_size=9, d_model=16, n_heads=4, n_encoder_layers=1,
                                         n_decoder_layers=1, d_ff=32, dropout=0.0, max_len=8)).eval()


def mha(fast: bool = True) -> MultiHeadAttention:
    torch.manual_seed(0)
    return MultiHeadAttention(16, 4, fast=fast).eval()


X = torch.randn(2, 5, 16)  # (B, T, C)
SRC = torch.tensor([[3, 4, 5, 0], [6, 7, 0, 0]])  # (B, S) with padding

CASES = {
    # attention: the case, a (B, T) padding mask, on both paths and at B == T
    "mha (B, T) padding mask, fast": (lambda: mha()(X, mask=torch.ones(2, 5, dtype=torch.bool)), ValueError, r"mask.*padding_mask"),
    "mha (B, T) padding mask, readable": (lambda: mha(False)(X, mask=torch.ones(2, 5, dtype=torch.bool)), ValueError, r"mask.*padding_mask"),
    "mha 3-D mask": (lambda: mha()(X, mask=torch.ones(2, 5, 5, dtype=torch.bool)), ValueError, r"mask of shape \(2, 5, 5\)"),
    "mha 1-D mask": (lambda: mha()(X, mask=torch.ones(5, dtype=torch.bool)), ValueError, "mask"),
    "mha 4-D mask of the wrong batch": (lambda: mha()(X, mask=torch.ones(3, 1, 1, 5, dtype=torch.bool)), ValueError, "mask"),
    "mha 4-D mask with the keys first": (lambda: mha()(X, mask=torch.ones(2, 5, 1, 1, dtype=torch.bool)), ValueError, "T_k = 5"),
    "mha float mask": (lambda: mha()(X, mask=torch.zeros(5, 5)), TypeError, "mask must be a boolean"),
    "mha x of wrong width": (lambda: mha()(torch.randn(2, 5, 8)), ValueError, "x must have shape"),
    "mha x a list": (lambda: mha()([[0.0] * 16]), ValueError, "x must have shape"),
    "mha context of another batch": (lambda: mha()(X, context=torch.randn(3, 4, 16)), ValueError, "context must have shape"),
    "mha causal cross-attention": (lambda: mha()(X, context=X, causal=True), ValueError, "causal=True"),
    "mha wrong cache kind": (lambda: mha()(X, cache=KVCache(1, 2, 4, 4, 8)), TypeError, "AttentionCache"),
    "mha cache full": (lambda: mha()(X, cache=KVCache(1, 2, 4, 4, 3).layers[0].self_attn), ValueError, "max_len=3"),
    "mha n_heads not dividing d_model": (lambda: MultiHeadAttention(10, 4), ValueError, "d_model=10 is not divisible"),
    "sdpa int q": (lambda: scaled_dot_product_attention(torch.ones(2, 3, dtype=torch.long), X[0], X[0]), TypeError, "q must be"),
    "kv cache zero batch": (lambda: KVCache(1, 0, 4, 4, 8), ValueError, "batch_size=0"),
    # masks
    "check_attention_mask 5-D": (lambda: check_attention_mask(torch.ones(1, 1, 1, 1, 5, dtype=torch.bool), 2, 4, 5, 5), ValueError, "mask"),
    "padding_mask float ids": (lambda: padding_mask(torch.zeros(2, 3), 0), TypeError, "ids must be an integer"),
    "combine_masks float": (lambda: combine_masks(causal_mask(3), torch.ones(3, 3)), TypeError, "boolean"),
    # layers
    "layer norm wrong width": (lambda: LayerNorm(16)(torch.randn(2, 8)), ValueError, "d_model=16"),
    "feed-forward wrong width": (lambda: FeedForward(16, 32)(torch.randn(2, 3, 8)), ValueError, "d_model=16"),
    "encoder layer (B, T) mask": (lambda: EncoderLayer(16, 4, 32).eval()(X, mask=torch.ones(2, 5, dtype=torch.bool)), ValueError, "mask"),
    "decoder layer memory of wrong width": (lambda: DecoderLayer(16, 4, 32).eval()(X, torch.randn(2, 3, 8)), ValueError, "context must have shape"),
    # models
    "gpt float ids": (lambda: gpt()(torch.zeros(1, 3)), TypeError, "idx must be an integer"),
    "gpt empty ids": (lambda: gpt()(torch.zeros(1, 0, dtype=torch.long)), ValueError, "idx.*at least one token"),
    "gpt ids outside the vocabulary": (lambda: gpt()(torch.tensor([[3, 11]])), ValueError, "vocabulary"),
    "gpt targets where the cache goes": (lambda: gpt()(torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long)),
                                         TypeError, "cache must be a KVCache"),
    "gpt return_attention a string": (lambda: gpt()(torch.zeros(1, 3, dtype=torch.long), return_attention="yes"),
                                      TypeError, "return_attention"),
    "gpt too long": (lambda: gpt()(torch.zeros(1, 9, dtype=torch.long)), ValueError, r"idx has length 9.*max_len=8"),
    "transformer (B, S) src_mask": (lambda: transformer()(SRC, SRC[:, :2], SRC != 0), ValueError, r"src_mask.*padding_mask"),
    "transformer float src_mask": (lambda: transformer().encode(SRC, padding_mask(SRC, 0).float()), TypeError, "src_mask must be a boolean"),
    "transformer decode (B, S) src_mask": (lambda: transformer().decode(SRC[:, :2], torch.randn(2, 4, 16), SRC != 0), ValueError, "src_mask"),
    "transformer empty src": (lambda: transformer().encode(torch.zeros(2, 0, dtype=torch.long)), ValueError, "src.*at least one token"),
    # decoding: max_len past the positional table is refused up front, naming max_len
    "greedy max_len past the table": (lambda: greedy_decode(transformer(), SRC, 9, 1, 2), ValueError, r"max_len=9.*config.max_len=8"),
    "beam max_len past the table": (lambda: beam_search(transformer(), SRC, 2, 20, 1, 2), ValueError, r"max_len=20.*config.max_len=8"),
    "greedy max_len a bool": (lambda: greedy_decode(transformer(), SRC, True, 1, 2), ValueError, "max_len=True"),
    "greedy float src": (lambda: greedy_decode(transformer(), SRC.float(), 3, 1, 2), ValueError, "src must be"),
    "greedy (B, S) src_mask": (lambda: greedy_decode(transformer(), SRC, 3, 1, 2, src_mask=SRC != 0), ValueError, "src_mask"),
    "beam size zero": (lambda: beam_search(transformer(), SRC, 0, 3, 1, 2), ValueError, "beam_size=0"),
    "beam negative length penalty": (lambda: beam_search(transformer(), SRC, 2, 3, 1, 2, length_penalty=-1.0), ValueError, "length_penalty"),
    "beam lm zero new tokens": (lambda: beam_search_lm(gpt(), [1, 2], 2, 0), ValueError, "max_new_tokens=0"),
    # sampling
    "generate empty prompt": (lambda: generate(gpt(), [], 3), ValueError, "prompt_ids is empty"),
    "generate float prompt": (lambda: generate(gpt(), torch.zeros(1, 3), 3), TypeError, "prompt_ids"),
    "generate prompt outside the vocabulary": (lambda: generate(gpt(), [1, 99], 3), ValueError, "prompt_ids contain 99"),
    "generate negative max_new_tokens": (lambda: generate(gpt(), [1], -1), ValueError, "max_new_tokens=-1"),
    "generate not a model": (lambda: generate("gpt", [1], 3), TypeError, "model must be"),
    "generate src of another batch": (lambda: generate(transformer(), [1], 3, src=SRC[:1].repeat(3, 1)), ValueError, "src must have shape"),
    "generate (B, S) src_mask": (lambda: generate(transformer(), torch.ones(2, 1, dtype=torch.long), 3, src=SRC, src_mask=SRC != 0),
                                 ValueError, "src_mask"),
    "top_p a string": (lambda: top_p_filter(torch.zeros(3), "0.9"), TypeError, "top_p"),
    "next_token_probs int logits": (lambda: next_token_probs(torch.tensor([1, 2, 3])), TypeError, "logits"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_raises_a_clear_error(name):
    call, error, match = CASES[name]
    with pytest.raises(error, match=match):
        call()


def test_a_padding_mask_of_shape_b_t_is_refused_even_when_b_equals_t_on_the_cross_attention():
    """B == S == 4 in cross-attention over 3 queries: a (B, S) mask cannot pass as (T_q, T_k) = (3, 4)."""
    x, ctx = torch.randn(4, 3, 16), torch.randn(4, 4, 16)
    with pytest.raises(ValueError, match="padding_mask"):
        mha()(x, context=ctx, mask=torch.ones(4, 4, dtype=torch.bool))


@pytest.mark.parametrize("fast", [True, False])
def test_the_documented_mask_shapes_are_accepted_on_both_paths(fast):
    """(T, S), (B, 1, 1, S), (B, 1, T, S), (1, H, T, S): the same output from the fast and readable paths."""
    torch.manual_seed(1)
    layer, ref = mha(fast), mha(not fast)
    ids = torch.tensor([[1, 2, 3, 0, 0], [1, 2, 3, 4, 5]])
    masks = [causal_mask(5), padding_mask(ids, 0), combine_masks(causal_mask(5), padding_mask(ids, 0)),
             torch.rand(1, 4, 5, 5, generator=torch.Generator().manual_seed(0)) > 0.2]
    for mask in masks:
        torch.testing.assert_close(layer(X, mask=mask)[0], ref(X, mask=mask)[0], atol=1e-6, rtol=1e-5)
