"""Training byte-level BPE: learn merges from a corpus of chunks, fast, in plain Python.

The corpus arrives as its distinct pre-split chunks with counts (`Counter[bytes]`). Pair counts
are kept up to date incrementally; an index pair -> chunks means a merge only touches the chunks
that contain the pair; a lazy max-heap finds the most frequent pair (stale entries are fixed when
popped). `BPETokenizer.train` calls `learn_merges`; tie-breaks are described in tokenizer.py and `_tie_key`.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Mapping

from tqdm.auto import tqdm

__all__ = ["bytes_to_unicode", "byte_rank", "learn_merges"]


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table byte -> printable character (HF `tokenizers` shows byte tokens this way)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return dict(sorted(table.items()))


def byte_rank(tie_break: str) -> list[int]:
    """Rank of each byte token for tie-breaking: its value, or its position in HF's alphabet."""
    if tie_break == "ids":
        return list(range(256))
    table = bytes_to_unicode()
    order = sorted(range(256), key=lambda b: table[b])
    rank = [0] * 256
    for r, b in enumerate(order):
        rank[b] = r
    return rank


class _Descending:
    """A heap key that sorts in reverse: the min-heap then pops the greatest key first."""

    __slots__ = ("key",)

    def __init__(self, key: tuple[bytes, bytes]):
        self.key = key

    def __lt__(self, other: "_Descending") -> bool:
        return other.key < self.key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and self.key == other.key


def _tie_key(tie_break: str, vocab: list[bytes]) -> Callable[[tuple[int, int]], object]:
    """The key that orders pairs of equal count: the smallest key wins.

    "ids": the pair itself. "hf": byte tokens in HF's order, merged tokens by id. "lexicographic":
    the pair's byte strings, reversed, so the greatest (vocab[a], vocab[b]) wins (`vocab` grows
    as merges are learned; the key reads it when the pair is pushed, after both tokens exist).
    """
    if tie_break == "ids":
        return tuple
    if tie_break == "lexicographic":
        return lambda pair: _Descending((vocab[pair[0]], vocab[pair[1]]))
    rank = byte_rank(tie_break)
    return lambda pair: (rank[pair[0]] if pair[0] < 256 else pair[0], rank[pair[1]] if pair[1] < 256 else pair[1])


def learn_merges(chunks: Mapping[bytes, int], n_tokens: int, tie_break: str, progress: bool) -> list[tuple[int, int, int]]:
    """Merges (a, b, new_id) in the order learned, until the vocabulary has `n_tokens` tokens.

    `tie_break` is "ids", "hf" or "lexicographic" (see `_tie_key`); ValueError for any other.
    """
    if tie_break not in ("ids", "hf", "lexicographic"):
        raise ValueError(f"tie_break={tie_break!r} is not one of ('ids', 'hf', 'lexicographic')")
    words = [list(w) for w in chunks]  # distinct chunks as ids; bytes 0..255 are ids 0..255
    counts = list(chunks.values())
    pair_counts: dict[tuple[int, int], int] = defaultdict(int)
    where: dict[tuple[int, int], set[int]] = defaultdict(set)  # pair -> chunks that (may) contain it
    for w, (ids, c) in enumerate(zip(words, counts)):
        for pair in zip(ids, ids[1:]):
            pair_counts[pair] += c
            where[pair].add(w)
    vocab = [bytes([b]) for b in range(256)]
    index = {tok: i for i, tok in enumerate(vocab)}
    key = _tie_key(tie_break, vocab)
    # max-heap by count, then smallest key; entries go stale when a count drops and are fixed on pop
    heap = [(-c, key(p), p) for p, c in pair_counts.items()]
    heapq.heapify(heap)
    merges: list[tuple[int, int, int]] = []
    bar = tqdm(total=max(n_tokens - 256, 0), desc="BPE merges", disable=not progress)
    while len(vocab) < n_tokens and heap:
        neg_count, k, pair = heapq.heappop(heap)
        count = pair_counts.get(pair, 0)
        if count != -neg_count:  # stale entry: re-queue with the true count (if any left)
            if count > 0:
                heapq.heappush(heap, (-count, k, pair))
            continue
        a, b = pair
        new_bytes = vocab[a] + vocab[b]
        new_id = index.get(new_bytes)
        if new_id is None:
            new_id = len(vocab)
            vocab.append(new_bytes)
            index[new_bytes] = new_id
            bar.update()
        merges.append((a, b, new_id))
        grown: dict[tuple[int, int], None] = {}  # pairs with the new token: their counts went up
        for w in where.pop(pair):
            ids, c = words[w], counts[w]
            if a not in ids:  # a stale index entry, found by a fast scan in C
                continue
            out: list[int] = []
            i, n = 0, len(ids)
            while i < n:
                if ids[i] == a and i + 1 < n and ids[i + 1] == b:
                    # only the pairs touching this occurrence change: (prev, a) -> (prev, new), (b, next) -> (new, next)
                    if out:
                        prev = out[-1]  # already the new token if the previous pair was merged too
                        pair_counts[prev, a] -= c
                        p = (prev, new_id)
                        pair_counts[p] += c
                        grown[p] = None
                        where[p].add(w)
                    if i + 2 < n:
                        nxt = ids[i + 2]
                        pair_counts[b, nxt] -= c
                        p = (new_id, nxt)
                        pair_counts[p] += c
                        grown[p] = None
                        where[p].add(w)
                    out.append(new_id)
                    i += 2
                else:
                    out.append(ids[i])
                    i += 1
            words[w] = out
        pair_counts.pop(pair, None)  # all its occurrences are gone
        for p in grown:
            if pair_counts[p] > 0:
                heapq.heappush(heap, (-pair_counts[p], key(p), p))
    bar.close()
    return merges
