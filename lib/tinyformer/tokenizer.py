"""Byte-level byte-pair encoding (BPE), the tokenizer of GPT-2.

BPE (Sennrich et al., 2016) starts from a vocabulary of symbols and repeatedly adds the most
frequent adjacent pair as a new symbol. GPT-2 (Radford et al., 2019) runs it on UTF-8 *bytes*, so
the 256 base tokens cover any text and nothing is ever unknown, and first splits text with a regex
(words, numbers, punctuation runs, whitespace) so merges never cross a split: " dog" and " dog."
share the token " dog".

Training is fast in plain Python (bpe_trainer.py): the corpus is reduced to its distinct chunks
with counts, pair counts are kept up to date incrementally, an index pair -> chunks means a merge
only touches the chunks that contain the pair, and a lazy max-heap finds the most frequent pair.
Encoding caches the ids of every distinct chunk; a new chunk is merged by rescanning its pairs
if short, with a heap if long (O(n log n) in its length n, so a run of 100k "=" is fine).
`encode_iterable` encodes a stream of lines (an open file) in bounded memory and gives exactly
`encode`'s ids. Both live in bpe_encode.py, with the text cleaning: a lone surrogate (say
"\ud83d", from a cut UTF-16 string) becomes U+FFFD and a surrogate pair its character, as in
tiktoken, wherever text comes in. This module keeps the BPETokenizer class: its constructors,
files and special tokens.

Tie-break: when several pairs share the highest count, the pair with the smallest ids wins
(compare the first ids, then the second). `tie_break="hf"` compares the 256 byte tokens in the
order HF `tokenizers` numbers them (sorted by their GPT-2 `bytes_to_unicode` character), which
makes the learned merges equal to HF's BPE trainer. `tie_break="lexicographic"` takes the pair
whose byte strings are greatest ((b"y", b"z") before (b"a", b"b")), the rule of Stanford CS336's
BPE assignment. If a merge produces bytes that are already a token (say "a"+"bc" after "ab"+"c"),
that token's id is reused, as HF does: every id is distinct bytes.

Left out: Unicode normalisation, BPE-dropout, a compiled fast path. `V` is the vocabulary size.
"""

from __future__ import annotations

import base64
import json
import numbers
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import regex

from .bpe_encode import LOOKAHEAD, bpe_merge, clean_text, encode_stream, is_surrogate, text_pieces
from .bpe_trainer import bytes_to_unicode, learn_merges

__all__ = ["GPT2_PATTERN", "BPETokenizer", "bytes_to_unicode"]

# GPT-2's pre-split regex (encoder.py in openai/gpt-2): contractions, letters, numbers, other
# symbols, each optionally after one space; whitespace runs keep their last space for the next word.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
TIE_BREAKS = ("ids", "hf", "lexicographic")
FILE_FORMAT = "tinyformer-bpe"
_CACHE_LIMIT = 200_000  # distinct chunks kept by the encode cache before it starts over
# the helpers' names from before they moved to bpe_encode.py, for code that imported them from here
_clean_text, _is_surrogate, _bpe_merge, _text_pieces, _LOOKAHEAD = clean_text, is_surrogate, bpe_merge, text_pieces, LOOKAHEAD


def _check_special_names(names: Iterable[str], what: str) -> list[str]:
    """`names` as a list, checked: a collection (not one str) of distinct non-empty strings of text."""
    if isinstance(names, str) or not isinstance(names, Iterable):
        hint = f" (write [{names!r}] for one token)" if isinstance(names, str) else ""
        raise TypeError(f"{what} must be a list of str, got {type(names).__name__} {names!r}{hint}")
    names = list(names)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"{what} must contain only str, got {type(name).__name__} {name!r}")
        if not name:
            raise ValueError(f"{what} must be non-empty strings, got {name!r}")
        if any(map(is_surrogate, name)):
            raise ValueError(f"{what} entry {name!r} contains a lone surrogate, which is not text")
    if len(set(names)) != len(names):
        raise ValueError(f"{what} has duplicates: {names}")
    return names


def _compile(pattern: str) -> regex.Pattern:
    """The pre-split regex, checked: valid, never matching the empty string, no capturing groups."""
    if not isinstance(pattern, str):
        raise TypeError(f"pattern must be a regex string, got {type(pattern).__name__}")
    try:
        compiled = regex.compile(pattern)
    except regex.error as e:
        raise ValueError(f"pattern={pattern!r} is not a valid regex: {e}") from None
    if compiled.match("") is not None:
        raise ValueError(f"pattern={pattern!r} matches the empty string; every chunk must hold at least one character")
    if compiled.groups:  # findall would return the groups, not the chunks
        raise ValueError(f"pattern={pattern!r} has capturing groups; write (?:...) instead of (...)")
    return compiled


def _is_id(i: object) -> bool:
    """An integer (Python or NumPy), not a bool."""
    return isinstance(i, numbers.Integral) and not isinstance(i, bool)


def _check_path(path: str | os.PathLike, what: str = "path") -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{what} must be a str or os.PathLike file path, got {type(path).__name__}")
    return Path(path)


def _merge_triples(merges) -> list[tuple[int, int, int]]:
    """Merges as (a, b, new_id) triples: from `{(a, b): new_id}`, or a sequence of pairs or triples."""
    if isinstance(merges, Mapping):
        items = [(*pair, new_id) if isinstance(pair, tuple) else (pair, new_id) for pair, new_id in merges.items()]
    elif isinstance(merges, (str, bytes)) or not isinstance(merges, Iterable):
        raise TypeError(f"merges must be a dict {{(a, b): new_id}} or a list of (a, b) pairs, got {type(merges).__name__}")
    else:
        items = list(merges)
    triples = []
    for rank, m in enumerate(items):
        m = tuple(m) if isinstance(m, (tuple, list)) else (m,)
        if len(m) == 2:
            m = (*m, 256 + rank)
        if len(m) != 3 or not all(isinstance(x, int) and not isinstance(x, bool) for x in m):
            raise ValueError(f"merges[{rank}]={m!r} is not a pair of token ids (a, b) with a new id")
        triples.append(m)
    return triples


class BPETokenizer:
    """A byte-level BPE tokenizer: `ids = tok.encode(text)`, `text = tok.decode(ids)`.

    Build one with `BPETokenizer.train(text, vocab_size)`, `BPETokenizer.load(path)`,
    `BPETokenizer.from_tiktoken(path)`, or directly from merges `BPETokenizer([(a, b), ...])`
    (the i-th merge makes token 256 + i unless a mapping `{(a, b): new_id}` says otherwise).
    Ids 0..255 are the bytes, then one id per merged token, then the special tokens.
    """

    def __init__(
        self,
        merges: Mapping[tuple[int, int], int] | Sequence[tuple[int, int]] | Sequence[tuple[int, int, int]] = (),
        *,
        pattern: str = GPT2_PATTERN,
        special_tokens: Sequence[str] | Mapping[str, int] = (),
    ):
        triples = _merge_triples(merges)
        vocab: dict[int, bytes] = {b: bytes([b]) for b in range(256)}
        seen: set[tuple[int, int]] = set()
        for rank, m in enumerate(triples):
            a, b, new_id = m
            if (a, b) in seen:
                raise ValueError(f"merges[{rank}]={m!r} repeats the pair ({a}, {b}); each pair merges once")
            seen.add((a, b))
            if a not in vocab or b not in vocab:
                raise ValueError(f"merges[{rank}]={m!r} uses an id that no earlier merge or byte made")
            if new_id in vocab and vocab[new_id] != vocab[a] + vocab[b]:
                raise ValueError(f"merges[{rank}]={m!r} gives id {new_id}, which already names other bytes")
            if new_id < 0:
                raise ValueError(f"merges[{rank}]={m!r} has a negative new id")
            vocab[new_id] = vocab[a] + vocab[b]
        ranks = {(a, b): (rank, new_id) for rank, (a, b, new_id) in enumerate(triples)}
        self._setup(vocab, list(range(256)), ranks, None, pattern, special_tokens)
        self._merges = triples

    def _setup(self, vocab, byte_ids, ranks, whole, pattern, special_tokens) -> None:
        """Shared by every constructor: vocabulary, pair ranks, special tokens, caches."""
        self.pattern = pattern
        self._regex = _compile(pattern)
        self._vocab: dict[int, bytes] = dict(vocab)  # id -> bytes, ordinary tokens
        self._byte_ids: list[int] = byte_ids  # byte value -> id
        self._ranks: dict[tuple[int, int], tuple[int, int]] = ranks  # (a, b) -> (rank, merged id)
        self._whole = whole  # tiktoken: a chunk that is itself a token is returned as that token
        if isinstance(special_tokens, Mapping):
            specials = dict(special_tokens)
            _check_special_names(specials, "special_tokens")
        else:
            names = _check_special_names(special_tokens, "special_tokens")
            first = max(self._vocab) + 1
            specials = {name: first + i for i, name in enumerate(names)}
        for name, i in specials.items():
            if not isinstance(i, int) or i < 0 or i in self._vocab:
                raise ValueError(f"special token {name!r} has id {i!r}, which is not a free non-negative id")
        if len(set(specials.values())) != len(specials):
            raise ValueError(f"special_tokens share ids: {specials}")
        self.special_tokens: dict[str, int] = specials
        self._decoder = {**self._vocab, **{i: name.encode("utf-8") for name, i in specials.items()}}
        self._vocab_size = max(self._decoder) + 1
        self._special_regex = {}  # frozenset of names -> compiled alternation, longest first
        self._cache: dict[str, tuple[int, ...]] = {}

    # ---- training -------------------------------------------------------------------------
    @classmethod
    def train(
        cls,
        text: str,
        vocab_size: int,
        *,
        pattern: str = GPT2_PATTERN,
        special_tokens: Sequence[str] = (),
        tie_break: str = "ids",
        progress: bool | None = None,
    ) -> "BPETokenizer":
        """Learn `vocab_size - 256 - len(special_tokens)` merges from `text` (fewer if it runs out of pairs).

        Special tokens are cut out of `text` before counting, so no merge learns them. `tie_break`
        is "ids" (default), "hf" or "lexicographic" (see the module docstring). `progress` shows a
        tqdm bar: None (default) only for long runs (over 4096 merges or 5 MB of text).
        Raises TypeError for a non-str `text`, a str or non-list `special_tokens`, a non-int
        `vocab_size` or a non-bool `progress`; ValueError for a `vocab_size` below 256 plus the
        special tokens, an unknown `tie_break`, empty or repeated special tokens, a bad `pattern`.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if isinstance(special_tokens, Mapping):
            raise TypeError("special_tokens must be a list of str for train (their ids come after the merges), got a mapping")
        names = _check_special_names(special_tokens, "special_tokens")
        if not isinstance(vocab_size, int) or isinstance(vocab_size, bool):
            raise TypeError(f"vocab_size must be an int, got {type(vocab_size).__name__}")
        if vocab_size < 256 + len(names):
            raise ValueError(
                f"vocab_size={vocab_size} is too small: it needs the 256 byte tokens plus "
                f"{len(names)} special tokens, so at least {256 + len(names)}"
            )
        if not isinstance(tie_break, str) or tie_break not in TIE_BREAKS:
            raise ValueError(f"tie_break={tie_break!r} is not one of {TIE_BREAKS}")
        if progress is not None and not isinstance(progress, bool):
            raise TypeError(f"progress must be True, False or None, got {type(progress).__name__}")
        split = _compile(pattern)
        text = clean_text(text)
        pieces = [text]
        if names:
            pieces = regex.split("|".join(regex.escape(n) for n in sorted(names, key=len, reverse=True)), text)
        counts: Counter[str] = Counter()
        for piece in pieces:
            counts.update(split.findall(piece))
        chunks = {chunk.encode("utf-8"): c for chunk, c in counts.items()}
        n_tokens = vocab_size - len(names)
        if progress is None:
            progress = n_tokens - 256 > 4096 or len(text) > 5_000_000
        merges = learn_merges(chunks, n_tokens, tie_break, progress)
        return cls(merges, pattern=pattern, special_tokens=names)

    # ---- tiktoken files -------------------------------------------------------------------
    @classmethod
    def from_tiktoken(
        cls,
        path: str | os.PathLike,
        *,
        pattern: str = GPT2_PATTERN,
        special_tokens: Mapping[str, int] | None = None,
    ) -> "BPETokenizer":
        """Load a tiktoken rank file (`base64-token rank` per line, like GPT-2's `gpt2.tiktoken`).

        Ids are the file's ranks, and encoding follows tiktoken exactly: a chunk that is itself a
        token becomes that token, otherwise the adjacent pair whose joined bytes has the lowest rank
        is merged first (leftmost on ties). `<|endoftext|>` is 50256 as in GPT-2, whatever the file's
        size, so `vocab_size` is at least 50257; with a small file the ids in between are unused
        and `decode` rejects them. Pass `special_tokens` to choose other specials.
        Raises ValueError naming `path` if it is not a rank file (say, a tokenizer JSON file).
        """
        path = _check_path(path)
        if special_tokens is not None and not isinstance(special_tokens, Mapping):
            raise TypeError(f"special_tokens must map names to ids, like {{'<|endoftext|>': 50256}}, got {type(special_tokens).__name__}")
        ranks = _read_tiktoken(path)
        specials = {"<|endoftext|>": 50256} if special_tokens is None else dict(special_tokens)
        try:
            return cls._from_ranks(ranks, pattern, specials)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None

    @classmethod
    def _from_ranks(cls, ranks: dict[bytes, int], pattern: str, specials: Mapping[str, int]) -> "BPETokenizer":
        missing = [b for b in range(256) if bytes([b]) not in ranks]
        if missing:
            raise ValueError(f"the rank file lacks {len(missing)} of the 256 single bytes (first: {missing[0]})")
        vocab = {rank: tok for tok, rank in ranks.items()}
        pair_ranks = {}
        for tok, rank in ranks.items():  # every split of a token into two tokens merges into it
            for k in range(1, len(tok)):
                left, right = ranks.get(tok[:k]), ranks.get(tok[k:])
                if left is not None and right is not None:
                    pair_ranks[(left, right)] = (rank, rank)
        self = cls.__new__(cls)
        self._setup(vocab, [ranks[bytes([b])] for b in range(256)], pair_ranks, dict(ranks), pattern, specials)
        self._merges = sorted(((a, b, new) for (a, b), (_, new) in pair_ranks.items()), key=lambda m: m[2])
        return self

    def save_tiktoken(self, path: str | os.PathLike) -> None:
        """Write the ordinary tokens as a tiktoken rank file (`base64-token id` per line, by id)."""
        path = _check_path(path)
        lines = [f"{base64.b64encode(tok).decode('ascii')} {i}\n" for i, tok in sorted(self._vocab.items())]
        _atomic_write(path, "".join(lines))

    # ---- properties -----------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        """One more than the largest id (ordinary or special): the size of an embedding table."""
        return self._vocab_size

    @property
    def merges(self) -> dict[tuple[int, int], int]:
        """`{(a, b): merged_id}` in the order the merges were learned (their priority in `encode`)."""
        return {(a, b): new for a, b, new in self._merges}

    def token_bytes(self, id: int) -> bytes:
        """The bytes of token `id` (a special token's UTF-8 text)."""
        if hasattr(id, "item") and not isinstance(id, bool):  # a 0-d tensor or a NumPy integer
            id = id.item()
        if isinstance(id, bool) or not isinstance(id, int) or id not in self._decoder:
            raise ValueError(f"id={id!r} is not a token id of this tokenizer (vocab_size={self.vocab_size})")
        return self._decoder[id]

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self._merges)}, special_tokens={self.special_tokens})"

    # ---- encode / decode ------------------------------------------------------------------
    def encode(self, text: str, allowed_special: str | Iterable[str] = (), disallowed_special: str | Iterable[str] = "all") -> list[int]:
        """Token ids of `text` (a list of ints in [0, V)).

        Special tokens follow tiktoken: those in `allowed_special` ("all" or a set of names) become
        their single id; any other special token found in the text raises ValueError, unless
        `disallowed_special=()` says to encode it as ordinary text. Lone surrogates become U+FFFD.
        Raises TypeError for a non-str `text` or a str other than "all" for the special sets.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        allowed, disallowed = self._special_sets(allowed_special, disallowed_special)
        text = clean_text(text)
        if disallowed:
            self._refuse_specials(text, disallowed)
        if not allowed:
            return self._encode_ordinary(text)
        ids: list[int] = []
        start = 0
        for m in self._specials_regex(allowed).finditer(text):
            ids += self._encode_ordinary(text[start : m.start()])
            ids.append(self.special_tokens[m.group()])
            start = m.end()
        ids += self._encode_ordinary(text[start:])
        return ids

    def encode_iterable(
        self, lines: Iterable[str], allowed_special: str | Iterable[str] = (), disallowed_special: str | Iterable[str] = "all"
    ) -> Iterator[int]:
        """Yield the ids of `"".join(lines)`, exactly `encode`'s, reading `lines` (say, an open file) lazily.

        Memory stays bounded by the longest pre-split chunk (a whitespace run, a long word) plus
        one piece of input, however long the stream. Chunks near the end of the text read so far
        are held back until the next piece shows they cannot grow ("\\n" then "\\n" is one chunk).
        Assumes the pattern looks at most 3 characters past a chunk and never behind (true of
        GPT-2's, cl100k's and o200k's patterns). The arguments are checked now; a piece that is not
        a str raises TypeError, and a disallowed special token ValueError, when iteration reaches it.
        """
        if isinstance(lines, str) or not isinstance(lines, Iterable):
            what = "a str: use encode for one string" if isinstance(lines, str) else type(lines).__name__
            raise TypeError(f"lines must be an iterable of str (say, an open text file), got {what}")
        allowed, disallowed = self._special_sets(allowed_special, disallowed_special)
        return encode_stream(self, iter(lines), allowed, disallowed)

    def _special_sets(self, allowed_special: str | Iterable[str], disallowed_special: str | Iterable[str]) -> tuple[set[str], set[str]]:
        """The (allowed, disallowed) special token names, as tiktoken resolves them."""
        if disallowed_special == "all" and type(allowed_special) is tuple and not allowed_special:
            return set(), set(self.special_tokens)  # the defaults, fast: encode is often called per line
        allowed = self._resolve(allowed_special, "allowed_special")
        if disallowed_special == "all":
            return allowed, set(self.special_tokens) - allowed
        return allowed, self._resolve(disallowed_special, "disallowed_special")

    def _refuse_specials(self, text: str, disallowed: set[str]) -> None:
        found = self._specials_regex(disallowed).search(text)
        if found:
            name = found.group()
            raise ValueError(
                f"text contains the special token {name!r}, which allowed_special does not allow; pass "
                f"allowed_special={{{name!r}}} (or 'all') to encode it as its id, or disallowed_special=() "
                f"to encode it as ordinary text"
            )

    def _resolve(self, names: str | Iterable[str], what: str) -> set[str]:
        if isinstance(names, str) and names == "all":
            return set(self.special_tokens)
        if isinstance(names, str) or not isinstance(names, Iterable):
            raise TypeError(f"{what} must be 'all' or a collection of special token names, got {type(names).__name__} {names!r}")
        names = set(names)
        bad = [n for n in names if not isinstance(n, str)]
        if bad:
            raise TypeError(f"{what} must contain special token names (str), got {bad[0]!r}")
        unknown = names - set(self.special_tokens)
        if unknown:
            raise ValueError(f"{what} names {sorted(unknown)}, which are not special tokens of this tokenizer ({sorted(self.special_tokens)})")
        return names

    def _specials_regex(self, names: set[str]) -> regex.Pattern:
        key = frozenset(names)
        if key not in self._special_regex:
            ordered = sorted(names, key=lambda n: (-len(n), n))  # longest first: "<|a|>x" before "<|a|>"
            self._special_regex[key] = regex.compile("|".join(regex.escape(n) for n in ordered))
        return self._special_regex[key]

    def _encode_ordinary(self, text: str) -> list[int]:
        """Ids of text with no special tokens: pre-split, then BPE each chunk (cached)."""
        return self._encode_chunks(self._regex.findall(text))

    def _encode_chunks(self, chunks: Iterable[str]) -> list[int]:
        cache = self._cache
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        ids: list[int] = []
        for chunk in chunks:
            chunk_ids = cache.get(chunk)
            if chunk_ids is None:
                chunk_ids = cache[chunk] = self._encode_chunk(chunk.encode("utf-8"))
            ids += chunk_ids
        return ids

    def _encode_chunk(self, data: bytes) -> tuple[int, ...]:
        """BPE one chunk: merge the lowest-ranked adjacent pair (leftmost on ties) until none is left."""
        if self._whole is not None and data in self._whole:
            return (self._whole[data],)
        ids = [self._byte_ids[b] for b in data]
        if len(ids) < 2:
            return tuple(ids)
        return tuple(bpe_merge(ids, self._ranks))

    def clear_cache(self) -> None:
        """Forget the cached chunk encodings (to time a cold encode)."""
        self._cache.clear()

    def decode(self, ids: Iterable[int]) -> str:
        """Text of `ids` (ints, a tensor or an array); bytes that are not valid UTF-8 (a cut-off
        character) become U+FFFD. TypeError if `ids` is not a sequence; ValueError naming the first
        entry that is not a token id (a float or a bool is not one, even 1.0 or True).
        """
        if hasattr(ids, "tolist"):  # a tensor or array
            ids = ids.tolist()
        if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
            raise TypeError(f"ids must be a sequence of ints, got {type(ids).__name__}")
        ids = list(ids)
        decoder = self._decoder
        try:
            if set(map(type, ids)) - {int}:  # 1.0 and True would find id 1: look closer
                raise TypeError
            data = b"".join([decoder[i] for i in ids])
        except (KeyError, TypeError):
            bad = [i for i in ids if not _is_id(i) or int(i) not in decoder]
            if bad:
                raise ValueError(f"ids contains {bad[0]!r}, which is not a token id of this tokenizer (vocab_size={self.vocab_size})") from None
            data = b"".join([decoder[int(i)] for i in ids])  # NumPy integers, say
        return data.decode("utf-8", errors="replace")

    # ---- files ----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the tokenizer as JSON (atomically: a temp file, then rename). TypeError for a non-path."""
        path = _check_path(path)
        state = {"format": FILE_FORMAT, "version": 1, "pattern": self.pattern, "special_tokens": self.special_tokens}
        if self._whole is None:
            state["kind"] = "merges"
            state["merges"] = [list(m) for m in self._merges]
        else:
            state["kind"] = "ranks"
            state["ranks"] = [[base64.b64encode(tok).decode("ascii"), i] for i, tok in sorted(self._vocab.items())]
        _atomic_write(path, json.dumps(state, ensure_ascii=False))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "BPETokenizer":
        """Read a tokenizer written by `save`; a file that is not one (or is damaged) raises ValueError naming it."""
        path = _check_path(path)
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{path} is not a tokenizer file (not valid JSON: {e}); is it truncated?") from None
        try:
            if not isinstance(state, dict) or state.get("format") != FILE_FORMAT:
                raise ValueError(f"it is not a {FILE_FORMAT} file (no 'format': {FILE_FORMAT!r})")
            if state.get("version") != 1:
                raise ValueError(f"version {state.get('version')!r} is not 1, the only version this tinyformer reads")
            for key in ("pattern", "special_tokens", "kind"):
                if key not in state:
                    raise ValueError(f"the key {key!r} is missing")
            if not isinstance(state["special_tokens"], dict):
                raise ValueError("'special_tokens' must map names to ids")
            if state["kind"] == "merges":
                merges = state.get("merges")
                if not isinstance(merges, list) or not all(isinstance(m, list) and len(m) == 3 for m in merges):
                    raise ValueError("'merges' must be a list of [a, b, new_id]")
                return cls([tuple(m) for m in merges], pattern=state["pattern"], special_tokens=state["special_tokens"])
            if state["kind"] == "ranks":
                rows = state.get("ranks")
                if not isinstance(rows, list) or not all(isinstance(r, list) and len(r) == 2 for r in rows):
                    raise ValueError("'ranks' must be a list of [base64 token, id]")
                ranks = _parse_ranks(rows)
                return cls._from_ranks(ranks, state["pattern"], state["special_tokens"])
            raise ValueError(f"unknown kind {state['kind']!r}")
        except (ValueError, TypeError) as e:
            raise ValueError(f"{path} is not a valid tokenizer file: {e}") from None


def _parse_ranks(rows: Iterable[Sequence]) -> dict[bytes, int]:
    """{token bytes: rank} from (base64, rank) rows, checking both columns and uniqueness."""
    ranks: dict[bytes, int] = {}
    for n, (b64, rank) in enumerate(rows, start=1):
        try:
            tok = base64.b64decode(b64, validate=True)
            rank = int(rank)
        except (ValueError, TypeError):
            raise ValueError(f"entry {n} ({b64!r} {rank!r}) is not `base64-token rank`") from None
        if not tok or rank < 0:
            raise ValueError(f"entry {n} has an empty token or a negative rank")
        if tok in ranks:
            raise ValueError(f"entry {n} repeats the token {tok!r}")
        ranks[tok] = rank
    if len(set(ranks.values())) != len(ranks):
        raise ValueError("two tokens share a rank")
    return ranks


def _read_tiktoken(path: Path) -> dict[bytes, int]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="ascii", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{path}: line {n} is {line[:60]!r}, expected `base64-token rank`")
        rows.append(parts)
    try:
        return _parse_ranks(rows)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
