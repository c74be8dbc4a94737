"""Tests for tinyformer.translate (recipe, batches, metrics, save/load, CLI) and the notebook-07 widget/viz."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import matplotlib
import pytest
import sacrebleu
import torch

from tinyformer.data import make_ko_en_pairs
from tinyformer.ko_en import SET_PHRASES
from tinyformer.translate import (
    GREETING,
    SPECIALS,
    Recipe,
    build_tokenizers,
    encode_pairs,
    load_or_train_translator,
    load_translator,
    main,
    make_get_batch,
    save_translator,
    train_translator,
    translation_metrics,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny matrices: one thread is as fast, and much faster on a busy machine; restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TINY = Recipe(n_pairs=400, n_test=20, vocab_size=320, d_model=32, n_heads=2, n_layers=1,
              d_ff=64, dropout=0.0, batch_size=16, steps=20, lr=3e-3, warmup_steps=5)


@pytest.fixture(scope="module")
def phrase_translator():
    """A tiny model trained on the set phrases only: small enough to learn them by heart in seconds."""
    pairs = list(SET_PHRASES) * 20
    recipe = replace(TINY, steps=160, batch_size=20, n_pairs=len(pairs))
    translator, result = train_translator(recipe, train_pairs=pairs, eval_pairs=list(SET_PHRASES), eval_every=80,
                                          progress=False)
    return translator, result


def test_metrics_against_sacrebleu_and_by_hand():
    hyps = ["the cat ate fish", "the dog runs"]
    refs = ["the cat ate fish", "the dog sleeps"]
    m = translation_metrics(hyps, refs)
    assert m["exact"] == 50.0                                     # one of two identical
    assert m["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert m["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)
    assert translation_metrics(refs, refs) == {"bleu": pytest.approx(100.0), "chrf": pytest.approx(100.0), "exact": 100.0}
    with pytest.raises(ValueError, match="hypotheses"):
        translation_metrics(["a"], ["a", "b"])


def test_tokenizers_share_special_ids_and_round_trip():
    pairs = make_ko_en_pairs(300, seed=1)
    joint = build_tokenizers(pairs, 400)
    assert joint[0] is joint[1] and joint[0].vocab_size == 400
    separate = build_tokenizers(pairs, 300, joint=False)
    assert separate[0].merges != separate[1].merges
    for src, tgt in (joint, separate):
        assert [src.special_tokens[s] for s in SPECIALS] == [tgt.special_tokens[s] for s in SPECIALS]
        for ko, en in pairs[:20]:
            assert src.decode(src.encode(ko)) == ko and tgt.decode(tgt.encode(en)) == en
    src, tgt = separate
    (s_ids, t_ids), = encode_pairs(pairs[:1], src, tgt)
    pad, sos, eos = (src.special_tokens[s] for s in SPECIALS)
    assert s_ids[-1] == eos and t_ids[0] == sos and t_ids[-1] == eos and pad not in s_ids + t_ids


def test_show_token():
    from tinyformer.tokenizer import BPETokenizer
    from tinyformer.translate import show_token

    tok = BPETokenizer.train("고양이 고양이 cat cat cat", 300, special_tokens=SPECIALS)
    assert show_token(tok, 0xEC) == "ec"                           # a lone byte of a 3-byte syllable
    assert show_token(tok, tok.encode(" cat")[0]) == "·cat"         # a leading space shows as ·
    assert "".join(show_token(tok, i) for i in tok.encode("고양이")) == "고양이"
    assert show_token(tok, tok.special_tokens["<eos>"]) == "<eos>"


def test_get_batch_is_a_function_of_the_step_and_covers_each_epoch():
    pairs = make_ko_en_pairs(100, seed=2)
    src, tgt = build_tokenizers(pairs, 300)
    examples = encode_pairs(pairs, src, tgt)
    pad = src.special_tokens["<pad>"]
    a, b = make_get_batch(examples, 16, pad, seed=3), make_get_batch(examples, 16, pad, seed=3)
    for step in (0, 5, 7, 3, 14):                                 # any order: no hidden iterator state
        torch.testing.assert_close(a(step).src, b(step).src)
        torch.testing.assert_close(a(step).tgt_out, b(step).tgt_out)
    seen = sorted(tuple(row[row != pad].tolist()) for step in range(7) for row in a(step).src)
    assert seen == sorted(tuple(s) for s, _ in examples)         # 7 batches = one epoch, each example once
    assert not torch.equal(a(0).src, a(7).src)                   # the next epoch is shuffled differently


def test_training_learns_the_set_phrases(phrase_translator):
    translator, result = phrase_translator
    assert sum(result.losses[-10:]) < 0.5 * sum(result.losses[:10])
    assert translator.translate(GREETING[0]) == GREETING[1]
    assert result.evals[-1]["exact"] == 100.0 and result.evals[-1]["step"] == 160
    assert translator.evaluate(list(SET_PHRASES)) == {"bleu": pytest.approx(100.0), "chrf": pytest.approx(100.0),
                                                      "exact": 100.0}


def test_cross_attention_shapes_and_rows(phrase_translator):
    translator, _ = phrase_translator
    src_tokens, out_tokens, w = translator.cross_attention(GREETING[0])
    assert w.shape == (1, 2, len(out_tokens), len(src_tokens))   # (L, H, T, S)
    assert out_tokens[-1] == "<eos>" and src_tokens[-1] == "<eos>"
    torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]))
    assert "".join(out_tokens[:-1]).replace("·", " ") == GREETING[1]


def test_save_load_round_trip_and_recipe_mismatch(tmp_path, phrase_translator):
    translator, result = phrase_translator
    path = save_translator(tmp_path / "t.pt", translator, result)
    loaded = load_translator(path, translator.recipe)
    sentences = [ko for ko, _ in SET_PHRASES]
    assert loaded.translate(sentences, beam_size=2) == translator.translate(sentences, beam_size=2)
    with pytest.raises(ValueError, match=r"d_model: checkpoint 32, now 64"):
        load_translator(path, replace(translator.recipe, d_model=64))


def test_load_or_train_loads_a_matching_checkpoint(tmp_path, monkeypatch, phrase_translator):
    translator, result = phrase_translator
    path = save_translator(tmp_path / "t.pt", translator, result)
    import tinyformer.translate as tr

    monkeypatch.setattr(tr, "train_translator", lambda *a, **k: pytest.fail("should have loaded, not trained"))
    loaded = load_or_train_translator(path, translator.recipe, progress=False)
    assert loaded.translate(GREETING[0]) == GREETING[1]


def test_load_or_train_trains_when_missing_or_different(tmp_path):
    path = tmp_path / "new.pt"
    recipe = replace(TINY, steps=3)
    first = load_or_train_translator(path, recipe, progress=False)
    assert path.is_file()
    again = load_or_train_translator(path, recipe, progress=False)   # now loaded: same weights
    for p, q in zip(first.model.parameters(), again.model.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    other = load_or_train_translator(path, replace(recipe, seed=1), progress=False)
    assert load_translator(path).recipe.seed == 1 and other.recipe.seed == 1


def test_training_is_deterministic():
    a, ra = train_translator(replace(TINY, steps=8), progress=False)
    b, rb = train_translator(replace(TINY, steps=8), progress=False)
    assert ra.losses == rb.losses
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------
# command line


def test_cli_help():
    out = subprocess.run([sys.executable, "-m", "tinyformer.translate", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "train" in out.stdout and "translate" in out.stdout
    out = subprocess.run([sys.executable, "-m", "tinyformer.translate", "translate", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--beam" in out.stdout


def test_cli_train_then_translate(tmp_path, capsys):
    ckpt = tmp_path / "cli.pt"
    assert main(["translate", "안녕하세요", "--checkpoint", str(ckpt)]) == 1          # nothing saved yet
    assert "no checkpoint" in capsys.readouterr().err
    args = ["train", "--steps", "4", "--pairs", "200", "--d-model", "32", "--layers", "1", "--batch-size", "16",
            "--eval-every", "2", "--checkpoint", str(ckpt), "--no-progress"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "step     2  held-out BLEU" in out and f"saved {ckpt}" in out
    assert main(args[:1] + ["--steps", "6", "--resume"] + args[3:]) == 0                # continue the same run
    out = capsys.readouterr().out
    assert "resumed from step 4" in out and "after 6 steps" in out
    assert main(["translate", "안녕하세요", "고양이는 커요", "--checkpoint", str(ckpt), "--beam", "2"]) == 0
    lines = capsys.readouterr().out.strip().split("\n")
    assert [line.split("\t")[0] for line in lines] == ["안녕하세요", "고양이는 커요"]
    assert main(["translate", "안녕하세요", "--checkpoint", str(ckpt), "--beam", "0"]) == 2


# ---------------------------------------------------------------------------------------------
# widget and figures


def test_build_sentence_worked_example_and_errors():
    from tinyformer.widgets.translation import build_sentence

    assert build_sentence("고양이", "먹다", "생선", "past", time="어제") == ("어제 고양이는 생선을 먹었어요", "the cat ate fish yesterday")
    assert build_sentence("개", "자다", "", "present", negative=True, question=True) == ("개는 안 자요?", "does the dog not sleep?")
    with pytest.raises(ValueError, match="object"):
        build_sentence("고양이", "먹다", "", "past")
    with pytest.raises(ValueError, match="no object"):
        build_sentence("개", "자다", "생선", "past")
    with pytest.raises(ValueError, match="subject"):
        build_sentence("사과", "자다")


def test_explorer_updates_when_a_control_changes(phrase_translator):
    from tinyformer.widgets.translation import translation_explorer

    translator, _ = phrase_translator
    box = translation_explorer(translator)
    before, picture = box.info.value, bytes(box.image.value)
    assert "어제 고양이는 생선을 먹었어요" in before and picture.startswith(b"\x89PNG")
    box.controls["tense"].value = "future"                       # 어제 + future does not fit: a clear message
    assert "tense" in box.info.value
    box.controls["time"].value = "내일"
    assert "내일 고양이는 생선을 먹을 거예요" in box.info.value
    assert bytes(box.image.value) != picture                     # the heatmap was redrawn
    box.controls["text"].value = GREETING[0]
    assert f"greedy: <b>{GREETING[1]}</b>" in box.info.value


def test_cross_attention_figure(phrase_translator):
    from tinyformer.viz.translation import plot_attention_heads, plot_cross_attention, plot_training_curve

    translator, result = phrase_translator
    src_tokens, out_tokens, w = translator.cross_attention(GREETING[0])
    fig = plot_cross_attention(src_tokens, out_tokens, w)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == src_tokens
    assert isinstance(plot_attention_heads(src_tokens, out_tokens, w), matplotlib.figure.Figure)
    assert isinstance(plot_training_curve(result.losses, result.evals), matplotlib.figure.Figure)
    with pytest.raises(ValueError, match="do not match"):
        plot_cross_attention(src_tokens[:-1], out_tokens, w)
    matplotlib.pyplot.close("all")
