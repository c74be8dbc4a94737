"""Exercises for notebook 01 (tokenization): UTF-8 decoding by hand, decoding ids, encoding a word with merges."""

from __future__ import annotations

from typing import Callable

from tinyformer.exercises.core import LIBRARIES, Forbidden, expect, expect_equal, forbid, run_check
from tinyformer.tokenizer import BPETokenizer

__all__ = ["check_utf8_decode", "check_decode_ids", "check_encode_word"]

_WORDS = "low lower lowest newer newest wider widest 안녕 안녕하세요 😀 😀 "
_NO_DECODE = ("the exercise decodes by reading the bit patterns yourself, so bytes.decode, str(data, 'utf-8') "
              "and codecs are off limits")


def _small_tokenizer() -> BPETokenizer:
    return BPETokenizer.train(_WORDS * 3, 290, progress=False)


class _UndecodableBytes(bytes):
    """The check's input: bytes whose `decode` refuses, for the shortcuts reading the code cannot see."""

    def decode(self, *args, **kwargs):
        raise Forbidden(f"your code called bytes.decode: {_NO_DECODE}")


def check_utf8_decode(utf8_decode: Callable[[bytes], str]) -> bool:
    """`utf8_decode(data) -> str` for valid UTF-8, by reading the bit patterns (not `bytes.decode`)."""

    def test() -> None:
        forbid(utf8_decode, _NO_DECODE, names=("decode",), modules=LIBRARIES + ("codecs", "encodings", "io"),
               strings=("utf-8", "utf8", "utf_8", "u8", "latin-1", "latin1", "iso-8859-1", "ascii"))
        for text in ["", "hi!", "naïve", "안녕하세요", "😀", "a안😀b\n"]:
            got = utf8_decode(_UndecodableBytes(text.encode("utf-8")))
            expect(isinstance(got, str), f"utf8_decode should return a str, got {type(got).__name__}")
            expect_equal(got, text, f"utf8_decode({text.encode('utf-8')!r})")

    return run_check(
        "utf8_decode", test,
        "the high bits of a first byte say how many bytes the character takes (the table in section 2); keep the "
        "payload bits after them, then for each continuation byte shift what you have 6 bits to the left and add "
        "that byte's low 6 bits; `chr` turns the finished code point into a character",
        nudge="what do the high bits of a character's first byte tell you (the table in section 2)?",
    )


def check_decode_ids(decode_ids: Callable[[list[int], dict], str]) -> bool:
    """`decode_ids(ids, merges) -> str`: rebuild each token's bytes from the merges, join, decode with replacement."""

    def test() -> None:
        forbid(decode_ids)
        tok = _small_tokenizer()
        merges = dict(tok.merges)
        for text in ["lowest", "wider newest", "안녕하세요", "😀 low"]:
            ids = tok.encode(text)
            expect_equal(decode_ids(list(ids), dict(merges)), text, f"decode_ids({ids}, merges)")
        split = list("안".encode("utf-8"))  # one character spread over three byte tokens
        expect_equal(decode_ids(split, dict(merges)), "안", f"decode_ids({split}, merges)")
        cut = split[:2]  # a cut character, as a model may generate
        expect_equal(decode_ids(cut, dict(merges)), "\ufffd", f"decode_ids({cut}, merges)")

    return run_check(
        "decode_ids", test,
        "build a table from id to bytes: the 256 single bytes first, then each merged id as the bytes of its two "
        "parts, in the order the merges were learned; join the bytes of all the ids before decoding (a character "
        "can span tokens) and decode with the `errors` argument set to replace",
        nudge="which bytes does a merged token stand for? And can one character's bytes be spread over two tokens?",
    )


def check_encode_word(encode_word: Callable[[str, dict], list[int]]) -> bool:
    """`encode_word(word, merges) -> ids`: UTF-8 bytes, then merge the lowest-ranked pair until none applies."""

    def test() -> None:
        forbid(encode_word)
        # hand-made merges where the leftmost pair is NOT the first to merge: 'bc' ranks before 'ab'
        merges = {(98, 99): 256, (97, 98): 257, (97, 256): 258}
        expect_equal(encode_word("abc", dict(merges)), [258], "encode_word('abc', merges)")
        expect_equal(encode_word("abab", dict(merges)), [257, 257], "encode_word('abab', merges)")
        tok = _small_tokenizer()
        for word in ["lowest", "newer", "widest", "slower", "안녕하세요", "😀", "x"]:
            want = tok.encode(word)
            got = encode_word(word, dict(tok.merges))
            expect(isinstance(got, list), f"encode_word should return a list, got {type(got).__name__}")
            expect_equal(got, want, f"encode_word({word!r}, merges)")

    return run_check(
        "encode_word", test,
        "start from the word's UTF-8 bytes as a list of ints; repeat: among the adjacent pairs that are in merges, "
        "pick the one with the smallest new id (learned first), replace its occurrences from left to right by that "
        "id, and stop when no adjacent pair is in merges",
        nudge="which pair merges first: the leftmost one, or the one that was learned earliest?",
    )
