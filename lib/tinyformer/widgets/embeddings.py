"""Widgets for notebook 02: the sinusoidal positional-encoding explorer."""

from __future__ import annotations

import ipywidgets as W
import matplotlib.pyplot as plt
from IPython.display import display

from ..viz.embeddings import describe_positional_encoding, plot_positional_encoding_explorer

__all__ = ["positional_encoding_explorer"]


def positional_encoding_explorer(d_model: int = 64, n_positions: int = 100, position: int = 10, dimension: int = 4) -> W.VBox:
    """Sliders for position and dimension; shows the value, its wavelength, the column's wave and the row's vector."""
    pos = W.IntSlider(value=position, min=0, max=n_positions - 1, description="position", continuous_update=False)
    dim = W.IntSlider(value=dimension, min=0, max=d_model - 1, description="dimension", continuous_update=False)
    info = W.HTML()
    out = W.Output()

    def update(*_):
        info.value = f"<code>{describe_positional_encoding(pos.value, dim.value, d_model, n_positions)}</code>"
        out.clear_output(wait=True)
        fig = plot_positional_encoding_explorer(pos.value, dim.value, d_model, n_positions)
        with out:
            display(fig)
        plt.close(fig)

    pos.observe(update, "value")
    dim.observe(update, "value")
    update()
    return W.VBox([W.HBox([pos, dim]), info, out])
