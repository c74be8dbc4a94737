"""Widget apps (tinyformer.apps): the app notebook keeps what the widgets need and shows only them.

The browser check (tests/browser/test_lecture.py) serves notebook 03's app with Voila in Chromium and
checks that no request leaves 127.0.0.1.
"""

import json
import re
import shutil
from pathlib import Path

import pytest

from tinyformer.apps import (APP_TAG, app_notebook, build_app, find_notebook, main, offline_templates, tag_widget_cells,
                             voila_command, voila_env)

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]-*.ipynb"))
WIDGET = {"output_type": "display_data", "metadata": {},
          "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "x", "version_major": 2, "version_minor": 0},
                   "text/plain": "VBox()"}}


def _nb():
    def code(src, outputs=()):
        return {"cell_type": "code", "metadata": {}, "execution_count": 1, "outputs": list(outputs), "source": src}
    return {"metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "nbformat_minor": 5, "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": "# 99 · Topic\nintro"},
        code("import math"), code("x = 2\nprint(x)"), code("make_widget(x)", [WIDGET]), code("exercise()")]}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_widget_cell_is_tagged(path, tmp_path):
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    assert tag_widget_cells(copy) is False, f"run python -m tinyformer.apps tag {path}"
    cells = json.loads(path.read_text())["cells"]
    assert any(APP_TAG in c["metadata"].get("tags", []) for c in cells)


def test_tag_is_idempotent_and_metadata_only(tmp_path):
    path = tmp_path / "99-topic.ipynb"
    path.write_text(json.dumps(_nb()))
    assert tag_widget_cells(path) is True and tag_widget_cells(path) is False
    cells = json.loads(path.read_text())["cells"]
    assert [APP_TAG in c["metadata"].get("tags", []) for c in cells] == [False, False, False, True, False]


def test_app_notebook_runs_what_the_widget_needs_and_shows_only_it(tmp_path):
    nb = _nb()
    with pytest.raises(ValueError, match="no cell tagged 'app'"):
        app_notebook(nb)
    nb["cells"][3]["metadata"]["tags"] = [APP_TAG]
    app = app_notebook(nb)
    sources = [c["source"] for c in app["cells"]]
    assert sources[0] == "# 99 · Topic · widgets"
    assert sources[1].startswith("%%capture\nimport os\nos.chdir(")
    assert sources[2:] == ["%%capture\nimport math", "%%capture\nx = 2\nprint(x)", "make_widget(x)"]  # no exercise
    assert all(c["outputs"] == [] for c in app["cells"] if c["cell_type"] == "code")


def test_build_app_and_command(tmp_path):
    path = build_app("3", out_dir=tmp_path)
    assert path == tmp_path / "03-attention-app.ipynb" and json.loads(path.read_text())["cells"]
    cmd = voila_command(path, port=9999)
    assert "--port=9999" in cmd and "--Voila.ip=127.0.0.1" in cmd and "--strip_sources=True" in cmd
    with pytest.raises(ValueError, match="number='77' names no notebook"):
        find_notebook("77")
    with pytest.raises(ValueError, match="names no notebook"):
        find_notebook("x")


def test_command_line_build_only(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TINYFORMER_GENERATED_DIR", str(tmp_path))
    assert main(["03", "--build-only"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "apps" / "03-attention-app.ipynb")


def test_offline_template_drops_only_the_cdn_links(tmp_path, monkeypatch):
    from jupyter_core.paths import jupyter_path

    installed = next(Path(d) / "voila/templates/lab/index.html.j2" for d in jupyter_path()
                     if (Path(d) / "voila/templates/lab/index.html.j2").is_file())
    root = offline_templates(tmp_path)
    ours = (root / "voila/templates/lab/index.html.j2").read_text()
    theirs = installed.read_text()
    assert "cdn.jsdelivr.net" in theirs and not re.search(r"<link[^>]*://", ours)  # Voilà 0.5.13 links Font Awesome on a CDN
    assert [ln for ln in theirs.splitlines() if "cdn.jsdelivr.net" not in ln] == ours.splitlines()
    assert offline_templates(tmp_path) == root  # idempotent
    monkeypatch.setenv("TINYFORMER_GENERATED_DIR", str(tmp_path / "gen"))
    env = voila_env({"JUPYTER_PATH": "/elsewhere", "X": "1"})
    assert env["JUPYTER_PATH"].split(":") == [str(tmp_path / "gen" / "voila"), "/elsewhere"] and env["X"] == "1"
