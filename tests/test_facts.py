"""tinyformer.facts: the corpus is deterministic and well formed; the recipe and cache behave."""

from collections import Counter

import pytest
import torch

from tinyformer.facts import (CITIES, RELATIONS, SPORTS, FactsRecipe, corpus_ids, decode, encode, fact_prompts,
                              facts, load_or_train_facts_gpt, recall, vocabulary)
from tinyformer.model import GPT


def test_facts_are_dealt_evenly_and_decided_by_the_family_name():
    all_facts = facts()
    assert len(all_facts) == 48 and all_facts == facts()  # deterministic
    for relation, (_, values) in RELATIONS.items():
        chosen = [f for f in all_facts if f.relation == relation]
        assert Counter(f.attribute for f in chosen) == {v: 4 for v in values}
        by_family = Counter(f.subject[1] for f in chosen)
        assert set(by_family.values()) == {1}  # one person per family name
        by_first = {}
        for f in chosen:
            by_first.setdefault(f.subject[0], set()).add(f.attribute)
        assert any(len(v) > 1 for v in by_first.values())  # a first name alone does not decide


def test_corpus_and_prompts():
    ids = corpus_ids(repeats=2)
    assert torch.equal(ids, corpus_ids(repeats=2))
    text = decode(ids.tolist())
    assert text.startswith(". ") and text.count(" plays ") == 2 * 24 and text.count(" lives in ") == 2 * 24
    assert encode(decode(ids[:50].tolist())) == ids[:50].tolist()
    prompts, answers, chosen = fact_prompts("lives in")
    assert prompts.shape == (24, 5) and answers.shape == (24,)
    assert decode(prompts[0].tolist()) == f". {' '.join(chosen[0].subject)} lives in"
    assert decode(answers.tolist()).split() == [f.attribute for f in chosen]
    assert set(SPORTS) | set(CITIES) <= set(vocabulary())
    with pytest.raises(ValueError, match="relation"):
        fact_prompts("likes")
    with pytest.raises(ValueError, match="Zed"):
        encode("Zed plays")


def test_recipe_validation_and_recall_of_an_untrained_model():
    with pytest.raises(ValueError, match="steps"):
        FactsRecipe(steps=0)
    with pytest.raises(ValueError, match="seq_len"):
        FactsRecipe(seq_len=64)
    torch.manual_seed(0)
    model = GPT(FactsRecipe().model).eval()
    assert 0.0 <= recall(model) <= 0.5
    with pytest.raises(TypeError, match="model"):
        recall(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="relation"):
        recall(model, "likes")


def test_load_or_train_caches_by_recipe(tmp_path):
    recipe = FactsRecipe(steps=3, warmup_steps=1, repeats=2)
    path = tmp_path / "facts.pt"
    model, extra = load_or_train_facts_gpt(path, recipe, progress=False)
    assert path.is_file() and extra["recipe"] == recipe.as_dict()
    again, extra2 = load_or_train_facts_gpt(path, recipe, progress=False)
    assert extra2["seconds"] == extra["seconds"]  # loaded, not retrained
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    (tmp_path / "other.pt").write_text("not a checkpoint")
    with pytest.raises(ValueError):
        load_or_train_facts_gpt(tmp_path / "other.pt", recipe, progress=False)


def test_another_seed_reorders_the_corpus_but_keeps_the_facts_recall_asks_about():
    """FactsRecipe(seed=1) must learn the facts `recall` tests (dealt by facts_seed, 0), in another order."""
    from tinyformer.facts import decode, fact_prompts

    def fact_sentences(ids):  # "Ada Ames plays rugby" for every sports fact in the stream, sorted
        words = decode(ids).split()
        return sorted(" ".join(words[i - 2:i + 2]) for i, w in enumerate(words) if w == "plays")

    zero, one = corpus_ids(repeats=2, seed=0), corpus_ids(repeats=2, seed=1)
    assert not torch.equal(zero, one)
    assert fact_sentences(zero) == fact_sentences(one)
    _, answers, chosen = fact_prompts("plays")
    assert " ".join([*chosen[0].subject, "plays", chosen[0].attribute]) in fact_sentences(one)
