"""Tests for tinyformer.tokenizer: against tiktoken and HF tokenizers, a hand-worked example, properties."""

import base64
import json
import random
from collections import Counter

import pytest
import regex
import tiktoken
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyformer.bpe_encode import RESCAN_MAX, bpe_merge_heap, bpe_merge_rescan, clean_text
from tinyformer.corpus import python_docs_text
from tinyformer.tokenizer import GPT2_PATTERN, BPETokenizer, bytes_to_unicode

SAMPLE = (
    "The quick brown fox jumps over the lazy dog. It's 2024; the fox's 3 cubs can't sleep!\n"
    "def add(a, b):\n    return a + b  # add two numbers\n\n"
    "안녕하세요, 만나서 반가워요 😀 — naïve café, 12345 and 3.14159.\n"
) * 3


@pytest.fixture(scope="module")
def docs() -> str:
    return python_docs_text()


@pytest.fixture(scope="module")
def docs_tok(docs) -> BPETokenizer:
    return BPETokenizer.train(docs[:150_000], 1024, special_tokens=["<|endoftext|>"], progress=False)


def naive_train(text: str, vocab_size: int, tie_break: str = "ids") -> list[tuple[int, int, int]]:
    """Reference trainer: recount every pair of every chunk after every merge (slow, obviously right)."""
    table = bytes_to_unicode()
    order = list(range(256)) if tie_break == "ids" else sorted(range(256), key=lambda b: table[b])
    rank = {b: r for r, b in enumerate(order)}
    words = [list(c.encode()) for c in regex.findall(GPT2_PATTERN, text)]
    vocab = [bytes([b]) for b in range(256)]
    merges = []
    while len(vocab) < vocab_size:
        counts = Counter(p for w in words for p in zip(w, w[1:]))
        if not counts:
            break
        if tie_break == "lexicographic":  # the greatest pair of byte strings
            a, b = max(counts, key=lambda p: (counts[p], vocab[p[0]], vocab[p[1]]))
        else:
            a, b = min(counts, key=lambda p: (-counts[p], rank.get(p[0], p[0]), rank.get(p[1], p[1])))
        new_bytes = vocab[a] + vocab[b]
        if new_bytes in vocab:
            new_id = vocab.index(new_bytes)
        else:
            new_id = len(vocab)
            vocab.append(new_bytes)
        merges.append((a, b, new_id))
        for w in words:
            i = 0
            while i < len(w) - 1:
                if w[i] == a and w[i + 1] == b:
                    w[i : i + 2] = [new_id]
                i += 1
    return merges


# ---- against references ------------------------------------------------------------------------
def test_merges_equal_hf_tokenizers_on_python_docs(docs):
    """With HF's numbering of the byte tokens for ties, our merges equal HF's BPE trainer (vocab 2048)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(
        vocab_size=2048, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    hf.train_from_iterator([docs], trainer)
    unbyte = {c: b for b, c in bytes_to_unicode().items()}
    as_bytes = lambda s: bytes(unbyte[c] for c in s)  # noqa: E731
    raw = json.loads(hf.to_str())["model"]["merges"]
    hf_merges = [tuple(map(as_bytes, m if isinstance(m, list) else m.split(" "))) for m in raw]

    ours = BPETokenizer.train(docs, 2048, tie_break="hf", progress=False)
    our_merges = [(ours.token_bytes(a), ours.token_bytes(b)) for a, b in ours.merges]
    assert len(our_merges) == 1792
    assert our_merges == hf_merges
    # and HF's encoding of text equals ours (same merges, same priority)
    text = docs[200_000:210_000]
    hf_tokens = [as_bytes(t) for t in hf.encode(text).tokens]
    assert [ours.token_bytes(i) for i in ours.encode(text)] == hf_tokens


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ab c\n", max_size=60), st.sampled_from(["ids", "hf", "lexicographic"]), st.integers(256, 290))
def test_incremental_training_equals_naive_recount(text, tie_break, vocab_size):
    """Small alphabets make many ties: the incremental trainer still picks the naive trainer's pair."""
    tok = BPETokenizer.train(text, vocab_size, tie_break=tie_break, progress=False)
    assert tok._merges == naive_train(text, vocab_size, tie_break)


@pytest.mark.parametrize("tie_break", ["ids", "lexicographic"])
def test_incremental_training_equals_naive_on_real_text(docs, tie_break):
    text = docs[:15_000]
    tok = BPETokenizer.train(text, 360, tie_break=tie_break, progress=False)
    assert tok._merges == naive_train(text, 360, tie_break)


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet="abAB é가😀 \n", max_size=80), st.integers(256, 300))
def test_lexicographic_tie_break_equals_naive_on_multibyte_text(text, vocab_size):
    """Ties between pairs whose byte strings share prefixes ('\xc3' of é, the bytes of 가 and 😀)."""
    tok = BPETokenizer.train(text, vocab_size, tie_break="lexicographic", progress=False)
    assert tok._merges == naive_train(text, vocab_size, "lexicographic")


def test_lexicographic_tie_break_hand_worked():
    """'ab yz': chunks 'ab', ' yz'; pairs (a,b), ( ,y), (y,z) all count 1. The greatest pair of byte
    strings is (b'y', b'z') (b'y' > b'a' > b' '); the default rule takes the smallest ids, (32, 121)."""
    lex = BPETokenizer.train("ab yz", 257, tie_break="lexicographic", progress=False)
    assert [(lex.token_bytes(a), lex.token_bytes(b)) for a, b in lex.merges] == [(b"y", b"z")]
    ids = BPETokenizer.train("ab yz", 257, progress=False)
    assert list(ids.merges) == [(32, 121)]
    # 'aab aab': (a,a) 2, (a,b) 2, ( ,a) 1; equal first strings, so the second decides: (b'a', b'b') wins,
    # where the default rule takes (97, 97)
    tok = BPETokenizer.train("aab aab", 257, tie_break="lexicographic", progress=False)
    assert [(tok.token_bytes(a), tok.token_bytes(b)) for a, b in tok.merges] == [(b"a", b"b")]
    assert list(BPETokenizer.train("aab aab", 257, progress=False).merges) == [(97, 97)]


def write_rank_file(path, ranks: dict[bytes, int]) -> None:
    path.write_text("".join(f"{base64.b64encode(t).decode()} {r}\n" for t, r in sorted(ranks.items(), key=lambda x: x[1])))


def tiktoken_from_file(path) -> tiktoken.Encoding:
    ranks = {base64.b64decode(t): int(r) for t, r in (line.split() for line in path.read_text().splitlines() if line)}
    return tiktoken.Encoding(
        name="small-gpt2", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={"<|endoftext|>": 50256}
    )


@pytest.fixture(scope="module")
def rank_file(tmp_path_factory, docs):
    """A small GPT-2-style rank file: the single bytes numbered as in gpt2.tiktoken, then our merges."""
    trained = BPETokenizer.train(docs[:100_000] + SAMPLE, 800, progress=False)
    table = bytes_to_unicode()
    byte_rank = {b: r for r, b in enumerate(sorted(range(256), key=lambda b: table[b]))}
    ranks = {bytes([b]): byte_rank[b] for b in range(256)}
    ranks.update({trained.token_bytes(i): i for i in range(256, trained.vocab_size)})
    path = tmp_path_factory.mktemp("ranks") / "small.tiktoken"
    write_rank_file(path, ranks)
    return path


@pytest.fixture(scope="module")
def small_gpt2(rank_file):
    """(ours, tiktoken) built from the same small GPT-2-style rank file."""
    return BPETokenizer.from_tiktoken(rank_file), tiktoken_from_file(rank_file)


def test_from_tiktoken_matches_tiktoken_on_docs(small_gpt2, docs):
    ours, ref = small_gpt2
    text = docs[100_000:160_000] + SAMPLE
    assert ours.encode(text) == ref.encode(text)
    with_special = "hello<|endoftext|>world <|endoftext|>"
    assert ours.encode(with_special, allowed_special="all") == ref.encode(with_special, allowed_special="all")
    assert ours.special_tokens == {"<|endoftext|>": 50256} and ours.vocab_size == 50257
    assert ours.decode(ref.encode(text)) == text


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=80) | st.text(alphabet=" \n\tabetxyz0123'.,!안녕😀", max_size=80))
def test_from_tiktoken_matches_tiktoken_on_any_text(small_gpt2, text):
    ours, ref = small_gpt2
    assert ours.encode(text, disallowed_special=()) == ref.encode(text, disallowed_special=())
    assert ours.encode(text, allowed_special="all") == ref.encode(text, allowed_special="all")


@pytest.fixture(scope="module")
def odd_pair(tmp_path_factory):
    """A rank file no BPE run would make: 'abc' = 'ab'+'c' but 'bc' ranks first, and 'xc' is unreachable."""
    path = tmp_path_factory.mktemp("odd") / "odd.tiktoken"
    ranks = {bytes([b]): b for b in range(256)}
    ranks.update({b"bc": 256, b"ab": 257, b"abc": 258, b"xc": 259, b" a": 260, b" abc": 261})
    write_rank_file(path, ranks)
    return BPETokenizer.from_tiktoken(path), tiktoken_from_file(path)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="abcx ", max_size=40))
def test_from_tiktoken_matches_tiktoken_on_odd_rank_file(odd_pair, text):
    ours, ref = odd_pair
    assert ours.encode(text) == ref.encode(text)
    assert ours.encode("abc") == [258] and ours.encode("xc") == [259]  # whole-chunk lookup, as tiktoken


def as_tiktoken_text(text: str) -> str:
    """What tiktoken encodes for `text`: lone surrogates become U+FFFD, surrogate pairs their character."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def test_lone_surrogate_encodes_as_replacement_character():
    """Issue 18: "x\\ud83dy" raised UnicodeEncodeError; tiktoken gives x, the 3 bytes of U+FFFD, y."""
    bytes_only = tiktoken.Encoding(name="bytes", pat_str=GPT2_PATTERN, mergeable_ranks={bytes([b]): b for b in range(256)},
                                   special_tokens={})
    assert bytes_only.encode("x\ud83dy") == [120, 239, 191, 189, 121]
    tok = BPETokenizer([])
    assert tok.encode("x\ud83dy") == [120, 239, 191, 189, 121]
    assert tok.encode("\ud83d\ude00") == tok.encode("😀") == bytes_only.encode("\ud83d\ude00")  # a pair is one character
    assert tok.decode(tok.encode("a\udc00\ud800b")) == "a\ufffd\ufffdb"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=()), max_size=60)
       | st.lists(st.sampled_from(["\ud83d", "\ude00", "\udbff", "a", " ", "\n", "😀", "<|endoftext|>"]), max_size=12).map("".join))
def test_surrogates_encode_like_tiktoken(small_gpt2, text):
    """Any code points, lone and paired surrogates included: tiktoken's ids, in every mode."""
    ours, ref = small_gpt2
    assert ours.encode(text, disallowed_special=()) == ref.encode(text, disallowed_special=())
    assert ours.encode(text, allowed_special="all") == ref.encode(text, allowed_special="all")
    assert ours.decode(ours.encode(text, disallowed_special=())) == as_tiktoken_text(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=()), max_size=30) | st.text(alphabet="ab \n", max_size=30))
def test_clean_text_fast_path_agrees(text):
    """clean_text returns ASCII text untouched without encoding it; any text comes out as tiktoken sees it."""
    assert clean_text(text) == as_tiktoken_text(text)
    if text.isascii():
        assert clean_text(text) is text


def test_training_on_surrogates_trains_on_replacement_characters():
    text = "x\ud83dy \ud83d\ud83d \udc00\udc00 \ud83d\ude00 " * 3
    cleaned = as_tiktoken_text(text)
    assert "\ufffd" in cleaned and "😀" in cleaned
    assert BPETokenizer.train(text, 290, progress=False).merges == BPETokenizer.train(cleaned, 290, progress=False).merges
    tok = BPETokenizer.train("ok", 300, special_tokens=["<a>"], progress=False)
    assert tok.encode("<a>\ud800", allowed_special="all") == tok.encode("<a>\ufffd", allowed_special="all")


def quadratic_bpe(ids: list[int], ranks: dict) -> list[int]:
    """The encoder before issue 18 (kept as the reference): rescan every pair, merge the lowest rank, repeat."""
    ids = list(ids)
    while len(ids) > 1:
        best = min(((ranks[p][0], i) for i, p in enumerate(zip(ids, ids[1:])) if p in ranks), default=None)
        if best is None:
            break
        i = best[1]
        ids[i : i + 2] = [ranks[ids[i], ids[i + 1]][1]]
    return ids


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64, 1000, 4097])
def test_long_runs_encode_like_tiktoken(small_gpt2, n):
    """Issue 18: one long run of '=' was quadratic; the heap merge gives tiktoken's ids (and the old ones)."""
    ours, ref = small_gpt2
    assert any(set(ours.token_bytes(i)) == {61} and len(ours.token_bytes(i)) > 1 for i in range(256, 800))  # '=' runs merge
    for text in ["=" * n, " " + "=" * n + "x", "a" * n, "\n" * n, " " * n + "b", "ab" * n]:
        assert ours.encode(text) == ref.encode(text)
        ours.clear_cache()


def test_a_100k_run_encodes_like_tiktoken(small_gpt2):
    ours, ref = small_gpt2
    text = "=" * 100_000 + " end " + "-=" * 20_000
    assert ours.encode(text) == ref.encode(text)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(b"ab =\n\xc3\xa9"), max_size=120))
def test_heap_merge_equals_the_quadratic_encoder(docs_tok, data):
    """On bytes with many repeats (so many equal-rank pairs): the same ids as the pre-issue-18 encoder.

    Both merges are checked at every length: encode itself rescans up to RESCAN_MAX ids, then uses the heap.
    """
    ids = [docs_tok._byte_ids[b] for b in data]
    expected = quadratic_bpe(ids, docs_tok._ranks)
    assert list(docs_tok._encode_chunk(bytes(data))) == expected
    assert bpe_merge_heap(ids, docs_tok._ranks) == bpe_merge_rescan(ids, docs_tok._ranks) == expected


def test_heap_merge_equals_the_quadratic_encoder_on_real_chunks(docs_tok, docs):
    chunks = sorted(set(regex.findall(GPT2_PATTERN, docs[150_000:250_000])))
    assert sum(len(c.encode()) > RESCAN_MAX for c in chunks) > 100  # both merges are used
    for chunk in chunks:
        data = chunk.encode()
        ids = [docs_tok._byte_ids[b] for b in data]
        expected = quadratic_bpe(ids, docs_tok._ranks)
        assert list(docs_tok._encode_chunk(data)) == expected
        assert bpe_merge_heap(ids, docs_tok._ranks) == bpe_merge_rescan(ids, docs_tok._ranks) == expected


# ---- hand-worked ---------------------------------------------------------------------------------
def test_hand_worked_training_example():
    """'aaabdaaabac' (one chunk), with the tie-break rule 'smallest ids first':

    pairs: aa 4, ab 2, bd 1, da 1, ba 1, ac 1        -> merge (97, 97)  'aa' = 256
    aa a b d aa a b a c: (256,97) 2, (97,98) 2, ...  -> tie; (97, 98) < (256, 97): 'ab' = 257
    aa ab d aa ab a c: (256,257) 2                   -> 'aaab' = 258
    aaab d aaab a c: four pairs of count 1           -> smallest (97, 99): 'ac' = 259
    aaab d aaab ac: (258,100) (100,258) (258,259)    -> smallest (100, 258): 'daaab' = 260
    """
    tok = BPETokenizer.train("aaabdaaabac", 261, progress=False)
    assert tok.merges == {(97, 97): 256, (97, 98): 257, (256, 257): 258, (97, 99): 259, (100, 258): 260}
    assert [tok.token_bytes(i) for i in range(256, 261)] == [b"aa", b"ab", b"aaab", b"ac", b"daaab"]
    assert tok.encode("aaabdaaabac") == [258, 260, 259]
    assert tok.vocab_size == 261


def test_merges_never_cross_a_split():
    """'ab ab ab': chunks 'ab', ' ab', ' ab'; the pair ('b', ' ') never counts, though it is in the text."""
    tok = BPETokenizer.train("ab ab ab", 260, progress=False)
    assert tok.merges == {(97, 98): 256, (32, 256): 257}  # then no pairs are left: vocab stops at 258
    assert tok.encode("ab ab ab") == [256, 257, 257]
    assert tok.vocab_size == 258


def test_constructor_from_merges_equals_trained():
    trained = BPETokenizer.train(SAMPLE, 300, progress=False)
    built = BPETokenizer(list(trained.merges))
    assert built.encode(SAMPLE) == trained.encode(SAMPLE)


# ---- properties ----------------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(st.text())
def test_decode_encode_round_trip_any_unicode(docs_tok, text):
    assert docs_tok.decode(docs_tok.encode(text, allowed_special="all")) == text
    assert docs_tok.decode(docs_tok.encode(text, disallowed_special=())) == text


@pytest.mark.parametrize("text", ["", "안녕하세요, 만나서 반가워요", "😀👩‍👩‍👧", "\x00\x01\x1b[0m\r\n\t\x7f", "  \n\n  ", "\u200b\ufeff"])
def test_round_trip_examples(docs_tok, text):
    assert docs_tok.decode(docs_tok.encode(text)) == text


def test_partial_utf8_decodes_with_replacement(docs_tok):
    ids = docs_tok.encode("안")  # three bytes, no merges for Korean in the English docs
    assert len(ids) == 3
    assert docs_tok.decode(ids[:2]) == "\ufffd"
    assert docs_tok.decode(ids[:2] + docs_tok.encode("a")) == "\ufffda"


def test_training_is_deterministic(docs):
    text = docs[:60_000]
    a = BPETokenizer.train(text, 700, progress=False)
    b = BPETokenizer.train(text, 700, progress=False)
    assert a.merges == b.merges and len(a.merges) == 444


def test_training_depends_only_on_chunk_counts():
    """Chunks that cannot re-split when reordered (words each led by one space): same merges in any order."""
    rng = random.Random(0)
    words = [" " + "".join(rng.choice("abcde") for _ in range(rng.randint(1, 6))) for _ in range(400)]
    shuffled = words[:]
    rng.shuffle(shuffled)
    a = BPETokenizer.train("".join(words), 320, progress=False)
    b = BPETokenizer.train("".join(shuffled), 320, progress=False)
    assert a.merges == b.merges and len(a.merges) == 64


def test_save_load_round_trip(tmp_path, docs_tok, docs):
    path = tmp_path / "tok.json"
    docs_tok.save(path)
    loaded = BPETokenizer.load(path)
    text = docs[150_000:170_000] + SAMPLE + "<|endoftext|>"
    assert loaded.encode(text, allowed_special="all") == docs_tok.encode(text, allowed_special="all")
    assert loaded.merges == docs_tok.merges
    assert loaded.special_tokens == docs_tok.special_tokens == {"<|endoftext|>": 1023}
    assert loaded.vocab_size == docs_tok.vocab_size == 1024


def test_save_load_round_trip_tiktoken_kind(tmp_path, rank_file):
    tok = BPETokenizer.from_tiktoken(rank_file)
    tok.save(tmp_path / "tt.json")
    loaded = BPETokenizer.load(tmp_path / "tt.json")
    assert loaded.encode(SAMPLE) == tok.encode(SAMPLE) and loaded.special_tokens == tok.special_tokens


def test_save_tiktoken_then_from_tiktoken_round_trip(tmp_path, docs_tok, docs):
    docs_tok.save_tiktoken(tmp_path / "t.tiktoken")
    again = BPETokenizer.from_tiktoken(tmp_path / "t.tiktoken")
    ref = tiktoken_from_file(tmp_path / "t.tiktoken")
    text = docs[150_000:160_000]
    assert again.encode(text) == ref.encode(text)
    assert again.decode(again.encode(text)) == text


# ---- special tokens ------------------------------------------------------------------------------
SPECIALS = ["<pad>", "<sos>", "<eos>", "<|endoftext|>"]


@pytest.fixture(scope="module")
def special_tok():
    return BPETokenizer.train(SAMPLE + "<eos><pad>", 300, special_tokens=SPECIALS, progress=False)


def test_special_tokens_get_ids_after_merges(special_tok):
    n = len(special_tok.merges)
    assert special_tok.special_tokens == {name: 256 + n + i for i, name in enumerate(SPECIALS)}
    assert special_tok.vocab_size == 300
    assert all(special_tok.token_bytes(i) != b"<eos>" for i in range(256 + n))  # not learned as merges


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="<>|eospadt x안", max_size=8) | st.sampled_from(SPECIALS), max_size=12))
def test_special_tokens_are_never_split(special_tok, parts):
    text = "".join(parts)
    ids = special_tok.encode(text, allowed_special="all")
    assert special_tok.decode(ids) == text
    n_special = sum(i in special_tok.special_tokens.values() for i in ids)
    assert n_special == len(regex.findall("<pad>|<sos>|<eos>|<\\|endoftext\\|>", text))


def test_allowed_special_modes(special_tok):
    eos, pad = special_tok.special_tokens["<eos>"], special_tok.special_tokens["<pad>"]
    ids = special_tok.encode("hi<eos><pad>", allowed_special={"<eos>"}, disallowed_special=())
    assert ids.count(eos) == 1 and pad not in ids
    assert special_tok.decode(ids) == "hi<eos><pad>"
    ordinary = special_tok.encode("hi<eos>", disallowed_special=())
    assert eos not in ordinary and special_tok.decode(ordinary) == "hi<eos>"
    with pytest.raises(ValueError, match="<pad>"):
        special_tok.encode("hi<eos><pad>", allowed_special={"<eos>"})
    with pytest.raises(ValueError, match="<eos>"):
        special_tok.encode("hi<eos>")
    with pytest.raises(ValueError, match="allowed_special"):
        special_tok.encode("hi", allowed_special={"<nope>"})


def test_default_special_sets_resolve_like_the_spelled_out_ones(special_tok):
    """encode's defaults take a fast path; they must mean allowed_special=set(), disallowed_special="all"."""
    for text in ["hi there", "hi<eos>", "<pad>x", ""]:
        results = []
        for kwargs in [{}, {"allowed_special": ()}, {"allowed_special": set(), "disallowed_special": "all"}, {"allowed_special": []}]:
            try:
                results.append(special_tok.encode(text, **kwargs))
            except ValueError as e:
                results.append(str(e))
        assert results == [results[0]] * 4, text
    assert special_tok._special_sets((), "all") == (set(), set(SPECIALS)) == special_tok._special_sets(frozenset(), "all")
    assert special_tok._special_sets((), ()) == (set(), set())


# ---- bad input -----------------------------------------------------------------------------------
def test_bad_training_arguments():
    with pytest.raises(ValueError, match="vocab_size=257"):
        BPETokenizer.train("abc", 257, special_tokens=["<a>", "<b>"])
    with pytest.raises(ValueError, match="vocab_size"):
        BPETokenizer.train("abc", 100)
    with pytest.raises(TypeError, match="vocab_size"):
        BPETokenizer.train("abc", 300.0)
    with pytest.raises(TypeError, match="text"):
        BPETokenizer.train(b"abc", 300)
    with pytest.raises(ValueError, match="special_tokens"):
        BPETokenizer.train("abc", 300, special_tokens=["<a>", "<a>"])
    with pytest.raises(ValueError, match="tie_break"):
        BPETokenizer.train("abc", 300, tie_break="random")
    with pytest.raises(ValueError, match="pattern"):
        BPETokenizer.train("abc", 300, pattern="(")


def test_bad_encode_decode_arguments(docs_tok):
    with pytest.raises(TypeError, match="text"):
        docs_tok.encode(["abc"])
    with pytest.raises(ValueError, match="ids contains 5000"):
        docs_tok.decode([1, 2, 5000])
    with pytest.raises(ValueError, match="ids contains -1"):
        docs_tok.decode([-1])
    with pytest.raises(TypeError, match="ids"):
        docs_tok.decode("abc")
    with pytest.raises(ValueError, match="id="):
        docs_tok.token_bytes(10**6)


def test_decode_accepts_tensors(docs_tok):
    import torch

    ids = docs_tok.encode("tensor of ids")
    assert docs_tok.decode(torch.tensor(ids)) == "tensor of ids"


def test_bad_files(tmp_path, docs_tok, rank_file):
    good = tmp_path / "good.json"
    docs_tok.save(good)
    truncated = tmp_path / "truncated.json"
    truncated.write_text(good.read_text()[:100])
    with pytest.raises(ValueError, match="truncated.json"):
        BPETokenizer.load(truncated)
    state = json.loads(good.read_text())
    state["merges"][3] = [1, 99999, 260]
    bad_merge = tmp_path / "bad_merge.json"
    bad_merge.write_text(json.dumps(state))
    with pytest.raises(ValueError, match="bad_merge.json.*merges\\[3\\]"):
        BPETokenizer.load(bad_merge)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"hello": 1}))
    with pytest.raises(ValueError, match="other.json"):
        BPETokenizer.load(other)
    lines = rank_file.read_text().splitlines()
    broken = tmp_path / "broken.tiktoken"
    broken.write_text("\n".join(lines[:300] + ["not-base64!! x"] + lines[300:]))
    with pytest.raises(ValueError, match="broken.tiktoken"):
        BPETokenizer.from_tiktoken(broken)
    short = tmp_path / "short.tiktoken"
    short.write_text("\n".join(lines[:100]))
    with pytest.raises(ValueError, match="short.tiktoken.*256 single bytes"):
        BPETokenizer.from_tiktoken(short)


def test_progress_bar_only_when_asked_or_long(capsys):
    BPETokenizer.train(SAMPLE, 300, progress=True)
    assert "BPE merges" in capsys.readouterr().err
    BPETokenizer.train(SAMPLE, 300)  # short run, default: no bar
    assert "BPE merges" not in capsys.readouterr().err
