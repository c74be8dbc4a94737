"""BPETokenizer.encode_iterable: a stream of lines gives exactly encode's ids on the joined text, lazily."""

import itertools
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyformer.corpus import python_docs_text
from tinyformer.tokenizer import GPT2_PATTERN, BPETokenizer

SPECIALS = ["<|endoftext|>", "<pad>", "<pad>x"]  # "<pad>x" is longer than "<pad>": the longest match wins
# tiktoken's cl100k_base and o200k_base patterns (tiktoken_ext/openai_public.py, tiktoken 0.14): they look
# further than GPT-2's (\s*[\r\n]+ spans whitespace runs; o200k's "we'll" is one chunk) and use \s++$
CL100K = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
O200K = "|".join([
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""\p{N}{1,3}""", r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""", r"""\s*[\r\n]+""", r"""\s+(?!\S)""", r"""\s+""",
])
TRAIN_TEXT = ("\n\n\n" + "  " * 4 + "=" * 12 + " 안녕하세요 😀😀 We'll they're I've\r\n \n") * 50


def train(pattern: str = GPT2_PATTERN) -> BPETokenizer:
    """Trained on docs plus runs of newlines, spaces and '=', so whitespace and long runs have merges."""
    return BPETokenizer.train(python_docs_text()[:80_000] + TRAIN_TEXT, 700, pattern=pattern, special_tokens=SPECIALS, progress=False)


@pytest.fixture(scope="module")
def tok() -> BPETokenizer:
    return train()


@pytest.fixture(scope="module", params=["gpt2", "cl100k", "o200k"])
def pattern_tok(request) -> BPETokenizer:
    return train({"gpt2": GPT2_PATTERN, "cl100k": CL100K, "o200k": O200K}[request.param])


def split_at(text: str, cuts: list[int]) -> list[str]:
    cuts = sorted({min(c, len(text)) for c in cuts})
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]


def test_blank_lines_give_the_ids_of_the_whole_text(tok):
    """Issue 18: GPT-2's regex makes "\\n\\n\\n" one chunk, so lines cannot be encoded one by one."""
    lines = ["a\n", "\n", "\n", "b"]
    whole = tok.encode("a\n\n\nb")
    assert sum((tok.encode(line) for line in lines), []) != whole  # the naive way is wrong
    assert list(tok.encode_iterable(lines)) == whole


@pytest.mark.parametrize(
    "lines",
    [
        ["don", "'t", " we'", "ll", "\n"],  # contractions split over pieces
        ["we'l", "l they'r", "e I'v", "e", " it'", "s"],
        ["x ", " ", "  y", "   ", "\n", "\t\n", " z"],  # whitespace runs split over pieces
        ["x \n      ", "\ny", " \r\n       ", "\r\n"],  # o200k: " \n" grows into " \n      \n"
        ["<|endof", "text|>", "<pa", "d>", "<pad", ">x", "<pad>"],  # special tokens split over pieces
        ["a\ud83d", "\ude00b", "\ud83d", "", "c\udc00"],  # a surrogate pair split over two pieces, lone ones
        ["", "", "ab", "", ""],
        [],
    ],
)
@pytest.mark.parametrize("pattern", [GPT2_PATTERN, CL100K, O200K], ids=["gpt2", "cl100k", "o200k"])
def test_pieces_split_anywhere(pattern, lines):
    """Trained on the text itself, so its chunks become whole tokens: a chunk cut in two shows in the ids."""
    text = "".join(lines)
    tok = BPETokenizer.train(text * 20, 400, pattern=pattern, special_tokens=SPECIALS, progress=False)
    assert list(tok.encode_iterable(lines, allowed_special="all")) == tok.encode(text, allowed_special="all")
    assert list(tok.encode_iterable(lines, disallowed_special=())) == tok.encode(text, disallowed_special=())


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "bc", "We", "l", "e", "r", " ", "  ", "\n", "\r\n", "\n\n", "\t", "/", "=", "==", "'s",
                              "'", "ll", "12", "3456", "안녕", "\u1100\u1161", "😀", "\ud83d", "\ude00", "<pad>", "<pad>x",
                              "<|endoftext|>", "<|", "x"]), max_size=30)
    .map("".join) | st.text(max_size=60),
    st.lists(st.integers(0, 80), max_size=12),
)
def test_random_splits_of_random_text(pattern_tok, text, cuts):
    """Whitespace runs, Korean (composed and NFD jamo), emoji, surrogates, specials: any split, encode's ids."""
    tok = pattern_tok
    pieces = split_at(text, cuts)
    assert list(tok.encode_iterable(pieces, allowed_special="all")) == tok.encode(text, allowed_special="all")
    assert list(tok.encode_iterable(pieces, disallowed_special=())) == tok.encode(text, disallowed_special=())
    assert list(tok.encode_iterable(iter(pieces), allowed_special={"<pad>"}, disallowed_special=())) == tok.encode(
        text, allowed_special={"<pad>"}, disallowed_special=()
    )


def test_one_character_pieces(tok):
    """The smallest pieces: every boundary of the text is a piece boundary."""
    text = python_docs_text()[5_000:9_000] + "\n\n\n   \n" + "=" * 300 + " 안녕 😀 it's\n"
    assert list(tok.encode_iterable(list(text))) == tok.encode(text)


def test_disallowed_special_split_over_pieces_raises(tok):
    with pytest.raises(ValueError, match="<\\|endoftext\\|>"):
        list(tok.encode_iterable(["hello <|endo", "ftext|> world"]))
    with pytest.raises(ValueError, match="<pad>"):
        list(tok.encode_iterable(["<", "p", "a", "d", ">"], allowed_special={"<|endoftext|>"}))


def many_lines(n: int):
    """A generator of `n` varied lines (code, prose, blank runs, Korean, emoji)."""
    docs = python_docs_text()[:200_000].splitlines(keepends=True)
    extra = ["\n", "\n", "    \n", "안녕하세요 세계\n", "😀 " * 3 + "\n", "x = 1  \n", "\t\tindented\n"]
    for i in range(n):
        yield docs[i % len(docs)] if i % 3 else extra[i % len(extra)]


def test_a_generator_of_many_lines(tok):
    n = 30_000
    assert list(tok.encode_iterable(many_lines(n))) == tok.encode("".join(many_lines(n)))


def test_lines_are_read_lazily(tok):
    """Taking the first 100 ids reads only the first few lines of an endless generator."""
    read = 0

    def endless():
        nonlocal read
        for line in itertools.cycle(["Hello there,\n", "  world\n", "\n", "\n"]):
            read += 1
            yield line

    first = list(itertools.islice(tok.encode_iterable(endless()), 100))
    assert first == tok.encode("".join(itertools.islice(itertools.cycle(["Hello there,\n", "  world\n", "\n", "\n"]), 200)))[:100]
    assert read < 100


def test_memory_does_not_grow_with_the_input(tok):
    """Peak memory while streaming ~270 KB of lines (ids counted, not kept) stays far below the text's size."""
    lines = ["The quick brown fox jumps over the lazy dog, again and again.\n", "\n", "    x = [1, 2, 3]\n"]
    n_lines = 10_000
    list(tok.encode_iterable(lines * 3))  # warm the chunk cache: it is bounded, and not what is measured
    tracemalloc.start()
    count = sum(1 for _ in tok.encode_iterable(lines[i % 3] for i in range(n_lines)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    text_bytes = sum(len(lines[i % 3]) for i in range(n_lines))
    assert count == len(tok.encode("".join(lines) * (n_lines // 3) + lines[0]))
    assert text_bytes > 250_000 and peak < 25_000, (text_bytes, peak)


def test_a_long_whitespace_run_over_many_lines_is_linear_and_exact(tok):
    """20k blank lines are one chunk: held back whole, scanned a logarithmic number of times."""
    lines = ["start\n"] + ["\n"] * 20_000 + ["   end\n"]
    assert list(tok.encode_iterable(lines)) == tok.encode("".join(lines))


def test_bad_input(tok):
    with pytest.raises(TypeError, match="lines.*use encode"):
        tok.encode_iterable("a string")
    with pytest.raises(TypeError, match="lines"):
        tok.encode_iterable(42)
    with pytest.raises(TypeError, match="lines must yield str, but item 1 is bytes.*text mode"):
        list(tok.encode_iterable(["ok\n", b"bytes\n"]))
    with pytest.raises(TypeError, match="allowed_special"):
        tok.encode_iterable(["x"], allowed_special="<pad>")
    with pytest.raises(ValueError, match="allowed_special"):
        tok.encode_iterable(["x"], allowed_special={"<nope>"})
