"""Viz and widgets of notebooks 02-04: pure functions by value, figures build, widgets react to their controls."""

import math

import matplotlib.pyplot as plt
import pytest
import torch

from tinyformer.embeddings import sinusoidal_positional_encoding
from tinyformer.viz import (
    describe_mask_example,
    describe_positional_encoding,
    describe_query_attention,
    mask_example,
    pe_wavelength,
    plot_attention_heatmap,
    plot_cosine_histograms,
    plot_mask,
    plot_mask_and_weights,
    plot_positional_encoding_explorer,
    plot_query_attention,
    plot_scaling_effect,
    plot_word_vectors_2d,
)
from tinyformer.widgets import mask_toggler, positional_encoding_explorer, query_token_picker


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# ---- pure functions -------------------------------------------------------------------------


def test_pe_wavelength_worked_values():
    """Column 0 and 1 share wavelength 2π; column C-2 is 2π·10000^((C-2)/C)."""
    assert pe_wavelength(0, 64) == pytest.approx(2 * math.pi)
    assert pe_wavelength(1, 64) == pytest.approx(2 * math.pi)
    assert pe_wavelength(62, 64) == pytest.approx(2 * math.pi * 10000 ** (62 / 64))
    with pytest.raises(ValueError, match="dimension=64"):
        pe_wavelength(64, 64)


def test_pe_wavelength_is_the_period_of_the_column():
    pe = sinusoidal_positional_encoding(200, 16).double()
    wl = pe_wavelength(2, 16)  # 2π·10000^(2/16) ≈ 19.87 positions
    p = torch.arange(200, dtype=torch.float64)
    torch.testing.assert_close(pe[:, 2], torch.sin(2 * math.pi * p / wl), atol=1e-6, rtol=0)


def test_describe_positional_encoding_value_and_kind():
    text = describe_positional_encoding(1, 0, 8, 10)
    assert text.startswith("PE[1, 0] = sin(") and f"{math.sin(1.0):+.4f}" in text
    assert "cos(" in describe_positional_encoding(3, 5, 8, 10)
    with pytest.raises(ValueError, match="position=10"):
        describe_positional_encoding(10, 0, 8, 10)


def test_describe_query_attention_orders_by_weight():
    w = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.25, 0.25]])
    assert describe_query_attention(w, ["a", "b", "c"], 0, k=2) == "query 'a' (#0) attends most to: 'b' (#1) 0.70, 'c' (#2) 0.20"
    assert "'b' (#1) 0.25, 'c' (#2) 0.25" in describe_query_attention(w, ["a", "b", "c"], 1)  # ties: sentence order
    with pytest.raises(ValueError, match="query=2"):
        describe_query_attention(w, ["a", "b", "c"], 2)
    with pytest.raises(ValueError, match="3 keys but 2 tokens"):
        describe_query_attention(w, ["a", "b"], 0)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("padding", [False, True])
def test_mask_example_respects_masks(causal, padding):
    tokens, mask, weights = mask_example(causal, padding)
    assert len(tokens) == 6 and mask.shape == weights.shape == (6, 6)
    assert (weights[~mask] == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(6, dtype=weights.dtype))
    future = torch.triu(weights, diagonal=1).sum().item()
    on_pad = weights[:, 4:].sum().item()
    assert (future == 0) == causal
    assert (on_pad == 0) == padding
    text = describe_mask_example(causal, padding)
    assert f"causal {'on' if causal else 'off'}, padding {'on' if padding else 'off'}" in text
    assert f"{int(mask.sum())} of 36 pairs allowed" in text


def test_mask_example_counts():
    """Causal: 6·7/2 = 21 pairs; padding alone: 6 queries × 4 real keys = 24; both: 1+2+3+4+4+4 = 18."""
    assert int(mask_example(True, False)[1].sum()) == 21
    assert int(mask_example(False, True)[1].sum()) == 24
    assert int(mask_example(True, True)[1].sum()) == 18


# ---- figures ----------------------------------------------------------------------------------


def test_figures_build():
    w = torch.softmax(torch.randn(4, 4, generator=torch.Generator().manual_seed(0)), -1)
    toks = ["a", "b", "c", "d"]
    assert len(plot_positional_encoding_explorer(3, 5, 16, 20).axes) >= 3
    plot_cosine_histograms({2: torch.rand(50) * 2 - 1, 10: torch.rand(50) - 0.5})
    plot_word_vectors_2d(torch.randn(4, 6), toks, arrows=[("a", "b")])
    ax = plot_attention_heatmap(w, toks, highlight=1, title="t")
    assert ax.get_title() == "t" and len(ax.texts) == 16
    assert len(plot_query_attention(w, toks, 2).axes) == 2
    plot_scaling_effect([4, 16], {"scaled": {"entropy": [1, 1], "grad_norm": [0.2, 0.2]}})
    plot_mask(torch.ones(4, 4, dtype=torch.bool).tril(), toks)
    plot_mask_and_weights(toks, torch.ones(4, 4, dtype=torch.bool), w, title="x")
    with pytest.raises(ValueError, match="mask must be"):
        plot_mask(torch.ones(4, 3, dtype=torch.bool), toks)


# ---- widgets: setting a control programmatically changes what is shown ------------------------


def _info_and_image(widget):
    info, image = widget.children[1], widget.children[2]
    return info.value, bytes(image.value)


def test_positional_encoding_explorer_reacts_to_sliders():
    w = positional_encoding_explorer(d_model=16, n_positions=20, position=3, dimension=2)
    pos, dim = w.children[0].children
    before = _info_and_image(w)
    assert "PE[3, 2]" in before[0] and before[1].startswith(b"\x89PNG")
    dim.value = 7
    after_dim = _info_and_image(w)
    assert "PE[3, 7]" in after_dim[0] and after_dim[1] != before[1]
    pos.value = 19
    assert "PE[19, 7]" in _info_and_image(w)[0]


def test_query_token_picker_reacts_to_dropdown():
    weights = torch.tensor([[0.1, 0.9, 0.0], [0.0, 0.2, 0.8], [1.0, 0.0, 0.0]])
    w = query_token_picker(weights, ["the", "cat", "sat"], query=0)
    pick = w.children[0]
    assert [label for label, _ in pick.options] == ["#0 the", "#1 cat", "#2 sat"]
    before = _info_and_image(w)
    assert "&#x27;the&#x27; (#0) attends most to: &#x27;cat&#x27; (#1) 0.90" in before[0]  # HTML-escaped quotes
    pick.value = 1
    after = _info_and_image(w)
    assert "&#x27;sat&#x27; (#2) 0.80" in after[0] and after[1] != before[1]
    with pytest.raises(ValueError):
        query_token_picker(weights, ["too", "few"])


def test_mask_toggler_reacts_to_buttons():
    w = mask_toggler(causal=True, padding=True)
    causal_btn, padding_btn = w.children[0].children
    assert (causal_btn.description, padding_btn.description) == ("causal", "padding")
    before = _info_and_image(w)
    assert "18 of 36 pairs" in before[0] and "&lt;pad&gt;" in before[0]  # <pad> escaped, not an HTML tag
    causal_btn.value = "off"
    assert "causal off, padding on: 24 of 36 pairs" in _info_and_image(w)[0]
    padding_btn.value = "off"
    after = _info_and_image(w)
    assert "36 of 36 pairs" in after[0] and after[1] != before[1]
    assert "causal off, padding off" in _info_and_image(mask_toggler(causal=False, padding=False))[0]
