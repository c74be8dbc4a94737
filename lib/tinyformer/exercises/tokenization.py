"""Exercises for notebook 01 (tokenization): UTF-8 decoding by hand, decoding ids, encoding a word with merges."""

from __future__ import annotations

from typing import Callable

from tinyformer.exercises.core import expect, expect_equal, run_check
from tinyformer.tokenizer import BPETokenizer

__all__ = ["check_utf8_decode", "check_decode_ids", "check_encode_word"]

_WORDS = "low lower lowest newer newest wider widest 안녕 안녕하세요 😀 😀 "


def _small_tokenizer() -> BPETokenizer:
    return BPETokenizer.train(_WORDS * 3, 290, progress=False)


def check_utf8_decode(utf8_decode: Callable[[bytes], str]) -> bool:
    """`utf8_decode(data) -> str` for valid UTF-8, by reading the bit patterns (not `bytes.decode`)."""

    def test() -> None:
        for text in ["", "hi!", "naïve", "안녕하세요", "😀", "a안😀b\n"]:
            got = utf8_decode(text.encode("utf-8"))
            expect(isinstance(got, str), f"utf8_decode should return a str, got {type(got).__name__}")
            expect_equal(got, text, f"utf8_decode({text.encode('utf-8')!r})")

    return run_check("utf8_decode", test, "the first byte says the length: 0xxxxxxx -> 1 byte, 110xxxxx -> 2, 1110xxxx -> 3, "
                     "11110xxx -> 4; keep its payload bits, then shift in 6 bits (b & 0x3F) from each following byte; chr() the result")


def check_decode_ids(decode_ids: Callable[[list[int], dict], str]) -> bool:
    """`decode_ids(ids, merges) -> str`: rebuild each token's bytes from the merges, join, decode with replacement."""

    def test() -> None:
        tok = _small_tokenizer()
        merges = dict(tok.merges)
        for text in ["lowest", "wider newest", "안녕하세요", "😀 low"]:
            ids = tok.encode(text)
            expect_equal(decode_ids(list(ids), dict(merges)), text, f"decode_ids({ids}, merges)")
        split = list("안".encode("utf-8"))  # one character spread over three byte tokens
        expect_equal(decode_ids(split, dict(merges)), "안", f"decode_ids({split}, merges)")
        cut = split[:2]  # a cut character, as a model may generate
        expect_equal(decode_ids(cut, dict(merges)), "\ufffd", f"decode_ids({cut}, merges)")

    return run_check("decode_ids", test, "vocab = {i: bytes([i]) for i in range(256)}, then for (a, b), new in merges.items(): "
                     "vocab[new] = vocab[a] + vocab[b]; join ALL the bytes first (a character can span tokens), then "
                     ".decode('utf-8', errors='replace')")


def check_encode_word(encode_word: Callable[[str, dict], list[int]]) -> bool:
    """`encode_word(word, merges) -> ids`: UTF-8 bytes, then merge the lowest-ranked pair until none applies."""

    def test() -> None:
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

    return run_check("encode_word", test, "start from list(word.encode('utf-8')); in a loop, among adjacent pairs that are "
                     "in merges pick the one learned first (smallest merges[pair]), merge it, stop when none is left")
