"""A learner's misuse of the training, data, translation and GPT-recipe APIs: each call raises a
ValueError or TypeError that names the argument and what was expected, before any work is done."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from tinyformer import data, english, ko_en, korean, lm, train
from tinyformer import translate as tr
from tinyformer.checkpoint import load_checkpoint, save_checkpoint
from tinyformer.model import Transformer
from tinyformer.tokenizer import BPETokenizer

FIXTURE = Path(__file__).parent / "fixtures" / "kor-eng-sample.txt"
TINY = tr.Recipe(n_pairs=20, n_test=2, vocab_size=300, d_model=16, n_heads=2, n_layers=1, d_ff=32, dropout=0.0,
                 batch_size=4, steps=2, warmup_steps=1)
LOGITS, TARGET = torch.randn(2, 3, 5), torch.tensor([[0, 1, 2], [3, 4, 0]])
IDS = torch.arange(40)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    """A text file, a tiny untrained translator and a linear model: the things the calls below misuse."""
    folder = tmp_path_factory.mktemp("bad")
    text = folder / "notes.txt"
    text.write_text("not a checkpoint\n")
    torch.manual_seed(0)
    tok = BPETokenizer.train("고양이는 커요 the cat is big", 300, special_tokens=tr.SPECIALS)
    model = Transformer(TINY.model_config(tok.vocab_size, tok.vocab_size, tok.special_tokens["<pad>"])).eval()
    return SimpleNamespace(text=text, folder=folder, translator=tr.Translator(model, tok, tok, TINY, max_len=4),
                           linear=torch.nn.Linear(2, 1))


def _step_loss(model, batch):
    return model(torch.ones(3, 2)).squeeze(1)  # (3,): a loss per example, not one number


CASES = [
    # train.py: the config, the loss, the schedule, the loop
    ("max_steps as a str", lambda c: train.TrainConfig(max_steps="10"), ValueError, "max_steps='10' must be an int"),
    ("lr as a str", lambda c: train.TrainConfig(lr="0.1"), TypeError, "lr must be a number, got str"),
    ("lr nan", lambda c: train.TrainConfig(lr=float("nan")), ValueError, "lr=nan must be a finite number"),
    ("warmup float", lambda c: train.TrainConfig(warmup_steps=2.5), ValueError, "warmup_steps=2.5 must be an int"),
    ("one beta", lambda c: train.TrainConfig(betas=(0.9,)), ValueError, r"betas=\(0.9,\) must be two numbers"),
    ("beta >= 1", lambda c: train.TrainConfig(betas=(0.9, 1.5)), ValueError, r"betas=\(0.9, 1.5\) must be two numbers in \[0, 1\)"),
    ("eps zero", lambda c: train.TrainConfig(eps=0), ValueError, "eps=0.0 > 0"),
    ("max_seconds zero", lambda c: train.TrainConfig(max_seconds=0), ValueError, "max_seconds=0 must be > 0 or None"),
    ("checkpoint_path int", lambda c: train.TrainConfig(checkpoint_path=3), TypeError, "checkpoint_path must be a str"),
    ("progress str", lambda c: train.TrainConfig(progress="yes"), TypeError, "progress must be True or False"),
    ("log_every zero", lambda c: train.TrainConfig(log_every=0), ValueError, "log_every=0 must be an int >= 1"),
    ("float target", lambda c: train.label_smoothed_cross_entropy(LOGITS, TARGET.float()), TypeError,
     "target must be an integer tensor"),
    ("int logits", lambda c: train.label_smoothed_cross_entropy(LOGITS.long(), TARGET), TypeError,
     "logits must be a float tensor"),
    ("smoothing 1", lambda c: train.label_smoothed_cross_entropy(LOGITS, TARGET, 1.0), ValueError, "smoothing=1.0"),
    ("negative step", lambda c: train.lr_lambda(-1, train.TrainConfig()), ValueError, "step=-1 must be an int >= 0"),
    ("config dict", lambda c: train.lr_lambda(0, {"lr": 1e-3}), TypeError, "config must be a TrainConfig, got dict"),
    ("optimizer of a str", lambda c: train.make_optimizer("model", train.TrainConfig()), TypeError,
     "model must be a torch.nn.Module, got str"),
    ("train no model", lambda c: train.train(None, lambda s: s, _step_loss, train.TrainConfig()), TypeError,
     "model must be a torch.nn.Module, got NoneType"),
    ("get_batch a list", lambda c: train.train(c.linear, [1, 2], _step_loss, train.TrainConfig()), TypeError,
     "get_batch must be a function, got list"),
    ("config a dict", lambda c: train.train(c.linear, lambda s: s, _step_loss, {"max_steps": 1}), TypeError,
     "config must be a TrainConfig, got dict"),
    ("eval_fn a str", lambda c: train.train(c.linear, lambda s: s, _step_loss, train.TrainConfig(), eval_fn="bleu"),
     TypeError, "eval_fn must be a function, got str"),
    ("loss per example", lambda c: train.train(c.linear, lambda s: s, _step_loss, train.TrainConfig(progress=False)),
     TypeError, r"loss_fn must return a 0-d tensor \(one number\), got a tensor of shape \(3,\)"),
    # checkpoint.py
    ("save a dict", lambda c: save_checkpoint(c.folder / "x.pt", {"w": 1}), TypeError,
     "model must be a torch.nn.Module, got dict"),
    ("save negative step", lambda c: save_checkpoint(c.folder / "x.pt", c.linear, step=-1), ValueError, "step=-1"),
    ("save a list config", lambda c: save_checkpoint(c.folder / "x.pt", c.linear, model_config=[1]), TypeError,
     "model_config must be a dataclass or a dict, got list"),
    ("load an int path", lambda c: load_checkpoint(123), TypeError, "path must be a str or a pathlib.Path, got int"),
    ("load a text file", lambda c: load_checkpoint(c.text), ValueError,
     "notes.txt is not a tinyformer checkpoint: it looks like a text file"),
    ("load into a str", lambda c: load_checkpoint(c.text, "model"), TypeError, "model must be a torch.nn.Module or None"),
    # lm.py: batches, evaluation, recipe, loading
    ("ids a list", lambda c: lm.make_get_batch([1, 2, 3], 1, 2), TypeError, "ids must be a 1-d tensor of token ids, got list"),
    ("ids 2-d", lambda c: lm.make_get_batch(IDS.view(4, 10), 1, 2), ValueError, r"ids must be a 1-d integer tensor \(N,\), got shape \(4, 10\)"),
    ("ids float", lambda c: lm.make_get_batch(IDS.float(), 1, 2), ValueError, "dtype torch.float32"),
    ("batch_size 0", lambda c: lm.make_get_batch(IDS, 0, 4), ValueError, "batch_size=0 must be an int >= 1"),
    ("seq_len 0", lambda c: lm.make_get_batch(IDS, 1, 0), ValueError, "seq_len=0 must be an int >= 1"),
    ("seq_len too long", lambda c: lm.make_get_batch(IDS, 1, 40), ValueError, "ids has 40 tokens, too few for one window of seq_len=40"),
    ("evaluate_lm on a str", lambda c: lm.evaluate_lm("gpt", IDS), TypeError, "model must be a GPT, got str"),
    ("evaluate seq_len 0", lambda c: lm.evaluate_lm(c.linear, IDS, seq_len=0), ValueError, "seq_len=0"),
    ("recipe steps", lambda c: lm.LMRecipe(steps=-1), ValueError, "steps=-1 must be an int >= 0"),
    ("recipe lr", lambda c: lm.LMRecipe(lr=0), ValueError, "lr=0 must be a number > 0"),
    ("recipe model", lambda c: lm.LMRecipe(model={"vocab_size": 1024}), TypeError, "model must be a GPTConfig, got dict"),
    ("train_gpt no data", lambda c: lm.train_gpt(None), TypeError, "data must be an LMData"),
    ("build_data small vocab", lambda c: lm.build_data(100), ValueError, "vocab_size=100 must be an int >= 257"),
    ("load_gpt text", lambda c: lm.load_gpt(c.text), ValueError, "is not a tinyformer checkpoint"),
    # data.py
    ("encode None", lambda c: data.encode_pair(None, "b", list, list, 1, 2), TypeError, "src_text must be a str, got NoneType"),
    ("encode surrogate", lambda c: data.encode_pair("a", "b\udc00", list, list, 1, 2), ValueError,
     "tgt_text holds a lone surrogate U[+]DC00 at index 1"),
    ("no tokenizer", lambda c: data.encode_text(42, "a"), TypeError, "tokenizer must have .encode"),
    ("pad nothing", lambda c: data.pad_sequences([], 0), ValueError, "seqs is empty"),
    ("pad a str", lambda c: data.pad_sequences("abc", 0), TypeError, "seqs must be a list of id lists, got str"),
    ("pad_id float", lambda c: data.pad_sequences([[1]], 0.0), TypeError, "pad_id must be an int, got float"),
    ("batch nothing", lambda c: data.make_batches([], 4, 0), ValueError, "examples must be a non-empty list"),
    ("batch size 0", lambda c: data.make_batches([([1], [1, 2])], 0, 0), ValueError, "batch_size=0 must be a positive int"),
    ("bucket 0", lambda c: data.make_batches([([1], [1, 2])], 1, 0, bucket_factor=0), ValueError, "bucket_factor=0"),
    ("pairs from None", lambda c: data.load_sentence_pairs(None), TypeError, "path must be a str or a pathlib.Path"),
    ("max_pairs bool", lambda c: data.load_sentence_pairs(FIXTURE, max_pairs=True), ValueError, "max_pairs=True"),
    # translate.py: metrics, recipe, tokenizers, training, loading, the translator
    ("metrics strings", lambda c: tr.translation_metrics("the dog runs", "the cat runs"), TypeError,
     "hypotheses must be a list of sentences, got a single str"),
    ("metrics non-str", lambda c: tr.translation_metrics(["a"], [1]), TypeError, r"references\[0\] must be a str, got int"),
    ("heads do not divide", lambda c: tr.Recipe(d_model=10, n_heads=4), ValueError, "d_model=10 is not divisible by n_heads=4"),
    ("dropout 1", lambda c: tr.Recipe(dropout=1.0), ValueError, r"dropout=1.0 must be a number in \[0, 1\)"),
    ("batch_size 0 recipe", lambda c: tr.Recipe(batch_size=0), ValueError, "batch_size=0 must be an int >= 1"),
    ("negative lr", lambda c: tr.Recipe(lr=-1e-3), ValueError, "lr=-0.001 must be a number > 0"),
    ("tokenizers of a str", lambda c: tr.build_tokenizers("안녕", 300), TypeError, "pairs must be a list of"),
    ("tokenizers bad pair", lambda c: tr.build_tokenizers([("안녕", 3)], 300), TypeError, r"pairs\[0\] must be a \(korean, english\) pair of str"),
    ("tokenizers tiny vocab", lambda c: tr.build_tokenizers([("안녕", "hi")], 100), ValueError, "vocab_size=100 must be an int >= 259"),
    ("translation batches 0", lambda c: tr.make_get_batch([([1], [1, 2])], 0, 0), ValueError, "batch_size=0 must be an int >= 1"),
    ("train a str recipe", lambda c: tr.train_translator("tiny"), TypeError, "recipe must be a Recipe, got str"),
    ("train on a str", lambda c: tr.train_translator(TINY, train_pairs="고양이"), TypeError, "train_pairs must be a list of"),
    ("load translator text", lambda c: tr.load_translator(c.text), ValueError, "notes.txt is not a tinyformer checkpoint"),
    ("load translator recipe", lambda c: tr.load_translator(c.text, recipe={"steps": 1}), TypeError, "recipe must be a Recipe or None"),
    ("translate an int", lambda c: c.translator.translate(5), TypeError, "sentences must be a list of str, got int"),
    ("translate a list with an int", lambda c: c.translator.translate(["고양이", 3]), TypeError, r"sentences\[1\] must be a str, got int"),
    ("beam 0", lambda c: c.translator.translate("고양이", beam_size=0), ValueError, "beam_size=0 must be an int >= 1"),
    ("translate batch 0", lambda c: c.translator.translate("고양이", batch_size=0), ValueError, "batch_size=0"),
    ("negative length penalty", lambda c: c.translator.translate("고양이", length_penalty=-1), ValueError, "length_penalty=-1"),
    ("translate a surrogate", lambda c: c.translator.translate("고양이\ud800"), ValueError, r"sentences\[0\] holds a lone surrogate"),
    ("attention on nothing", lambda c: c.translator.cross_attention(""), ValueError, "sentence is empty"),
    ("evaluate a str", lambda c: c.translator.evaluate("고양이"), TypeError, "pairs must be a list of"),
    ("unknown words of an int", lambda c: c.translator.unknown_words(3), TypeError, "text must be a str, got int"),
    # ko_en.py, korean.py, english.py
    ("particle on English", lambda c: korean.with_particle("cat", "topic"), ValueError, "word='cat' must be a non-empty Korean word"),
    ("particle on an int", lambda c: korean.with_particle(3, "topic"), TypeError, "word must be a str, got int"),
    ("unknown particle", lambda c: korean.with_particle("고양이", "dative"), ValueError, "kind='dative'"),
    ("conjugate nothing", lambda c: korean.conjugate(""), ValueError, "stem='' must be a non-empty Korean word"),
    ("modifier of an int", lambda c: korean.modifier_form(5), TypeError, "stem must be a str, got int"),
    ("render a sentence", lambda c: ko_en.render("고양이는 커요"), TypeError, "spec must be a ClauseSpec"),
    ("negative n", lambda c: ko_en.make_ko_en_pairs(-1), ValueError, "n=-1 must be an int >= 0"),
    ("unknown_words None", lambda c: ko_en.unknown_words(None), TypeError, "text must be a str, got NoneType"),
    ("held-out fraction", lambda c: ko_en.held_out_pairs(fraction=0.7), ValueError, "fraction=0.7"),
    ("article of nothing", lambda c: english.with_article(""), ValueError, "phrase='' must be a non-empty English word"),
    ("plural of None", lambda c: english.pluralize(None), TypeError, "noun must be a str, got NoneType"),
]


@pytest.mark.parametrize("call, error, match", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_is_named(ctx, call, error, match):
    with pytest.raises(error, match=match):
        call(ctx)


def test_cases_are_many_and_distinct():
    assert len(CASES) >= 20 and len({case[0] for case in CASES}) == len(CASES)


def test_decomposed_korean_is_the_same_word():
    """Unicode forms: NFD input (one jamo per code point) gives the NFC answers."""
    nfd = unicodedata.normalize("NFD", "고양이")
    assert korean.with_particle(nfd, "topic") == "고양이는" and korean.has_batchim(unicodedata.normalize("NFD", "책"))
    assert korean.conjugate(unicodedata.normalize("NFD", "먹"))["past"] == "먹었어요"
    assert data.as_text(unicodedata.normalize("NFD", "잤어요")) == "잤어요"
