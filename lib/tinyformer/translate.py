"""Korean → English translation end to end: tokenizers, model, training, scoring, and a command line.

This is the recipe notebook 07 runs live: byte-level BPE trained on each side with `<pad>`,
`<sos>`, `<eos>`; the encoder-decoder `Transformer`; `tinyformer.train` with label smoothing;
greedy or beam decoding; BLEU and chrF from sacrebleu plus the exact-match rate.
`load_or_train_translator()` gives notebook 08 the same model: it loads the checkpoint in
data/generated/ when its recipe matches, else trains it again, deterministically.

    python -m tinyformer.translate train --steps 700
    python -m tinyformer.translate translate "안녕하세요, 만나서 반가워요" --beam 4

User text is text: input is NFC-normalized (decomposed Korean translates like composed), a special
token's spelling in it ("<eos>") is encoded as characters, an empty sentence translates to "", and
words outside the translator's vocabulary (the grammar's word tables, `tinyformer.ko_en.known_words`)
are named in an `UnknownWordWarning`, since the translation of such a sentence is a guess.

Shapes: `B` batch, `S` source time, `T` target time, `L` layers, `H` heads, `V` vocab.
Left out: subword regularisation, back-translation, checkpoint averaging.
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from .decoding import beam_search, greedy_decode, strip_special
from .data import Batch, as_text, encode_pair, encode_text, ko_en_splits, make_batches, pad_sequences
from .ko_en import GRAMMAR_VERSION, known_words, sentence_words
from .masks import padding_mask
from .model import Transformer, TransformerConfig
from .tokenizer import BPETokenizer
from .checkpoint import ConfigMismatchError, config_diff, read_checkpoint, save_checkpoint
from .train import TrainConfig, TrainResult, check_resume, train
from .utils import generated_dir, seed_everything

__all__ = [
    "SPECIALS", "GREETING", "Recipe", "Translator", "UnknownWordWarning", "show_token", "translation_metrics",
    "build_tokenizers",
    "encode_pairs", "make_get_batch", "translation_loss", "train_translator", "load_translator",
    "load_or_train_translator", "default_checkpoint_path", "main",
]

SPECIALS = ("<pad>", "<sos>", "<eos>")
GREETING = ("안녕하세요, 만나서 반가워요", "hey, good to know you")
def default_checkpoint_path() -> Path:
    """Where notebook 07 saves its translator and notebook 08 finds it (`tinyformer.utils.generated_dir()`)."""
    return generated_dir() / "translator-ko-en.pt"


@dataclass
class Recipe:
    """Everything that decides the trained translator: data, tokenizers, model and training."""

    n_pairs: int = 20_000           # training pairs drawn from the grammar
    n_test: int = 500               # held-out pairs (unseen subject-predicate combinations)
    data_seed: int = 0
    vocab_size: int = 1200          # BPE vocabulary: 256 bytes + merges + 3 specials
    joint_tokenizer: bool = True    # one BPE for both languages (else one per side, each vocab_size)
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 3               # encoder and decoder each
    d_ff: int = 512
    dropout: float = 0.1
    batch_size: int = 64
    steps: int = 700                # about 2 minutes on one CPU core (notebook 07's TRAIN_STEPS)
    lr: float = 2e-3
    warmup_steps: int = 100
    label_smoothing: float = 0.1
    seed: int = 0
    threads: int = 1                # torch threads while training: 1 is fastest for this small model
    grammar_version: int = GRAMMAR_VERSION  # a changed grammar makes saved translators stale

    def __post_init__(self) -> None:
        for name in ("n_pairs", "n_test", "data_seed", "vocab_size", "d_model", "n_heads", "n_layers", "d_ff",
                     "batch_size", "steps", "warmup_steps", "seed", "threads", "grammar_version"):
            value = getattr(self, name)
            minimum = 0 if name in ("n_test", "data_seed", "steps", "warmup_steps", "seed") else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{name}={value!r} must be an int >= {minimum}")
        for name in ("dropout", "label_smoothing"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise ValueError(f"{name}={value!r} must be a number in [0, 1)")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not 0 < self.lr < math.inf:
            raise ValueError(f"lr={self.lr!r} must be a number > 0")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")

    def model_config(self, src_vocab: int, tgt_vocab: int, pad_id: int) -> TransformerConfig:
        return TransformerConfig(src_vocab_size=src_vocab, tgt_vocab_size=tgt_vocab, d_model=self.d_model,
                                 n_heads=self.n_heads, n_encoder_layers=self.n_layers, n_decoder_layers=self.n_layers,
                                 d_ff=self.d_ff, dropout=self.dropout, max_len=128, pad_id=pad_id)

    def train_config(self, **overrides: Any) -> TrainConfig:
        base = dict(max_steps=self.steps, lr=self.lr, warmup_steps=self.warmup_steps, schedule="cosine",
                    min_lr_ratio=0.05, grad_clip=1.0)
        base.update(overrides)
        return TrainConfig(**base)


# ---------------------------------------------------------------------------------------------
# tokenizers and batches


def build_tokenizers(pairs: Sequence[tuple[str, str]], vocab_size: int, joint: bool = True) -> tuple[BPETokenizer, BPETokenizer]:
    """Byte-level BPE with `<pad>`, `<sos>`, `<eos>`: one for both languages (joint), or one per language.

    Joint: Korean and English share no characters, so the merges split between them by frequency,
    and both sides get the same special ids for free.
    """
    _check_pairs(pairs, "pairs")
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 256 + len(SPECIALS):
        raise ValueError(f"vocab_size={vocab_size!r} must be an int >= {256 + len(SPECIALS)} (256 bytes + specials)")
    pairs = [(as_text(ko, "pairs"), as_text(en, "pairs")) for ko, en in pairs]
    src_text = "\n".join(ko for ko, _ in pairs)
    tgt_text = "\n".join(en for _, en in pairs)
    if joint:
        tok = BPETokenizer.train(src_text + "\n" + tgt_text, vocab_size, special_tokens=SPECIALS, progress=False)
        return tok, tok
    src_tok = BPETokenizer.train(src_text, vocab_size, special_tokens=SPECIALS, progress=False)
    tgt_tok = BPETokenizer.train(tgt_text, vocab_size, special_tokens=SPECIALS, progress=False)
    return src_tok, tgt_tok


def _check_pairs(pairs: Any, name: str) -> None:
    """`pairs` must be a non-empty list of (str, str); TypeError/ValueError naming the first bad one."""
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence):
        raise TypeError(f"{name} must be a list of (korean, english) pairs, got {type(pairs).__name__}")
    if not pairs:
        raise ValueError(f"{name} is empty; need at least one (korean, english) pair")
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(isinstance(t, str) for t in pair)):
            raise TypeError(f"{name}[{i}] must be a (korean, english) pair of str, got {pair!r:.60}")


def encode_pairs(pairs: Sequence[tuple[str, str]], src_tok: BPETokenizer, tgt_tok: BPETokenizer) -> list[tuple[list[int], list[int]]]:
    """(ko ids + EOS, SOS + en ids + EOS) per pair, with `tinyformer.data.encode_pair`."""
    sos, eos = _specials(src_tok, tgt_tok)[1:]
    return [encode_pair(ko, en, src_tok, tgt_tok, sos, eos) for ko, en in pairs]


def _specials(src_tok: BPETokenizer, tgt_tok: BPETokenizer) -> tuple[int, int, int]:
    """(pad, sos, eos) ids, which both tokenizers must share (equal vocabulary sizes give equal ids)."""
    ids = [tuple(tok.special_tokens[name] for name in SPECIALS) for tok in (src_tok, tgt_tok)]
    if ids[0] != ids[1]:
        raise ValueError(f"the source and target tokenizers give {SPECIALS} different ids ({ids[0]} vs {ids[1]}); "
                         "use a joint tokenizer, or a vocab_size both sides fill")
    return ids[0]


def make_get_batch(examples: Sequence[tuple[list[int], list[int]]], batch_size: int, pad_id: int,
                   seed: int = 0) -> Callable[[int], Batch]:
    """`get_batch(step) -> Batch`: each epoch is `make_batches` (length-bucketed) with seed (seed, epoch).

    The batch depends only on the step, so a resumed run sees exactly the data it would have seen.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be an int >= 1")
    if isinstance(examples, (str, bytes)) or not isinstance(examples, Sequence):
        raise TypeError(f"examples must be a list of (src_ids, tgt_ids) pairs, got {type(examples).__name__}")
    if len(examples) < batch_size:
        raise ValueError(f"batch_size={batch_size} is larger than the {len(examples)} examples")
    epochs: dict[int, list[Batch]] = {}
    per_epoch = -(-len(examples) // batch_size)                         # ceil: the last batch may be short

    def get_batch(step: int) -> Batch:
        epoch, i = divmod(step, per_epoch)
        if epoch not in epochs:
            epochs.clear()
            epochs[epoch] = make_batches(examples, batch_size, pad_id, shuffle=True, seed=seed * 100_003 + epoch)
        return epochs[epoch][i]

    return get_batch


def translation_loss(model: Transformer, batch: Batch, smoothing: float = 0.1) -> torch.Tensor:
    """Teacher forcing: feed SOS w1 .. wn, predict w1 .. wn EOS; label-smoothed, padding ignored."""
    logits = model(batch.src, batch.tgt_in, batch.src_mask)             # (B, T, V)
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch.tgt_out.reshape(-1),
                           ignore_index=model.config.pad_id, label_smoothing=smoothing)


# ---------------------------------------------------------------------------------------------
# scores


def _sentences(value: Any, name: str) -> list[str]:
    """A list of str from a list or tuple of str; TypeError naming `name` (or the bad item) otherwise."""
    if isinstance(value, str):
        raise TypeError(f"{name} must be a list of sentences, got a single str ({value[:30]!r}); wrap it: [{name}]")
    if not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a list of str, got {type(value).__name__}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise TypeError(f"{name}[{i}] must be a str, got {type(item).__name__}")
    return list(value)


def translation_metrics(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Corpus BLEU and chrF (sacrebleu, 0-100) and the exact-match rate in percent.

    Both arguments are lists of sentences, hypothesis i against reference i. A single str raises
    TypeError (it is not scored letter by letter: wrap it in a list); ValueError if the lengths
    differ or the lists are empty.
    """
    import sacrebleu

    hypotheses, references = _sentences(hypotheses, "hypotheses"), _sentences(references, "references")
    if len(hypotheses) != len(references) or not references:
        raise ValueError(f"need as many hypotheses as references (got {len(hypotheses)} and {len(references)}), at least one")
    exact = 100.0 * sum(h.strip() == r.strip() for h, r in zip(hypotheses, references)) / len(references)
    return {"bleu": sacrebleu.corpus_bleu(hypotheses, [references]).score,
            "chrf": sacrebleu.corpus_chrf(hypotheses, [references]).score,
            "exact": exact}


# ---------------------------------------------------------------------------------------------
# the translator


class UnknownWordWarning(UserWarning):
    """A sentence given to `Translator.translate` has words its training data never had: the translation is a guess."""


def _check_decoding(beam_size: Any, length_penalty: Any, batch_size: Any = 1) -> None:
    for name, value in (("beam_size", beam_size), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value!r} must be an int >= 1")
    if isinstance(length_penalty, bool) or not isinstance(length_penalty, (int, float)) or not length_penalty >= 0:
        raise ValueError(f"length_penalty={length_penalty!r} must be a number >= 0")


@dataclass
class Translator:
    """A trained model with its two tokenizers: `translator(["안녕하세요"]) -> ["hey"]`.

    `vocabulary`: the source words it was trained on; None means the ko_en grammar's (`known_words()`).
    """

    model: Transformer
    src_tok: BPETokenizer
    tgt_tok: BPETokenizer
    recipe: Recipe = field(default_factory=Recipe)
    max_len: int = 60
    vocabulary: frozenset[str] | None = None
    history: TrainResult | None = None  # the training run: step, losses, evals, seconds (None if unknown)

    @property
    def src_pad(self) -> int:
        return self.src_tok.special_tokens["<pad>"]

    def encode_source(self, sentences: Sequence[str]) -> torch.Tensor:
        """(B, S) padded source ids, each sentence (NFC, as ordinary text) ending with EOS."""
        eos = self.src_tok.special_tokens["<eos>"]
        texts = [as_text(s, f"sentences[{i}]") for i, s in enumerate(_sentences(sentences, "sentences"))]
        if not texts:
            raise ValueError("sentences is empty; give at least one sentence")
        return pad_sequences([encode_text(self.src_tok, s) + [eos] for s in texts], self.src_pad)

    def decode_target(self, ids: torch.Tensor) -> list[str]:
        sp = self.tgt_tok.special_tokens
        return [self.tgt_tok.decode(strip_special(row, sp["<sos>"], sp["<eos>"], sp["<pad>"])) for row in ids]

    def translate_ids(self, sentences: Sequence[str], beam_size: int = 1, length_penalty: float = 0.6) -> torch.Tensor:
        """(B, 1 + L) target ids: SOS, tokens, EOS, padding. Raises TypeError/ValueError for bad arguments."""
        _check_decoding(beam_size, length_penalty)
        src = self.encode_source(sentences)
        sp = self.tgt_tok.special_tokens
        mask = padding_mask(src, self.src_pad)                         # (B, 1, 1, S)
        if beam_size == 1:
            return greedy_decode(self.model, src, self.max_len, sp["<sos>"], sp["<eos>"], src_mask=mask,
                                 pad_id=sp["<pad>"])
        return beam_search(self.model, src, beam_size, self.max_len, sp["<sos>"], sp["<eos>"],
                           length_penalty=length_penalty, src_mask=mask, pad_id=sp["<pad>"])

    def unknown_words(self, text: str) -> list[str]:
        """The words of `text` (NFC) outside the translator's vocabulary, each once: ['강아지가'] or []."""
        known = known_words() if self.vocabulary is None else self.vocabulary
        return list(dict.fromkeys(w for w in sentence_words(as_text(text, "text")) if w not in known))

    def translate(self, sentences: Sequence[str] | str, beam_size: int = 1, batch_size: int = 256,
                  length_penalty: float = 0.6) -> list[str] | str:
        """English for each Korean sentence (a str in, a str out; a list in, a list out).

        Sentences are NFC-normalized and stripped; an empty one translates to "" (the model is not
        asked). Words outside the vocabulary are named in an UnknownWordWarning, and the translation
        is still returned. Raises TypeError (not a str or list of str) or ValueError (bad sizes,
        a lone surrogate) before translating anything.
        """
        single = isinstance(sentences, str)
        texts = [as_text(s, f"sentences[{i}]").strip()
                 for i, s in enumerate(_sentences([sentences] if single else sentences, "sentences"))]
        _check_decoding(beam_size, length_penalty, batch_size)
        self._warn_unknown(texts)
        todo = [t for t in texts if t]
        done: list[str] = []
        for i in range(0, len(todo), batch_size):
            done += self.decode_target(self.translate_ids(todo[i:i + batch_size], beam_size, length_penalty))
        answers = iter(done)
        out = [next(answers) if t else "" for t in texts]
        return out[0] if single else out

    __call__ = translate

    def _warn_unknown(self, texts: list[str]) -> None:
        found = [(t, words) for t in texts if (words := self.unknown_words(t))]
        if not found:
            return
        listed = "; ".join(f"{', '.join(map(repr, words))} in {t!r}" for t, words in found[:3])
        more = f" (and {len(found) - 3} more sentences)" if len(found) > 3 else ""
        warnings.warn(f"words the translator was never trained on: {listed}{more}. Their translation is a guess; "
                      "the grammar's words are in tinyformer.ko_en (NOUNS, VERBS, ADJECTIVES).",
                      UnknownWordWarning, stacklevel=3)

    def evaluate(self, pairs: Sequence[tuple[str, str]], beam_size: int = 1) -> dict[str, float]:
        """BLEU, chrF and exact match of the translations of `pairs` against their references."""
        _check_pairs(pairs, "pairs")
        hyps = self.translate([ko for ko, _ in pairs], beam_size=beam_size)
        return translation_metrics(hyps, [en for _, en in pairs])

    def src_tokens(self, sentence: str) -> list[str]:
        """The source tokens of `sentence` (NFC, as ordinary text) as readable strings, then "<eos>"."""
        ids = encode_text(self.src_tok, as_text(sentence, "sentence"))
        return [show_token(self.src_tok, i) for i in ids] + ["<eos>"]

    def cross_attention(self, sentence: str, beam_size: int = 1) -> tuple[list[str], list[str], torch.Tensor]:
        """(source tokens, output tokens, weights (L, H, T, S)): where each output token looked in the source.

        Row t is the decoder step that produced output token t (the last one is <eos>).
        Raises ValueError for an empty sentence (there is nothing to look at).
        """
        sentence = as_text(sentence, "sentence").strip()
        if not sentence:
            raise ValueError("sentence is empty; cross-attention needs a Korean sentence")
        ids = self.translate_ids([sentence], beam_size)[0]
        sp = self.tgt_tok.special_tokens
        out = [sp["<sos>"]] + strip_special(ids, sp["<sos>"], sp["<eos>"], sp["<pad>"]) + [sp["<eos>"]]
        src = self.encode_source([sentence])
        mask = padding_mask(src, self.src_pad)
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            memory = self.model.encode(src, mask)
            _, att = self.model.decode(torch.tensor([out[:-1]]), memory, mask, return_attention=True)
        self.model.train(was_training)
        weights = torch.stack([a[0] for a in att["cross"]])            # (L, H, T, S)
        return self.src_tokens(sentence), [show_token(self.tgt_tok, i) for i in out[1:]], weights


def show_token(tok: BPETokenizer, i: int) -> str:
    """A token as readable text: special tokens by name, a leading space as ·, a cut UTF-8 character in hex.

    A Hangul syllable is 3 bytes; a token holding only part of one shows its bytes, e.g. 'ec 83'.
    """
    data = tok.token_bytes(i)
    try:
        return data.decode("utf-8").replace(" ", "·")
    except UnicodeDecodeError:
        return ("·" if data.startswith(b" ") else "") + " ".join(f"{b:02x}" for b in data.lstrip(b" "))


# ---------------------------------------------------------------------------------------------
# training, saving, loading


def _data(recipe: Recipe):
    return ko_en_splits(n_train=recipe.n_pairs, n_test=recipe.n_test, seed=recipe.data_seed)


# Recipe fields a resumed run may change (steps: more training; threads: speed). Every other one
# decides the data, tokenizers, model or optimisation of the saved run, so a resume refuses a change.
RESUME_MAY_CHANGE_RECIPE = ("steps", "threads")


def _run_config(recipe: Recipe) -> dict[str, Any]:
    return {k: v for k, v in asdict(recipe).items() if k not in RESUME_MAY_CHANGE_RECIPE}


def _vocabulary(pairs: Sequence[tuple[str, str]]) -> frozenset[str] | None:
    """None (the grammar's words) for the ko_en corpus, else the source words of the training pairs."""
    words = {w for ko, _ in pairs for w in sentence_words(as_text(ko, "train_pairs"))}
    return None if words <= known_words() else frozenset(words)


def train_translator(recipe: Recipe = Recipe(), *, eval_pairs: Sequence[tuple[str, str]] | None = None,
                     eval_every: int = 0, eval_size: int = 300, progress: bool = True, max_seconds: float | None = None,
                     checkpoint_path: str | Path | None = None, checkpoint_every: int = 0, resume: bool = False,
                     on_eval: Callable[[dict[str, float]], None] | None = None,
                     train_pairs: Sequence[tuple[str, str]] | None = None) -> tuple[Translator, TrainResult]:
    """Train the translator of `recipe` from scratch (deterministic: seeded data, init and dropout).

    With `checkpoint_path` the run state is saved every `checkpoint_every` steps and at the end;
    `resume=True` continues from it exactly. A resume applies a new `recipe.steps` (and threads)
    and refuses any other changed recipe field (lr, batch_size, label_smoothing, seed, n_pairs,
    d_model, ...), raising ConfigMismatchError (a ValueError) that names each with both values,
    before the tokenizers are trained.
    """
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a Recipe, got {type(recipe).__name__}")
    if train_pairs is not None:
        _check_pairs(train_pairs, "train_pairs")
    if eval_pairs:
        _check_pairs(eval_pairs, "eval_pairs")
    tcfg = recipe.train_config(eval_every=eval_every, progress=progress, max_seconds=max_seconds,
                               checkpoint_path=str(checkpoint_path) if checkpoint_path else None,
                               checkpoint_every=checkpoint_every)
    if resume and checkpoint_path is not None and Path(checkpoint_path).is_file():
        check_resume(checkpoint_path, tcfg, run_config=_run_config(recipe))
    if train_pairs is None:
        splits = _data(recipe)
        train_pairs = splits.train
        if eval_pairs is None:
            eval_pairs = splits.test
    threads = torch.get_num_threads()
    torch.set_num_threads(recipe.threads)
    try:
        return _train(recipe, tcfg, train_pairs, eval_pairs, eval_size, resume, on_eval)
    finally:
        torch.set_num_threads(threads)


def _train(recipe, tcfg, train_pairs, eval_pairs, eval_size, resume, on_eval) -> tuple[Translator, TrainResult]:
    seed_everything(recipe.seed)
    src_tok, tgt_tok = build_tokenizers(train_pairs, recipe.vocab_size, recipe.joint_tokenizer)
    examples = encode_pairs(train_pairs, src_tok, tgt_tok)
    pad = _specials(src_tok, tgt_tok)[0]
    seed_everything(recipe.seed)
    config = recipe.model_config(src_tok.vocab_size, tgt_tok.vocab_size, pad)
    model = Transformer(config)
    translator = Translator(model, src_tok, tgt_tok, recipe, vocabulary=_vocabulary(train_pairs))
    get_batch = make_get_batch(examples, recipe.batch_size, pad, seed=recipe.seed)
    subset = list(eval_pairs or [])[:eval_size]
    eval_fn = (lambda m: translator.evaluate(subset)) if subset else None
    result = train(model, get_batch, lambda m, b: translation_loss(m, b, recipe.label_smoothing), tcfg,
                   eval_fn=eval_fn, model_config=config, run_config=_run_config(recipe), resume=resume,
                   on_eval=on_eval)
    model.eval()
    translator.history = result
    return translator, result


def save_translator(path: str | Path, translator: Translator, result: TrainResult | None = None) -> Path:
    """Model, both tokenizers (as their JSON), the recipe and the vocabulary in one checkpoint file, written atomically."""
    import tempfile

    if not isinstance(translator, Translator):
        raise TypeError(f"translator must be a Translator, got {type(translator).__name__}")
    toks = {}
    for name, tok in (("src", translator.src_tok), ("tgt", translator.tgt_tok)):
        with tempfile.TemporaryDirectory() as d:
            tok.save(Path(d) / "tok.json")
            toks[name] = (Path(d) / "tok.json").read_text(encoding="utf-8")
    extra = {"recipe": asdict(translator.recipe), "src_tokenizer": toks["src"], "tgt_tokenizer": toks["tgt"],
             "seconds": result.seconds if result else 0.0}
    if translator.vocabulary is not None:
        extra["vocabulary"] = sorted(translator.vocabulary)
    return save_checkpoint(path, translator.model, model_config=translator.model.config, extra=extra,
                           step=result.step if result else 0, losses=result.losses if result else None,
                           evals=result.evals if result else None)


_TRANSLATOR_KEYS = ("recipe", "src_tokenizer", "tgt_tokenizer")


def load_translator(path: str | Path, recipe: Recipe | None = None) -> Translator:
    """Read a translator saved by `save_translator`; with `recipe`, refuse one trained differently.

    Raises FileNotFoundError if nothing is at `path`; ValueError naming the path if the file is not a
    tinyformer checkpoint, or is one but not a translator; ConfigMismatchError (a ValueError) naming
    each recipe field that differs from `recipe`.
    """
    import tempfile

    if recipe is not None and not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a Recipe or None, got {type(recipe).__name__}")
    state = read_checkpoint(path)
    extra = state.get("extra") or {}
    if not all(key in extra for key in _TRANSLATOR_KEYS) or not isinstance(state.get("model_config"), dict):
        raise ValueError(f"{path} is a tinyformer checkpoint but not a translator saved by save_translator "
                         f"(it has no {', '.join(k for k in _TRANSLATOR_KEYS if k not in extra) or 'model config'})")
    saved = extra["recipe"]
    if recipe is not None:
        diff = config_diff(saved, asdict(recipe))
        if diff:
            raise ConfigMismatchError(f"{Path(path).name} was trained with a different recipe: " + "; ".join(diff))
    toks = []
    for key in ("src_tokenizer", "tgt_tokenizer"):
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / "tok.json").write_text(extra[key], encoding="utf-8")
            toks.append(BPETokenizer.load(Path(d) / "tok.json"))
    model = Transformer(TransformerConfig(**state["model_config"]))
    model.load_state_dict(state["model"])
    model.eval()
    known = {f.name for f in fields(Recipe)}
    vocabulary = frozenset(extra["vocabulary"]) if "vocabulary" in extra else None
    history = TrainResult(step=state.get("step", 0), losses=list(state.get("losses") or []),
                          evals=list(state.get("evals") or []), seconds=extra.get("seconds", 0.0))
    return Translator(model, toks[0], toks[1], Recipe(**{k: v for k, v in saved.items() if k in known}),
                      vocabulary=vocabulary, history=history)


def load_or_train_translator(path: str | Path | None = None, recipe: Recipe = Recipe(), *, progress: bool = True,
                             save: bool = True, retrain: bool = False, eval_every: int = 100) -> Translator:
    """The notebook-07 translator: loaded from `path` if it holds exactly this recipe, else trained.

    Training takes about 2 CPU minutes; `retrain=True` trains even when a saved model exists. Either
    way `translator.history` holds the run (losses, and held-out scores every `eval_every` steps).
    A file at `path` that is not a translator checkpoint raises ValueError and is left as it is.
    """
    if not isinstance(retrain, bool):
        raise TypeError(f"retrain must be True or False, got {retrain!r}")
    path = Path(path) if path is not None else default_checkpoint_path()
    if path.is_file() and not retrain:
        try:
            return load_translator(path, recipe)
        except ConfigMismatchError:
            pass                                                       # trained differently: train again
    translator, result = train_translator(recipe, progress=progress, eval_every=eval_every)
    if save:
        save_translator(path, translator, result)
    return translator


# ---------------------------------------------------------------------------------------------
# command line


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tinyformer.translate",
                                description="Train the Korean→English transformer of notebook 07, or translate with it.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train from scratch (or resume) and save a checkpoint")
    d = Recipe()
    t.add_argument("--steps", type=int, default=d.steps, help=f"training steps (default {d.steps})")
    t.add_argument("--pairs", type=int, default=d.n_pairs, help=f"training pairs (default {d.n_pairs})")
    t.add_argument("--d-model", type=int, default=d.d_model, help=f"model width (default {d.d_model})")
    t.add_argument("--layers", type=int, default=d.n_layers, help=f"encoder and decoder layers (default {d.n_layers})")
    t.add_argument("--batch-size", type=int, default=d.batch_size, help=f"(default {d.batch_size})")
    t.add_argument("--lr", type=float, default=d.lr, help=f"peak learning rate (default {d.lr})")
    t.add_argument("--seed", type=int, default=d.seed, help=f"(default {d.seed})")
    t.add_argument("--eval-every", type=int, default=200, help="score the held-out split every N steps (default 200)")
    t.add_argument("--checkpoint", type=Path, default=default_checkpoint_path(), help="where to save (default %(default)s)")
    t.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from its state (saved every 50 steps next to the checkpoint); "
                        "--steps may change, any other setting must match the run's")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    s = sub.add_parser("translate", help="translate Korean sentences with a saved checkpoint")
    s.add_argument("sentences", nargs="*", help="Korean sentences (default: read one per line from stdin)")
    s.add_argument("--checkpoint", type=Path, default=default_checkpoint_path(), help="(default %(default)s)")
    s.add_argument("--beam", type=int, default=1, help="beam size; 1 = greedy (default 1)")
    s.add_argument("--length-penalty", type=float, default=0.6, help="GNMT alpha for beam search (default 0.6)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "train":
        recipe = replace(Recipe(), steps=args.steps, n_pairs=args.pairs, d_model=args.d_model, n_layers=args.layers,
                         batch_size=args.batch_size, lr=args.lr, seed=args.seed)
        run_state = args.checkpoint.with_suffix(".run.pt")

        def show(m: dict[str, float]) -> None:
            print(f"step {m['step']:5d}  held-out BLEU {m['bleu']:6.2f}  chrF {m['chrf']:6.2f}  exact {m['exact']:5.1f}%",
                  flush=True)

        try:
            translator, result = train_translator(recipe, eval_every=args.eval_every, progress=not args.no_progress,
                                                  checkpoint_path=run_state, checkpoint_every=50, resume=args.resume,
                                                  on_eval=show)
        except ValueError as e:                                        # a changed setting on --resume, a bad value
            print(f"error: {e}", file=sys.stderr)
            return 2
        save_translator(args.checkpoint, translator, result)
        if result.resumed_from is not None:
            print(f"resumed from step {result.resumed_from}")
        print(f"saved {args.checkpoint} after {result.step} steps in {result.seconds:.0f} s")
        return 0
    if not args.checkpoint.is_file():
        print(f"no checkpoint at {args.checkpoint}; run `python -m tinyformer.translate train` first", file=sys.stderr)
        return 1
    if args.beam < 1:
        print(f"--beam={args.beam} must be >= 1", file=sys.stderr)
        return 2
    try:
        translator = load_translator(args.checkpoint)
    except ValueError as e:                                            # not a translator checkpoint
        print(f"error: {e}", file=sys.stderr)
        return 2
    sentences = args.sentences or [line.strip() for line in sys.stdin if line.strip()]
    for ko, en in zip(sentences, translator.translate(sentences, beam_size=args.beam, length_penalty=args.length_penalty)):
        print(f"{ko}\t{en}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
