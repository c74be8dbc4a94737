"""The static site (tinyformer.site): offline pages from stored outputs, handouts and an index.

Built for two notebooks into tmp_path (the browser check, tests/browser/test_lecture.py, opens a built
site in Chromium and logs every request). Offline means: no script, no stylesheet or image from
another host, every image an inline data: URL, math as MathML.
"""

import re
from pathlib import Path

import pytest

from tinyformer.site import build, main, read_page, tex_to_mathml

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
TWO = [NOTEBOOKS / "00-course-map.ipynb", NOTEBOOKS / "03-attention.ipynb"]
REMOTE = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    files = build(out, TWO)
    return out, files


def _resources(page: str) -> list[str]:
    """src= of img/script and href= of link elements: what a browser would fetch."""
    return re.findall(r"""<(?:img|script|link|iframe|source)\b[^>]*?\b(?:src|href)\s*=\s*["']?([^"' >]+)""", page, re.I)


def test_build_writes_a_page_and_a_handout_per_notebook_and_an_index(site):
    out, files = site
    names = sorted(f.name for f in files)
    assert names == sorted(["index.html", "00-course-map.html", "00-course-map.handout.html",
                            "03-attention.html", "03-attention.handout.html"])
    index = (out / "index.html").read_text()
    for stem in ("00-course-map", "03-attention"):
        assert f'href="{stem}.html"' in index and f'href="{stem}.handout.html"' in index


@pytest.mark.parametrize("name", ["00-course-map.html", "03-attention.html", "03-attention.handout.html", "index.html"])
def test_pages_are_offline(site, name):
    page = (site[0] / name).read_text()
    assert "<script" not in page.lower()
    assert not [r for r in _resources(page) if not r.startswith(("data:", "#")) and "//" in r]
    assert not re.search(r"@import\s+url\(\s*[\"']?(?:https?:)?//", page)


def test_every_stored_figure_is_inline(site):
    page = (site[0] / "03-attention.html").read_text()
    imgs = re.findall(r"<img\b[^>]*\bsrc=\"([^\"]+)\"", page)
    assert len(imgs) >= 3 and all(src.startswith("data:image/png;base64,") for src in imgs)
    assert "live widget: open the notebook in Jupyter" in page  # the widget says where it lives


def test_math_becomes_mathml():
    out = tex_to_mathml(r"scores $QK^\top$ and $$\frac{1}{\sqrt{d_k}}$$ but not `$x$` or 5 $ and 6 $")
    assert out.count("<math") == 2 and 'display="block"' in out
    assert "`$x$`" in out and "5 $ and 6 $" in out  # code spans and lone dollars stay as they are


def test_handout_has_objectives_recap_and_key_figures(site):
    page = read_page(NOTEBOOKS / "03-attention.ipynb")
    assert page.title.startswith("03") and "minutes" in page.time
    assert "attention" in page.objectives.lower() and "soft lookup" in page.recap.lower()
    assert 1 <= len(page.figures) <= 3
    handout = (site[0] / "03-attention.handout.html").read_text()
    assert "What you will build" in handout and "Recap" in handout
    assert handout.count("data:image/png;base64,") == len(page.figures)


def test_command_line(tmp_path, capsys):
    assert main(["build", "--out", str(tmp_path), str(TWO[1])]) == 0
    assert (tmp_path / "index.html").exists() and "wrote 3 files" in capsys.readouterr().out
