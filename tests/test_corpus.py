"""Tests for tinyformer.corpus: the offline Python-docs corpus and its held-out split."""

import pydoc_data.topics
import pytest

from tinyformer.corpus import python_docs_split, python_docs_text, python_docs_topics


def test_python_docs_text_is_sorted_topics_joined():
    topics = pydoc_data.topics.topics
    assert python_docs_text() == "\n\n".join(topics[k] for k in sorted(topics))
    assert list(python_docs_topics()) == sorted(topics)
    assert len(python_docs_text()) > 100_000


def test_split_holds_out_whole_topics():
    train, held_out = python_docs_split()
    texts = list(python_docs_topics().values())
    held = [t for i, t in enumerate(texts) if i % 10 == 5]
    assert held_out == "\n\n".join(held)
    assert len(train) + len(held_out) + 2 == len(python_docs_text())
    assert 0.02 < len(held_out) / len(python_docs_text()) < 0.3
    assert all(t not in train for t in held if len(t) > 200)


def test_split_rejects_bad_argument():
    with pytest.raises(ValueError, match="held_out_every"):
        python_docs_split(1)
