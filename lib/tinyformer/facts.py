"""A project-made corpus of facts for notebook 09, and a tiny GPT that memorises them.

The corpus: 24 made-up people (a first name shared by three of them, a family name of their own),
each with two facts, "Ada Stone plays tennis ." and "Ada Stone lives in Oslo .", mixed with half as
many filler sentences from a small grammar ("the old dog sleeps here ."). Attributes are dealt out
by a seeded shuffle, each sport and city to 4 people, so the first name never decides a fact and
the family name, the subject's last token, always does. Tokens are whole words (a fixed, sorted
vocabulary), so a subject is exactly two tokens.

The model is `tinyformer.model.GPT`, trained with `tinyformer.train.train` on random windows of the
shuffled corpus (`tinyformer.lm.make_get_batch`, `tinyformer.lm.lm_loss`) in under a minute on a CPU,
and saved once per recipe under `tinyformer.utils.generated_dir()` (`load_or_train_facts_gpt`).
Recall is measured on the prompt ". Ada Stone plays" -> the argmax of the next-token logits.

Left out: facts of more than one token, paraphrases, held-out facts (memorisation is the point).
Shapes: B batch, T time, V vocab.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from .checkpoint import read_checkpoint, restore_checkpoint, save_checkpoint
from .lm import lm_loss, make_get_batch
from .model import GPT, GPTConfig
from .train import TrainConfig, TrainResult, train
from .utils import generated_dir

__all__ = ["FIRST_NAMES", "FAMILY_NAMES", "SPORTS", "CITIES", "RELATIONS", "Fact", "facts", "filler_sentences",
           "vocabulary", "encode", "decode", "corpus_ids", "fact_prompts", "FactsRecipe", "train_facts_gpt",
           "load_or_train_facts_gpt", "recall", "FACTS_CHECKPOINT"]

FIRST_NAMES = ("Ada", "Ben", "Cleo", "Dan", "Eve", "Finn", "Gus", "Hana")
FAMILY_NAMES = ("Ames", "Bell", "Cole", "Dale", "Ford", "Gray", "Hale", "Hill", "Hunt", "Kent", "Lake", "Lane",
                "Moss", "Nash", "Park", "Pope", "Reed", "Rose", "Shaw", "Snow", "Stone", "Todd", "Wade", "Wolf")
SPORTS = ("chess", "golf", "judo", "polo", "rugby", "tennis")
CITIES = ("Cairo", "Lima", "Oslo", "Paris", "Rome", "Seoul")
RELATIONS = {"plays": (("plays",), SPORTS), "lives in": (("lives", "in"), CITIES)}
_FILLER = {  # a tiny grammar: det adj noun verb adverb .
    "det": ("the", "a", "every", "one"),
    "adj": ("old", "small", "quiet", "green", "busy", "tired"),
    "noun": ("dog", "cat", "river", "train", "garden", "lamp", "clock", "bird"),
    "verb": ("sleeps", "waits", "moves", "shines", "sings", "turns"),
    "adverb": ("here", "slowly", "today", "again", "outside", "now"),
}
FACTS_CHECKPOINT = generated_dir() / "gpt_facts.pt"


@dataclass(frozen=True)
class Fact:
    subject: tuple[str, str]  # (first name, family name)
    relation: str  # a key of RELATIONS
    attribute: str

    def sentence(self) -> list[str]:
        return [*self.subject, *RELATIONS[self.relation][0], self.attribute, "."]


def facts(seed: int = 0) -> list[Fact]:
    """Every (subject, relation) fact, 48 of them, sorted; attributes dealt so each goes to 4 people."""
    rng = random.Random(seed)
    subjects = [(FIRST_NAMES[i % len(FIRST_NAMES)], last) for i, last in enumerate(FAMILY_NAMES)]  # 24
    out = []
    for relation, (_, values) in sorted(RELATIONS.items()):
        dealt = list(values) * (len(subjects) // len(values))  # 4 of each
        rng.shuffle(dealt)
        out += [Fact(s, relation, a) for s, a in zip(subjects, dealt)]
    return sorted(out, key=lambda f: (f.relation, f.subject))


def filler_sentences(n: int, seed: int = 0) -> list[list[str]]:
    """n sentences of the filler grammar, as word lists ending with "."."""
    rng = random.Random(seed)
    parts = ("det", "adj", "noun", "verb", "adverb")
    return [[rng.choice(_FILLER[p]) for p in parts] + ["."] for _ in range(n)]


def vocabulary() -> list[str]:
    """Every word the corpus uses, sorted (the token id of a word is its index)."""
    words = {".", *FIRST_NAMES, *FAMILY_NAMES, *SPORTS, *CITIES}
    for rel_words, _ in RELATIONS.values():
        words.update(rel_words)
    for options in _FILLER.values():
        words.update(options)
    return sorted(words)


_VOCAB = vocabulary()
_INDEX = {w: i for i, w in enumerate(_VOCAB)}


def encode(words: list[str] | str) -> list[int]:
    """Word ids; a str is split on spaces. Raises ValueError naming a word outside the vocabulary."""
    if isinstance(words, str):
        words = words.split()
    unknown = [w for w in words if w not in _INDEX]
    if unknown:
        raise ValueError(f"words {unknown} are not in the facts vocabulary (tinyformer.facts.vocabulary())")
    return [_INDEX[w] for w in words]


def decode(ids) -> str:
    """Words for ids, joined by spaces."""
    return " ".join(_VOCAB[int(i)] for i in ids)


def corpus_ids(repeats: int = 40, seed: int = 0, facts_seed: int = 0) -> torch.Tensor:
    """The training stream (N,): `repeats` passes, each every fact once and half as many filler sentences,
    shuffled together, after a "." so every sentence starts the way a prompt does.

    `seed` orders the sentences and draws the filler; `facts_seed` deals the attributes (`facts`). They
    are apart so that a training run with another seed learns the same facts that `recall` asks about.
    """
    rng = random.Random(seed)
    all_facts = facts(facts_seed)
    words = ["."]
    for r in range(repeats):
        sentences = [f.sentence() for f in all_facts] + filler_sentences(len(all_facts) // 2, seed * 1000 + r)
        rng.shuffle(sentences)
        for s in sentences:
            words += s
    return torch.tensor(encode(words), dtype=torch.long)


def fact_prompts(relation: str = "plays", seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, list[Fact]]:
    """(prompts (B, T), answers (B,), facts) for one relation: ". Ada Stone plays" -> id of "tennis".

    Positions: 0 ".", 1 first name, 2 family name (the subject's last token), 3.. the relation words.
    """
    if relation not in RELATIONS:
        raise ValueError(f"relation={relation!r} must be one of {sorted(RELATIONS)}")
    chosen = [f for f in facts(seed) if f.relation == relation]
    prompts = [encode([".", *f.subject, *RELATIONS[relation][0]]) for f in chosen]
    answers = encode([f.attribute for f in chosen])
    return torch.tensor(prompts), torch.tensor(answers), chosen


@dataclass
class FactsRecipe:
    """Everything that decides the facts GPT; the defaults train in well under a minute on a CPU."""

    steps: int = 400
    batch_size: int = 32
    seq_len: int = 32
    lr: float = 3e-3
    warmup_steps: int = 30
    seed: int = 0
    repeats: int = 40  # passes over the facts in the training stream
    model: GPTConfig = field(default_factory=lambda: GPTConfig(
        vocab_size=len(_VOCAB), block_size=32, d_model=64, n_heads=4, n_layers=4, d_ff=256))
    data_version: int = 1  # raised when the corpus changes, so saved models retrain

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "seq_len", "warmup_steps", "seed", "repeats", "data_version"):
            value = getattr(self, name)
            minimum = 0 if name in ("warmup_steps", "seed") else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{name}={value!r} must be an int >= {minimum}")
        if not isinstance(self.model, GPTConfig):
            raise TypeError(f"model must be a GPTConfig, got {type(self.model).__name__}")
        if self.model.vocab_size != len(_VOCAB):
            raise ValueError(f"model.vocab_size={self.model.vocab_size} must be {len(_VOCAB)}, the facts vocabulary")
        if self.seq_len > self.model.block_size:
            raise ValueError(f"seq_len={self.seq_len} is longer than the model's block_size={self.model.block_size}")

    def as_dict(self) -> dict:
        d = asdict(self)
        d["model"] = asdict(self.model)
        return d


@torch.no_grad()
def recall(model: GPT, relation: str | None = None) -> float:
    """Share of facts whose attribute is the argmax next token after ". First Family relation"."""
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a tinyformer GPT, got {type(model).__name__}")
    if relation is not None and relation not in RELATIONS:
        raise ValueError(f"relation={relation!r} must be None (all) or one of {sorted(RELATIONS)}")
    relations = sorted(RELATIONS) if relation is None else [relation]
    hits = total = 0
    for rel in relations:
        prompts, answers, _ = fact_prompts(rel)
        pred = model(prompts)[:, -1].argmax(-1)  # (B,)
        hits += int((pred == answers).sum())
        total += len(answers)
    return hits / total


def train_facts_gpt(recipe: FactsRecipe | None = None, progress: bool = True) -> tuple[GPT, TrainResult]:
    """A fresh GPT (seeded) trained on `corpus_ids(recipe.repeats, recipe.seed)`; the eval is recall."""
    recipe = recipe or FactsRecipe()
    if not isinstance(recipe, FactsRecipe):
        raise TypeError(f"recipe must be a FactsRecipe, got {type(recipe).__name__}")
    config = TrainConfig(max_steps=recipe.steps, lr=recipe.lr, warmup_steps=recipe.warmup_steps, schedule="cosine",
                         weight_decay=0.1, betas=(0.9, 0.95), grad_clip=1.0, progress=progress)
    torch.manual_seed(recipe.seed)
    model = GPT(recipe.model)
    get_batch = make_get_batch(corpus_ids(recipe.repeats, recipe.seed), recipe.batch_size, recipe.seq_len, recipe.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a model this small trains fastest on one thread (and the same on any core count)
    try:
        result = train(model, get_batch, lm_loss, config, eval_fn=lambda m: {"recall": recall(m.eval())},
                       model_config=recipe.model, run_config={"seed": recipe.seed, "data_version": recipe.data_version})
    finally:
        torch.set_num_threads(threads)
    return model.eval(), result


def load_or_train_facts_gpt(path: str | Path = FACTS_CHECKPOINT, recipe: FactsRecipe | None = None,
                            progress: bool = True, *, retrain: bool = False) -> tuple[GPT, dict]:
    """(model in eval mode, extra): the saved model if it was made with exactly this recipe, else train and save.

    extra holds "recipe", "recall" and "seconds" (the training time). A file at `path` that is not a
    tinyformer checkpoint raises ValueError and is left as it is.
    """
    recipe = recipe or FactsRecipe()
    if not isinstance(recipe, FactsRecipe):
        raise TypeError(f"recipe must be a FactsRecipe, got {type(recipe).__name__}")
    if not isinstance(retrain, bool):
        raise TypeError(f"retrain must be True or False, got {retrain!r}")
    path = Path(path)
    if path.is_file():
        state = read_checkpoint(path)  # a file that is not ours raises here instead of being overwritten
        extra = state.get("extra", {})
        if extra.get("recipe") == recipe.as_dict() and not retrain:
            model = GPT(recipe.model)
            restore_checkpoint(state, model)
            return model.eval(), dict(extra)
    model, result = train_facts_gpt(recipe, progress)
    extra = {"recipe": recipe.as_dict(), "recall": result.evals[-1]["recall"], "seconds": result.seconds}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, model, step=result.step, model_config=recipe.model, extra=extra)
    return model, extra
