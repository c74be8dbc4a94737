"""The generation-boundary explorer of notebook 09: layer, plane, resolution and temperature.

`boundary_logits` (pure, the slow part: one batched model run) gives the next-token logits on a
grid; `boundary_figure` draws them at a temperature (cheap: the temperature slider only
recolours). `boundary_explorer` is thin ipywidgets glue over both; call `boundary_figure` with
the defaults for the static figure GitHub and HTML exports show.
"""

from __future__ import annotations

from typing import Callable

import ipywidgets as W
import torch

from tinyformer.boundary import PlaneGrid, TokenMap, next_token_logits_at, plane_grid, principal_plane, prompt_residuals
from tinyformer.model import GPT
from tinyformer.viz.looking_inside import plot_token_map
from .embeddings import figure_to_png

__all__ = ["PLANES", "boundary_plane", "boundary_logits", "boundary_token_map", "boundary_figure", "boundary_explorer"]

PLANES = ("two states", "principal directions")


def boundary_plane(model: GPT, prompt: list[int], other: list[int], layer: int, plane: str = "two states",
                   resolution: int = 41) -> PlaneGrid:
    """The plane of the explorer at block `layer`'s input.

    "two states": through the origin, spanned by the last residual of `prompt` (s = 1) and of
    `other` (t = 1). "principal directions": through the prompt's last residual, along the two
    principal directions of every residual of both prompts (s, t in standard deviations).
    """
    if plane not in PLANES:
        raise ValueError(f"plane={plane!r} must be one of {PLANES}")
    a = prompt_residuals(model, prompt, layer)  # (T, C)
    b = prompt_residuals(model, other, layer)  # (T', C)
    if plane == "two states":
        return plane_grid(a[-1], b[-1], resolution=resolution, axis_names=("s (prompt's state)", "t (other state)"))
    return principal_plane(torch.cat([a, b]), a[-1], resolution=resolution)


def boundary_logits(model: GPT, prompt: list[int], other: list[int], layer: int, plane: str = "two states",
                    resolution: int = 41) -> tuple[PlaneGrid, torch.Tensor]:
    """(grid, next-token logits (R * R, V)) of the prompt with its last position's block input at each point."""
    grid = boundary_plane(model, prompt, other, layer, plane, resolution)
    return grid, next_token_logits_at(model, prompt, layer, grid.flat())


def boundary_token_map(logits: torch.Tensor, resolution: int, temperature: float) -> TokenMap:
    """logits (R * R, V) -> TokenMap at `temperature` (0: greedy, every confidence 1)."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature >= 0:
        raise ValueError(f"temperature={temperature!r} must be a number >= 0")
    if logits.dim() != 2 or logits.shape[0] != resolution * resolution:
        raise ValueError(f"logits must have shape (resolution^2 = {resolution * resolution}, V), "
                         f"got {tuple(logits.shape)}")
    token = logits.argmax(-1).view(resolution, resolution)
    if temperature == 0:
        prob = torch.ones(resolution, resolution, dtype=logits.dtype)
    else:
        prob = torch.softmax(logits / temperature, -1).amax(-1).view(resolution, resolution)
    return TokenMap(token, prob, float(temperature))


def boundary_figure(model: GPT, prompt: list[int], other: list[int], layer: int = 2, plane: str = "two states",
                    resolution: int = 41, temperature: float = 1.0, decode: Callable[[int], str] | None = None,
                    logits: tuple[PlaneGrid, torch.Tensor] | None = None):
    """The explorer's figure for these settings (pass `logits` from boundary_logits to skip the model run)."""
    grid, z = logits if logits is not None else boundary_logits(model, prompt, other, layer, plane, resolution)
    token_map = boundary_token_map(z, grid.resolution, temperature)
    marks = {"prompt": prompt_residuals(model, prompt, layer)[-1]}
    if plane == "two states":
        marks["other"] = prompt_residuals(model, other, layer)[-1]
    title = f"block {layer}'s input, {plane}: next token (intensity: p at T = {temperature:g})"
    return plot_token_map(token_map, grid, decode=decode, marks=marks, title=title)


def boundary_explorer(model: GPT, prompt: list[int], other: list[int], decode: Callable[[int], str] | None = None,
                      layer: int = 2, plane: str = "two states", resolution: int = 41,
                      temperature: float = 1.0) -> W.VBox:
    """Controls for layer, plane, resolution and temperature over the next-token map.

    The box exposes `.layer`, `.plane`, `.resolution`, `.temperature`, `.image` and `.info`.
    Layer, plane and resolution rerun the model (a fraction of a second at 41 x 41); temperature only recolours.
    """
    layer_s = W.IntSlider(value=layer, min=0, max=model.config.n_layers - 1, description="layer",
                          continuous_update=False)
    plane_d = W.Dropdown(options=list(PLANES), value=plane, description="plane")
    res_s = W.IntSlider(value=resolution, min=11, max=81, step=10, description="resolution", continuous_update=False)
    temp_s = W.FloatSlider(value=temperature, min=0.0, max=3.0, step=0.1, description="temperature",
                           continuous_update=False)
    info = W.HTML()
    image = W.Image(format="png")
    state: dict = {}

    def rerun(*_):
        state["logits"] = boundary_logits(model, prompt, other, layer_s.value, plane_d.value, res_s.value)
        redraw()

    def redraw(*_):
        grid, z = state["logits"]
        token_map = boundary_token_map(z, grid.resolution, temp_s.value)
        n = int(torch.unique(token_map.token).numel())
        info.value = f"<code>{n} distinct next tokens on the {grid.resolution}x{grid.resolution} grid</code>"
        image.value = figure_to_png(boundary_figure(model, prompt, other, layer_s.value, plane_d.value,
                                                    res_s.value, temp_s.value, decode, state["logits"]))

    for control in (layer_s, plane_d, res_s):
        control.observe(rerun, "value")
    temp_s.observe(redraw, "value")
    rerun()
    box = W.VBox([W.HBox([layer_s, plane_d]), W.HBox([res_s, temp_s]), info, image])
    box.layer, box.plane, box.resolution, box.temperature = layer_s, plane_d, res_s, temp_s
    box.image, box.info = image, info
    return box
