"""The notebook 01 checks reject stubs and plausible mistakes and accept a correct solution."""

from collections import Counter

from tinyformer.exercises import check_count_pairs, check_encode_word, check_merge


def stub(*args):
    raise NotImplementedError


def count_pairs(ids):
    counts = {}
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


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


def test_count_pairs(capsys):
    assert check_count_pairs(stub) is False
    assert "not done yet" in capsys.readouterr().out

    def non_overlapping(ids):  # steps by 2: misses every other pair
        return dict(Counter(zip(ids[::2], ids[1::2])))

    assert check_count_pairs(non_overlapping) is False
    assert "❌" in capsys.readouterr().out

    def set_of_pairs(ids):  # presence instead of counts
        return {p: 1 for p in zip(ids, ids[1:])}

    assert check_count_pairs(set_of_pairs) is False
    assert check_count_pairs(count_pairs) is True
    assert "✅" in capsys.readouterr().out
    assert check_count_pairs(lambda ids: dict(Counter(zip(ids, ids[1:])))) is True


def test_merge(capsys):
    assert check_merge(stub) is False
    assert "not done yet" in capsys.readouterr().out

    def overlapping(ids, pair, new_id):  # replaces every position where the pair starts: [7,7,7] -> [99, 99]
        out = []
        for i in range(len(ids)):
            if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
                out.append(new_id)
            elif not (i > 0 and (ids[i - 1], ids[i]) == pair):
                out.append(ids[i])
        return out

    assert check_merge(overlapping) is False
    assert "❌" in capsys.readouterr().out

    def in_place(ids, pair, new_id):  # right answer, but destroys the caller's list
        ids[:] = merge(ids, pair, new_id)
        return ids

    assert check_merge(in_place) is False
    assert "in place" in capsys.readouterr().out
    assert check_merge(merge) is True
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
