"""Notebook 01's drawings and merge-stepper widget: the pure functions, and the widget reacting to its slider."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from tinyformer.tokenizer import BPETokenizer  # noqa: E402
from tinyformer.viz import (  # noqa: E402
    draw_segmentation,
    merge_steps,
    plot_merge_steps,
    plot_segmentations,
    plot_tokens_per_char,
    segmentation,
    token_bytes_label,
)
from tinyformer.widgets import merge_stepper, step_summary, tokens_html  # noqa: E402

TEXT = "low lower lowest newer newest wider widest " * 4


@pytest.fixture(scope="module")
def tok():
    return BPETokenizer.train(TEXT, 280, progress=False)


def test_token_label():
    assert token_bytes_label(b" the") == "␣the"
    assert token_bytes_label(b"a\nb\t") == "a⏎b⇥"
    assert token_bytes_label("안".encode()[:2]) == "ec 95"  # a cut character shows its bytes
    assert token_bytes_label("안".encode()) == "안"
    assert token_bytes_label("안".encode(), printable=True) in ("안", "U+C548")


def test_merge_steps_go_from_bytes_to_the_full_tokenizer(tok):
    text = "the lowest newer"
    steps = merge_steps(tok, text, [0, 1, len(tok.merges)])
    assert steps[0] == [bytes([b]) for b in text.encode()]
    assert steps[-1] == segmentation(tok, text)
    assert b"".join(steps[1]) == text.encode()
    first_pair = tuple(tok.token_bytes(i) for i in next(iter(tok.merges)))
    n_first = sum(1 for a, b in zip(steps[0], steps[0][1:]) if (a, b) == first_pair)
    assert n_first > 0 and len(steps[1]) == len(steps[0]) - n_first  # 'we' in 'lowest' and 'newer'
    lengths = [len(s) for s in merge_steps(tok, text, list(range(len(tok.merges) + 1)))]
    assert lengths == sorted(lengths, reverse=True)  # merging never adds tokens
    with pytest.raises(ValueError, match="steps"):
        merge_steps(tok, text, [len(tok.merges) + 1])


def test_tokens_html_escapes_and_colors():
    out = tokens_html([b"<b>", b" x"])
    assert "&lt;b&gt;" in out and "␣x" in out and out.count("<span") == 2


def test_step_summary(tok):
    assert "every token is one byte" in step_summary(tok, "lower", 0)
    first = step_summary(tok, "lower", 1)
    assert "→" in first and "tokens for 5 bytes" in first


def test_merge_stepper_reacts_to_its_slider(tok):
    w = merge_stepper(tok, "the lowest newer")
    assert w.slider.min == 0 and w.slider.max == len(tok.merges) and w.slider.value == 0
    before_summary, before_tokens = w.summary.value, w.tokens.value
    assert "<b>16</b> tokens" in before_summary
    w.slider.value = len(tok.merges)
    assert w.summary.value != before_summary and w.tokens.value != before_tokens
    n = len(segmentation(tok, "the lowest newer"))
    assert f"<b>{n}</b> tokens" in w.summary.value and w.tokens.value.count("<span") == n
    w.sentence.value = "wider"
    assert "tokens for 5 bytes" in w.summary.value and w.tokens.value.count("<span") == len(segmentation(tok, "wider"))
    with pytest.raises(ValueError, match="step"):
        merge_stepper(tok, "x", step=-1)
    with pytest.raises(TypeError, match="text"):
        merge_stepper(tok, None)


def test_figures_draw(tok):
    fig = plot_merge_steps(tok, "the lowest newer", [0, 5, len(tok.merges)])
    assert len(fig.axes) == 3 and "after 0 merges: 16 tokens" in fig.axes[0].get_title(loc="left")
    fig3 = plot_segmentations({"one": [b"a"], "two": [b"a", b"b"] * 40})
    assert [a.get_title(loc="left") for a in fig3.axes] == ["one", "two"] and len(fig3.axes[1].patches) == 80
    ax = draw_segmentation([b"a", b"bc"])
    assert len(ax.patches) == 2
    fig2 = plot_tokens_per_char([256, 512], {"held out": [1.0, 0.5]})
    assert fig2.axes[0].get_lines()[0].get_ydata().tolist() == [1.0, 0.5]
    plt.close("all")
