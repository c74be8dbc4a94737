"""Slide metadata for the notebooks: present a notebook as a talk with jupyterlab-slideshow.

jupyterlab-slideshow presents the notebook inside JupyterLab (the "Toggle Deck" button of the notebook
toolbar; Space / Shift-Space step, Escape leaves), so code runs and widgets stay live on their slides.
(jupyterlab-rise 0.43.1 was tried first: its separate slideshow app shows ipywidgets 8 widgets as
plain text, jupyterlab-contrib/rise issues 119 and 126.) Each cell's `metadata.slideshow.slide_type`,
the format RISE and nbconvert's slides also read, says how it is shown: "slide" starts a new slide,
"subslide" a new slide below it, "fragment" appears on the current slide at the next key press, "-"
joins the current slide at once, "skip" is never shown and "notes" is kept for the presenter.

`apply` sets the types by rules, so re-running it gives the same metadata (idempotent):
- a markdown cell that opens with a `#` or `##` heading starts a slide; `###` starts a subslide;
- the setup cell (a code cell whose first comment says "setup"/"imports", or of imports only) is skipped;
- every other cell is a fragment of the current slide while the slide's estimated height stays
  within `SLIDE_HEIGHT_PX` at `SLIDE_WIDTH_PX` wide, else it starts a subslide;
- prose that does not fit on any slide (a markdown cell taller than a slide by itself) goes to notes;
- a code cell taller than a slide by itself is zoomed out while presenting, to fit (the deck's own
  per-cell zoom, stored as a jupyterlab-fonts style; the notebook view is unchanged), but never below
  `MIN_ZOOM` (the deck's slider minimum): a cell that would need less is still listed by `tall_cells`.
Heights are estimated from the stored source and outputs (lines wrapped at the slide's width, images
at their pixel size shrunk to the column), calibrated against JupyterLab in Chromium
(tests/browser/test_lecture.py measures the real slides). `check` is the hygiene rule: it fails on a
slide of several cells taller than the view; `tall_cells` lists single cells still taller than a
slide at their zoom (split the cell or shrink its figure).

Command line: `python -m tinyformer.slides apply|check|summary notebooks/NN-*.ipynb ...`
"""

from __future__ import annotations

import ast
import base64
import json
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "SLIDE_TYPES", "SLIDE_WIDTH_PX", "SLIDE_HEIGHT_PX", "SECONDS_PER_STEP",
    "MIN_ZOOM", "Slide", "cell_height", "cell_zoom", "plan", "apply", "slides", "check", "tall_cells", "main",
]

SLIDE_TYPES = ("slide", "subslide", "fragment", "-", "skip", "notes")
SLIDE_WIDTH_PX = 1280
SLIDE_HEIGHT_PX = 720
SECONDS_PER_STEP = {"markdown": 40, "code": 50, "widget": 90}  # class time per shown cell (talk + run)

_MARGIN = 60  # px: the deck's own top and bottom margin
MIN_ZOOM = 50  # percent: the smallest zoom the deck's design tools offer
_ZOOM_SAFETY = 0.9  # heights are estimates (03's cell 14 measured 10% taller in Chromium): zoom a bit more
# Where jupyterlab-slideshow keeps a cell's style while presenting (its design tools write the same).
_FONTS_KEY = "@deathbeds/jupyterlab-fonts"
_PRESENTING = "body[data-jp-deck-mode='presenting'] &"
_TEXT_CHARS = 150  # characters of prose per line at 1280 px
_CODE_CHARS = 125  # characters of code per line (monospace, after the prompt)
_LINE = {"p": 19, "li": 22, "h1": 70, "h2": 50, "h3": 40, "code": 18.5, "out": 17}
_DECK_WIDTH_PX = 1120  # the cells' column in jupyterlab-slideshow at 1280 px (measured)
_WIDGET_PX = 480  # a live widget: its controls and a figure
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _wrapped(line: str, width: int) -> int:
    return max(1, -(-len(line) // width))


def _png_size(data: str) -> tuple[int, int]:
    raw = base64.b64decode(data[:64] if len(data) > 64 else data)
    if raw[:8] != b"\x89PNG\r\n\x1a\n":
        return (0, 0)
    return struct.unpack(">II", raw[16:24])


def _markdown_height(text: str) -> float:
    h, in_code = 10.0, False
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("```"):
            in_code = not in_code
            h += 8
            continue
        if in_code:
            h += _LINE["code"]
        elif not s:
            h += 8
        elif s.startswith("# "):
            h += _LINE["h1"]
        elif s.startswith("## "):
            h += _LINE["h2"]
        elif s.startswith("#"):
            h += _LINE["h3"]
        elif s.startswith(("- ", "* ", "1. ", "2. ", "3. ", "4. ", "5. ", "6. ", "7. ", "8. ", "9. ")):
            h += _LINE["li"] * _wrapped(s, _TEXT_CHARS - 6)
        elif s.startswith("|"):
            h += 30
        elif s.startswith("$$"):
            h += 40
        else:
            h += _LINE["p"] * _wrapped(s, _TEXT_CHARS)
    return h


def _text_height(text: str) -> float:
    return sum(_LINE["out"] * _wrapped(line, _CODE_CHARS) for line in text.splitlines()) + 8


def _output_height(out: dict) -> float:
    kind = out.get("output_type")
    if kind == "stream":
        return _text_height("".join(out.get("text", "")))
    if kind == "error":
        return 200.0
    data = out.get("data", {})
    if _WIDGET_MIME in data:
        return _WIDGET_PX
    if "image/png" in data:
        w, h = _png_size(data["image/png"])
        width = out.get("metadata", {}).get("image/png", {}).get("width", w) or w
        scale = min(1.0, (_DECK_WIDTH_PX - 20) / max(width, 1))
        return h * (width / max(w, 1)) * scale + 10
    if "text/html" in data:
        html = "".join(data["text/html"])
        return 30 + 22 * html.count("<tr") + 20 * html.count("<br") + 20 * html.count("<p")
    if "text/plain" in data:
        return _text_height("".join(data["text/plain"]))
    return 0.0


def cell_height(cell: dict) -> float:
    """The estimated height in px of `cell` as a slide shows it at SLIDE_WIDTH_PX wide (source + outputs)."""
    if cell.get("cell_type") == "markdown":
        return _markdown_height(_source(cell))
    if cell.get("cell_type") != "code":
        return 0.0
    lines = _source(cell).splitlines() or [""]
    h = 24 + sum(_LINE["code"] * _wrapped(line, _CODE_CHARS) for line in lines)
    return h + sum(_output_height(o) for o in cell.get("outputs", []))


def cell_zoom(cell: dict) -> float:
    """The zoom (1.0 = 100%) at which the deck shows `cell`, from its stored presenting style."""
    try:
        zoom = cell["metadata"][_FONTS_KEY]["styles"][""][_PRESENTING]["zoom"]
        return float(str(zoom).rstrip("%")) / 100
    except (KeyError, TypeError, ValueError):
        return 1.0


def _fit_zoom(cell: dict) -> int | None:
    """Percent zoom that fits a code cell taller than a slide (at least MIN_ZOOM), else None."""
    budget = SLIDE_HEIGHT_PX - _MARGIN
    h = cell_height(cell)
    if cell.get("cell_type") != "code" or h <= budget:
        return None
    return max(MIN_ZOOM, int(100 * _ZOOM_SAFETY * budget / h))


def _set_zoom(cell: dict, percent: int | None) -> None:
    """Store (or, for None, remove) the presenting zoom of `cell`, keeping any other style it has."""
    meta = cell.setdefault("metadata", {})
    styles = meta.get(_FONTS_KEY, {}).get("styles", {}).get("", {}).get(_PRESENTING, {})
    styles = {k: v for k, v in styles.items() if k != "zoom"} | ({"zoom": f"{percent}%"} if percent else {})
    if styles:
        meta.setdefault(_FONTS_KEY, {}).setdefault("styles", {}).setdefault("", {})[_PRESENTING] = styles
    elif _FONTS_KEY in meta:
        meta[_FONTS_KEY].get("styles", {}).get("", {}).pop(_PRESENTING, None)
        if not meta[_FONTS_KEY].get("styles", {}).get(""):
            del meta[_FONTS_KEY]


def _is_setup(cell: dict, first_code: bool) -> bool:
    """The notebook's setup cell: the first code cell saying "setup" or "import", or a cell of imports only."""
    src = _source(cell)
    first = src.lstrip().splitlines()[0].lower() if src.strip() else ""
    try:
        body = ast.parse(src).body
    except SyntaxError:
        return False
    only_imports = bool(body) and all(isinstance(node, (ast.Import, ast.ImportFrom)) for node in body)
    said = first.startswith(("# setup", "# imports")) or (first_code and first.startswith("#") and "setup:" in first)
    return only_imports or said


def _heading_level(cell: dict) -> int:
    if cell.get("cell_type") != "markdown":
        return 0
    first = _source(cell).lstrip().split("\n", 1)[0]
    hashes = len(first) - len(first.lstrip("#"))
    return hashes if 0 < hashes <= 6 and first[hashes:hashes + 1] == " " else 0


def plan(nb: dict) -> list[str]:
    """The slide type of every cell of `nb` (a notebook's JSON as a dict), by the rules above."""
    types: list[str] = []
    budget = SLIDE_HEIGHT_PX - _MARGIN
    used = 0.0
    seen_code = False
    for cell in nb["cells"]:
        h = cell_height(cell)
        level = _heading_level(cell)
        if cell.get("cell_type") == "code":
            setup = _is_setup(cell, not seen_code)
            seen_code = True
            if setup:
                types.append("skip")
                continue
        if not types or all(t == "skip" for t in types) or level in (1, 2):
            kind = "slide"
        elif level >= 3 or used + h > budget:
            kind = "subslide"
        else:
            kind = "fragment"
        if kind != "fragment" and cell.get("cell_type") == "markdown" and level == 0 and h > budget:
            kind = "notes"  # prose longer than a slide: the presenter reads it, the room sees the next cell
            types.append(kind)
            continue
        used = h if kind in ("slide", "subslide") else used + h
        types.append(kind)
    return types


@dataclass
class Slide:
    """One page of the talk: the cells shown on it, its estimated height and the presenter notes."""

    cells: list[int] = field(default_factory=list)
    height: float = 0.0
    notes: list[int] = field(default_factory=list)
    steps: int = 0  # key presses spent on this page (1 + its fragments)
    seconds: float = 0.0


def slides(nb: dict) -> list[Slide]:
    """The pages of the talk for `nb` as it stands (its stored metadata), in order."""
    pages: list[Slide] = []
    for i, cell in enumerate(nb["cells"]):
        t = cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "-")
        if t == "skip":
            continue
        if t == "notes":
            if pages:
                pages[-1].notes.append(i)
            continue
        if t in ("slide", "subslide") or not pages:
            pages.append(Slide())
        page = pages[-1]
        page.cells.append(i)
        page.height += cell_height(cell) * cell_zoom(cell)
        page.steps += 1 if t in ("slide", "subslide", "fragment") or len(page.cells) == 1 else 0
        widget = any(_WIDGET_MIME in o.get("data", {}) for o in cell.get("outputs", []))
        page.seconds += SECONDS_PER_STEP["widget" if widget else cell["cell_type"] if cell["cell_type"] in SECONDS_PER_STEP else "markdown"]
    return pages


def apply(path: str | Path) -> bool:
    """Write the planned slide types into the notebook at `path`; True if it changed.

    Only metadata changes: sources and outputs are untouched. Raises FileNotFoundError for a missing path.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    for cell, kind in zip(nb["cells"], plan(nb)):
        cell.setdefault("metadata", {})["slideshow"] = {"slide_type": kind}
        _set_zoom(cell, _fit_zoom(cell) if kind in ("slide", "subslide") else None)
    nb["metadata"].pop("rise", None)  # jupyterlab-rise's settings (tried first, not used)
    new = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True


def check(path: str | Path) -> list[str]:
    """Problems with the slide metadata of the notebook at `path` ([] when it presents well)."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    name = Path(path).name
    problems = []
    shown = []
    for i, cell in enumerate(nb["cells"]):
        meta = cell.get("metadata", {}).get("slideshow")
        if not isinstance(meta, dict) or meta.get("slide_type") not in SLIDE_TYPES:
            problems.append(f"{name} cell {i}: slideshow.slide_type is {meta!r}; one of {SLIDE_TYPES} "
                            f"(run python -m tinyformer.slides apply {path})")
        elif meta["slide_type"] not in ("skip", "notes"):
            shown.append((i, meta["slide_type"]))
    if not problems and shown and shown[0][1] != "slide":
        problems.append(f"{name}: the first shown cell ({shown[0][0]}) must start a slide")
    for n, page in enumerate(slides(nb)):
        if page.height > SLIDE_HEIGHT_PX and len(page.cells) > 1:
            problems.append(f"{name} slide {n + 1} (cells {page.cells}): about {page.height:.0f} px tall, over "
                            f"{SLIDE_HEIGHT_PX}: start a subslide inside it")
    return problems


def tall_cells(nb: dict) -> list[int]:
    """Shown cells taller than a slide by themselves at their zoom (estimated): split them, or shrink their output."""
    return [page.cells[0] for page in slides(nb) if len(page.cells) == 1 and page.height > SLIDE_HEIGHT_PX]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2 or argv[0] not in ("apply", "check", "summary"):
        print("usage: python -m tinyformer.slides apply|check|summary notebooks/NN-*.ipynb ...", file=sys.stderr)
        return 2
    status = 0
    for p in argv[1:]:
        if argv[0] == "apply":
            print(f"{p}: {'slide metadata written' if apply(p) else 'unchanged'}")
        elif argv[0] == "check":
            problems = check(p)
            print("\n".join(problems) if problems else f"{p}: ok")
            status |= bool(problems)
        else:
            nb = json.loads(Path(p).read_text(encoding="utf-8"))
            pages = slides(nb)
            secs = sum(s.seconds for s in pages)
            tall = tall_cells(nb)
            print(f"{Path(p).name}: {len(pages)} slides, {sum(s.steps for s in pages)} steps, "
                  f"about {secs / 60:.0f} min of class time" + (f"; cells taller than a slide: {tall}" if tall else ""))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
