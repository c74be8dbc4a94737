"""Slide metadata (tinyformer.slides): every notebook presents as a talk, and the tool is idempotent.

Hygiene: every cell of every notebook has a valid RISE slide type, the first shown cell starts a
slide, and no slide's estimated height exceeds 720 px at 1280 wide (tests/browser/test_lecture.py
measures real slides in Chromium). `apply` on a copy changes nothing (the stored metadata is what
the rules give) and never touches sources or outputs.
"""

import json
import shutil
from pathlib import Path

import pytest

from tinyformer.slides import MIN_ZOOM, SLIDE_HEIGHT_PX, apply, cell_height, cell_zoom, check, main, plan, slides, tall_cells

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def _without_slides(nb):
    nb = json.loads(json.dumps(nb))
    nb["metadata"].pop("rise", None)
    for cell in nb["cells"]:
        cell.get("metadata", {}).pop("slideshow", None)
    return nb


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_valid_slide_metadata(path):
    problems = check(path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_apply_is_idempotent_and_metadata_only(path, tmp_path):
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    apply(copy)
    once = copy.read_text(encoding="utf-8")
    assert apply(copy) is False  # a second run changes nothing
    assert copy.read_text(encoding="utf-8") == once
    before, after = json.loads(path.read_text(encoding="utf-8")), json.loads(once)
    assert _without_slides(before) == _without_slides(after)  # sources, outputs, other metadata untouched


def _nb(*cells):
    return {"metadata": {}, "nbformat": 4, "nbformat_minor": 5, "cells": [
        {"cell_type": kind, "metadata": {}, "source": src, **({"outputs": []} if kind == "code" else {})}
        for kind, src in cells]}


def test_rules_headings_setup_fragments_notes():
    long_prose = "\n".join(["A sentence of prose that goes on for a while. " * 3] * 40)
    nb = _nb(("markdown", "# Title\nwhat you will build"), ("code", "# setup: imports\nimport math"),
             ("markdown", "## A section\nshort"), ("code", "x = 1\nx"), ("code", "from math import pi"),
             ("markdown", "### Detail"), ("markdown", long_prose), ("code", "y = 2"))
    assert plan(nb) == ["slide", "skip", "slide", "fragment", "skip", "subslide", "notes", "fragment"]


def test_a_full_slide_overflows_into_a_subslide():
    code = "\n".join(f"x{i} = {i}" for i in range(20))  # about 400 px of code
    nb = _nb(("markdown", "## Section"), ("code", code), ("code", code))
    assert plan(nb) == ["slide", "fragment", "subslide"]
    assert cell_height(nb["cells"][1]) > 300


def test_check_names_bad_metadata_and_tall_slides(tmp_path):
    code = "\n".join(f"x{i} = {i}" for i in range(20))
    nb = _nb(("markdown", "## Section"), ("code", code), ("code", code), ("code", "z = 3"))
    nb["metadata"]["rise"] = {}
    for cell, kind in zip(nb["cells"], ["slide", "fragment", "-", "sideways"]):
        cell["metadata"]["slideshow"] = {"slide_type": kind}
    path = tmp_path / "99-x.ipynb"
    path.write_text(json.dumps(nb))
    problems = check(path)
    assert any("cell 3" in p and "sideways" in p for p in problems)
    nb["cells"][3]["metadata"]["slideshow"]["slide_type"] = "-"
    path.write_text(json.dumps(nb))
    problems = check(path)
    assert len(problems) == 1 and f"over {SLIDE_HEIGHT_PX}" in problems[0]
    assert sum(s.height for s in slides(nb)) > SLIDE_HEIGHT_PX


def test_command_line(tmp_path, capsys):
    path = tmp_path / "99-x.ipynb"
    path.write_text(json.dumps(_nb(("markdown", "# T"), ("code", "1 + 1"))))
    assert main(["check", str(path)]) == 1
    assert main(["apply", str(path)]) == 0 and main(["check", str(path)]) == 0
    assert main(["summary", str(path)]) == 0
    assert "1 slides, 2 steps" in capsys.readouterr().out
    assert main(["bogus"]) == 2


def test_a_cell_taller_than_a_slide_is_zoomed_to_fit_while_presenting(tmp_path):
    tall = "\n".join(f"x{i} = {i}" for i in range(50))  # about 950 px of code
    huge = "\n".join(f"x{i} = {i}" for i in range(100))  # about 1900 px: more than MIN_ZOOM can fit
    nb = _nb(("markdown", "## Section"), ("code", tall), ("code", "y = 1"), ("code", huge))
    path = tmp_path / "99-x.ipynb"
    path.write_text(json.dumps(nb))
    apply(path)
    nb = json.loads(path.read_text())
    zooms = [cell_zoom(c) for c in nb["cells"]]
    assert zooms[0] == zooms[2] == 1.0 and zooms[3] == MIN_ZOOM / 100
    assert 0.6 < zooms[1] < 0.75 and cell_height(nb["cells"][1]) * zooms[1] <= SLIDE_HEIGHT_PX
    key = "@deathbeds/jupyterlab-fonts"  # the deck's own per-cell style, only while presenting
    assert nb["cells"][1]["metadata"][key]["styles"][""]["body[data-jp-deck-mode='presenting'] &"] == {
        "zoom": f"{round(zooms[1] * 100)}%"}
    assert tall_cells(nb) == [3] and check(path) == []
    # a cell that became short loses its zoom, and a style the author set stays
    nb["cells"][1]["source"] = "x = 0"
    nb["cells"][1]["metadata"][key]["styles"][""]["body[data-jp-deck-mode='presenting'] &"]["opacity"] = "0.5"
    path.write_text(json.dumps(nb))
    apply(path)
    cell = json.loads(path.read_text())["cells"][1]
    assert cell_zoom(cell) == 1.0
    assert cell["metadata"][key]["styles"][""]["body[data-jp-deck-mode='presenting'] &"] == {"opacity": "0.5"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_readme_slideshow_table_matches_the_metadata(path):
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    row = re.search(rf"^\| {path.name[:2]} [^|]+\| (\d+) \| (\d+) \| ~(\d+) min \|$", readme, flags=re.M)
    assert row, f"README's slideshow table has no row for {path.name[:2]}"
    pages = slides(json.loads(path.read_text(encoding="utf-8")))
    measured = (len(pages), sum(s.steps for s in pages), round(sum(s.seconds for s in pages) / 60))
    assert tuple(map(int, row.groups())) == measured, f"README says {row.groups()}, the metadata gives {measured}"
