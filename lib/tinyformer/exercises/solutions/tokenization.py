"""Solutions to notebook 01's exercises (tokenization). Try them first."""

from __future__ import annotations

__all__ = ["utf8_decode", "decode_ids", "encode_word"]


def utf8_decode(data: bytes) -> str:
    """Read each character's length from its first byte's high bits, then gather 6 payload bits per byte."""
    chars = []
    i = 0
    while i < len(data):
        first = data[i]
        if first < 0b1000_0000:  # 0xxxxxxx: one byte, ASCII
            n, code = 1, first
        elif first >> 5 == 0b110:  # 110xxxxx: two bytes
            n, code = 2, first & 0b0001_1111
        elif first >> 4 == 0b1110:  # 1110xxxx: three bytes
            n, code = 3, first & 0b0000_1111
        else:  # 11110xxx: four bytes
            n, code = 4, first & 0b0000_0111
        for k in range(1, n):
            code = (code << 6) | (data[i + k] & 0b0011_1111)  # each continuation byte is 10xxxxxx
        chars.append(chr(code))
        i += n
    return "".join(chars)


def decode_ids(ids: list[int], merges: dict[tuple[int, int], int]) -> str:
    """Rebuild every token's bytes from the merges, join them all, then decode (a character may span tokens)."""
    vocab = {i: bytes([i]) for i in range(256)}
    for (a, b), new in merges.items():  # in the order they were learned: parts exist before the merge
        vocab[new] = vocab[a] + vocab[b]
    data = b"".join(vocab[i] for i in ids)
    return data.decode("utf-8", errors="replace")


def merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of `pair` in `ids`, left to right, by `new_id`."""
    out = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def encode_word(word: str, merges: dict[tuple[int, int], int]) -> list[int]:
    """Start from the UTF-8 bytes; merge the pair learned first (smallest new id) until none applies."""
    ids = list(word.encode("utf-8"))
    while len(ids) > 1:
        pairs = [pair for pair in zip(ids, ids[1:]) if pair in merges]
        if not pairs:
            break
        best = min(pairs, key=lambda pair: merges[pair])
        ids = merge(ids, best, merges[best])
    return ids
