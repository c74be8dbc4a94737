"""Fonts for the figures: does the plotting font have a character, and a Hangul font for Korean labels."""

from __future__ import annotations

import warnings
from functools import lru_cache

import matplotlib.pyplot as plt

__all__ = ["HANGUL_FONTS", "font_has", "use_hangul_font"]

HANGUL_FONTS = ("NanumGothic", "Noto Sans CJK KR", "Noto Sans KR", "AppleGothic", "Malgun Gothic", "UnDotum")


@lru_cache(maxsize=None)
def font_has(ch: str) -> bool:
    """True if `ch` is printable and matplotlib's default font draws it (Latin always; Hangul, emoji maybe)."""
    if not ch.isprintable():
        return False
    if ord(ch) < 0x250:  # Latin: every font has it
        return True
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    font = FT2Font(font_manager.findfont(font_manager.FontProperties()))
    return font.get_char_index(ord(ch)) != 0


def use_hangul_font() -> None:
    """Use a font with Hangul: one the machine has, or NanumGothic from the koreanize-matplotlib package.

    Without one, Korean shows as boxes (the figure still teaches) and the glyph warnings are silenced.
    """
    from matplotlib import font_manager

    try:
        import koreanize_matplotlib  # noqa: F401  (registers NanumGothic with matplotlib)
    except ImportError:
        pass
    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in HANGUL_FONTS:
        if name in names:
            plt.rcParams["font.family"] = [name, "DejaVu Sans"]
            plt.rcParams["axes.unicode_minus"] = False
            return
    warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
