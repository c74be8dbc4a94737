"""Tests for tinyformer.translate (recipe, batches, metrics, save/load, CLI) and the notebook-07 widget/viz."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import warnings
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
    UnknownWordWarning,
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


def test_load_or_train_keeps_the_history_and_retrains_when_asked(tmp_path, monkeypatch):
    import tinyformer.translate as tr

    path = tmp_path / "new.pt"
    recipe = replace(TINY, steps=3)
    trained = load_or_train_translator(path, recipe, progress=False, eval_every=1)
    loaded = load_or_train_translator(path, recipe, progress=False)
    for t in (trained, loaded):  # what notebook 07 plots, whether it trained now or loaded
        assert t.history.step == 3 and len(t.history.losses) == 3 and len(t.history.evals) == 3
    assert loaded.history.losses == trained.history.losses and loaded.history.evals == trained.history.evals
    monkeypatch.setattr(tr, "train_translator", lambda *a, **k: pytest.fail("retrained"))
    with pytest.raises(pytest.fail.Exception, match="retrained"):
        load_or_train_translator(path, recipe, progress=False, retrain=True)
    with pytest.raises(TypeError, match="retrain"):
        load_or_train_translator(path, recipe, progress=False, retrain=1)
    assert tr.default_checkpoint_path().parent == tr.generated_dir()


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
    assert "not in the training data" not in box.info.value     # the greeting is all known words


def test_explorer_names_words_outside_the_training_data_instead_of_warning(phrase_translator):
    import warnings

    from tinyformer.translate import UnknownWordWarning
    from tinyformer.widgets.translation import translation_explorer, translation_view

    translator, _ = phrase_translator                           # trained on the set phrases only
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownWordWarning)      # a warning would land in the server log
        view = translation_view(translator, "안녕하세요, 강아지 <eos>")
        box = translation_explorer(translator)
        box.controls["text"].value = "안녕하세요, 강아지 <eos>"
    assert view["unknown"] == ["강아지", "<eos>"] and view["greedy"]    # named, and still translated
    assert "not in the training data: 강아지, &lt;eos&gt;" in box.info.value
    with pytest.warns(UnknownWordWarning, match="강아지"):    # called directly, translate still warns
        translator.translate("강아지")


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


# ---------------------------------------------------------------------------------------------
# user text is text; input outside the grammar is reported, not silently translated


@contextlib.contextmanager
def no_unknown_word_warning():
    """An UnknownWordWarning inside becomes an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownWordWarning)
        yield


def test_special_token_spellings_in_user_text_are_text(phrase_translator):
    translator, _ = phrase_translator
    eos = translator.src_tok.special_tokens["<eos>"]
    src = translator.encode_source(["태그 <eos> 를 쓰세요"])
    assert src[0].tolist().count(eos) == 1 and src[0, -1].item() == eos          # only the real end
    assert "".join(translator.src_tokens("<eos>")[:-1]) == "<eos>"               # five characters, then the EOS
    with pytest.warns(UnknownWordWarning, match="'<eos>'"):
        assert isinstance(translator.translate("태그 <eos> 를 쓰세요"), str)
    _, out_tokens, weights = translator.cross_attention("<sos> <pad>")
    assert weights.shape[-1] == len(translator.src_tokens("<sos> <pad>"))


def test_empty_in_empty_out(phrase_translator, monkeypatch):
    translator, _ = phrase_translator
    with no_unknown_word_warning():
        assert translator.translate("") == "" and translator.translate("  \n") == ""
        assert translator.translate(["", GREETING[0], " "]) == ["", GREETING[1], ""]
        assert translator.translate([]) == []
        monkeypatch.setattr(translator, "translate_ids", lambda *a, **k: pytest.fail("the model was asked"))
        assert translator.translate(["", "   "]) == ["", ""]
    with pytest.raises(ValueError, match="sentence is empty"):
        translator.cross_attention(" ")


def test_words_outside_the_grammar_are_named(phrase_translator):
    import unicodedata

    translator, _ = phrase_translator
    assert translator.unknown_words("강아지가 잤어요") == ["강아지가"]
    assert translator.unknown_words("the cat runs, the cat") == ["the", "cat", "runs"]
    assert translator.unknown_words(unicodedata.normalize("NFD", "고양이가 잤어요")) == []
    with pytest.warns(UnknownWordWarning, match=r"'the', 'cat', 'runs' in 'the cat runs'") as seen:
        english = translator.translate("the cat runs")
    assert isinstance(english, str) and len(seen) == 1                           # still translated, one warning
    with pytest.warns(UnknownWordWarning, match="'강아지가'"):
        translator.translate(["강아지가 잤어요", GREETING[0]])
    with no_unknown_word_warning():                                              # the grammar's own sentences: silent
        translator.translate([ko for ko, _ in make_ko_en_pairs(50, seed=4)] + [ko for ko, _ in SET_PHRASES])


def test_nfd_korean_translates_like_nfc(phrase_translator):
    import unicodedata

    translator, _ = phrase_translator
    for text in (GREETING[0], "고양이가 잤어요", "감사합니다"):
        nfd = unicodedata.normalize("NFD", text)
        assert nfd != text
        assert translator.translate(nfd) == translator.translate(text)
        assert translator.translate(nfd, beam_size=2) == translator.translate(text, beam_size=2)
        assert translator.src_tokens(nfd) == translator.src_tokens(text)
        torch.testing.assert_close(translator.cross_attention(nfd)[2], translator.cross_attention(text)[2])


def test_a_translator_trained_on_other_pairs_knows_their_words(tmp_path, phrase_translator):
    from tinyformer.translate import _vocabulary

    translator, result = phrase_translator
    assert _vocabulary(make_ko_en_pairs(100, seed=5)) is None                  # the grammar corpus: the grammar's words
    assert _vocabulary([("강아지가 짖어요", "the puppy barks")]) == {"강아지가", "짖어요"}
    other = replace(translator, vocabulary=frozenset({"강아지가", "짖어요"}))
    loaded = load_translator(save_translator(tmp_path / "t.pt", other, result))
    assert loaded.vocabulary == other.vocabulary and loaded.unknown_words("강아지가 잤어요") == ["잤어요"]
    assert load_translator(save_translator(tmp_path / "g.pt", translator, result)).vocabulary is None


def test_metrics_refuse_a_single_string():
    with pytest.raises(TypeError, match="hypotheses must be a list of sentences, got a single str"):
        translation_metrics("the dog runs", "the cat runs")
    with pytest.raises(TypeError, match="references must be a list of sentences"):
        translation_metrics(["the dog runs"], "the cat runs")
    with pytest.raises(TypeError, match=r"hypotheses\[1\] must be a str, got int"):
        translation_metrics(["a", 3], ["a", "b"])
    with pytest.raises(ValueError, match="as many hypotheses as references"):
        translation_metrics(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="at least one"):
        translation_metrics([], [])


# ---------------------------------------------------------------------------------------------
# loading files that are not translators; resuming with other settings


def test_load_translator_on_files_that_are_not_translators(tmp_path):
    import json

    from tinyformer.checkpoint import save_checkpoint

    text, blob = tmp_path / "notes.txt", tmp_path / "recipe.json"
    text.write_text("안녕하세요\thello\n", encoding="utf-8")
    blob.write_text(json.dumps({"steps": 700}))
    for path, looks in ((text, "a text file"), (blob, "a JSON file")):
        with pytest.raises(ValueError, match=f"{path} is not a tinyformer checkpoint: it looks like {looks}"):
            load_translator(path)
    other = save_checkpoint(tmp_path / "other.pt", torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="not a translator saved by save_translator"):
        load_translator(other)
    with pytest.raises(ValueError, match="not a tinyformer checkpoint"):
        load_or_train_translator(text, replace(TINY, steps=1), progress=False)
    assert text.read_text(encoding="utf-8") == "안녕하세요\thello\n"                 # refused, not overwritten
    assert main(["translate", "안녕하세요", "--checkpoint", str(text)]) == 2


@pytest.mark.parametrize("change, shown", [
    (dict(lr=0.1), "lr: checkpoint 0.003, now 0.1"),
    (dict(batch_size=8), "batch_size: checkpoint 16, now 8"),
    (dict(warmup_steps=1), "warmup_steps: checkpoint 5, now 1"),
    (dict(label_smoothing=0.0), "label_smoothing: checkpoint 0.1, now 0.0"),
    (dict(seed=1), "seed: checkpoint 0, now 1"),
    (dict(n_pairs=300), "n_pairs: checkpoint 400, now 300"),
    (dict(d_model=64), "d_model: checkpoint 32, now 64"),
])
def test_resume_refuses_a_changed_recipe_before_any_work(tmp_path, monkeypatch, change, shown):
    import tinyformer.translate as tr

    ckpt = tmp_path / "run.pt"
    train_translator(replace(TINY, steps=2), progress=False, checkpoint_path=ckpt)
    monkeypatch.setattr(tr, "build_tokenizers", lambda *a, **k: pytest.fail("trained tokenizers before refusing"))
    with pytest.raises(ValueError, match=shown):
        train_translator(replace(TINY, steps=4, **change), progress=False, checkpoint_path=ckpt, resume=True)


def test_resume_applies_more_steps(tmp_path):
    ckpt = tmp_path / "run.pt"
    _, first = train_translator(replace(TINY, steps=2), progress=False, checkpoint_path=ckpt)
    _, result = train_translator(replace(TINY, steps=4, threads=2), progress=False, checkpoint_path=ckpt, resume=True)
    assert result.resumed_from == 2 and result.step == 4 and result.losses[:2] == first.losses


def test_cli_resume_with_another_learning_rate_is_refused(tmp_path, capsys):
    ckpt = tmp_path / "cli.pt"
    args = ["train", "--steps", "2", "--pairs", "200", "--d-model", "32", "--layers", "1", "--batch-size", "16",
            "--eval-every", "0", "--checkpoint", str(ckpt), "--no-progress", "--lr", "0.001"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args[:2] + ["4", "--resume"] + args[3:-1] + ["0.1"]) == 2
    err = capsys.readouterr().err
    assert "lr: checkpoint 0.001, now 0.1" in err and "cannot resume" in err
    assert main(args[:2] + ["4", "--resume"] + args[3:]) == 0                 # the same lr, more steps: continues
    assert "resumed from step 2" in capsys.readouterr().out
