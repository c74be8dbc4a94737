"""Tests for tinyformer.data: sentence-pair loading, checked downloads, encoding and batching."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
import urllib.error
import zipfile
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyformer.data import (
    Batch, as_text, download, encode_pair, encode_text, ko_en_splits, load_sentence_pairs, make_batches, make_ko_en_pairs,
    pad_sequences,
)
from tinyformer.masks import causal_mask

FIXTURE = Path(__file__).parent / "fixtures" / "kor-eng-sample.txt"
PAD, SOS, EOS = 0, 1, 2


# ----------------------------------------------------------------------------- loading pairs
def test_load_fixture_korean_to_english():
    pairs = load_sentence_pairs(FIXTURE)
    assert len(pairs) == 16
    assert pairs[0] == ("안녕하세요.", "Hi.")
    assert pairs[-1] == ("만나서 반가워요.", "Nice to meet you.")  # a 2-column line (no attribution)


def test_load_english_to_other_lowercase_and_max_pairs():
    pairs = load_sentence_pairs(FIXTURE, max_pairs=3, source="english", lowercase=True)
    assert pairs == [("hi.", "안녕하세요."), ("thank you.", "감사합니다."), ("good night.", "잘 자요.")]
    assert load_sentence_pairs(FIXTURE, max_pairs=0) == []


def test_load_skips_blank_lines_and_bom(tmp_path):
    path = tmp_path / "pairs.txt"
    path.write_text("\ufeffGo.\t가요.\tattribution\n\nRun!\t뛰어요!\n", encoding="utf-8")
    assert load_sentence_pairs(path) == [("가요.", "Go."), ("뛰어요!", "Run!")]


@pytest.mark.parametrize("bad_line", ["no tab here", "\tonly other", "only english\t", "english\t \tattr"])
def test_malformed_line_names_file_and_line(tmp_path, bad_line):
    path = tmp_path / "bad.txt"
    path.write_text(f"Go.\t가요.\n\n{bad_line}\nHi.\t안녕.\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.txt:3:"):
        load_sentence_pairs(path)


def test_load_from_anki_zip(tmp_path):
    path = tmp_path / "kor-eng.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("_about.txt", "About this file")
        z.writestr("kor.txt", FIXTURE.read_text(encoding="utf-8"))
    assert load_sentence_pairs(path) == load_sentence_pairs(FIXTURE)


def test_load_bad_arguments():
    with pytest.raises(ValueError, match="source"):
        load_sentence_pairs(FIXTURE, source="korean")
    with pytest.raises(ValueError, match="max_pairs"):
        load_sentence_pairs(FIXTURE, max_pairs=-1)


# ----------------------------------------------------------------------------- download
class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server API)
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 (a free port) serving tmp_path/'www'; yields (base_url, requests)."""
    www = tmp_path / "www"
    www.mkdir()
    handler = type("Handler", (_Handler,), {"requests": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler.requests, www
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_download_checks_sha256_and_skips_a_good_file(server, tmp_path):
    url, requests, www = server
    data = FIXTURE.read_bytes() * 50
    (www / "kor-eng.txt").write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    dest = tmp_path / "out" / "kor-eng.txt"
    assert download(f"{url}/kor-eng.txt", digest, dest, progress=False) == dest
    assert dest.read_bytes() == data
    assert download(f"{url}/kor-eng.txt", digest.upper(), dest, progress=False) == dest  # already there
    assert len(requests) == 1
    assert load_sentence_pairs(dest)[0] == ("안녕하세요.", "Hi.")


def test_download_mismatch_leaves_nothing(server, tmp_path):
    url, _, www = server
    (www / "f.txt").write_bytes(b"hello")
    wrong = "0" * 64
    dest = tmp_path / "out" / "f.txt"
    with pytest.raises(ValueError, match=rf"expected {wrong}, got {hashlib.sha256(b'hello').hexdigest()}"):
        download(f"{url}/f.txt", wrong, dest, progress=False)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []  # no partial file


def test_download_http_error_leaves_nothing(server, tmp_path):
    url, _, _ = server
    dest = tmp_path / "out" / "missing.txt"
    with pytest.raises(urllib.error.HTTPError):
        download(f"{url}/missing.txt", "0" * 64, dest, progress=False)
    assert list(dest.parent.iterdir()) == []


def test_download_replaces_a_corrupt_file(server, tmp_path):
    url, requests, www = server
    (www / "f.txt").write_bytes(b"good data")
    dest = tmp_path / "f.txt"
    dest.write_bytes(b"truncated")
    download(f"{url}/f.txt", hashlib.sha256(b"good data").hexdigest(), dest, progress=False)
    assert dest.read_bytes() == b"good data" and len(requests) == 1


def test_download_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="sha256"):
        download("http://127.0.0.1:1/x", "abc", tmp_path / "x")
    with pytest.raises(ValueError, match="url"):
        download("ftp://127.0.0.1/x", "0" * 64, tmp_path / "x")


# ----------------------------------------------------------------------------- encoding and padding
class CharTokenizer:
    """One id per character, ids from 3 (0, 1, 2 are PAD, SOS, EOS)."""

    def __init__(self, texts):
        self.stoi = {c: i + 3 for i, c in enumerate(sorted({c for t in texts for c in t}))}

    def encode(self, text):
        return [self.stoi[c] for c in text]


def test_encode_pair_adds_sos_and_eos():
    tok = CharTokenizer(["ab", "xyz"])
    src, tgt = encode_pair("ab", "xy", tok, tok, SOS, EOS)
    assert src == [tok.stoi["a"], tok.stoi["b"], EOS]
    assert tgt == [SOS, tok.stoi["x"], tok.stoi["y"], EOS]
    assert encode_pair("ab", "b", lambda t: [7] * len(t), tok.encode, SOS, EOS) == ([7, 7, EOS], [SOS, tok.stoi["b"], EOS])
    with pytest.raises(ValueError, match="eos_id"):
        encode_pair("a", "b", tok, tok, SOS, -1)


def test_special_token_spellings_in_text_are_ordinary_text():
    """'<eos>' typed in a sentence is five characters, for our BPE and for tiktoken alike, never the special id."""
    import tiktoken

    from tinyformer.tokenizer import BPETokenizer

    tok = BPETokenizer.train("고양이 <eos> cat", 300, special_tokens=("<pad>", "<sos>", "<eos>"))
    eos = tok.special_tokens["<eos>"]
    src, tgt = encode_pair("태그 <eos> 를 쓰세요", "write <sos> and <pad>", tok, tok, 1, eos)
    assert src.count(eos) == 1 and src[-1] == eos and tok.decode(src[:-1]) == "태그 <eos> 를 쓰세요"
    assert tok.decode(tgt[1:-1]) == "write <sos> and <pad>" and not set(tgt[1:-1]) & set(tok.special_tokens.values())
    enc = tiktoken.Encoding("bytes", pat_str=r"\S+|\s+", mergeable_ranks={bytes([i]): i for i in range(256)},
                            special_tokens={"<|endoftext|>": 256})
    assert encode_text(enc, "a <|endoftext|>") == list(b"a <|endoftext|>")
    with pytest.raises(TypeError, match="tokenizer"):
        encode_text(42, "a")


def test_text_is_nfc_and_surrogates_are_refused(tmp_path):
    import unicodedata

    nfd = unicodedata.normalize("NFD", "고양이가 잤어요")
    assert nfd != "고양이가 잤어요" and as_text(nfd) == "고양이가 잤어요"
    tok = CharTokenizer(["고양이가 잤어요", "the cat slept"])
    assert encode_pair(nfd, "the cat slept", tok, tok, SOS, EOS) == encode_pair("고양이가 잤어요", "the cat slept", tok, tok, SOS, EOS)
    with pytest.raises(ValueError, match=r"src_text holds a lone surrogate U\+D83D at index 1"):
        encode_pair("a\ud83d", "b", tok, tok, SOS, EOS)
    with pytest.raises(TypeError, match="tgt_text must be a str, got list"):
        encode_pair("a", ["b"], tok, tok, SOS, EOS)
    path = tmp_path / "nfd.txt"
    path.write_text(f"the cat slept\t{nfd}\tCC-BY\n", encoding="utf-8")
    assert load_sentence_pairs(path) == [("고양이가 잤어요", "the cat slept")]


def test_pad_sequences_by_hand():
    out = pad_sequences([[5, 6, 7], [8], [9, 10]], pad_id=0)
    torch.testing.assert_close(out, torch.tensor([[5, 6, 7], [8, 0, 0], [9, 10, 0]]))
    assert out.dtype == torch.long
    with pytest.raises(ValueError, match="seqs"):
        pad_sequences([], 0)


def test_make_batches_by_hand():
    """Two examples, no shuffle: tgt [1, 7, 8, 2] → in [1, 7, 8], out [7, 8, 2]; [1, 9, 2] → in [1, 9, 0], out [9, 2, 0]."""
    (b,) = make_batches([([5, 6, 2], [1, 7, 8, 2]), ([5, 2], [1, 9, 2])], batch_size=4, pad_id=PAD, shuffle=False)
    torch.testing.assert_close(b.src, torch.tensor([[5, 6, 2], [5, 2, 0]]))
    torch.testing.assert_close(b.tgt_in, torch.tensor([[1, 7, 8], [1, 9, 0]]))
    torch.testing.assert_close(b.tgt_out, torch.tensor([[7, 8, 2], [9, 2, 0]]))
    assert b.src_mask.shape == (2, 1, 1, 3) and b.tgt_mask.shape == (2, 1, 3, 3)
    assert b.src_mask[:, 0, 0].tolist() == [[True, True, True], [True, True, False]]
    assert b.tgt_mask[1, 0].tolist() == [[True, False, False], [True, True, False], [True, True, False]]
    assert b.n_tokens == 5


def test_pad_id_inside_an_example_is_rejected():
    with pytest.raises(ValueError, match="pad_id"):
        make_batches([([5, 0, 2], [1, 2])], 2, pad_id=0)
    with pytest.raises(ValueError, match="batch_size"):
        make_batches([([5, 2], [1, 2])], 0, pad_id=0)
    with pytest.raises(ValueError, match="SOS"):
        make_batches([([5, 2], [1])], 1, pad_id=0)


examples_strategy = st.lists(
    st.tuples(st.lists(st.integers(3, 20), min_size=0, max_size=12).map(lambda s: s + [EOS]),
              st.lists(st.integers(3, 20), min_size=0, max_size=12).map(lambda t: [SOS] + t + [EOS])),
    min_size=1, max_size=40,
)


@settings(max_examples=40, deadline=None)
@given(examples=examples_strategy, batch_size=st.integers(1, 9), seed=st.integers(0, 10), shuffle=st.booleans())
def test_batches_round_trip_and_mask_padding(examples, batch_size, seed, shuffle):
    batches = make_batches(examples, batch_size, PAD, shuffle=shuffle, seed=seed)
    recovered = []
    for b in batches:
        B, S = b.src.shape
        T = b.tgt_in.shape[1]
        assert B <= batch_size and b.src_mask.shape == (B, 1, 1, S) and b.tgt_mask.shape == (B, 1, T, T)
        assert torch.equal(b.src_mask[:, 0, 0], b.src != PAD)  # padding positions masked, real ones not
        key_real = (b.tgt_in != PAD)[:, None, None, :]  # (B, 1, 1, T)
        assert torch.equal(b.tgt_mask, causal_mask(T) & key_real)
        assert torch.equal(b.tgt_in != PAD, b.tgt_out != PAD)  # inputs and labels line up
        assert b.n_tokens == int((b.tgt_out != PAD).sum())
        for i in range(B):
            src = [t for t in b.src[i].tolist() if t != PAD]
            tgt = [t for t in b.tgt_in[i].tolist() if t != PAD] + [b.tgt_out[i][b.tgt_out[i] != PAD][-1].item()]
            recovered.append((src, tgt))
    assert sorted(recovered) == sorted((list(s), list(t)) for s, t in examples)  # every example exactly once
    if not shuffle:
        assert recovered == [(list(s), list(t)) for s, t in examples]
    again = make_batches(examples, batch_size, PAD, shuffle=shuffle, seed=seed)
    assert all(torch.equal(x.src, y.src) and torch.equal(x.tgt_out, y.tgt_out) for x, y in zip(batches, again))


def _pairs_to_examples(pairs):
    tok = CharTokenizer([t for p in pairs for t in p])
    return [encode_pair(ko, en, tok, tok, SOS, EOS) for ko, en in pairs]


def test_bucketing_reduces_padding_on_the_corpus():
    """Sorting by length inside chunks leaves far less padding than batching in random order."""
    examples = _pairs_to_examples(make_ko_en_pairs(1200, seed=0))

    def padding(batches):
        return sum(int((b.tgt_in == PAD).sum() + (b.src == PAD).sum()) for b in batches)

    bucketed = padding(make_batches(examples, 32, PAD, shuffle=True, seed=0))
    unsorted = padding(make_batches(examples, 32, PAD, shuffle=False))
    assert bucketed < 0.3 * unsorted
    orders = [make_batches(examples, 32, PAD, seed=s)[0].src for s in (0, 1)]
    assert not torch.equal(orders[0], orders[1])  # the seed changes the batch order


def test_masks_work_with_pytorch_attention():
    """tgt_mask broadcasts over heads in F.scaled_dot_product_attention and never masks a whole row."""
    train, _ = ko_en_splits(64, 1, seed=0)
    (b,) = make_batches(_pairs_to_examples(train), 64, PAD, seed=0)
    B, T = b.tgt_in.shape
    S = b.src.shape[1]
    torch.manual_seed(0)
    q = torch.randn(B, 2, T, 8)  # (B, H, T, D)
    out = F.scaled_dot_product_attention(q, q, q, attn_mask=b.tgt_mask)
    cross = F.scaled_dot_product_attention(q, torch.randn(B, 2, S, 8), torch.randn(B, 2, S, 8), attn_mask=b.src_mask)
    assert not out.isnan().any() and not cross.isnan().any()


def test_batch_to_device():
    (b,) = make_batches([([5, 2], [1, 9, 2])], 1, PAD)
    moved = b.to("cpu")
    assert isinstance(moved, Batch) and torch.equal(moved.tgt_mask, b.tgt_mask)
