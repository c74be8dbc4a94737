"""Data for translation: the project-made Korean→English corpus, real sentence pairs, batching.

- `make_ko_en_pairs`, `ko_en_splits`, `ko_en_length_split`, `held_out_pairs`: the generated corpus
  (see `tinyformer.ko_en` and data/README.md).
- `load_sentence_pairs`: tab-separated Tatoeba/Anki files (`english<TAB>other<TAB>attribution`),
  e.g. kor-eng from manythings.org/anki; `download` fetches one and checks its SHA-256.
- Batching: `encode_pair` adds SOS/EOS; `make_batches` buckets examples of similar length, pads
  them and builds the masks the encoder-decoder needs.
- Text is text: `as_text` checks a str and normalizes it to NFC (a decomposed, NFD, Korean sentence
  becomes the same syllables the corpus has); `encode_text` encodes it as ordinary text, so a
  special token's spelling in it ("<eos>") is its characters, never the special id.

Shapes: B batch, S source time, T target time. Masks are boolean, True = may attend.
Source ids end with EOS (the encoder sees where the sentence stops); target ids are
SOS … EOS, split into decoder input tgt_in = SOS … (last word) and labels tgt_out = … EOS.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import random
import tempfile
import unicodedata
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from tqdm.auto import tqdm

from .ko_en import held_out_pairs, ko_en_length_split, ko_en_splits, make_ko_en_pairs
from .masks import causal_mask, combine_masks, padding_mask

__all__ = [
    "make_ko_en_pairs", "ko_en_splits", "ko_en_length_split", "held_out_pairs", "load_sentence_pairs", "download", "sha256_of",
    "as_text", "encode_text", "encode_pair", "pad_sequences", "Batch", "make_batches",
]


# ----------------------------------------------------------------------------- text
def as_text(text: str, name: str = "text") -> str:
    """`text` in Unicode NFC (composed Hangul syllables, as in the corpus).

    Raises TypeError naming `name` if it is not a str, ValueError if it holds a lone surrogate
    (half of a UTF-16 pair, e.g. from a broken copy-paste), which is not a character and has no UTF-8.
    """
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, got {type(text).__name__}")
    for i, ch in enumerate(text):
        if "\ud800" <= ch <= "\udfff":
            raise ValueError(f"{name} holds a lone surrogate U+{ord(ch):04X} at index {i}, which is not a character; "
                             "fix the text (e.g. text.encode('utf-16', 'surrogatepass').decode('utf-16'))")
    return unicodedata.normalize("NFC", text)


def encode_text(tok: Any, text: str) -> list[int]:
    """Ids of `text` as ordinary text: a special token's spelling in it ("<eos>") is encoded as characters.

    `tok` is a `BPETokenizer` (or anything whose `.encode` takes tiktoken's `allowed_special` and
    `disallowed_special`), any other object with `.encode(text)`, or a callable; TypeError otherwise.
    """
    encode = getattr(tok, "encode", None)
    if encode is None:
        if not callable(tok):
            raise TypeError(f"tokenizer must have .encode(text) or be callable, got {type(tok).__name__}")
        return list(tok(text))
    try:
        params = inspect.signature(encode).parameters
    except (TypeError, ValueError):                                   # a builtin without a signature
        params = {}
    if "disallowed_special" in params:
        return list(encode(text, allowed_special=frozenset(), disallowed_special=frozenset()))
    return list(encode(text))


# ----------------------------------------------------------------------------- real sentence pairs
def _read_lines(path: Path) -> list[str]:
    """Lines of a text file, or of the one .txt file inside an Anki .zip (kor-eng.zip holds kor.txt)."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.endswith(".txt") and not n.startswith("_")]
            if len(names) != 1:
                raise ValueError(f"{path}: expected one sentence file in the zip, found {names}")
            return z.read(names[0]).decode("utf-8-sig").splitlines()
    return path.read_text(encoding="utf-8-sig").splitlines()


def load_sentence_pairs(path: str | os.PathLike, max_pairs: int | None = None, source: str = "other",
                        lowercase: bool = False) -> list[tuple[str, str]]:
    """(source, target) pairs from a Tatoeba/Anki file: `english<TAB>other[<TAB>attribution]`.

    source="other" translates the other language into English (kor-eng.txt → Korean→English);
    source="english" the reverse. Blank lines are skipped; any other line without two non-empty
    tab-separated columns raises ValueError naming the file and line number.
    """
    if source not in ("other", "english"):
        raise ValueError(f"source={source!r} must be 'other' (column 2 → English) or 'english' (English → column 2)")
    if max_pairs is not None and (not isinstance(max_pairs, int) or isinstance(max_pairs, bool) or max_pairs < 0):
        raise ValueError(f"max_pairs={max_pairs!r} must be None or an int >= 0")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or a pathlib.Path, got {type(path).__name__}")
    path = Path(path)
    pairs: list[tuple[str, str]] = []
    for number, line in enumerate(_read_lines(path), start=1):
        if max_pairs is not None and len(pairs) >= max_pairs:
            break
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) < 2 or not cols[0].strip() or not cols[1].strip():
            raise ValueError(f"{path}:{number}: expected 'english<TAB>other[<TAB>attribution]', got {line[:60]!r}")
        english, other = (unicodedata.normalize("NFC", c.strip()) for c in cols[:2])
        if lowercase:
            english, other = english.lower(), other.lower()
        pairs.append((other, english) if source == "other" else (english, other))
    return pairs


def download(url: str, sha256: str, dest: str | os.PathLike, progress: bool = True) -> Path:
    """Fetch `url` to `dest` unless it is already there with the right SHA-256; return the path.

    Streams into a temporary file next to `dest`, checks the digest, then renames atomically,
    so `dest` is either absent or complete. A wrong digest raises ValueError naming both digests.
    """
    if not isinstance(sha256, str) or len(sha256) != 64 or any(c not in "0123456789abcdefABCDEF" for c in sha256):
        raise ValueError(f"sha256={sha256!r} must be 64 hexadecimal characters")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"url={url!r} must start with http:// or https://")
    dest, expected = Path(dest), sha256.lower()
    if dest.exists() and sha256_of(dest) == expected:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            actual = _stream(response, out, dest.name, progress)
        if actual != expected:
            raise ValueError(f"{url}: SHA-256 mismatch, expected {expected}, got {actual}; file not saved")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return dest


def _stream(response: Any, out: Any, name: str, progress: bool) -> str:
    """Copy a response to `out` in chunks with a tqdm bar; return the hex SHA-256 of the bytes."""
    digest = hashlib.sha256()
    total = int(response.headers.get("Content-Length") or 0) or None
    with tqdm(total=total, unit="B", unit_scale=True, desc=name, disable=not progress) as bar:
        while chunk := response.read(1 << 16):
            digest.update(chunk)
            out.write(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes as hex, read in 64 KiB chunks (downloads check it)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 16):
            digest.update(chunk)
    return digest.hexdigest()


# ----------------------------------------------------------------------------- batching
def encode_pair(src_text: str, tgt_text: str, src_tok: Any, tgt_tok: Any, sos_id: int, eos_id: int) -> tuple[list[int], list[int]]:
    """(src_ids + [EOS], [SOS] + tgt_ids + [EOS]); a tokenizer is anything with .encode(text) or a callable.

    Both texts are NFC-normalized and encoded as ordinary text (`encode_text`): "<eos>" written in a
    sentence stays characters. Raises TypeError for a text that is not a str, ValueError for a bad id.
    """
    for name, value in (("sos_id", sos_id), ("eos_id", eos_id)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name}={value!r} must be a non-negative int token id")
    src_text, tgt_text = as_text(src_text, "src_text"), as_text(tgt_text, "tgt_text")
    return encode_text(src_tok, src_text) + [eos_id], [sos_id] + encode_text(tgt_tok, tgt_text) + [eos_id]


def pad_sequences(seqs: Sequence[Sequence[int]], pad_id: int) -> torch.Tensor:
    """Right-pad lists of ids to the longest one: (B, T) long tensor. ValueError if `seqs` is empty."""
    if isinstance(seqs, (str, bytes)) or not isinstance(seqs, Sequence):
        raise TypeError(f"seqs must be a list of id lists, got {type(seqs).__name__}")
    if not isinstance(pad_id, int) or isinstance(pad_id, bool):
        raise TypeError(f"pad_id must be an int, got {type(pad_id).__name__}")
    if len(seqs) == 0:
        raise ValueError("seqs is empty; need at least one sequence to pad")
    T = max(len(s) for s in seqs)
    return torch.tensor([list(s) + [pad_id] * (T - len(s)) for s in seqs], dtype=torch.long)  # (B, T)


@dataclass
class Batch:
    """One padded batch for an encoder-decoder; masks are boolean, True = may attend."""

    src: torch.Tensor  # (B, S) source ids, EOS-terminated, right-padded
    tgt_in: torch.Tensor  # (B, T) decoder input: SOS w1 ... wn (then padding)
    tgt_out: torch.Tensor  # (B, T) labels: w1 ... wn EOS (then padding)
    src_mask: torch.Tensor  # (B, 1, 1, S) real source tokens
    tgt_mask: torch.Tensor  # (B, 1, T, T) causal AND real target tokens

    @property
    def n_tokens(self) -> int:
        """Number of real (non-padding) labels: the denominator of a per-token loss."""
        return int(self.tgt_mask[:, 0, -1, :].sum())  # last query row = key padding of tgt_in

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(*(getattr(self, f).to(device) for f in ("src", "tgt_in", "tgt_out", "src_mask", "tgt_mask")))


def collate(examples: Sequence[tuple[Sequence[int], Sequence[int]]], pad_id: int) -> Batch:
    """Pad a list of (src_ids, tgt_ids) examples into a Batch and build its masks."""
    src = pad_sequences([s for s, _ in examples], pad_id)  # (B, S)
    tgt_in = pad_sequences([t[:-1] for _, t in examples], pad_id)  # (B, T): SOS w1 .. wn, no EOS
    tgt_out = pad_sequences([t[1:] for _, t in examples], pad_id)  # (B, T): w1 .. wn EOS, no SOS
    T = tgt_in.shape[1]
    tgt_mask = combine_masks(padding_mask(tgt_in, pad_id), causal_mask(T))  # (B, 1, T, T)
    return Batch(src, tgt_in, tgt_out, padding_mask(src, pad_id), tgt_mask)


def _check_examples(examples: Sequence[tuple[Sequence[int], Sequence[int]]], pad_id: int) -> None:
    for i, ex in enumerate(examples):
        if len(ex) != 2:
            raise ValueError(f"examples[{i}] must be a (src_ids, tgt_ids) pair, got {len(ex)} items")
        src, tgt = ex
        if len(src) < 1 or len(tgt) < 2:
            raise ValueError(f"examples[{i}]: src needs >= 1 id and tgt >= 2 ids (SOS ... EOS); use encode_pair")
        if pad_id in src or pad_id in tgt:
            raise ValueError(f"examples[{i}] contains pad_id={pad_id}; padding would hide a real token")


def make_batches(examples: Sequence[tuple[Sequence[int], Sequence[int]]], batch_size: int, pad_id: int,
                 shuffle: bool = True, seed: int = 0, bucket_factor: int = 50) -> list[Batch]:
    """Batches of examples of similar length (little padding), in a deterministic order.

    With shuffle, examples are shuffled, cut into chunks of batch_size * bucket_factor, each chunk is
    sorted by length and cut into batches, then the batch order is shuffled, all from `seed`.
    Without shuffle, batches follow the input order (for evaluation).
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be a positive int")
    if not isinstance(pad_id, int) or isinstance(pad_id, bool):
        raise TypeError(f"pad_id must be an int, got {type(pad_id).__name__}")
    if not isinstance(bucket_factor, int) or bucket_factor < 1:
        raise ValueError(f"bucket_factor={bucket_factor!r} must be a positive int")
    if isinstance(examples, (str, bytes)) or not isinstance(examples, Sequence) or len(examples) == 0:
        raise ValueError(f"examples must be a non-empty list of (src_ids, tgt_ids) pairs, got {examples!r:.60}")
    _check_examples(examples, pad_id)
    order = list(range(len(examples)))
    if shuffle:
        rng = random.Random(seed)
        rng.shuffle(order)
        chunk = batch_size * bucket_factor
        key = lambda i: (len(examples[i][1]), len(examples[i][0]))
        order = [i for c in range(0, len(order), chunk) for i in sorted(order[c : c + chunk], key=key)]
    groups = [order[b : b + batch_size] for b in range(0, len(order), batch_size)]
    if shuffle:
        rng.shuffle(groups)
    return [collate([examples[i] for i in g], pad_id) for g in groups]
