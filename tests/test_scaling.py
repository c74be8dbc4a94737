"""tinyformer.scaling and tinyformer.finetune: FLOP and KV-cache formulas against what torch counts and
allocates, the peak-memory meter, the power-law fit, span scores, the fine-tune task and classifier, and
benchmarks/scaling.py's quick mode (the same code as --full on tiny settings) and committed results."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from tinyformer.attention import scaled_dot_product_attention, tiled_attention
from tinyformer.finetune import GPTClassifier, accuracy, finetune_classifier, scrambled_examples
from tinyformer.layers import EncoderLayer
from tinyformer.model import GPT, GPTConfig
from tinyformer.scaling import (CHINCHILLA, attention_dominates_at, block_flops_per_token, chinchilla_loss,
                                chinchilla_optimal_split, fit_power_law, kv_cache_bytes_per_token, kv_cache_table,
                                loglog_slope, non_embedding_parameters, peak_memory, power_law, span_scores)
from tinyformer.utils import REPO_ROOT


@pytest.mark.parametrize("C, d_ff, T", [(32, 128, 16), (48, 96, 7), (16, 64, 40)])
def test_block_flops_equal_torch_flop_counter(C, d_ff, T):
    layer = EncoderLayer(C, 4, d_ff, 0.0, "gelu", fast=False).eval()  # readable attention: two real matmuls
    with FlopCounterMode(display=False) as counter:
        layer(torch.randn(1, T, C), causal=True)
    assert counter.get_total_flops() == block_flops_per_token(C, d_ff, T)["total"] * T


def test_attention_dominates_where_its_flops_equal_the_rest():
    C = 128
    T = attention_dominates_at(C)
    assert T == 6 * C and attention_dominates_at(C, causal_half=True) == 12 * C
    f = block_flops_per_token(C, 4 * C, int(T))
    assert f["attention"] == f["qkv"] + f["out_proj"] + f["mlp"]
    with pytest.raises(ValueError, match="d_model=0"):
        block_flops_per_token(0, 4, 4)


def test_kv_cache_bytes_equal_what_the_course_cache_allocates():
    model = GPT(GPTConfig(vocab_size=20, block_size=64, d_model=32, n_heads=4, n_layers=3, d_ff=64))
    cache = model.new_cache(1)
    allocated = sum(t.numel() * t.element_size() for layer in cache.layers
                    for t in (layer.self_attn.k, layer.self_attn.v))
    assert allocated / 64 == kv_cache_bytes_per_token(3, 4, 8, 4)
    rows = {r["name"]: r for r in kv_cache_table()}
    assert rows["GPT-2 small (fp16)"]["bytes_per_token"] == 36_864  # 2 x 12 layers x 768 x 2 bytes
    with pytest.raises(ValueError, match="n_layers=0"):
        kv_cache_bytes_per_token(0, 1, 1)


def test_peak_memory_sees_the_score_matrix_and_tiles_avoid_it():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 1, 512, 16, generator=g) for _ in range(3))
    naive = peak_memory(lambda q, k, v: scaled_dot_product_attention(q, k, v)[0], q, k, v)
    tiled = peak_memory(lambda q, k, v: tiled_attention(q, k, v, block_size=32)[0], q, k, v)
    assert naive >= 512 * 512 * 4 > 4 * tiled


def test_power_law_fit_recovers_its_parameters():
    N = np.array([1e3, 3e3, 1e4, 3e4, 1e5, 3e5])
    L = power_law(N, 20.0, 0.3, 1.5) * np.exp(np.random.default_rng(0).normal(0, 0.002, N.size))
    fit = fit_power_law(N, L, n_boot=100)
    assert abs(fit["alpha"] - 0.3) < 0.03 and abs(fit["c"] - 1.5) < 0.1
    assert fit["alpha_lo"] <= fit["alpha"] <= fit["alpha_hi"]
    assert loglog_slope([1, 2, 4], [3, 12, 48]) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="do not fall with N"):
        fit_power_law([1, 2, 3], [1, 2, 3])
    with pytest.raises(ValueError, match="N must hold finite numbers > 0"):
        fit_power_law([0, 2, 3], [3, 2, 1])


def test_chinchilla_split_is_the_minimum_of_its_loss():
    N, D = chinchilla_optimal_split(1e21)
    assert 6 * N * D == pytest.approx(1e21)
    for factor in (0.5, 2.0):
        assert chinchilla_loss(N, D) < chinchilla_loss(N * factor, D / factor)
    assert CHINCHILLA["alpha"] == 0.34


def test_span_scores_exact_match_of_one_token_is_token_accuracy():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=10, block_size=16, d_model=16, n_heads=2, n_layers=1, d_ff=32))
    ids = torch.arange(200) % 10  # a pattern a random model gets partly right at best
    s = span_scores(model, ids, 16, (1, 4), 4, token_bytes=lambda t: b"x")
    assert s["exact_match"]["1"] == pytest.approx(s["token_accuracy"])
    assert s["exact_match"]["4"] <= s["exact_match"]["1"]
    assert s["bits_per_byte"] == pytest.approx(s["loss"] / np.log(2))
    assert non_embedding_parameters(model) == sum(p.numel() for n, p in model.named_parameters()
                                                  if not n.startswith(("tok_embed", "pos_embed")))


def test_scrambled_examples_are_balanced_and_bad_input_is_named():
    text = " ".join(f"word{i % 37}" for i in range(400))
    tokenize = lambda s: [ord(c) for c in s]  # noqa: E731
    ids, labels = scrambled_examples(text, tokenize, n_words=10, n_tokens=20)
    assert ids.shape == (2 * 40, 20) and labels.sum().item() == 40
    with pytest.raises(ValueError, match="n_words=1"):
        scrambled_examples(text, tokenize, n_words=1)
    with pytest.raises(ValueError, match="corrupt='digits'"):
        scrambled_examples(text, tokenize, corrupt="digits")


@pytest.mark.parametrize("corrupt", ["words", "letters"])
def test_scrambled_pairs_keep_what_they_should(corrupt):
    """words: the same words in another order; letters: the same order, each word's first/last letter and letters kept."""
    words = [f"w{i}abc" for i in range(40)]
    vocab: dict[str, int] = {}
    tokenize = lambda s: [vocab.setdefault(w, len(vocab)) for w in s.split()]  # noqa: E731
    ids, labels = scrambled_examples(" ".join(words), tokenize, corrupt, n_words=8, n_tokens=8)
    word_of = {i: w for w, i in vocab.items()}
    rows = {}
    for row, label in zip(ids.tolist(), labels.tolist()):
        rows.setdefault(label, []).append([word_of[i] for i in row])
    assert len(rows[0]) == len(rows[1]) == 5
    real = {tuple(r) for r in rows[1]}
    for fake in rows[0]:
        assert tuple(fake) not in real
        if corrupt == "words":
            assert any(Counter(fake) == Counter(r) for r in real)
        else:
            match = [r for r in real if all(sorted(a) == sorted(b) and a[0] == b[0] and a[-1] == b[-1]
                                            for a, b in zip(fake, r))]
            assert len(match) == 1


def test_classifier_reads_causally_at_the_last_token_or_bidirectionally():
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=20, block_size=8, d_model=16, n_heads=2, n_layers=1, d_ff=32)).double()
    idx = torch.randint(0, 20, (2, 8), generator=torch.Generator().manual_seed(1))
    causal, bidi = GPTClassifier(gpt, read="causal").double(), GPTClassifier(gpt, read="bidirectional").double()
    bidi.head.load_state_dict(causal.head.state_dict())
    assert causal(idx).shape == (2, 2)
    hidden = gpt.norm(gpt.blocks[0](gpt.tok_embed(idx) + gpt.pos_embed(8), causal=True))  # (B, T, C)
    torch.testing.assert_close(causal(idx), causal.head(hidden[:, -1]))
    assert not torch.allclose(causal(idx), bidi(idx))
    with pytest.raises(ValueError, match="read='both'"):
        GPTClassifier(gpt, read="both")
    with pytest.raises(TypeError, match="gpt must be a tinyformer GPT"):
        GPTClassifier(torch.nn.Linear(2, 2))


def test_finetuning_learns_an_easy_task():
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=20, block_size=8, d_model=16, n_heads=2, n_layers=1, d_ff=32))
    ids = torch.randint(0, 20, (64, 8), generator=torch.Generator().manual_seed(2))
    labels = (ids[:, -1] >= 10).long()  # the class is written in the last token
    clf = finetune_classifier(GPTClassifier(gpt), ids, labels, steps=60, lr=1e-2)
    assert accuracy(clf, ids, labels) > 0.9


def test_quick_mode_writes_every_result(tmp_path):
    script = REPO_ROOT / "benchmarks" / "scaling.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True, capture_output=True, text=True,
                   timeout=300)
    sweep = json.loads((tmp_path / "scaling.json").read_text())
    assert len(sweep["sizes"]) == 3 and sweep["curve"] and sweep["machine"]["torch_threads"] == 1
    attention = json.loads((tmp_path / "cheap_attention.json").read_text())
    assert [r["attention"] for r in attention["kinds"]] == ["full", "window", "linear"]
    finetune = json.loads((tmp_path / "finetune.json").read_text())
    assert [r["n_labelled"] for r in finetune["rows"]] == [8, 16]
    assert finetune["machine"]["torch_threads"] == 1
    assert all(0 <= r["scratch_causal"] <= 1 for r in finetune["rows"])


def test_committed_results_have_their_honest_shapes():
    """The --full results the notebook reads: >= 6 sizes, loss falling with N, a fitted exponent in range."""
    folder = REPO_ROOT / "data" / "results"
    sweep = json.loads((folder / "scaling.json").read_text())
    rows = sweep["sizes"]
    assert len(rows) >= 6 and sweep["machine"]["torch_threads"] == 1
    bpb = [r["bits_per_byte"] for r in sorted(rows, key=lambda r: r["params_non_embedding"])]
    assert bpb[-1] < bpb[0] - 0.3
    assert 0.05 < sweep["fit"]["alpha"] < 1.5
    attention = json.loads((folder / "cheap_attention.json").read_text())
    assert {r["attention"] for r in attention["kinds"]} == {"full", "window", "linear"}
    finetune = json.loads((folder / "finetune.json").read_text())
    assert len(finetune["rows"]) >= 3 and finetune["machine"]["torch_threads"] == 1
