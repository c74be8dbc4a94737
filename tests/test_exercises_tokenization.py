"""The notebook 01 checks reject stubs, plausible mistakes and the shortcuts they rule out, and accept the solutions."""

import codecs

import pytest

from tinyformer.exercises import check_decode_ids, check_encode_word, check_utf8_decode
from tinyformer.exercises.core import reset_hints
from tinyformer.exercises.solutions.tokenization import decode_ids, encode_word, merge, utf8_decode
from tinyformer.tokenizer import BPETokenizer


@pytest.fixture(autouse=True)
def fresh_hints():
    reset_hints()


def stub(*args):
    raise NotImplementedError


def test_utf8_decode(capsys):
    assert check_utf8_decode(stub) is False
    assert "not done yet" in capsys.readouterr().out

    def latin1(data):  # one character per byte: right for ASCII only
        return "".join(chr(b) for b in data)

    assert check_utf8_decode(latin1) is False
    assert "❌" in capsys.readouterr().out

    def payload(data, mask):
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
        return payload(data, mask=0xFF)

    assert check_utf8_decode(no_payload_mask) is False

    assert check_utf8_decode(utf8_decode) is True
    assert "✅" in capsys.readouterr().out


def decode_method(data):
    return data.decode("utf-8")


def decode_a_copy(data):
    return bytes(data).decode()


def str_constructor(data):
    return str(data, "utf-8")


def with_codecs(data):
    return codecs.decode(data, "utf-8")


def helper_decodes(data):
    return decode_method(data)


@pytest.mark.parametrize("shortcut, used", [
    (decode_method, "`.decode`"), (decode_a_copy, "`.decode`"), (str_constructor, "the string 'utf-8'"),
    (with_codecs, "`.decode`"), (helper_decodes, "`.decode`"),
])
def test_utf8_decode_rejects_bytes_decode(capsys, shortcut, used):
    assert check_utf8_decode(shortcut) is False
    out = capsys.readouterr().out
    assert f"your code uses {used}" in out and "reading the bit patterns yourself" in out


def test_utf8_decode_refuses_decode_at_run_time_too(capsys):
    def hidden(data):  # the method name is built at run time, so reading the code cannot see it
        return getattr(data, "de" + "code")()

    assert check_utf8_decode(hidden) is False
    assert "your code called bytes.decode" in capsys.readouterr().out


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

    assert check_decode_ids(decode_ids) is True
    assert "✅" in capsys.readouterr().out


def test_decode_ids_rejects_the_library(capsys):
    def via_library(ids, merges):
        return BPETokenizer(merges).decode(ids)

    assert check_decode_ids(via_library) is False
    assert "`BPETokenizer` from tinyformer.tokenizer" in capsys.readouterr().out


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

    assert check_encode_word(encode_word) is True
    assert "✅" in capsys.readouterr().out


def test_encode_word_rejects_the_library(capsys):
    def via_library(word, merges):
        return BPETokenizer(merges).encode(word)

    def via_tiktoken(word, merges):
        import tiktoken

        return tiktoken.get_encoding("gpt2").encode(word)

    assert check_encode_word(via_library) is False
    assert "from tinyformer.tokenizer" in capsys.readouterr().out
    assert check_encode_word(via_tiktoken) is False
    assert "an import of `tiktoken`" in capsys.readouterr().out
