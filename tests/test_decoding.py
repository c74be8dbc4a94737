"""Tests for tinyformer.decoding: greedy and beam search against brute force, batching, EOS, the real Transformer."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyformer.decoding import beam_search, beam_search_lm, greedy_decode, length_penalty, strip_special

PAD, SOS, EOS = 0, 1, 2


class ToyTranslator(nn.Module):
    """A stand-in with the encoder-decoder contract: each next-token distribution depends on the whole
    prefix (running mean of target embeddings) and on the source (masked mean of its embeddings)."""

    def __init__(self, src_vocab: int = 7, tgt_vocab: int = 5, d: int = 8, seed: int = 0, sharp: float = 3.0):
        super().__init__()
        torch.manual_seed(seed)
        self.src_emb = nn.Embedding(src_vocab, d)
        self.tgt_emb = nn.Embedding(tgt_vocab, d)
        self.mix = nn.Linear(2 * d, d)
        self.out = nn.Linear(d, tgt_vocab)
        self.sharp = sharp
        self.calls = 0

    def encode(self, src, src_mask=None):
        return self.src_emb(src)                                          # (B, S, C)

    def decode(self, tgt, memory, src_mask=None, cache=None):
        self.calls += 1
        B, T = tgt.shape
        steps = torch.arange(1, T + 1, dtype=memory.dtype)[None, :, None]
        e = self.tgt_emb(tgt).cumsum(1) / steps                          # (B, T, C) causal running mean
        w = torch.ones(memory.shape[:2]) if src_mask is None else src_mask.reshape(src_mask.size(0), -1).float()
        w = w.expand(memory.size(0), -1)
        m = (memory * w[..., None]).sum(1) / w.sum(1, keepdim=True)     # (B, C)
        h = torch.tanh(self.mix(torch.cat([e, m[:, None].expand(-1, T, -1)], dim=-1)))
        return self.sharp * self.out(h)                                  # (B, T, V)


class ToyLM(nn.Module):
    """Decoder-only stand-in: model(idx) -> logits from a running mean of embeddings."""

    def __init__(self, vocab: int = 5, d: int = 8, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.emb = nn.Embedding(vocab, d)
        self.out = nn.Linear(d, vocab)

    def forward(self, idx):
        T = idx.size(1)
        e = self.emb(idx).cumsum(1) / torch.arange(1, T + 1)[None, :, None]
        return 3 * self.out(torch.tanh(e))


def seq_logprob(model, src, seq):
    """log p(seq | src) for a list of target ids following SOS, by running the decoder once."""
    with torch.no_grad():
        memory = model.encode(src)
        tgt = torch.tensor([[SOS] + seq[:-1]])
        logp = torch.log_softmax(model.decode(tgt, memory), dim=-1)[0]
        return sum(logp[i, tok].item() for i, tok in enumerate(seq))


def brute_force(model, src, max_len, alpha):
    """Best sequence over every possible output up to max_len tokens (ending in EOS or cut at max_len)."""
    V = model.out.out_features
    best = (float("-inf"), None)
    for L in range(1, max_len + 1):
        for body in itertools.product([t for t in range(V) if t != EOS], repeat=L - 1):
            for last in range(V):
                seq = list(body) + [last]
                if L < max_len and last != EOS:
                    continue                        # shorter than max_len must end with EOS
                score = seq_logprob(model, src, seq) / length_penalty(L, alpha)
                best = max(best, (score, seq), key=lambda x: x[0])
    return best


def test_length_penalty_by_hand():
    """((5 + 7) / 6) ** 1 = 2; alpha = 0 gives 1."""
    assert length_penalty(7, 1.0) == pytest.approx(2.0)
    assert length_penalty(7, 0.0) == 1.0


def test_strip_special():
    assert strip_special(torch.tensor([SOS, 5, 6, EOS, PAD, PAD]), SOS, EOS) == [5, 6]
    assert strip_special([5, 6, 7], SOS, EOS) == [5, 6, 7]


def test_greedy_matches_step_by_step_argmax():
    model = ToyTranslator()
    src = torch.tensor([[3, 4, 5, 6]])
    out = greedy_decode(model, src, max_len=6, sos_id=SOS, eos_id=EOS)
    memory = model.encode(src)
    ys = [SOS]
    for _ in range(6):
        nxt = model.decode(torch.tensor([ys]), memory)[0, -1].argmax().item()
        ys.append(nxt)
        if nxt == EOS:
            break
    assert out[0].tolist() == ys


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), alpha=st.sampled_from([0.0, 0.6, 1.5]))
def test_beam_with_wide_beam_equals_brute_force(seed, alpha):
    """With a beam as wide as the whole search space, beam search finds the exact best sequence."""
    model = ToyTranslator(tgt_vocab=4, seed=seed, sharp=1.5)
    src = torch.tensor([[3, 4, 5]])
    max_len = 4
    out, score = beam_search(model, src, beam_size=64, max_len=max_len, sos_id=SOS, eos_id=EOS,
                             length_penalty=alpha, return_scores=True)
    want_score, want_seq = brute_force(model, src, max_len, alpha)
    assert score.item() == pytest.approx(want_score, abs=1e-5)
    assert strip_special(out[0], SOS, EOS) == [t for t in want_seq if t != EOS]


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_beam_of_one_is_greedy(seed):
    model = ToyTranslator(seed=seed, sharp=2.0)
    src = torch.randint(3, 7, (4, 5), generator=torch.Generator().manual_seed(seed))
    greedy = greedy_decode(model, src, max_len=8, sos_id=SOS, eos_id=EOS)
    beam = beam_search(model, src, beam_size=1, max_len=8, sos_id=SOS, eos_id=EOS, length_penalty=0.0)
    for g, b in zip(greedy, beam):
        assert strip_special(g, SOS, EOS, PAD) == strip_special(b, SOS, EOS, PAD)


def test_beam_finds_better_than_greedy_somewhere():
    """Over many random models, a beam of 4 never scores below greedy and sometimes beats it."""
    better = 0
    for seed in range(40):
        model = ToyTranslator(seed=seed, sharp=1.5)
        src = torch.tensor([[3, 4, 5]])
        g = greedy_decode(model, src, 6, SOS, EOS)[0].tolist()[1:]
        g = g[: g.index(EOS) + 1] if EOS in g else g
        b = beam_search(model, src, 4, 6, SOS, EOS, length_penalty=0.0)[0].tolist()[1:]
        b = b[: b.index(EOS) + 1] if EOS in b else b
        sg, sb = seq_logprob(model, src, g), seq_logprob(model, src, b)
        assert sb >= sg - 1e-5
        better += sb > sg + 1e-5
    assert better > 0


def test_batched_equals_one_by_one():
    model = ToyTranslator(seed=3, sharp=2.0)
    src = torch.randint(3, 7, (5, 4), generator=torch.Generator().manual_seed(0))
    for decode in (lambda s: greedy_decode(model, s, 10, SOS, EOS),
                   lambda s: beam_search(model, s, 3, 10, SOS, EOS)):
        batch = decode(src)
        for i in range(len(src)):
            alone = decode(src[i:i + 1])
            assert strip_special(batch[i], SOS, EOS, PAD) == strip_special(alone[0], SOS, EOS, PAD)


def test_stops_at_eos_and_pads_after():
    """A model that always says EOS: one step, output [SOS, EOS], and the decoder runs only once."""
    model = ToyTranslator()
    with torch.no_grad():
        model.out.bias.fill_(-100.0)
        model.out.bias[EOS] = 100.0
    model.calls = 0
    out = greedy_decode(model, torch.tensor([[3, 4], [5, 6]]), max_len=20, sos_id=SOS, eos_id=EOS)
    assert out.tolist() == [[SOS, EOS], [SOS, EOS]]
    assert model.calls == 1
    out = beam_search(model, torch.tensor([[3, 4]]), 3, 20, SOS, EOS)
    assert out.tolist() == [[SOS, EOS]]


def test_max_len_cuts_rows_without_eos():
    model = ToyTranslator()
    with torch.no_grad():
        model.out.bias.fill_(0.0)
        model.out.bias[EOS] = -100.0
    out = greedy_decode(model, torch.tensor([[3, 4]]), max_len=5, sos_id=SOS, eos_id=EOS)
    assert out.shape == (1, 6) and EOS not in out[0].tolist()
    out = beam_search(model, torch.tensor([[3, 4]]), 2, 5, SOS, EOS)
    assert out.shape == (1, 6) and EOS not in out[0].tolist()


def test_decoding_restores_training_mode():
    model = ToyTranslator()
    model.train()
    greedy_decode(model, torch.tensor([[3]]), 3, SOS, EOS)
    beam_search(model, torch.tensor([[3]]), 2, 3, SOS, EOS)
    assert model.training


def test_bad_input():
    model = ToyTranslator()
    with pytest.raises(ValueError, match="src"):
        greedy_decode(model, torch.tensor([3, 4]), 5, SOS, EOS)
    with pytest.raises(ValueError, match="max_len"):
        greedy_decode(model, torch.tensor([[3, 4]]), 0, SOS, EOS)
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(model, torch.tensor([[3, 4]]), 0, 5, SOS, EOS)
    with pytest.raises(ValueError, match="length_penalty"):
        beam_search(model, torch.tensor([[3, 4]]), 2, 5, SOS, EOS, length_penalty=-1.0)
    with pytest.raises(ValueError, match="prompt_ids"):
        beam_search_lm(ToyLM(), [], 2, 3)


def test_beam_search_lm_brute_force_and_greedy():
    lm = ToyLM(seed=1)
    prompt = [3, 1]
    n = 3
    out, score = beam_search_lm(lm, prompt, beam_size=125, max_new_tokens=n, return_scores=True)
    best = (float("-inf"), None)
    with torch.no_grad():
        for cont in itertools.product(range(5), repeat=n):
            idx = torch.tensor([prompt + list(cont)])
            logp = torch.log_softmax(lm(idx[:, :-1]), dim=-1)[0]
            s = sum(logp[len(prompt) - 1 + i, t].item() for i, t in enumerate(cont))
            best = max(best, (s, list(cont)), key=lambda x: x[0])
    assert out[0].tolist() == prompt + best[1]
    assert score.item() == pytest.approx(best[0], abs=1e-5)
    # a beam of one is greedy
    greedy = list(prompt)
    with torch.no_grad():
        for _ in range(4):
            greedy.append(lm(torch.tensor([greedy]))[0, -1].argmax().item())
    assert beam_search_lm(lm, torch.tensor(prompt), 1, 4)[0].tolist() == greedy


# ---------------------------------------------------------------------------------------------
# with the real Transformer (skipped until tinyformer.model exists)


def _real_model():
    model_mod = pytest.importorskip("tinyformer.model")
    torch.manual_seed(0)
    cfg = model_mod.TransformerConfig(src_vocab_size=11, tgt_vocab_size=9, d_model=16, n_heads=2,
                                      n_encoder_layers=1, n_decoder_layers=1, d_ff=32, dropout=0.1, max_len=32)
    return model_mod.Transformer(cfg)


def test_real_transformer_greedy_cache_matches_no_cache_and_padding():
    model = _real_model()
    src = torch.tensor([[3, 4, 5, 6], [7, 8, 0, 0]])
    with_cache = greedy_decode(model, src, 12, SOS, EOS, use_cache=True)
    without = greedy_decode(model, src, 12, SOS, EOS, use_cache=False)
    assert with_cache.tolist() == without.tolist()
    alone = greedy_decode(model, src[1:, :2], 12, SOS, EOS)               # padding must not matter
    assert strip_special(without[1], SOS, EOS, PAD) == strip_special(alone[0], SOS, EOS, PAD)
    beam = beam_search(model, src, 3, 12, SOS, EOS)
    beam_alone = beam_search(model, src[1:, :2], 3, 12, SOS, EOS)
    assert strip_special(beam[1], SOS, EOS, PAD) == strip_special(beam_alone[0], SOS, EOS, PAD)


def test_real_transformer_beam_cache_matches_no_cache():
    """The cache must follow the beams (reorder); same sequences and scores as re-running every prefix."""
    model = _real_model()
    with torch.no_grad():
        model.generator.weight.mul_(4)                                    # the next token depends on the history
        model.generator.bias[EOS] = -3.0                                  # long outputs: beams really diverge
    src = torch.tensor([[3, 4, 5, 6], [7, 8, 9, 0], [10, 3, 0, 0]])
    for alpha in (0.0, 0.6):
        a, sa = beam_search(model, src, 4, 10, SOS, EOS, length_penalty=alpha, use_cache=True, return_scores=True)
        b, sb = beam_search(model, src, 4, 10, SOS, EOS, length_penalty=alpha, use_cache=False, return_scores=True)
        assert a.tolist() == b.tolist()
        torch.testing.assert_close(sa, sb, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("use_cache", [True, False])
def test_max_len_up_to_the_positional_table_decodes_and_one_more_is_refused_up_front(use_cache):
    """max_len = config.max_len feeds target positions 0..max_len-1: the whole table, no more."""
    from tinyformer.model import Transformer, TransformerConfig

    torch.manual_seed(0)
    model = Transformer(TransformerConfig(src_vocab_size=9, tgt_vocab_size=9, d_model=16, n_heads=2, n_encoder_layers=1,
                                          n_decoder_layers=1, d_ff=32, dropout=0.0, max_len=6)).eval()
    src = torch.tensor([[3, 4, 5], [6, 7, 0]])
    never = 8  # an EOS id the untrained model rarely picks; rows run to max_len
    out = greedy_decode(model, src, 6, SOS, never, use_cache=use_cache)
    assert out.shape[1] <= 7
    assert beam_search(model, src, 2, 6, SOS, never, use_cache=use_cache).shape[1] <= 7
    with pytest.raises(ValueError, match=r"max_len=7.*config.max_len=6"):
        greedy_decode(model, src, 7, SOS, never, use_cache=use_cache)
    with pytest.raises(ValueError, match=r"max_len=7.*config.max_len=6"):
        beam_search(model, src, 2, 7, SOS, never, use_cache=use_cache)
