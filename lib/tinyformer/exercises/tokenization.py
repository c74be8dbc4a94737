"""Exercises for notebook 01 (tokenization): count pairs, merge a pair, encode a word with merges."""

from __future__ import annotations

from collections import Counter
from typing import Callable

from tinyformer.exercises.core import expect, expect_equal, run_check
from tinyformer.tokenizer import BPETokenizer

__all__ = ["check_count_pairs", "check_merge", "check_encode_word"]


def check_count_pairs(count_pairs: Callable[[list[int]], dict]) -> bool:
    """`count_pairs(ids) -> {(a, b): count}` over adjacent positions."""

    def test() -> None:
        cases = [[1, 2, 3, 1, 2], [7, 7, 7], [5], [], list(b"low lower lowest")]
        for ids in cases:
            got = count_pairs(list(ids))
            expect(isinstance(got, dict), f"count_pairs should return a dict, got {type(got).__name__}")
            want = dict(Counter(zip(ids, ids[1:])))
            got = {k: v for k, v in got.items() if v}  # tolerate explicit zeros
            expect_equal(got, want, f"count_pairs({ids})")

    return run_check("count_pairs", test, "walk i over range(len(ids) - 1) and count the tuple (ids[i], ids[i + 1]); "
                     "overlapping pairs count: [7, 7, 7] has the pair (7, 7) twice")


def check_merge(merge: Callable[[list[int], tuple[int, int], int], list[int]]) -> bool:
    """`merge(ids, pair, new_id) -> list[int]`: every non-overlapping `pair`, left to right, becomes `new_id`."""

    def test() -> None:
        cases = [
            ([1, 2, 3, 1, 2], (1, 2), 99, [99, 3, 99]),
            ([7, 7, 7], (7, 7), 99, [99, 7]),
            ([7, 7, 7, 7], (7, 7), 99, [99, 99]),
            ([1, 2], (2, 1), 99, [1, 2]),
            ([3, 1], (1, 2), 99, [3, 1]),
            ([], (1, 2), 99, []),
        ]
        for ids, pair, new_id, want in cases:
            original = list(ids)
            got = merge(ids, pair, new_id)
            expect_equal(got, want, f"merge({original}, {pair}, {new_id})")
            expect(ids == original, f"merge changed its input list {original} in place; return a new list")

    return run_check("merge", test, "scan with an index i: if ids[i:i + 2] matches the pair, append new_id and "
                     "jump i by 2, else append ids[i] and step by 1 (so [7, 7, 7] -> [99, 7])")


def check_encode_word(encode_word: Callable[[str, dict], list[int]]) -> bool:
    """`encode_word(word, merges) -> ids`: UTF-8 bytes, then merge the lowest-ranked pair until none applies."""

    def test() -> None:
        # hand-made merges where the leftmost pair is NOT the first to merge: 'bc' ranks before 'ab'
        merges = {(98, 99): 256, (97, 98): 257, (97, 256): 258}
        expect_equal(encode_word("abc", dict(merges)), [258], "encode_word('abc', merges)")
        expect_equal(encode_word("abab", dict(merges)), [257, 257], "encode_word('abab', merges)")
        tok = BPETokenizer.train("low lower lowest newer newest wider widest " * 3, 280, progress=False)
        for word in ["lowest", "newer", "widest", "slower", "안녕", "x"]:
            want = tok.encode(word)
            got = encode_word(word, dict(tok.merges))
            expect(isinstance(got, list), f"encode_word should return a list, got {type(got).__name__}")
            expect_equal(got, want, f"encode_word({word!r}, merges)")

    return run_check("encode_word", test, "start from list(word.encode('utf-8')); in a loop, among adjacent pairs that are "
                     "in merges pick the one learned first (smallest merges[pair]), merge it, stop when none is left")

