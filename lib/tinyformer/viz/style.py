"""Figure styles: "notebook" (the default, readable on a laptop) and "lecture" (for a projector).

`use_style("lecture")` at the top of a notebook makes every figure of the course readable from the
back of a room: higher dpi, larger text, thicker lines and the Okabe-Ito colour cycle, which stays
distinguishable under the common colour-vision deficiencies (Okabe & Ito 2008, "Color Universal
Design"). `import tinyformer.viz` applies "notebook", so a learner gets readable figures without
calling anything.

The drawing functions never hard-code small sizes: tick labels, titles and legends follow rcParams,
and text drawn inside a figure asks `font_size(scale)`, which never goes below `MIN_FONT_PT`.
Left out: per-figure themes, dark backgrounds.
"""

from __future__ import annotations

import matplotlib as mpl
from cycler import cycler

__all__ = ["MIN_DPI", "MIN_FONT_PT", "OKABE_ITO", "STYLES", "current_style", "font_size", "use_style"]

MIN_DPI = 100  # below this, 10 pt text is ~14 px high or less on screen
MIN_FONT_PT = 10.0  # the smallest text any course figure draws, in points at display size

# Okabe & Ito (2008): black is left out of the cycle (it is used for reference lines).
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")

STYLES: dict[str, dict[str, object]] = {
    "notebook": {
        "figure.dpi": 100,
        "savefig.dpi": "figure",
        "font.size": 11.0,
        "axes.titlesize": 12.0,
        "axes.labelsize": 11.0,
        "xtick.labelsize": 10.0,
        "ytick.labelsize": 10.0,
        "legend.fontsize": 10.0,
        "figure.titlesize": 13.0,
        "lines.linewidth": 1.5,
        "axes.linewidth": 0.8,
        "axes.prop_cycle": cycler(color=list(mpl.rcParamsDefault["axes.prop_cycle"].by_key()["color"])),
    },
    "lecture": {
        "figure.dpi": 120,
        "savefig.dpi": "figure",
        "font.size": 15.0,
        "axes.titlesize": 16.0,
        "axes.labelsize": 15.0,
        "xtick.labelsize": 14.0,
        "ytick.labelsize": 14.0,
        "legend.fontsize": 14.0,
        "figure.titlesize": 18.0,
        "lines.linewidth": 2.5,
        "axes.linewidth": 1.2,
        "axes.prop_cycle": cycler(color=list(OKABE_ITO)),
    },
}

_current = {"name": "notebook"}


def use_style(name: str = "notebook") -> None:
    """Set matplotlib's rcParams for `name` ("notebook" or "lecture"); figures drawn afterwards follow it.

    Raises ValueError for an unknown name. Fonts chosen elsewhere (e.g. `use_hangul_font`) are kept.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if name not in STYLES:
        raise ValueError(f"name={name!r} is not a style; choose one of {', '.join(sorted(STYLES))}")
    mpl.rcParams.update(STYLES[name])
    _current["name"] = name


def current_style() -> str:
    """The name passed to the last `use_style` ("notebook" after `import tinyformer.viz`)."""
    return _current["name"]


def font_size(scale: float = 1.0) -> float:
    """`scale` x rcParams["font.size"] in points, but never below MIN_FONT_PT (for text inside figures)."""
    return max(MIN_FONT_PT, float(mpl.rcParams["font.size"]) * scale)
