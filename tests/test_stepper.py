"""The cached decoding step (GPT.stepper, Transformer.stepper) gives forward's numbers exactly, and the
decoders use it: generate, greedy_decode, beam_search."""

from __future__ import annotations

import pytest
import torch

from tinyformer.attention import KVCache
from tinyformer.layers import EncoderLayer, can_step, has_forward_hooks
from tinyformer.decoding import beam_search, greedy_decode
from tinyformer.masks import padding_mask
from tinyformer.model import GPT, GPTConfig, Transformer, TransformerConfig
from tinyformer.sampling import generate


def tiny_gpt(seed: int = 0, **options) -> GPT:
    torch.manual_seed(seed)
    config = GPTConfig(vocab_size=41, block_size=16, d_model=24, n_heads=3, n_layers=2, d_ff=40, **options)
    return GPT(config).eval()


def step_and_forward(model: GPT, batch: int, prompt_len: int, n_steps: int):
    """Logits of n_steps tokens fed one at a time after a prompt, by the stepper and by forward."""
    torch.manual_seed(1)
    prompt = torch.randint(0, model.config.vocab_size, (batch, prompt_len))
    tokens = torch.randint(0, model.config.vocab_size, (n_steps, batch))
    caches = [model.new_cache(batch), model.new_cache(batch)]
    step, by_step, by_forward = model.stepper(), [], []
    with torch.inference_mode():
        for cache in caches:
            model(prompt, cache=cache)
        for t in tokens:  # (B,)
            by_step.append(step(t, caches[0]))  # (B, V)
            by_forward.append(model(t[:, None], cache=caches[1])[:, -1])  # (B, V)
    return torch.stack(by_step), torch.stack(by_forward), caches


@pytest.mark.parametrize("options", [{}, {"activation": "relu"}, {"activation": "gelu_tanh"},
                                     {"tie_embeddings": False}, {"attention": "window", "attention_window": 4},
                                     {"attention": "linear"}], ids=str)
@pytest.mark.parametrize("batch", [1, 3])
def test_the_step_gives_forwards_logits_and_cache_exactly(options, batch):
    model = tiny_gpt(**options)
    by_step, by_forward, (a, b) = step_and_forward(model, batch, prompt_len=5, n_steps=6)
    assert torch.equal(by_step, by_forward)
    assert a.length == b.length == 11
    for la, lb in zip(a.layers, b.layers):
        assert torch.equal(la.self_attn.k, lb.self_attn.k) and torch.equal(la.self_attn.v, lb.self_attn.v)


def test_a_readable_layer_or_training_mode_runs_forward():
    model = tiny_gpt()
    model.blocks[1].self_attn.fast = False
    assert model.blocks[1].stepper() is None and model.blocks[0].stepper() is not None
    by_step, by_forward, _ = step_and_forward(model, 2, prompt_len=3, n_steps=4)
    assert torch.equal(by_step, by_forward)
    model = tiny_gpt().train()
    assert all(block.stepper() is None for block in model.blocks)


def test_a_post_norm_block_steps_like_its_forward():
    torch.manual_seed(0)
    block = EncoderLayer(24, 3, 40, dropout=0.0, norm_first=False).eval()
    x = torch.randn(2, 7, 24)  # (B, T, C): a prompt of 6, then one step
    caches = [KVCache(1, 2, 3, 8, 16).layers[0] for _ in range(2)]
    with torch.inference_mode():
        for cache in caches:
            block(x[:, :6], causal=True, cache=cache)
        stepped = block.stepper()(x[:, 6:], caches[0])
        forward = block(x[:, 6:], causal=True, cache=caches[1])
    assert torch.equal(stepped, forward)


def test_generate_feeds_every_token_after_the_prompt_through_the_stepper(monkeypatch):
    model = tiny_gpt()
    calls = []
    make = model.stepper

    def counting_stepper():
        step = make()
        return lambda tokens, cache: calls.append(tokens.shape) or step(tokens, cache)

    monkeypatch.setattr(model, "stepper", counting_stepper)
    out = generate(model, [1, 2, 3], 5, temperature=0)
    assert len(out) == 8 and calls == [torch.Size([1])] * 4  # the first new token comes from the prompt's pass


def test_the_step_checks_its_arguments():
    model = tiny_gpt()
    step, cache = model.stepper(), model.new_cache(2)
    with pytest.raises(TypeError, match="cache"):
        step(torch.tensor([1, 2]), None)
    with pytest.raises(ValueError, match="tokens"):
        step(torch.tensor([[1], [2]]), cache)  # (B, 1): one token per row is (B,)
    with pytest.raises(ValueError, match="tokens holds 3 rows"):
        step(torch.tensor([1, 2, 3]), cache)
    with pytest.raises(ValueError, match="41, outside the vocabulary"):
        step(torch.tensor([1, 41]), cache)
    with pytest.raises(TypeError, match="tokens"):
        step(torch.tensor([1.0, 2.0]), cache)
    full = model.new_cache(2, max_len=16)
    with torch.inference_mode():
        model(torch.zeros(2, 16, dtype=torch.long), cache=full)
        with pytest.raises(ValueError, match="tokens"):
            step(torch.tensor([1, 2]), full)  # position 16 is beyond block_size


def tiny_transformer(seed: int = 0, **options) -> Transformer:
    torch.manual_seed(seed)
    config = TransformerConfig(src_vocab_size=29, tgt_vocab_size=31, d_model=24, n_heads=3, n_encoder_layers=1,
                               n_decoder_layers=2, d_ff=40, dropout=0.0, max_len=16, **options)
    return Transformer(config).eval()


def source(batch: int = 3) -> torch.Tensor:
    torch.manual_seed(2)
    src = torch.randint(1, 29, (batch, 7))
    src[0, 5:] = 0  # padding: the mask matters
    return src


@pytest.mark.parametrize("options", [{}, {"norm_first": False}, {"positional": "learned"}, {"tie_embeddings": True},
                                     {"activation": "gelu"}], ids=str)
def test_the_decoder_step_gives_decodes_logits_exactly(options):
    model, src = tiny_transformer(**options), source()
    mask = padding_mask(src, 0)
    tokens = torch.randint(0, 31, (6, 3))
    with torch.inference_mode():
        memory = model.encode(src, mask)
        step, caches = model.stepper(memory, mask), [model.new_cache(3), model.new_cache(3)]
        by_step = torch.stack([step(t, caches[0]) for t in tokens])
        by_decode = torch.stack([model.decode(t[:, None], memory, mask, cache=caches[1])[:, -1] for t in tokens])
    assert torch.equal(by_step, by_decode)


@pytest.mark.parametrize("decode", ["greedy", "beam"])
def test_greedy_and_beam_decoding_use_the_step_and_agree_without_the_cache(decode, monkeypatch):
    model, src = tiny_transformer(), source()
    run = (lambda **kw: greedy_decode(model, src, 8, 1, 2, **kw)) if decode == "greedy" else (
        lambda **kw: beam_search(model, src, 3, 8, 1, 2, **kw))
    calls = []
    make = model.stepper
    monkeypatch.setattr(model, "stepper", lambda *a: calls.append(1) or make(*a))
    assert torch.equal(run(use_cache=True), run(use_cache=False))
    assert calls == [1]  # one stepper per call, made after encoding


def test_the_decoder_step_checks_memory_and_rows():
    model, src = tiny_transformer(), source()
    with torch.inference_mode():
        memory = model.encode(src)
    with pytest.raises(ValueError, match="memory"):
        model.stepper(memory[:, :, :5])
    with pytest.raises(ValueError, match="src_mask"):
        model.stepper(memory, torch.ones(3, 1, 1, 4, dtype=torch.bool))
    step = model.stepper(memory)
    with pytest.raises(ValueError, match="tokens holds 2 rows, memory 3"):
        step(torch.tensor([1, 2]), model.new_cache(2))


@pytest.mark.parametrize("where", ["block input", "block", "attention", "ffn", "lm_head", "embedding"])
def test_a_forward_hook_anywhere_runs_through_forward(where):
    """A hook (an ablation, a steering vector) must act on every generated token, not on the prompt only."""
    model = tiny_gpt()
    plain = generate(model, [1, 2, 3], 8, temperature=0)
    module = {"block input": model.blocks[1], "block": model.blocks[1], "attention": model.blocks[0].self_attn.out_proj,
              "ffn": model.blocks[1].ffn.linear2, "lm_head": model.lm_head, "embedding": model.tok_embed}[where]
    torch.manual_seed(5)
    shift = {}

    def push(module, args, out):  # move every output of the module by one fixed vector
        return out + shift.setdefault(out.shape[-1], 3 * torch.randn(out.shape[-1]))

    if where == "block input":  # as tinyformer.sae.steer adds a feature's direction
        handle = module.register_forward_pre_hook(lambda m, args: (push(m, args, args[0]), *args[1:]))
    else:
        handle = module.register_forward_hook(push)
    try:
        assert has_forward_hooks(model)
        cached = generate(model, [1, 2, 3], 8, temperature=0)
        uncached = generate(model, [1, 2, 3], 8, temperature=0, use_cache=False)
    finally:
        handle.remove()
    assert cached == uncached != plain
    assert not has_forward_hooks(model)


def test_a_hook_in_the_decoder_runs_through_decode():
    model, src = tiny_transformer(), source()
    plain = greedy_decode(model, src, 8, 1, 2)
    handle = model.decoder_layers[0].ffn.register_forward_hook(lambda m, args, out: out * 0 + 0.5)
    try:
        assert torch.equal(greedy_decode(model, src, 8, 1, 2), greedy_decode(model, src, 8, 1, 2, use_cache=False))
        assert not torch.equal(greedy_decode(model, src, 8, 1, 2), plain)
    finally:
        handle.remove()


def test_a_subclass_or_a_swapped_in_module_runs_through_forward():
    """A stepper reads weights and skips forward: a module with its own forward must run it."""

    class Shifted(torch.nn.Linear):  # e.g. an adapter around a linear map
        def forward(self, x):
            return super().forward(x) + torch.linspace(-3, 3, self.out_features)

    model = tiny_gpt()
    plain = generate(model, [1, 2, 3], 8, temperature=0)
    old = model.blocks[0].ffn.linear2
    model.blocks[0].ffn.linear2 = Shifted(old.in_features, old.out_features)
    model.blocks[0].ffn.linear2.load_state_dict(old.state_dict())
    assert not can_step(model.blocks[0]) and model.blocks[0].stepper() is None and can_step(model.blocks[1])
    cached = generate(model, [1, 2, 3], 8, temperature=0)
    assert cached == generate(model, [1, 2, 3], 8, temperature=0, use_cache=False) != plain

    class MyGPT(GPT):
        def forward(self, idx, cache=None, return_attention=False):
            return -super().forward(idx, cache, return_attention)

    torch.manual_seed(0)
    mine = MyGPT(tiny_gpt().config).eval()
    assert generate(mine, [1, 2, 3], 8, temperature=0) == generate(mine, [1, 2, 3], 8, temperature=0, use_cache=False)
