"""A notebook's widgets alone, as a small web app served by Voilà on this machine.

`python -m tinyformer.apps NN` builds `generated_dir()/apps/NN-topic-app.ipynb` from notebook NN and
serves it with Voilà on http://127.0.0.1:8866 (offline: Voilà ships the widget renderer). The app
notebook keeps, in order, every code cell up to the notebook's last widget (the widgets need what
those cells compute), but shows only the cells tagged "app" (the widget cells): every other cell runs
under `%%capture`, so its prints and figures stay hidden, and no source is shown (`--strip_sources`).

`python -m tinyformer.apps tag notebooks/NN-*.ipynb` tags the widget cells "app" (a code cell whose
stored outputs hold a widget); metadata only, idempotent. `--build-only` writes the app notebook and
prints its path without serving it.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

from tinyformer.utils import REPO_ROOT, generated_dir

__all__ = ["APP_TAG", "app_notebook", "build_app", "find_notebook", "main", "offline_templates", "tag_widget_cells",
           "voila_command", "voila_env"]

APP_TAG = "app"
NOTEBOOKS = REPO_ROOT / "notebooks"
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def find_notebook(number: str | int) -> Path:
    """notebooks/NN-*.ipynb for `number` (e.g. 3 or "03"); ValueError when there is none."""
    nn = f"{int(number):02d}" if str(number).isdigit() else None
    found = sorted(NOTEBOOKS.glob(f"{nn}-*.ipynb")) if nn else []
    if not found:
        have = ", ".join(p.name[:2] for p in sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")))
        raise ValueError(f"number={number!r} names no notebook; choose one of {have}")
    return found[0]


def _has_widget(cell: dict) -> bool:
    return any(_WIDGET_MIME in o.get("data", {}) for o in cell.get("outputs", []))


def tag_widget_cells(path: str | Path) -> bool:
    """Tag every code cell of the notebook at `path` whose stored outputs hold a widget "app"; True if it changed."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and _has_widget(cell):
            tags = cell.setdefault("metadata", {}).setdefault("tags", [])
            if APP_TAG not in tags:
                tags.append(APP_TAG)
    new = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True


def app_notebook(nb: dict) -> dict:
    """The app notebook for `nb`: its title, then its code cells up to the last "app" cell, non-app ones captured."""
    cells = nb["cells"]
    app = [i for i, c in enumerate(cells) if APP_TAG in c.get("metadata", {}).get("tags", [])]
    if not app:
        raise ValueError("the notebook has no cell tagged 'app': run python -m tinyformer.apps tag <notebook>")
    title = next((ln for ln in _source(cells[0]).splitlines() if ln.startswith("# ")), "# widgets")
    out = [{"cell_type": "markdown", "metadata": {}, "source": f"{title} · widgets"},
           {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
            "source": f"%%capture\nimport os\nos.chdir({str(NOTEBOOKS)!r})  # the notebook's own folder"}]
    for i, cell in enumerate(cells[: app[-1] + 1]):
        if cell["cell_type"] != "code" or not _source(cell).strip():
            continue
        src = _source(cell)
        if i not in app:
            src = "%%capture\n" + src
        out.append({"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": src})
    return {"cells": out, "metadata": {k: v for k, v in nb["metadata"].items() if k in ("kernelspec", "language_info")},
            "nbformat": 4, "nbformat_minor": 5}


def build_app(number: str | int, out_dir: Path | None = None) -> Path:
    """Write the app notebook of notebook `number` and return its path (under generated_dir()/apps/)."""
    src = find_notebook(number)
    out_dir = Path(out_dir) if out_dir is not None else generated_dir() / "apps"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{src.stem}-app.ipynb"
    nb = app_notebook(json.loads(src.read_text(encoding="utf-8")))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def offline_templates(out_dir: Path | None = None) -> Path:
    """A Jupyter data folder whose Voilà "lab" template loads nothing from a CDN; returns the folder.

    Voilà's lab page links Font Awesome's stylesheets on cdn.jsdelivr.net, although its own bundle
    already carries Font Awesome (the icons work without them). The copy written here is the installed
    template without those links; put the folder first on JUPYTER_PATH (`voila_env`) and Voilà uses it.
    """
    from jupyter_core.paths import jupyter_path

    root = Path(out_dir) if out_dir is not None else generated_dir() / "voila"
    found = [Path(d) / "voila/templates/lab/index.html.j2" for d in jupyter_path() if Path(d) != root]
    source = next((p for p in found if p.is_file()), None)
    if source is None:
        raise FileNotFoundError("Voilà's lab template was not found on the Jupyter path: pip install -r requirements.txt")
    target = root / "voila" / "templates" / "lab" / "index.html.j2"
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    text = "".join(line for line in lines if not re.search(r"<link[^>]*https?://", line))
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        tmp = target.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    return root


def voila_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """`env` (default: this process's) with offline_templates() first on JUPYTER_PATH."""
    import os

    env = dict(os.environ if env is None else env)
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(offline_templates()), env.get("JUPYTER_PATH")) if p)
    return env


def voila_command(app: Path, port: int = 8866) -> list[str]:
    """The Voilà command line that serves `app` on 127.0.0.1:`port`, sources hidden, no browser opened.
    Run it with `voila_env()`, so that the page requests nothing outside 127.0.0.1."""
    return [sys.executable, "-m", "voila", str(app), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
            "--strip_sources=True", "--theme=light"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinyformer.apps", description="a notebook's widgets as a web app")
    parser.add_argument("number", help='the notebook\'s number, e.g. 03; or "tag" followed by notebooks')
    parser.add_argument("paths", nargs="*", help="with tag: the notebooks whose widget cells to tag")
    parser.add_argument("--port", type=int, default=8866)
    parser.add_argument("--build-only", action="store_true", help="write the app notebook, print its path, exit")
    args = parser.parse_args(argv)
    if args.number == "tag":
        for p in args.paths:
            print(f"{p}: {'tagged' if tag_widget_cells(p) else 'unchanged'}")
        return 0
    app = build_app(args.number)
    if args.build_only:
        print(app)
        return 0
    print(f"serving {app.name} on http://127.0.0.1:{args.port}/ (Ctrl-C stops it)")
    return subprocess.call(voila_command(app, args.port), env=voila_env())


if __name__ == "__main__":
    sys.exit(main())
