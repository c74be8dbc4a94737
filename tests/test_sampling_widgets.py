"""The sampling explorer: its pure view function, its HTML and figures, and the widget reacting to its controls."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pytest
import torch

from tinyformer.model import GPT, GPTConfig
from tinyformer.sampling import generate, next_token_probs
from tinyformer.tokenizer import BPETokenizer
from tinyformer.viz.sampling import (
    distribution_html,
    distribution_view,
    plot_cache_cost,
    plot_distribution,
    plot_entropy_vs_temperature,
    plot_temperature_bars,
    plot_truncations,
    token_label,
)
from tinyformer.widgets.sampling import next_token_logits, sampling_explorer

TEXT = "the cat sat on the mat. the dog sat on the log. " * 20


@pytest.fixture(scope="module")
def tokenizer():
    return BPETokenizer.train(TEXT, 280)


@pytest.fixture(scope="module")
def model(tokenizer):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=16, d_model=16, n_heads=2, n_layers=1, d_ff=32)).eval()


# ---------------------------------------------------------------- distribution_view (pure)


def test_view_hand_worked():
    """probs [0.1, 0.6, 0.3]: bars in logit order 1, 2, 0; top_k=2 renormalises to [0.6/0.9, 0.3/0.9]."""
    z = torch.tensor([0.1, 0.6, 0.3]).log()
    view = distribution_view(z, top_k=2, k=3)
    assert view.ids == [1, 2, 0]
    assert view.probs == [round(0.6 / 0.9, 4), round(0.3 / 0.9, 4), 0.0]
    assert view.base_probs == [0.6, 0.3, 0.1]
    assert view.kept == [True, True, False] and view.n_kept == 2
    want_entropy = -(2 / 3 * math.log2(2 / 3) + 1 / 3 * math.log2(1 / 3))
    assert view.entropy == pytest.approx(want_entropy, abs=1e-4)


def test_view_matches_next_token_probs_on_random_logits():
    torch.manual_seed(1)
    z = torch.randn(300) * 3
    for knobs in [{}, {"temperature": 0.5}, {"temperature": 2.0, "top_k": 7}, {"top_p": 0.6}, {"temperature": 0}]:
        view = distribution_view(z, k=15, **knobs)
        probs = next_token_probs(z.double(), **knobs)
        assert view.ids == torch.sort(z, descending=True).indices[:15].tolist()  # bars stay in place as knobs move
        torch.testing.assert_close(torch.tensor(view.probs), probs[view.ids].float(), atol=1e-4, rtol=0)
        assert view.n_kept == int((probs > 0).sum())
        assert view.shown_mass <= 1.0001


def test_view_bars_keep_their_order_when_the_temperature_moves():
    z = torch.randn(50, generator=torch.Generator().manual_seed(2))
    assert distribution_view(z, temperature=0.3).ids == distribution_view(z, temperature=3.0).ids


def test_view_entropy_limits():
    z = torch.randn(64, generator=torch.Generator().manual_seed(3))
    assert distribution_view(z, temperature=0).entropy == 0
    assert distribution_view(z, temperature=1e6).entropy == pytest.approx(6.0, abs=1e-3)  # log2 64


def test_view_bad_input():
    with pytest.raises(ValueError, match="1-D"):
        distribution_view(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="k="):
        distribution_view(torch.zeros(5), k=0)
    with pytest.raises(ValueError, match="top_p"):
        distribution_view(torch.zeros(5), top_p=0.0)


def test_token_label_makes_whitespace_visible():
    assert token_label(" the") == "␣the"
    assert token_label("\n\n") == "↵↵"
    assert token_label("") == "∅"


def test_html_has_one_row_per_bar_and_escapes():
    view = distribution_view(torch.tensor([3.0, 2.0, 1.0]), k=3)
    out = distribution_html(view, decode=lambda i: ["<a>", "b", "c"][i])
    assert out.count("<tr>") == 3 and "&lt;a&gt;" in out and "<a>" not in out


def test_figures_draw(tokenizer):
    z = torch.randn(tokenizer.vocab_size, generator=torch.Generator().manual_seed(4))
    decode = lambda i: tokenizer.decode([i])  # noqa: E731
    figs = [
        plot_distribution(distribution_view(z, top_k=5), decode),
        plot_temperature_bars(z, [0.5, 1.0, 2.0], decode),
        plot_entropy_vs_temperature(z, [0.1, 0.5, 1.0, 2.0]),
        plot_truncations(z, 5, 0.5, decode),
        plot_cache_cost(32),
    ]
    assert len(figs[1].axes) == 3 and len(figs[3].axes) == 3
    assert [len(ax.patches) for ax in figs[3].axes] == [30, 30, 30]  # 15 model bars + 15 filtered bars
    plt.close("all")


def test_cache_cost_figure_shows_what_the_cache_saves_and_what_it_does_not():
    fig = plot_cache_cost(32, n_layers=2)
    (no1, kv1), (no2, kv2), (att3, rest3) = (ax.get_lines() for ax in fig.axes)
    t = list(range(1, 33))
    # projections and MLPs: the prefix again per step (t) vs the new token (1); in total n(n+1)/2 vs n
    assert list(no1.get_ydata()) == t and list(kv1.get_ydata()) == [1] * 32
    assert list(no2.get_ydata()) == [n * (n + 1) // 2 for n in t] and list(kv2.get_ydata()) == t
    # with the cache, the new query still attends to all t keys, while the rest takes one position
    assert list(att3.get_ydata()) == t and list(rest3.get_ydata()) == [1] * 32
    labels = [text.get_text() for ax in fig.axes for text in ax.get_legend().get_texts()]
    assert not any("linear" in label for label in labels)
    assert "projections and MLPs" in fig.axes[0].get_title()
    plt.close("all")


# ---------------------------------------------------------------- the widget


def test_next_token_logits_is_the_last_position(model, tokenizer):
    ids = tokenizer.encode("the cat sat")
    with torch.no_grad():
        want = model(torch.tensor([ids]))[0, -1]
    torch.testing.assert_close(next_token_logits(model, ids), want)
    with pytest.raises(ValueError, match="empty"):
        next_token_logits(model, [])


def test_sliders_redraw_from_cached_logits(model, tokenizer, monkeypatch):
    box = sampling_explorer(model, tokenizer, "the cat", k=10)
    first = box.bars.value
    assert first.count("<tr>") == 10
    calls = []
    monkeypatch.setattr(model, "forward", lambda *a, **k: calls.append(1))  # the sliders must not rerun the model
    box.temperature.value = 0.2
    assert box.bars.value != first
    box.top_k.value = 3
    assert "3 tokens can be drawn" in box.bars.value
    box.top_k.value = 0
    box.top_p.value = 0.5
    assert box.bars.value != first
    assert calls == []


def test_new_prompt_recomputes_the_distribution(model, tokenizer):
    box = sampling_explorer(model, tokenizer, "the cat")
    before = box.bars.value
    box.prompt.value = "the dog sat on"
    assert box.bars.value != before
    box.prompt.value = ""
    assert "Type a prompt" in box.bars.value


def test_generate_button_continues_the_prompt_with_the_settings(model, tokenizer):
    box = sampling_explorer(model, tokenizer, "the cat", max_new_tokens=12, seed=5)
    box.temperature.value = 0.7
    box.top_k.value = 20
    box.generate_button.click()
    ids = tokenizer.encode("the cat")
    out = generate(model, ids, 12, temperature=0.7, top_k=20, seed=5)
    continuation = tokenizer.decode(out[len(ids):])
    import html

    assert html.escape(continuation) in box.output.value
    assert box.output.value.startswith("<pre") and "the cat" in box.output.value
