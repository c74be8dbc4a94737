"""generate(use_cache=True) gives exactly the tokens of generate(use_cache=False), for GPT and Transformer.

The property runs on random tiny models (seeded) with random prompts, seeds and sampling settings,
including prompts longer than the context and generations that outgrow it (the window slides).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyformer.model import GPT, GPTConfig, Transformer, TransformerConfig
from tinyformer.sampling import generate

SAMPLING = st.sampled_from(
    [
        {"temperature": 0},
        {"temperature": 1.0},
        {"temperature": 0.7, "top_k": 5},
        {"temperature": 1.3, "top_p": 0.9},
        {"temperature": 1.0, "top_k": 10, "top_p": 0.8},
        {"temperature": 2.0},
    ]
)


def tiny_gpt(seed: int, vocab_size: int = 37, block_size: int = 12) -> GPT:
    torch.manual_seed(seed)
    config = GPTConfig(vocab_size=vocab_size, block_size=block_size, d_model=16, n_heads=2, n_layers=2, d_ff=32)
    return GPT(config).eval()


def tiny_transformer(seed: int, max_len: int = 10) -> Transformer:
    torch.manual_seed(seed)
    config = TransformerConfig(src_vocab_size=19, tgt_vocab_size=23, d_model=16, n_heads=2, n_encoder_layers=1,
                               n_decoder_layers=2, d_ff=32, dropout=0.0, max_len=max_len)
    return Transformer(config).eval()


@settings(max_examples=25, deadline=None)
@given(
    model_seed=st.integers(0, 1000),
    prompt=st.lists(st.integers(0, 36), min_size=1, max_size=20),  # up to longer than block_size = 12
    n_new=st.integers(0, 25),  # often past the context: the cache is rebuilt as the window slides
    seed=st.integers(0, 2**31 - 1),
    knobs=SAMPLING,
)
def test_gpt_cache_and_no_cache_give_the_same_tokens(model_seed, prompt, n_new, seed, knobs):
    model = tiny_gpt(model_seed)
    with_cache = generate(model, prompt, n_new, seed=seed, use_cache=True, **knobs)
    without = generate(model, prompt, n_new, seed=seed, use_cache=False, **knobs)
    assert with_cache == without
    assert len(with_cache) == len(prompt) + n_new and with_cache[: len(prompt)] == prompt


@settings(max_examples=10, deadline=None)
@given(
    model_seed=st.integers(0, 1000),
    batch=st.integers(1, 3),
    prompt_len=st.integers(1, 6),
    n_new=st.integers(1, 15),
    seed=st.integers(0, 2**31 - 1),
    knobs=SAMPLING,
    stop=st.sampled_from([None, 3]),
)
def test_gpt_batched_with_stop_token_cache_agrees(model_seed, batch, prompt_len, n_new, seed, knobs, stop):
    model = tiny_gpt(model_seed, vocab_size=8)  # small vocabulary so the stop token does turn up
    prompt = torch.randint(0, 8, (batch, prompt_len), generator=torch.Generator().manual_seed(seed))
    a = generate(model, prompt, n_new, seed=seed, stop_token=stop, use_cache=True, **knobs)
    b = generate(model, prompt, n_new, seed=seed, stop_token=stop, use_cache=False, **knobs)
    assert torch.equal(a, b)


@settings(max_examples=10, deadline=None)
@given(
    model_seed=st.integers(0, 1000),
    src_len=st.integers(1, 8),
    n_new=st.integers(1, 14),  # max_len = 10: also past the decoder's positional table
    seed=st.integers(0, 2**31 - 1),
    knobs=SAMPLING,
)
def test_transformer_decoder_cache_agrees(model_seed, src_len, n_new, seed, knobs):
    model = tiny_transformer(model_seed)
    src = torch.randint(1, 19, (2, src_len), generator=torch.Generator().manual_seed(seed))
    src[1, src_len // 2 + 1 :] = 0  # some padding in the second sentence
    prompt = torch.full((2, 1), 1)  # the start token
    a = generate(model, prompt, n_new, seed=seed, src=src, use_cache=True, **knobs)
    b = generate(model, prompt, n_new, seed=seed, src=src, use_cache=False, **knobs)
    assert torch.equal(a, b)


def test_gpt_generate_matches_a_plain_greedy_loop():
    """The library loop against the obvious one: argmax of model(last block_size tokens)[-1], appended."""
    model = tiny_gpt(0)
    ids = [5, 1, 7]
    for _ in range(20):
        ids.append(model(torch.tensor([ids[-12:]]))[0, -1].argmax().item())
    assert generate(model, [5, 1, 7], 20, temperature=0) == ids


def test_transformer_generate_matches_a_plain_greedy_loop():
    model = tiny_transformer(1, max_len=32)
    src = torch.tensor([[4, 9, 2, 11]])
    ys = [1]
    with torch.no_grad():
        memory = model.encode(src)
        for _ in range(8):
            ys.append(model.decode(torch.tensor([ys]), memory)[0, -1].argmax().item())
    assert generate(model, [1], 8, temperature=0, src=src) == ys


def test_seeded_sampling_reproducible_and_seed_dependent():
    model = tiny_gpt(3)
    a = generate(model, [1], 30, temperature=1.5, seed=7)
    assert a == generate(model, [1], 30, temperature=1.5, seed=7)
    assert a != generate(model, [1], 30, temperature=1.5, seed=8)


def test_sampled_frequencies_follow_next_token_probs():
    """One step, many seeds: the empirical frequencies of the first new token approach the model's probabilities."""
    from tinyformer.sampling import next_token_probs

    model = tiny_gpt(4, vocab_size=6)
    prompt = torch.zeros(4000, 1, dtype=torch.long)  # 4000 independent draws in one batch
    first = generate(model, prompt, 1, temperature=1.0, seed=0)[:, 1]
    freq = torch.bincount(first, minlength=6).double() / 4000
    with torch.no_grad():
        probs = next_token_probs(model(prompt[:1])[0, -1].double())
    torch.testing.assert_close(freq, probs, atol=0.03, rtol=0)


def test_transformer_needs_src_and_gpt_refuses_it():
    with pytest.raises(ValueError, match="src"):
        generate(tiny_transformer(0), [1], 3)
    with pytest.raises(ValueError, match="src"):
        generate(tiny_gpt(0), [1], 3, src=torch.tensor([[1, 2]]))
    with pytest.raises(ValueError, match="src"):
        generate(tiny_transformer(0), torch.tensor([[1], [1]]), 3, src=torch.tensor([[1, 2]]))


def test_generate_leaves_training_mode_and_weights_alone():
    model = tiny_gpt(5).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    generate(model, [1, 2], 5)
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_generate_restores_the_thread_count():
    """Cached single-token steps run on one thread; the caller's setting comes back afterwards."""
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        a = generate(tiny_gpt(6), [1, 2, 3], 10, temperature=0, use_cache=True)
        assert torch.get_num_threads() == 2
        torch.set_num_threads(1)
        assert generate(tiny_gpt(6), [1, 2, 3], 10, temperature=0, use_cache=True) == a
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_generate_sets_the_thread_count_once_per_call_not_per_step(monkeypatch):
    """Past the context every step rebuilds the cache: the thread count still changes only twice (set, restore)."""
    calls = []
    real = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (calls.append(n), real(n))[1])
    before = torch.get_num_threads()
    try:
        real(2)
        generate(tiny_gpt(7), [1, 2, 3], 30, temperature=0, use_cache=True)  # block_size 12: 21 sliding steps
        assert calls == [1, 2]
    finally:
        real(before)
