"""Notebook 00's checks reject the stub and plausible wrong answers, and accept a solution."""

import pytest
import torch

from tinyformer.exercises import check_most_likely_next, check_utf8_length
from tinyformer.exercises.core import reset_hints
from tinyformer.exercises.solutions.course_map import most_likely_next, utf8_length
from tinyformer.tokenizer import BPETokenizer


@pytest.fixture(autouse=True)
def fresh_hints():
    reset_hints()


def stub(*args):
    raise NotImplementedError


# ---- utf8_length


def test_utf8_length_accepts_solution(capsys):
    assert check_utf8_length(utf8_length) is True
    assert "✅ utf8_length" in capsys.readouterr().out


def test_utf8_length_rejects_stub(capsys):
    assert check_utf8_length(stub) is False
    out = capsys.readouterr().out
    assert "❌ utf8_length: not done yet" in out and "Nudge:" in out and "Hint:" not in out


def test_utf8_length_second_miss_shows_the_hint(capsys):
    check_utf8_length(len)
    assert "Nudge:" in capsys.readouterr().out
    check_utf8_length(len)
    assert "Hint:" in capsys.readouterr().out


def test_utf8_length_rejects_the_library(capsys):
    def via_tokenizer(text):  # byte-level BPE without merges: one token per byte, but it is the library
        return len(BPETokenizer().encode(text))

    assert check_utf8_length(via_tokenizer) is False
    assert "`BPETokenizer` from tinyformer.tokenizer" in capsys.readouterr().out


def test_utf8_length_rejects_counting_characters(capsys):
    assert check_utf8_length(len) is False
    out = capsys.readouterr().out
    assert "the number of characters" in out and "'café'" in out and "5 bytes" in out


def test_utf8_length_rejects_returning_the_bytes(capsys):
    assert check_utf8_length(lambda t: t.encode("utf-8")) is False
    assert "expected an int" in capsys.readouterr().out


def test_utf8_length_rejects_utf16(capsys):
    assert check_utf8_length(lambda t: len(t.encode("utf-16-le"))) is False
    assert "❌" in capsys.readouterr().out


# ---- most_likely_next


def test_most_likely_next_accepts_solution_and_tensor_answer(capsys):
    assert check_most_likely_next(most_likely_next) is True
    assert check_most_likely_next(lambda p: p.argmax()) is True  # a 0-dim long tensor is an id too
    assert capsys.readouterr().out.count("✅") == 2


def test_most_likely_next_rejects_stub(capsys):
    assert check_most_likely_next(stub) is False
    assert "not done yet" in capsys.readouterr().out


def test_most_likely_next_rejects_the_probability_itself(capsys):
    assert check_most_likely_next(lambda p: float(p.max())) is False
    assert check_most_likely_next(lambda p: p.max()) is False
    out = capsys.readouterr().out
    assert out.count("the highest probability itself") == 2


def test_most_likely_next_rejects_least_likely(capsys):
    assert check_most_likely_next(lambda p: int(p.argmin())) is False
    assert "expected 1" in capsys.readouterr().out


def test_most_likely_next_rejects_a_fixed_answer(capsys):
    assert check_most_likely_next(lambda p: 1) is False  # right on the first case only
    assert "expected 4" in capsys.readouterr().out


def test_most_likely_next_rejects_sorted_probabilities(capsys):
    assert check_most_likely_next(lambda p: p.sort(descending=True).values) is False
    assert "shape (3,)" in capsys.readouterr().out
