"""Encoding with learned merges: clean the text, merge one chunk, encode a stream of lines.

The machinery under `BPETokenizer.encode` and `encode_iterable` (tokenizer.py):
- `clean_text`: a lone surrogate (say "\\ud83d", from a cut UTF-16 string) becomes U+FFFD and a
  surrogate pair becomes its character, as in tiktoken, so any str can become UTF-8.
- `bpe_merge`: the byte-pair merge of one pre-split chunk, the lowest-ranked pair first and the
  leftmost on ties (the rule of GPT-2's encoder.py and tiktoken's `_byte_pair_merge`): the textbook
  rescan for short chunks, a heap (O(n log n) in the length n) for long ones, so one run of 100k
  "=" is fine.
- `encode_stream`: the ids of `"".join(lines)`, exactly `encode`'s, read lazily in bounded memory.

Left out: a compiled fast path; patterns that look behind, or more than `LOOKAHEAD` characters
past a chunk, which `encode_stream` would cut wrongly (GPT-2's, cl100k's and o200k's do neither).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .tokenizer import BPETokenizer

__all__ = [
    "LOOKAHEAD", "RESCAN_MAX", "bpe_merge", "bpe_merge_heap", "bpe_merge_rescan", "clean_text", "encode_stream", "is_surrogate",
    "text_pieces",
]

# encode_stream holds back chunks that end this close to the end of the text seen so far: the
# GPT-2, cl100k and o200k patterns look at most 3 characters past a chunk ("'re" after a word)
LOOKAHEAD = 3
# bpe_merge rescans chunks of up to this many ids and heap-merges longer ones: per chunk of the Python
# docs at vocab 2048, the heap took 1.4-1.9x the rescan's time below 8 bytes, 1.0-1.15x at 8-11, less from 12
# (most chunks are words, so the rescan carries encode; the heap keeps long runs from going quadratic)
RESCAN_MAX = 11


# ---- text cleaning ---------------------------------------------------------------------------
def is_surrogate(ch: str) -> bool:
    """True for a UTF-16 surrogate code point (U+D800..U+DFFF): half of a character, not text."""
    return "\ud800" <= ch <= "\udfff"


def clean_text(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD and surrogate pairs joined (as tiktoken)."""
    if text.isascii():  # the common case, checked in C without copying
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def text_pieces(lines: Iterable[str]) -> Iterator[str]:
    """The pieces of `lines`, checked to be str and cleaned of lone surrogates.

    A high surrogate that ends a piece waits for the next one: with the low surrogate that may
    start it, it is one character, as in the joined text.
    """
    carry = ""
    for n, piece in enumerate(lines):
        if not isinstance(piece, str):
            hint = " (open the file in text mode, not 'rb')" if isinstance(piece, (bytes, bytearray)) else ""
            raise TypeError(f"lines must yield str, but item {n} is {type(piece).__name__}{hint}")
        piece = carry + piece
        carry = ""
        if piece and "\ud800" <= piece[-1] <= "\udbff":
            piece, carry = piece[:-1], piece[-1]
        yield clean_text(piece)
    if carry:
        yield clean_text(carry)


# ---- the merge of one chunk ------------------------------------------------------------------
def bpe_merge(ids: list[int], ranks: Mapping[tuple[int, int], tuple[int, int]]) -> list[int]:
    """Merge the lowest-ranked adjacent pair (leftmost on ties) until none is left.

    `ranks` maps (a, b) -> (rank, merged id). Chunks of up to `RESCAN_MAX` ids take the textbook
    rescan (faster when short: most chunks are words), longer ones the heap; both give the same ids.
    """
    if len(ids) <= RESCAN_MAX:
        return bpe_merge_rescan(ids, ranks)
    return bpe_merge_heap(ids, ranks)


def bpe_merge_rescan(ids: list[int], ranks: Mapping[tuple[int, int], tuple[int, int]]) -> list[int]:
    """The textbook loop: scan every adjacent pair, merge the lowest-ranked (leftmost on ties), repeat; O(n^2)."""
    ids = list(ids)
    while len(ids) > 1:
        best_rank, best_i, best_id = None, -1, -1
        for i in range(len(ids) - 1):
            r = ranks.get((ids[i], ids[i + 1]))
            if r is not None and (best_rank is None or r[0] < best_rank):
                best_rank, best_i, best_id = r[0], i, r[1]
        if best_rank is None:
            break
        ids[best_i : best_i + 2] = [best_id]
    return ids


def bpe_merge_heap(ids: list[int], ranks: Mapping[tuple[int, int], tuple[int, int]]) -> list[int]:
    """`bpe_merge_rescan`'s result in O(n log n): a run of 100k "=" takes a fraction of a second.

    The n parts are a linked list over their starting positions (`after`, `before`; a merged-away
    part is -1). A heap holds `rank * n + position` for each adjacent pair that has a rank, so it
    pops the lowest rank, leftmost first: the rescan's choice. An entry whose pair has since
    changed is skipped.
    """
    n = len(ids)
    heap = []
    for i in range(n - 1):
        r = ranks.get((ids[i], ids[i + 1]))
        if r is not None:
            heap.append(r[0] * n + i)
    heapq.heapify(heap)
    ids = list(ids)
    after = list(range(1, n + 1))  # position of the next live part; n means none
    before = list(range(-1, n - 1))  # position of the previous live part; -1 means none
    while heap:
        rank, i = divmod(heapq.heappop(heap), n)
        j = after[i]
        if ids[i] < 0 or j == n:
            continue  # stale: the part at i was merged away, or is now the last one
        r = ranks.get((ids[i], ids[j]))
        if r is None or r[0] != rank:
            continue  # stale: a neighbour merged since; its new pair was pushed then
        new = ids[i] = r[1]  # the left part becomes the merged token
        ids[j] = -1
        k = after[i] = after[j]
        if k < n:
            before[k] = i
            r = ranks.get((new, ids[k]))
            if r is not None:
                heapq.heappush(heap, r[0] * n + i)
        p = before[i]
        if p >= 0:
            r = ranks.get((ids[p], new))
            if r is not None:
                heapq.heappush(heap, r[0] * n + p)
    return [t for t in ids if t >= 0]


# ---- streaming -------------------------------------------------------------------------------
def encode_stream(tok: BPETokenizer, lines: Iterable[str], allowed: set[str], disallowed: set[str]) -> Iterator[int]:
    """The ids of `"".join(lines)` under `tok`, yielded as soon as no later text can change them.

    `allowed`/`disallowed` are resolved special token names (see `BPETokenizer.encode`). Text is
    read until as much new text came as is waiting (so the waiting text is rescanned a bounded
    number of times: linear time), then its settled prefix is encoded and dropped.
    """
    keep = max(map(len, allowed | disallowed), default=1) - 1  # a special token can straddle this many characters
    searched = ""  # the last `keep` characters already searched for disallowed special tokens
    buf = ""  # text read but not yet encoded
    pending: list[str] = []  # pieces read but not yet added to buf
    n_pending = 0
    for piece in text_pieces(lines):
        pending.append(piece)
        n_pending += len(piece)
        if n_pending <= len(buf):  # rescan buf only once as much new text came: linear time
            continue
        new = "".join(pending)
        pending, n_pending = [], 0
        searched = _refuse_in_window(tok, searched, new, disallowed, keep)
        buf += new
        ids, done = _encode_settled(tok, buf, allowed)
        yield from ids
        buf = buf[done:]
    new = "".join(pending)
    _refuse_in_window(tok, searched, new, disallowed, keep)
    yield from tok.encode(buf + new, allowed_special=allowed, disallowed_special=())


def _refuse_in_window(tok: BPETokenizer, searched: str, new: str, disallowed: set[str], keep: int) -> str:
    """Raise if a disallowed special token ends in `new`; return the new `searched` tail."""
    window = searched + new
    if disallowed:
        tok._refuse_specials(window, disallowed)
    return window[max(len(window) - keep, 0) :]


def _encode_settled(tok: BPETokenizer, buf: str, allowed: set[str]) -> tuple[list[int], int]:
    """(ids, n): the ids of `buf[:n]`, the longest prefix whose ids no text appended to `buf` can change."""
    ids: list[int] = []
    start, end = 0, len(buf)
    if allowed:
        longest = max(map(len, allowed))
        end = len(buf) - longest + 1  # a special token could still start after here
        for m in tok._specials_regex(allowed).finditer(buf):
            if m.start() >= end:  # a longer special token could start at m.start(): wait
                break
            ids += tok._encode_ordinary(buf[start : m.start()])  # a special token ends the text before it
            ids.append(tok.special_tokens[m.group()])
            start = m.end()
        end = max(start, end)
    text = buf[start:end]
    # settled chunks end before the trailing whitespace (it may continue) and LOOKAHEAD before the end
    # (rstrip strips a few characters \s does not match: holding back more is safe)
    cutoff = min(len(text) - LOOKAHEAD, len(text.rstrip()))
    chunks = []
    done = 0
    for m in tok._regex.finditer(text):
        if m.end() > cutoff:
            break
        chunks.append(m.group())
        done = m.end()
    return ids + tok._encode_chunks(chunks), start + done
