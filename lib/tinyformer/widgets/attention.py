"""Widgets for notebook 03: the query-token picker (pick a word, see where it looks)."""

from __future__ import annotations

import html

import ipywidgets as W
import torch

from ..viz.attention import describe_query_attention, plot_query_attention
from .embeddings import figure_to_png

__all__ = ["query_token_picker"]


def query_token_picker(weights: torch.Tensor, tokens: list[str], query: int = 0) -> W.VBox:
    """A dropdown of the sentence's words; shows the chosen query's weights as bars and the heatmap row."""
    describe_query_attention(weights, tokens, query)  # validates shapes before building anything
    pick = W.Dropdown(options=[(f"#{i} {t}", i) for i, t in enumerate(tokens)], value=query, description="query")
    info = W.HTML()
    image = W.Image(format="png")

    def update(*_):
        info.value = f"<code>{html.escape(describe_query_attention(weights, tokens, pick.value))}</code>"
        image.value = figure_to_png(plot_query_attention(weights, tokens, pick.value))

    pick.observe(update, "value")
    update()
    return W.VBox([pick, info, image])
