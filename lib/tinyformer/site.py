"""The course as a static, offline website and a one-page handout per notebook.

`python -m tinyformer.site build [--out site/]` renders every notebook's *stored* outputs (nothing is
executed, so it takes seconds) to `NN-topic.html` with nbconvert's HTML exporter, a handout
`NN-topic.handout.html` (objectives, recap and key figures, printable on one A4 page) and an
`index.html`. Nothing is fetched from the network when a page is read:
- figures are inline PNGs (data: URLs), CSS is inlined by the exporter;
- math is converted to MathML at build time (latex2mathml), which browsers draw without MathJax;
- scripts are removed (MathJax's loader, the widget renderer, mermaid's loader: all from CDNs), and so
  is any stylesheet or @import pointing off the machine. Widgets are live only in Jupyter; every widget cell also stores a static
  figure of its default state, which the page shows.
Left out: search, a table of contents per page, PDF output (print a handout from the browser).
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["NotebookPage", "build", "handout_html", "main", "notebook_html", "read_page", "tex_to_mathml"]

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO_ROOT / "notebooks"
KEY_FIGURES = 3  # figures on a handout

_MATH = re.compile(r"(?<![\\$])\$\$(.+?)\$\$|(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$", re.S)
_REMOTE = re.compile(
    r"<script\b[^>]*\bsrc=[\"']?(?:https?:)?//[^>]*>\s*</script>"
    r"|<link\b[^>]*\bhref=[\"']?(?:https?:)?//[^>]*>"
    r"|@import\s+url\([\"']?(?:https?:)?//[^)]*\);?",
    re.I,
)
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def tex_to_mathml(markdown: str) -> str:
    """Replace `$...$` and `$$...$$` in markdown text with MathML (kept as TeX in <code> if it fails to parse)."""
    from latex2mathml.converter import convert

    def one(m: re.Match) -> str:
        tex, display = (m.group(1), "block") if m.group(1) is not None else (m.group(2), "inline")
        try:
            return convert(tex.strip(), display=display)
        except Exception:  # noqa: BLE001 (any parse failure: show the TeX itself)
            return f"<code>{html.escape(tex)}</code>"

    parts = re.split(r"(```.*?```|`[^`\n]*`)", markdown, flags=re.S)  # never touch code spans and blocks
    return "".join(p if i % 2 else _MATH.sub(one, p) for i, p in enumerate(parts))


_SCRIPT = re.compile(r"<script\b.*?</script>", re.I | re.S)


def _offline(page: str) -> str:
    """No scripts (the page needs none: MathML, inline images) and no remote stylesheets or imports."""
    return _REMOTE.sub("", _SCRIPT.sub("", page))


def _nb(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def notebook_html(path: str | Path) -> str:
    """The notebook at `path` as one self-contained HTML page (stored outputs, MathML, no remote resources)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.reads(Path(path).read_text(encoding="utf-8"), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = tex_to_mathml(cell.source)
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if _WIDGET_MIME in data:  # no widget renderer offline: say so instead of an empty box
                data.pop(_WIDGET_MIME)
                data["text/plain"] = "(live widget: open the notebook in Jupyter; its static figure is shown above)"
    nb.metadata.pop("widgets", None)
    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(nb)
    return _offline(body)


@dataclass
class NotebookPage:
    """What the index and the handout need from one notebook."""

    stem: str  # NN-topic
    title: str
    objectives: str  # markdown of "What you will build"
    recap: str  # markdown of "Recap"
    time: str
    figures: list[str]  # base64 PNGs, key figures first


def _section(cells: list[dict], name: str) -> str:
    """The markdown under a heading whose text starts with `name` (case-insensitive), up to the next heading."""
    for cell in cells:
        if cell["cell_type"] != "markdown":
            continue
        lines = _source(cell).splitlines()
        for i, line in enumerate(lines):
            if re.match(rf"#+\s*{name}", line, re.I):
                rest = []
                for more in lines[i + 1:]:
                    if more.startswith("#"):
                        break
                    rest.append(more)
                return "\n".join(rest).strip()
    return ""


def read_page(path: str | Path) -> NotebookPage:
    """Title, objectives, recap, time and key figures of the notebook at `path` (from its stored outputs)."""
    path = Path(path)
    cells = _nb(path)["cells"]
    first = _source(cells[0]).splitlines() if cells else []
    title = next((ln.lstrip("# ").strip() for ln in first if ln.startswith("# ")), path.stem)
    widget_figs, other_figs, seen_sections = [], [], set()
    section = ""
    for cell in cells:
        if cell["cell_type"] == "markdown":
            heading = next((ln for ln in _source(cell).splitlines() if ln.startswith("## ")), None)
            section = heading or section
            continue
        outputs = cell.get("outputs", [])
        pngs = [o["data"]["image/png"] for o in outputs if "image/png" in o.get("data", {})]
        if not pngs:
            continue
        if any(_WIDGET_MIME in o.get("data", {}) for o in outputs):
            widget_figs.append(pngs[0])  # the widget's static figure: the notebook's main picture
        elif section not in seen_sections:
            seen_sections.add(section)
            other_figs.append(pngs[0])  # the first figure of each section
    figures = [f if isinstance(f, str) else "".join(f) for f in widget_figs + other_figs][:KEY_FIGURES]
    return NotebookPage(path.stem, title, _section(cells, "what you will build"), _section(cells, "recap"),
                        _section(cells, "time"), [f.replace("\n", "") for f in figures])


def _md(text: str) -> str:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    return markdown2html_mistune(tex_to_mathml(text))


_STYLE = """
body { font-family: system-ui, "DejaVu Sans", sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.45; color: #222; }
h1 { font-size: 1.7rem; margin-bottom: .3rem; } h2 { font-size: 1.2rem; margin: 1rem 0 .3rem; }
code { background: #f3f3f3; padding: 0 .2em; } a { color: #0072B2; }
.figs { display: flex; flex-wrap: wrap; gap: .5rem; } .figs img { max-width: 48%; max-height: 7.5cm; object-fit: contain; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 1.5rem; }
li { margin: .15rem 0; } .meta { color: #555; }
@page { size: A4; margin: 12mm; }
@media print { body { margin: 0; max-width: none; font-size: 10pt; } a { color: inherit; text-decoration: none; } }
"""


def handout_html(page: NotebookPage) -> str:
    """One printable page: title, time, what you will build, recap and up to KEY_FIGURES figures."""
    figs = "".join(f'<img alt="figure {i + 1} of {html.escape(page.title)}" src="data:image/png;base64,{f}">'
                   for i, f in enumerate(page.figures))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(page.title)}: handout</title>
<style>{_STYLE}</style></head><body>
<h1>{html.escape(page.title)}</h1>
<p class="meta">{html.escape(page.time)} · <a href="{page.stem}.html">the whole notebook</a> · <a href="index.html">course</a></p>
<div class="cols"><div><h2>What you will build</h2>{_md(page.objectives)}</div>
<div><h2>Recap</h2>{_md(page.recap)}</div></div>
<h2>Key figures</h2><div class="figs">{figs}</div>
</body></html>
"""


def _index_html(pages: list[NotebookPage]) -> str:
    rows = "".join(
        f'<li><a href="{p.stem}.html">{html.escape(p.title)}</a> · <a href="{p.stem}.handout.html">handout</a>'
        f' <span class="meta">({html.escape(p.time)})</span></li>' for p in pages)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>tinyformer: the course</title>
<style>{_STYLE}</style></head><body>
<h1>tinyformer: a transformer from scratch</h1>
<p>Every notebook of the course with its stored outputs, and a one-page handout for each. This site works
offline; to run the code and move the widgets, open the notebooks in JupyterLab.</p>
<ol start="0">{rows}</ol>
</body></html>
"""


def build(out: str | Path = "site", notebooks: list[Path] | None = None) -> list[Path]:
    """Write the site to `out`: one page and one handout per notebook, and index.html; the files written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = sorted(notebooks if notebooks is not None else NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
    if not paths:
        raise ValueError("notebooks is empty: no NN-*.ipynb to build")
    written, pages = [], []
    for path in paths:
        page = read_page(path)
        pages.append(page)
        for name, text in ((f"{page.stem}.html", notebook_html(path)), (f"{page.stem}.handout.html", handout_html(page))):
            (out / name).write_text(text, encoding="utf-8")
            written.append(out / name)
    (out / "index.html").write_text(_index_html(pages), encoding="utf-8")
    return [out / "index.html", *written]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinyformer.site", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="render every notebook's stored outputs to offline HTML and handouts")
    b.add_argument("--out", default="site", help="output folder (default: site/, git-ignored)")
    b.add_argument("notebooks", nargs="*", type=Path, help="notebooks to build (default: notebooks/NN-*.ipynb)")
    args = parser.parse_args(argv)
    files = build(args.out, args.notebooks or None)
    size = sum(f.stat().st_size for f in files)
    print(f"wrote {len(files)} files ({size / 1e6:.1f} MB) to {args.out}/; open {Path(args.out) / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
