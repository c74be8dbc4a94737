"""Notebook 09's boundary explorer and figures: the pure functions, the figures, the widget's reactions."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.colors import to_rgb

from helpers import sharp_random_gpt
from tinyformer import boundary as B
from tinyformer import sae as S
from tinyformer.viz import looking_inside as V
from tinyformer.widgets import looking_inside as WL

pytestmark = pytest.mark.usefixtures("one_thread")
PROMPT, OTHER = [3, 17, 5, 9, 22], [8, 1, 30]


@pytest.fixture(scope="module")
def model():
    return sharp_random_gpt(n_layers=3, block_size=16)


def decode(ids):
    return "".join(chr(97 + i % 26) for i in ([ids] if isinstance(ids, int) else ids))


def test_token_map_image_worked_example():
    token = torch.tensor([[0, 7], [0, 0]])
    prob = torch.tensor([[0.8, 0.4], [0.2, 0.8]])
    image, shown = V.token_map_image(token, prob)
    assert shown == [0, 7]  # most frequent first
    c0, c1 = np.array(to_rgb(V.PALETTE[0])), np.array(to_rgb(V.PALETTE[1]))
    np.testing.assert_allclose(image[0, 0], c0)  # the most confident point: full colour
    np.testing.assert_allclose(image[0, 1], 0.5 * c1 + 0.5)  # half as confident: half way to white
    np.testing.assert_allclose(image[1, 0], 0.25 * c0 + 0.75)


def test_category_colors_grey_beyond_the_palette():
    labels = torch.arange(12).repeat_interleave(torch.arange(12, 0, -1))  # label i appears 12 - i times
    colors, shown = V.category_colors(labels, max_colors=3)
    assert shown == [0, 1, 2]
    np.testing.assert_allclose(colors[-1], to_rgb(V.OTHER))
    np.testing.assert_allclose(colors[0], to_rgb(V.PALETTE[0]))


def test_widget_token_map_equals_library_map(model):
    grid, logits = WL.boundary_logits(model, PROMPT, OTHER, 1, "two states", 7)
    for temperature in (0, 0.7):
        ours = WL.boundary_token_map(logits, 7, temperature)
        ref = B.next_token_map(model, PROMPT, 1, grid, temperature)
        assert torch.equal(ours.token, ref.token)
        torch.testing.assert_close(ours.prob, ref.prob)


def test_planes_put_the_states_where_they_say(model):
    a = B.prompt_residuals(model, PROMPT, 2)[-1]
    b = B.prompt_residuals(model, OTHER, 2)[-1]
    grid = WL.boundary_plane(model, PROMPT, OTHER, 2, "two states", 5)
    torch.testing.assert_close(grid.coords(torch.stack([a, b])), torch.eye(2), atol=1e-4, rtol=1e-4)
    pc = WL.boundary_plane(model, PROMPT, OTHER, 2, "principal directions", 5)
    torch.testing.assert_close(pc.points[2, 2], a)  # the grid's centre is the prompt's state


def test_figures_are_readable(model):
    grid = B.plane_grid(B.prompt_residuals(model, PROMPT, 1)[-1], B.prompt_residuals(model, OTHER, 1)[-1], resolution=9)
    tmap = B.next_token_map(model, PROMPT, 1, grid)
    cmap = B.continuation_map(model, PROMPT, 1, grid, k=3)
    basis = torch.stack([grid.u, grid.v])
    tree = B.grow_rrt(model, PROMPT, 1, torch.tensor([0, 1, 2]), radius=float(grid.u.norm()), n_nodes=15, basis=basis)
    ball = B.ball_samples(tree.nodes[0], tree.radius, 20, basis=basis)
    same = B.next_token_logits_at(model, PROMPT, 1, ball).argmax(-1) == tmap.token.flatten()[0]
    results = B.compare_tree_ball(model, PROMPT, 1, {"tree": tree.nodes, "ball": ball}, k=2)
    windows = torch.randint(0, 40, (2, 6), generator=torch.Generator().manual_seed(0))
    acts = torch.rand(2, 6, 4)
    figs = [V.plot_token_map(tmap, grid, decode, marks={"query": grid.u}),
            V.plot_continuation_map(cmap, grid, decode),
            V.plot_tree_vs_ball(grid, tmap, tree, ball, same),
            V.plot_tree_ball_bars(results),
            V.plot_feature_contexts({f: S.top_activating_contexts(acts, windows, f, k=2) for f in (0, 3)}, decode),
            WL.boundary_figure(model, PROMPT, OTHER, layer=1, resolution=9, decode=decode)]
    for fig in figs:
        assert fig.dpi >= 100
        sizes = [t.get_fontsize() for t in fig.findobj(plt.Text) if t.get_text()]
        assert sizes and min(sizes) >= 10
        plt.close(fig)


def test_explorer_reruns_the_model_only_when_the_grid_changes(model, monkeypatch):
    calls = []
    real = WL.next_token_logits_at

    def counting(*args, **kwargs):
        calls.append(args[2])  # the layer
        return real(*args, **kwargs)

    monkeypatch.setattr(WL, "next_token_logits_at", counting)
    box = WL.boundary_explorer(model, PROMPT, OTHER, decode, layer=1, resolution=11)
    assert calls == [1] and "11x11" in box.info.value
    first = box.image.value
    box.temperature.value = 0.2
    assert calls == [1] and box.image.value != first  # recoloured, not rerun
    box.layer.value = 2
    assert calls == [1, 2]
    box.resolution.value = 21
    assert len(calls) == 3 and "21x21" in box.info.value
    box.plane.value = "principal directions"
    assert len(calls) == 4


@pytest.mark.parametrize("call, match", [
    (lambda m: WL.boundary_plane(m, PROMPT, OTHER, 0, "diagonal"), "plane"),
    (lambda m: WL.boundary_token_map(torch.zeros(9, 40), 3, -1.0), "temperature"),
    (lambda m: WL.boundary_token_map(torch.zeros(8, 40), 3, 1.0), "logits"),
    (lambda m: V.category_colors(torch.zeros(3), 3), "labels"),
    (lambda m: V.category_colors(torch.zeros(3, dtype=torch.long), 11), "max_colors"),
    (lambda m: V.plot_token_map("map", None), "token_map"),
    (lambda m: V.plot_tree_ball_bars({}), "results"),
    (lambda m: V.plot_feature_contexts({}, decode), "contexts"),
])
def test_bad_input(model, call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call(model)
