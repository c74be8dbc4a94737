"""Widgets for notebook 02: the sinusoidal positional-encoding explorer.

Figures are shown as PNG bytes in an `ipywidgets.Image` (not an `Output` capture), so a widget
renders the same under JupyterLab, nbconvert and nbval, and tests can see the picture change.
"""

from __future__ import annotations

import html
import io

import ipywidgets as W
import matplotlib.pyplot as plt

from ..viz.embeddings import describe_positional_encoding, plot_positional_encoding_explorer

__all__ = ["positional_encoding_explorer", "figure_to_png"]


def figure_to_png(fig) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")  # at the figure style's dpi (tinyformer.viz.use_style)
    plt.close(fig)
    return buf.getvalue()


def positional_encoding_explorer(d_model: int = 64, n_positions: int = 100, position: int = 10, dimension: int = 4) -> W.VBox:
    """Sliders for position and dimension; shows the value, its wavelength, the column's wave and the row's vector."""
    pos = W.IntSlider(value=position, min=0, max=n_positions - 1, description="position", continuous_update=False)
    dim = W.IntSlider(value=dimension, min=0, max=d_model - 1, description="dimension", continuous_update=False)
    info = W.HTML()
    image = W.Image(format="png")

    def update(*_):
        info.value = f"<code>{html.escape(describe_positional_encoding(pos.value, dim.value, d_model, n_positions))}</code>"
        image.value = figure_to_png(plot_positional_encoding_explorer(pos.value, dim.value, d_model, n_positions))

    pos.observe(update, "value")
    dim.observe(update, "value")
    update()
    return W.VBox([W.HBox([pos, dim]), info, image])
