"""Notebook 00's pipeline: the pure stage functions, the drawings and the widget."""

import math

import matplotlib.pyplot as plt
import pytest
import torch
import torch.nn.functional as F

from helpers import ByteTokenizer
from tinyformer.embeddings import sinusoidal_positional_encoding
from tinyformer.viz.course_map import (
    STAGE_NOTEBOOKS,
    STAGES,
    draw_pipeline,
    draw_stage,
    next_token_distribution,
    piece_label,
    token_pieces,
    token_vectors,
    top_next_tokens,
    trace_pipeline,
    untrained_attention,
    utf8_bytes,
)
from tinyformer.widgets.course_map import DEFAULT_SENTENCES, course_map_widget, stage_caption

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class PairTokenizer(ByteTokenizer):
    """Bytes, plus one merged token (id 256) for b'at', so tokens differ from bytes."""

    vocab_size = 257

    def encode(self, text):
        data, ids, i = text.encode("utf-8"), [], 0
        while i < len(data):
            if data[i : i + 2] == b"at":
                ids.append(256)
                i += 2
            else:
                ids.append(data[i])
                i += 1
        return ids

    def token_bytes(self, i):
        return b"at" if i == 256 else bytes([i])


def test_utf8_bytes_worked_example():
    # a: ASCII, 1 byte; é U+00E9: 2 bytes; 한 U+D55C: 3 bytes; 🙂 U+1F642: 4 bytes
    assert utf8_bytes("aé한🙂") == [("a", [0x61]), ("é", [0xC3, 0xA9]), ("한", [0xED, 0x95, 0x9C]), ("🙂", [0xF0, 0x9F, 0x99, 0x82])]
    assert utf8_bytes("") == []
    with pytest.raises(TypeError, match="text must be a str"):
        utf8_bytes(b"abc")


def test_token_pieces_join_back_to_the_bytes():
    pieces = token_pieces(PairTokenizer(), "a cat sat")
    assert [i for i, _ in pieces] == [97, 32, 99, 256, 32, 115, 256]
    assert b"".join(p for _, p in pieces) == b"a cat sat"


def test_token_pieces_rejects_a_lossy_tokenizer():
    class Lossy(ByteTokenizer):
        def encode(self, text):
            return super().encode(text)[:-1]

    with pytest.raises(ValueError, match="do not join back"):
        token_pieces(Lossy(), "abc")


def test_token_vectors_are_table_rows_plus_sinusoids():
    table, tok, pos, x = token_vectors([5, 7, 5], vocab_size=10, d_model=8, seed=0)
    assert table.shape == (10, 8) and tok.shape == pos.shape == x.shape == (3, 8)
    # scale=True: row * sqrt(C), as in the paper
    torch.testing.assert_close(tok, table[[5, 7, 5]] * math.sqrt(8))
    torch.testing.assert_close(pos, sinusoidal_positional_encoding(3, 8))
    torch.testing.assert_close(x, tok + pos)
    # the same token at two positions: same token vector, different input vector ("dog bites man")
    torch.testing.assert_close(tok[0], tok[2])
    assert not torch.allclose(x[0], x[2])


def test_token_vectors_seeded_and_leave_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = token_vectors([1, 2], 10, 4, seed=0)[0]
    after = torch.rand(3)
    torch.testing.assert_close(before, after)
    torch.testing.assert_close(a, token_vectors([1, 2], 10, 4, seed=0)[0])
    assert not torch.allclose(a, token_vectors([1, 2], 10, 4, seed=1)[0])
    with pytest.raises(ValueError, match="empty"):
        token_vectors([], 10, 4)


def test_untrained_attention_matches_pytorch_causal_attention():
    torch.manual_seed(0)
    x = torch.randn(6, 8)
    out, weights = untrained_attention(x, seed=3)
    g = torch.Generator().manual_seed(3)  # the same random projections, in the same order
    w_q, w_k, w_v = (torch.randn(8, 8, generator=g) / math.sqrt(8) for _ in range(3))
    ref = F.scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v, is_causal=True)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(weights.sum(-1), torch.ones(6))
    assert torch.all(weights.triu(1) == 0), "a token attended to a later one"
    with pytest.raises(ValueError, match=r"\(T, C\)"):
        untrained_attention(torch.randn(2, 3, 4))


def test_next_token_distribution_worked_example():
    # logits = table @ h = [ln 2, 0, 0] -> softmax = [2, 1, 1] / 4
    table = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    probs = next_token_distribution(torch.tensor([math.log(2.0), 0.0]), table)
    torch.testing.assert_close(probs, torch.tensor([0.5, 0.25, 0.25]))
    with pytest.raises(ValueError, match="h_last"):
        next_token_distribution(torch.zeros(3), table)


def test_top_next_tokens_orders_and_breaks_ties_by_id():
    probs = torch.tensor([0.1, 0.3, 0.1, 0.5])
    assert top_next_tokens(probs, 3) == [(3, pytest.approx(0.5)), (1, pytest.approx(0.3)), (0, pytest.approx(0.1))]


@pytest.mark.parametrize("piece, label", [(b" the", "␣the"), (b"\xf0\x9f", "<f0 9f>"), ("한".encode(), "한"), (b"a\n", "a⏎")])
def test_piece_label(piece, label):
    assert piece_label(piece) == label


def test_trace_pipeline_is_consistent_and_deterministic():
    tok = PairTokenizer()
    a = trace_pipeline("the cat sat 🙂", tok, d_model=8, seed=0)
    T = len(a.tokens)
    assert a.n_bytes == 16 and len(a.chars) == 13 and T == 14  # 12 ASCII + 4 emoji bytes; two "at" merges
    assert a.x.shape == (T, 8) and a.weights.shape == (T, T) and a.probs.shape == (257,)
    torch.testing.assert_close(a.probs.sum(), torch.tensor(1.0))
    b = trace_pipeline("the cat sat 🙂", tok, d_model=8, seed=0)
    torch.testing.assert_close(a.probs, b.probs)
    assert not torch.allclose(a.probs, trace_pipeline("the cat sat 🙂", tok, d_model=8, seed=1).probs)
    with pytest.raises(ValueError, match="empty"):
        trace_pipeline("", tok)


@pytest.mark.parametrize("stage", STAGES)
def test_draw_stage_draws_each_stage(stage):
    trace = trace_pipeline("the cat sat", PairTokenizer(), d_model=8)
    fig = draw_stage(trace, stage, PairTokenizer())
    assert fig.axes and fig.axes[0].get_title()
    plt.close(fig)


def test_draw_stage_titles_carry_the_numbers():
    trace = trace_pipeline("the cat sat 🙂", PairTokenizer(), d_model=8)
    titles = {s: draw_stage(trace, s).axes[0].get_title() for s in ("bytes", "tokens")}
    plt.close("all")
    assert titles["bytes"].startswith("13 characters -> 16 UTF-8 bytes")
    assert titles["tokens"].startswith("16 bytes -> 14 tokens")


def test_draw_stage_rejects_unknown_stage_and_pipeline_has_all_panels():
    trace = trace_pipeline("the cat", ByteTokenizer(), d_model=8)
    with pytest.raises(ValueError, match="choose one of bytes, tokens"):
        draw_stage(trace, "logits")
    fig = draw_pipeline(trace)
    assert len([ax for ax in fig.axes if ax.get_title()]) == len(STAGES)
    plt.close(fig)
    fig = draw_pipeline(trace, stages=STAGES[3:])  # a part, e.g. one slide's worth
    assert len([ax for ax in fig.axes if ax.get_title()]) == 2
    plt.close(fig)
    for bad in ([], ["bytes", "logits"]):
        with pytest.raises(ValueError, match="stages="):
            draw_pipeline(trace, stages=bad)


def test_every_stage_points_to_an_existing_notebook_name():
    assert set(STAGE_NOTEBOOKS) == set(STAGES)
    assert all(name.endswith(".ipynb") and name[:2].isdigit() for name in STAGE_NOTEBOOKS.values())


def test_widget_output_changes_when_controls_change():
    w = course_map_widget(PairTokenizer(), stage="tokens", d_model=8)
    assert w.stage.value == "tokens" and bytes(w.image.value).startswith(PNG_MAGIC)
    first_png, first_caption = w.image.value, w.caption.value
    assert "merged into" in first_caption
    w.stage.value = "attention"
    assert w.image.value != first_png and bytes(w.image.value).startswith(PNG_MAGIC)
    assert "03-attention.ipynb" in w.caption.value
    attention_png = w.image.value
    w.sentence.value = DEFAULT_SENTENCES["Korean"]
    assert w.image.value != attention_png
    w.stage.value = "tokens"
    w.sentence.value = DEFAULT_SENTENCES["English + emoji"]
    assert w.image.value == first_png, "the same choices should draw the same figure"


def test_widget_rejects_bad_arguments():
    with pytest.raises(ValueError, match="stage='logits'"):
        course_map_widget(ByteTokenizer(), stage="logits")
    with pytest.raises(ValueError, match="sentences is empty"):
        course_map_widget(ByteTokenizer(), sentences={})


def test_stage_caption_counts():
    trace = trace_pipeline("the cat sat 🙂", PairTokenizer(), d_model=8)
    assert "13 characters become 16 UTF-8 bytes" in stage_caption(trace, "bytes")
    assert "all 257 vocabulary entries" in stage_caption(trace, "next token")


def test_with_the_course_bpe_tokenizer():
    tokenizer_mod = pytest.importorskip("tinyformer.tokenizer")
    from tinyformer.corpus import python_docs_text

    tok = tokenizer_mod.BPETokenizer.train(python_docs_text()[:20_000], vocab_size=300, progress=False)
    trace = trace_pipeline("The value is returned.", tok, d_model=8)
    assert len(trace.tokens) < trace.n_bytes, "BPE should merge some bytes of common English"
    assert b"".join(p for _, p in trace.tokens) == b"The value is returned."


def test_draw_bytes_takes_a_plain_string():
    fig = draw_stage(trace_pipeline("a한", ByteTokenizer(), d_model=4), "bytes")
    from tinyformer.viz.course_map import draw_bytes

    assert draw_bytes("a한").axes[0].get_title() == fig.axes[0].get_title() == "2 characters -> 4 UTF-8 bytes (hex)"
    plt.close("all")
