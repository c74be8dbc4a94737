"""Figure styles (tinyformer.viz.style): the rcParams each style sets, and every drawing function under both.

Every public `plot_*` / `draw_*` function of `tinyformer.viz` is drawn under "notebook" and "lecture"
with small example data; each figure must be >= 100 dpi and have no visible text below 10 pt (all
Text artists, tick labels included, after a draw). Notebook 00's pipeline figure must have no
overlapping tick labels, for the English sentence and for Korean cut one token per byte (the worst
case of its widget).
"""

import itertools

import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.text import Text

from helpers import ByteTokenizer
import tinyformer.viz as viz
from tinyformer.tokenizer import BPETokenizer
from tinyformer.viz import MIN_DPI, MIN_FONT_PT, OKABE_ITO, STYLES, current_style, font_size, use_style
from tinyformer.viz.course_map import trace_pipeline
from tinyformer.viz.sampling import distribution_view

TEXT = "The cat sat on the mat. The function returns a list. " * 20
TOKENS = ["The", "cat", "sat", "on", "the", "mat"]


@pytest.fixture(scope="module")
def bpe():
    return BPETokenizer.train(TEXT, 300, progress=False)


@pytest.fixture(autouse=True)
def restore_style():
    saved = matplotlib.rcParams.copy()
    yield
    plt.close("all")
    matplotlib.rcParams.update(saved)
    use_style("notebook")


def _weights(T, S=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(T, S or T, generator=g), dim=-1)


def _examples(bpe):
    """name -> a function drawing it with small data; returns a Figure or an Axes."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(50, generator=g) * 2
    trace = trace_pipeline("The cat sat on the mat 🙂", bpe)
    causal = torch.tril(torch.ones(6, 6, dtype=torch.bool))
    heads = torch.softmax(torch.randn(4, 6, 6, generator=g), dim=-1)
    src, out = ["고양이", "가", "매트", "에", "앉았다"], ["the", "cat", "sat", "on", "the", "mat"]
    cross = torch.softmax(torch.randn(2, 4, 6, 5, generator=g), dim=-1)
    curve = [3.0 * 0.99 ** i for i in range(200)]
    return {
        "draw_attention": lambda: viz.draw_attention(trace),
        "draw_bytes": lambda: viz.draw_bytes(trace),
        "draw_next_token": lambda: viz.draw_next_token(trace, bpe),
        "draw_pipeline": lambda: viz.draw_pipeline(trace, bpe),
        "draw_segmentation": lambda: viz.draw_segmentation([bpe.token_bytes(i) for i in bpe.encode(TEXT[:60])]),
        "draw_stage": lambda: viz.draw_stage(trace, "tokens"),
        "draw_tokens": lambda: viz.draw_tokens(trace),
        "draw_vectors": lambda: viz.draw_vectors(trace),
        "plot_attention_heads": lambda: viz.plot_attention_heads(src, out, cross),
        "plot_attention_heatmap": lambda: viz.plot_attention_heatmap(_weights(6), TOKENS, highlight=2),
        "plot_cache_cost": lambda: viz.plot_cache_cost(64),
        "plot_cosine_histograms": lambda: viz.plot_cosine_histograms(
            {d: torch.rand(500, generator=g) * 2 - 1 for d in (2, 64)}),
        "plot_cross_attention": lambda: viz.plot_cross_attention(src, out, cross),
        "plot_distribution": lambda: viz.plot_distribution(distribution_view(logits, 0.8, top_k=5), decode=str),
        "plot_entropy_vs_temperature": lambda: viz.plot_entropy_vs_temperature(logits, [0.5, 1.0, 2.0]),
        "plot_gradient_norms": lambda: viz.plot_gradient_norms({"plain": [1.0, 0.1, 0.01], "residual": [1.0, 0.9, 0.8]}),
        "plot_head": lambda: viz.plot_head(heads, TOKENS, 1),
        "plot_head_grid": lambda: viz.plot_head_grid(heads, TOKENS, title="4 heads"),
        "plot_length_histograms": lambda: viz.plot_length_histograms([3, 4, 5, 5, 6], [4, 5, 6, 6, 7]),
        "plot_loss_curves": lambda: viz.plot_loss_curves({"a": curve, "b": curve[::-1]}),
        "plot_mask": lambda: viz.plot_mask(causal, TOKENS),
        "plot_mask_and_weights": lambda: viz.plot_mask_and_weights(TOKENS, causal, _weights(6), title="causal"),
        "plot_merge_steps": lambda: viz.plot_merge_steps(bpe, "The cat sat on the mat.", [0, 10, 30]),
        "plot_parameter_breakdown": lambda: viz.plot_parameter_breakdown(
            {"tiny": {"embedding": 100, "attention": 300, "ffn": 600}, "small": {"embedding": 400, "attention": 900, "ffn": 1800}}),
        "plot_positional_encoding": lambda: viz.plot_positional_encoding(
            torch.sin(torch.arange(50.0)[:, None] / (1 + torch.arange(16.0))), position=3, dimension=2),
        "plot_positional_encoding_explorer": lambda: viz.plot_positional_encoding_explorer(),
        "plot_query_attention": lambda: viz.plot_query_attention(_weights(6), TOKENS, 2),
        "plot_scaling_effect": lambda: viz.plot_scaling_effect(
            [4, 16, 64], {"unscaled": {"entropy": [1.0, 0.5, 0.1], "grad_norm": [1e-1, 1e-2, 1e-4]},
                          "scaled": {"entropy": [1.2, 1.2, 1.2], "grad_norm": [1e-1, 1e-1, 1e-1]}}),
        "plot_segmentations": lambda: viz.plot_segmentations(
            {"bytes": [bytes([b]) for b in b"The cat sat"], "BPE": [bpe.token_bytes(i) for i in bpe.encode("The cat sat")]}),
        "plot_temperature_bars": lambda: viz.plot_temperature_bars(logits, [0.5, 1.0, 2.0], decode=str),
        "plot_tokens_per_char": lambda: viz.plot_tokens_per_char([256, 512, 1024], {"English": [1.0, 0.5, 0.3]}),
        "plot_training_curve": lambda: viz.plot_training_curve(curve, [{"step": 100, "bleu": 40.0, "exact": 10.0}, {"step": 200, "bleu": 90.0, "exact": 60.0}]),
        "plot_truncations": lambda: viz.plot_truncations(logits, top_k=5, top_p=0.9, decode=str),
        "plot_word_vectors_2d": lambda: viz.plot_word_vectors_2d(
            torch.randn(4, 8, generator=g), ["king", "queen", "man", "woman"], [("man", "king")]),
    }


def _public_drawing_functions():
    return sorted(n for n in dir(viz) if n.startswith(("plot_", "draw_")) and callable(getattr(viz, n)))


def _figure(drawn):
    return drawn if isinstance(drawn, matplotlib.figure.Figure) else drawn.figure


def _visible_texts(fig):
    fig.draw_without_rendering()  # tick labels exist only after a draw (no pixels needed)
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and t.figure is fig]


def test_import_applies_the_notebook_style():
    assert current_style() == "notebook"
    for key, value in STYLES["notebook"].items():
        assert matplotlib.rcParams[key] == value, key


@pytest.mark.parametrize("name", sorted(STYLES))
def test_style_sets_the_rcparams_it_claims(name):
    use_style(name)
    assert current_style() == name
    for key, value in STYLES[name].items():
        assert matplotlib.rcParams[key] == value, key
    assert matplotlib.rcParams["figure.dpi"] >= MIN_DPI
    sizes = [matplotlib.rcParams[k] for k in ("font.size", "xtick.labelsize", "ytick.labelsize", "legend.fontsize")]
    assert min(sizes) >= MIN_FONT_PT


def test_lecture_is_bigger_than_notebook_and_colour_blind_safe():
    nb, lec = STYLES["notebook"], STYLES["lecture"]
    for key in ("figure.dpi", "font.size", "axes.titlesize", "xtick.labelsize", "legend.fontsize", "lines.linewidth"):
        assert lec[key] > nb[key], key
    use_style("lecture")
    assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"] == list(OKABE_ITO)
    assert font_size(0.5) == MIN_FONT_PT and font_size(1.0) == 15.0


def test_use_style_rejects_unknown_names():
    with pytest.raises(ValueError, match="name='projector'.*lecture, notebook"):
        use_style("projector")
    with pytest.raises(TypeError, match="name"):
        use_style(2)


def test_every_public_drawing_function_has_an_example(bpe):
    missing = set(_public_drawing_functions()) - set(_examples(bpe))
    assert not missing, f"add an example call for {sorted(missing)} to _examples() in this file"


@pytest.mark.parametrize("name", sorted(STYLES))
def test_every_drawing_function_is_readable_under_the_style(bpe, name):
    use_style(name)
    problems = []
    for fn, draw in sorted(_examples(bpe).items()):
        fig = _figure(draw())
        if fig.dpi < MIN_DPI:
            problems.append(f"{fn}: {fig.dpi} dpi")
        small = sorted({round(t.get_fontsize(), 1) for t in _visible_texts(fig) if t.get_fontsize() < MIN_FONT_PT})
        if small:
            problems.append(f"{fn}: text at {small} pt")
        plt.close(fig)
    assert not problems, "; ".join(problems)


def test_lecture_text_is_larger_than_notebook_text(bpe):
    sizes = {}
    for name in ("notebook", "lecture"):
        use_style(name)
        fig = viz.plot_loss_curves({"a": [3.0, 2.0, 1.0]})
        fig = _figure(fig)
        sizes[name] = min(t.get_fontsize() for t in _visible_texts(fig))
        plt.close(fig)
    assert sizes["lecture"] > sizes["notebook"] >= MIN_FONT_PT


def _overlaps(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    found = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in axis.get_ticklabels()
                     if t.get_visible() and t.get_text().strip()]
            for (ta, a), (tb, b) in itertools.combinations(boxes, 2):
                if a.x0 < b.x1 - 0.5 and b.x0 < a.x1 - 0.5 and a.y0 < b.y1 - 0.5 and b.y0 < a.y1 - 0.5:
                    found.append(f"{ax.get_title()[:30]!r}: {ta!r} / {tb!r}")
    return found


@pytest.mark.parametrize("name", sorted(STYLES))
@pytest.mark.parametrize("sentence", ["The cat sat on the mat 🙂", "고양이가 매트 위에 앉았다"])
def test_pipeline_figure_has_no_overlapping_tick_labels(bpe, name, sentence):
    use_style(name)
    tokenizer = bpe if sentence.isascii() or "🙂" in sentence else ByteTokenizer()
    fig = viz.draw_pipeline(trace_pipeline(sentence, tokenizer), tokenizer)
    assert not _overlaps(fig)
