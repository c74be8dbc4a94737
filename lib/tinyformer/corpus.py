"""Offline text corpora: the Python documentation that ships with every CPython.

`pydoc_data.topics` holds the text behind `help("if")`, `help("FORMATTING")`, ... : about 79
topics, 465k characters of real technical English with code, numbers and punctuation. It needs no
download, so every notebook can train a tokenizer or a small language model on it offline.
It leaves out anything non-English: for Korean the course makes its own sentences (tinyformer.data).
"""

from __future__ import annotations

import pydoc_data.topics


def python_docs_topics() -> dict[str, str]:
    """The raw topics, `{name: text}`, in sorted key order."""
    topics = pydoc_data.topics.topics
    return {name: topics[name] for name in sorted(topics)}


def python_docs_text() -> str:
    """All topics joined in sorted key order with a blank line between them."""
    return "\n\n".join(python_docs_topics().values())


def python_docs_split(held_out_every: int = 10) -> tuple[str, str]:
    """(train, held_out): every `held_out_every`-th topic (sorted order, starting at the 5th) is held out.

    Splitting by topic, not by position inside a text, keeps the held-out text genuinely unseen.
    """
    if not isinstance(held_out_every, int) or isinstance(held_out_every, bool) or held_out_every < 2:
        raise ValueError(f"held_out_every={held_out_every!r} must be an int >= 2")
    train, held_out = [], []
    for i, text in enumerate(python_docs_topics().values()):
        (held_out if i % held_out_every == held_out_every // 2 else train).append(text)
    return "\n\n".join(train), "\n\n".join(held_out)
