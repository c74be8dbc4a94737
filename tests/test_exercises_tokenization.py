"""The notebook 01 checks reject stubs and plausible mistakes and accept a correct solution."""

from tinyformer.exercises import check_decode_ids, check_encode_word, check_utf8_decode


def stub(*args):
    raise NotImplementedError


def merge(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def test_utf8_decode(capsys):
    assert check_utf8_decode(stub) is False
    assert "not done yet" in capsys.readouterr().out

    def latin1(data):  # one character per byte: right for ASCII only
        return "".join(chr(b) for b in data)

    assert check_utf8_decode(latin1) is False
    assert "❌" in capsys.readouterr().out

    def right(data, mask=0x3F):
        out, i = [], 0
        while i < len(data):
            b = data[i]
            if b < 0x80:
                n, cp = 1, b
            elif b >> 5 == 0b110:
                n, cp = 2, b & 0x1F
            elif b >> 4 == 0b1110:
                n, cp = 3, b & 0x0F
            else:
                n, cp = 4, b & 0x07
            for k in range(1, n):
                cp = (cp << 6) | (data[i + k] & mask)
            out.append(chr(cp % 0x110000))
            i += n
        return "".join(out)

    def no_payload_mask(data):  # forgets to strip the 10xxxxxx marker bits of continuation bytes
        return right(data, mask=0xFF)

    assert check_utf8_decode(no_payload_mask) is False

    assert check_utf8_decode(right) is True
    assert "✅" in capsys.readouterr().out


def vocab_from(merges):
    vocab = {i: bytes([i]) for i in range(256)}
    for (a, b), new in merges.items():
        vocab[new] = vocab[a] + vocab[b]
    return vocab


def test_decode_ids(capsys):
    assert check_decode_ids(stub) is False
    assert "not done yet" in capsys.readouterr().out

    def per_token(ids, merges):  # decodes each token on its own: a character split over tokens breaks
        vocab = vocab_from(merges)
        return "".join(vocab[i].decode("utf-8", errors="replace") for i in ids)

    assert check_decode_ids(per_token) is False
    assert "❌" in capsys.readouterr().out

    def strict(ids, merges):  # crashes on a cut character instead of showing U+FFFD
        return b"".join(vocab_from(merges)[i] for i in ids).decode("utf-8")

    assert check_decode_ids(strict) is False
    assert "UnicodeDecodeError" in capsys.readouterr().out

    def right(ids, merges):
        return b"".join(vocab_from(merges)[i] for i in ids).decode("utf-8", errors="replace")

    assert check_decode_ids(right) is True
    assert "✅" in capsys.readouterr().out


def test_encode_word(capsys):
    assert check_encode_word(stub) is False
    assert "not done yet" in capsys.readouterr().out

    def leftmost_first(word, merges):  # merges the leftmost known pair, ignoring the order merges were learned
        ids = list(word.encode("utf-8"))
        while True:
            pairs = [p for p in zip(ids, ids[1:]) if p in merges]
            if not pairs:
                return ids
            ids = merge(ids, pairs[0], merges[pairs[0]])

    assert check_encode_word(leftmost_first) is False
    assert "❌" in capsys.readouterr().out

    def chars_not_bytes(word, merges):  # code points instead of UTF-8 bytes: wrong for Korean
        ids = [ord(c) for c in word]
        while True:
            pairs = [p for p in zip(ids, ids[1:]) if p in merges]
            if not pairs:
                return ids
            best = min(pairs, key=merges.get)
            ids = merge(ids, best, merges[best])

    assert check_encode_word(chars_not_bytes) is False

    def right(word, merges):
        ids = list(word.encode("utf-8"))
        while len(ids) > 1:
            pairs = [p for p in zip(ids, ids[1:]) if p in merges]
            if not pairs:
                break
            best = min(pairs, key=merges.get)
            ids = merge(ids, best, merges[best])
        return ids

    assert check_encode_word(right) is True
    assert "✅" in capsys.readouterr().out
