"""Notebook 10's pure functions behind the figures and widgets: cost curves, the window's reach, summaries."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from tinyformer.scaling import block_flops_per_token  # noqa: E402
from tinyformer.viz.cost_and_scale import cost_curves, plot_cost_curves, plot_window, window_reach  # noqa: E402
from tinyformer.widgets.cost_and_scale import (cost_explorer, cost_summary, window_explorer,  # noqa: E402
                                               window_summary)


def test_cost_curves_follow_the_formulas():
    c = cost_curves([64, 768, 4096], d_model=128, d_ff=512, n_heads=4)
    assert c["attention_flops"] == [block_flops_per_token(128, 512, T)["attention"] for T in (64, 768, 4096)]
    assert c["attention_share"][1] == pytest.approx(0.5)  # T = 6 C
    assert c["naive_score_bytes"] == [4 * T * T * 4 for T in (64, 768, 4096)]
    assert c["tile_bytes"] == [4 * 64 * 64 * 4] * 3


def test_window_reach_grows_by_window_minus_one_per_layer():
    reach = window_reach(16, 4, 3)  # (L, T)
    assert reach.sum(dim=1).tolist() == [4, 7, 10]
    assert reach[:, -1].all() and not reach[0, :12].any()
    assert window_reach(16, 16, 1).all()
    assert window_reach(8, 1, 5).sum().item() == 5  # each layer: itself only


def test_summaries_say_what_the_figures_show():
    assert cost_summary(768) == ("T = 768: attention is 50.0% of the block's FLOPs per token; one layer's "
                                 "(H, T, T) float32 scores take 9.00 MiB")
    assert window_summary(4) == ("window 4: the last token reaches 4 positions after layer 1, 7 positions after "
                                 "layer 2, 10 positions after layer 3")


def test_figures_and_widgets_build():
    for fig in (plot_cost_curves(512), plot_window(4)):
        assert fig.dpi >= 100
        assert all(t.get_fontsize() >= 10 for ax in fig.axes for t in ax.get_xticklabels() + [ax.title])
    assert cost_explorer(512).children[0].value == 512
    assert window_explorer(4).children[0].value == 4
    assert torch.is_tensor(window_reach(4, 2, 1))
