"""Misuse of BPETokenizer's public API raises a clear TypeError/ValueError naming the argument, before any work.

Issue 18: `train(text, 300, special_tokens="<pad>")` made five one-character special tokens. The same
kind of mistake (a str where a collection of str is expected, a wrong type, an empty or repeated
name, a too-small size, a file of the wrong kind) is checked here for every entry point.
"""

import json

import pytest

from tinyformer.tokenizer import BPETokenizer


@pytest.fixture(scope="module")
def tok() -> BPETokenizer:
    return BPETokenizer.train("hello world, hello tokens " * 20, 300, special_tokens=["<pad>", "<eos>"], progress=False)


# ---- train ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"special_tokens": "<pad>"}, TypeError, r"special_tokens must be a list of str.*\['<pad>'\]"),
        ({"special_tokens": 5}, TypeError, "special_tokens"),
        ({"special_tokens": {"<pad>": 300}}, TypeError, "special_tokens.*mapping"),
        ({"special_tokens": ["<pad>", None]}, TypeError, "special_tokens.*NoneType"),
        ({"special_tokens": [b"<pad>"]}, TypeError, "special_tokens.*bytes"),
        ({"special_tokens": [""]}, ValueError, "special_tokens.*non-empty"),
        ({"special_tokens": ["<a>", "<a>"]}, ValueError, "special_tokens has duplicates"),
        ({"special_tokens": ["<\ud800>"]}, ValueError, "special_tokens.*surrogate"),
        ({"tie_break": "random"}, ValueError, "tie_break='random' is not one of.*'ids', 'hf', 'lexicographic'"),
        ({"tie_break": None}, ValueError, "tie_break=None is not one of"),
        ({"progress": "yes"}, TypeError, "progress"),
        ({"pattern": "("}, ValueError, "pattern"),
        ({"pattern": 5}, TypeError, "pattern"),
        ({"pattern": ""}, ValueError, "pattern.*empty string"),
        ({"pattern": r"\w*"}, ValueError, "pattern.*empty string"),
        ({"pattern": r"(\w)+|\s+"}, ValueError, r"pattern.*capturing groups.*\(\?:"),
    ],
)
def test_bad_train_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        BPETokenizer.train("some text to train on", 300, **kwargs)


@pytest.mark.parametrize(
    ("text", "vocab_size", "error", "match"),
    [
        (b"bytes", 300, TypeError, "text must be a str, got bytes"),
        (["a", "list"], 300, TypeError, "text must be a str, got list"),
        (None, 300, TypeError, "text"),
        ("abc", 255, ValueError, "vocab_size=255 is too small.*at least 256"),
        ("abc", -1, ValueError, "vocab_size"),
        ("abc", 300.0, TypeError, "vocab_size must be an int, got float"),
        ("abc", "300", TypeError, "vocab_size"),
        ("abc", True, TypeError, "vocab_size"),
    ],
)
def test_bad_train_text_and_size(text, vocab_size, error, match):
    with pytest.raises(error, match=match):
        BPETokenizer.train(text, vocab_size)


def test_vocab_size_counts_the_special_tokens():
    with pytest.raises(ValueError, match="vocab_size=257 is too small.*2 special tokens.*at least 258"):
        BPETokenizer.train("abc", 257, special_tokens=["<a>", "<b>"])
    assert BPETokenizer.train("abc", 258, special_tokens=["<a>", "<b>"], progress=False).vocab_size == 258


def test_errors_come_before_any_work(monkeypatch):
    """A bad argument late in the list still raises before the (long) training starts."""
    import tinyformer.tokenizer as module

    monkeypatch.setattr(module, "learn_merges", lambda *a, **k: pytest.fail("training started"))
    with pytest.raises(ValueError, match="tie_break"):
        BPETokenizer.train("abc " * 1000, 300, tie_break="nope")
    with pytest.raises(ValueError, match="pattern"):
        BPETokenizer.train("abc " * 1000, 300, pattern="(")


# ---- the constructor ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("merges", "special_tokens", "error", "match"),
    [
        ("ab", (), TypeError, "merges must be a dict"),
        (5, (), TypeError, "merges"),
        ([(97,)], (), ValueError, r"merges\[0\]"),
        ([97, 98], (), ValueError, r"merges\[0\]=\(97,\) is not a pair"),
        ([("a", "b")], (), ValueError, r"merges\[0\]"),
        ([(97, 98, 256, 1)], (), ValueError, r"merges\[0\]"),
        ([(97, 98), (97, 98)], (), ValueError, r"merges\[1\].*repeats the pair \(97, 98\)"),
        ([(97, 999)], (), ValueError, r"merges\[0\].*no earlier merge or byte"),
        ([(97, True)], (), ValueError, r"merges\[0\]"),
        ([(97, 98)], "<pad>", TypeError, "special_tokens must be a list of str"),
        ([(97, 98)], ["<pad>", "<pad>"], ValueError, "special_tokens has duplicates"),
        ([(97, 98)], {"<pad>": 65}, ValueError, "special token '<pad>' has id 65"),
        ([(97, 98)], {"<pad>": "x"}, ValueError, "special token '<pad>'"),
        ([(97, 98)], {"<a>": 300, "<b>": 300}, ValueError, "special_tokens share ids"),
        ([(97, 98)], {"": 300}, ValueError, "special_tokens must be non-empty"),
    ],
)
def test_bad_constructor_arguments(merges, special_tokens, error, match):
    with pytest.raises(error, match=match):
        BPETokenizer(merges, special_tokens=special_tokens)


# ---- encode / encode_iterable / decode ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"allowed_special": "<pad>"}, TypeError, "allowed_special must be 'all' or a collection.*str '<pad>'"),
        ({"allowed_special": None}, TypeError, "allowed_special.*NoneType"),
        ({"allowed_special": {5}}, TypeError, "allowed_special must contain special token names"),
        ({"allowed_special": {"<nope>"}}, ValueError, r"allowed_special names \['<nope>'\]"),
        ({"disallowed_special": "<pad>"}, TypeError, "disallowed_special must be 'all' or a collection"),
        ({"disallowed_special": None}, TypeError, "disallowed_special"),
        ({"disallowed_special": ["<nope>"]}, ValueError, "disallowed_special names"),
    ],
)
def test_bad_special_sets(tok, kwargs, error, match):
    with pytest.raises(error, match=match):
        tok.encode("hello", **kwargs)
    with pytest.raises(error, match=match):
        tok.encode_iterable(["hello"], **kwargs)  # raised at the call, not when iterated


@pytest.mark.parametrize("text", [b"hello", None, 5, ["hello"]])
def test_encode_wants_text(tok, text):
    with pytest.raises(TypeError, match="text must be a str"):
        tok.encode(text)


def test_encode_iterable_wants_an_iterable_of_str(tok):
    with pytest.raises(TypeError, match="lines must be an iterable of str.*use encode"):
        tok.encode_iterable("hello")
    with pytest.raises(TypeError, match="lines must be an iterable of str.*int"):
        tok.encode_iterable(5)
    with pytest.raises(TypeError, match="item 2 is NoneType"):
        list(tok.encode_iterable(["a", "b", None]))


@pytest.mark.parametrize(
    ("ids", "error", "match"),
    [
        ("abc", TypeError, "ids must be a sequence of ints, got str"),
        (b"abc", TypeError, "ids"),
        (5, TypeError, "ids"),
        ([1, 2, 99999], ValueError, "ids contains 99999"),
        ([1.0], ValueError, "ids contains 1.0"),
        ([True], ValueError, "ids contains True"),
        ([[1, 2]], ValueError, r"ids contains \[1, 2\]"),
        ([None], ValueError, "ids contains None"),
    ],
)
def test_bad_decode_ids(tok, ids, error, match):
    with pytest.raises(error, match=match):
        tok.decode(ids)


@pytest.mark.parametrize("id", [-1, 10**6, 1.5, "a", None, True])
def test_bad_token_bytes_id(tok, id):
    with pytest.raises(ValueError, match="id="):
        tok.token_bytes(id)


# ---- files ----------------------------------------------------------------------------------------
def test_load_a_file_that_is_not_a_tokenizer(tmp_path, tok):
    rank_file = tmp_path / "ranks.tiktoken"
    tok.save_tiktoken(rank_file)
    binary = tmp_path / "weights.pt"
    binary.write_bytes(bytes(range(256)) * 4)
    empty = tmp_path / "empty.json"
    empty.write_text("")
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2, 3]")
    for path in (rank_file, binary, empty, listing):
        with pytest.raises(ValueError, match=f"{path.name} is not a"):
            BPETokenizer.load(path)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"format": "other"}, "format"),
        ({"version": 99}, "version 99"),
        ({"kind": "words"}, "unknown kind 'words'"),
        ({"pattern": 5}, "pattern"),
        ({"pattern": "("}, "pattern"),
        ({"special_tokens": ["<pad>"]}, "special_tokens"),
        ({"special_tokens": {"<pad>": "x"}}, "<pad>"),
        ({"merges": "abc"}, "merges"),
        ({"merges": [[97, "b", 256]]}, r"merges\[0\]"),
    ],
)
def test_load_a_damaged_tokenizer_file(tmp_path, tok, change, match):
    path = tmp_path / "damaged.json"
    tok.save(path)
    state = json.loads(path.read_text())
    state.update(change)
    path.write_text(json.dumps(state))
    with pytest.raises(ValueError, match=f"damaged.json.*{match}"):
        BPETokenizer.load(path)


def test_from_tiktoken_given_a_tokenizer_json_or_binary(tmp_path, tok):
    json_file = tmp_path / "tok.json"
    tok.save(json_file)
    with pytest.raises(ValueError, match="tok.json: line 1 .*expected `base64-token rank`"):
        BPETokenizer.from_tiktoken(json_file)
    binary = tmp_path / "weights.pt"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValueError, match="weights.pt"):
        BPETokenizer.from_tiktoken(binary)
    empty = tmp_path / "empty.tiktoken"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty.tiktoken.*256 single bytes"):
        BPETokenizer.from_tiktoken(empty)


def test_from_tiktoken_bad_arguments(tmp_path, tok):
    rank_file = tmp_path / "ranks.tiktoken"
    tok.save_tiktoken(rank_file)
    with pytest.raises(TypeError, match="special_tokens must map names to ids"):
        BPETokenizer.from_tiktoken(rank_file, special_tokens=["<|endoftext|>"])
    with pytest.raises(TypeError, match="special_tokens must map names to ids"):
        BPETokenizer.from_tiktoken(rank_file, special_tokens="<|endoftext|>")
    with pytest.raises(ValueError, match="ranks.tiktoken.*special token '<x>' has id 5"):
        BPETokenizer.from_tiktoken(rank_file, special_tokens={"<x>": 5})
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        BPETokenizer.from_tiktoken(5)
    with pytest.raises(FileNotFoundError):
        BPETokenizer.from_tiktoken(tmp_path / "missing.tiktoken")


def test_save_and_load_want_a_path(tmp_path, tok):
    for call in (tok.save, tok.save_tiktoken, BPETokenizer.load):
        with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
            call(None)
    with pytest.raises(FileNotFoundError):
        BPETokenizer.load(tmp_path / "missing.json")


def test_decode_still_accepts_numpy_integers(tok):
    """The float/bool check must not refuse real integer ids that are not Python ints."""
    import numpy as np

    ids = tok.encode("hello world")
    assert tok.decode([np.int64(i) for i in ids]) == tok.decode(np.array(ids, dtype=np.int32)) == "hello world"
