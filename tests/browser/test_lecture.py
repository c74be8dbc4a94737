"""Lecture mode in Chromium: slides with a live widget, a Voilà widget app, and the offline static site.

(a) Notebooks 00 and 03 run in JupyterLab up to their widget, then are presented with jupyterlab-slideshow ("Toggle
    Deck"): the test steps through every slide and fragment with the deck's "next" button, saves a screenshot of each
    slide, asserts that no slide overflows the 1280x720 view (except the single cells
    `tinyformer.slides.tall_cells` names: no metadata can shrink those), and on the widget's slide
    moves the widget and asserts that its figure redraws.
(b) The widget app of notebook 03 (`python -m tinyformer.apps 03`) served by Voilà: it loads,
    moving its control changes its figure, and no request leaves 127.0.0.1.
(c) The static site (`python -m tinyformer.site build`) for notebooks 00 and 03, served from a local
    folder: every page renders, every image loads, and no request leaves 127.0.0.1.
Screenshots go to tests/browser/screenshots/ (git-ignored): look at them.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.request
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from test_jupyterlab import RUN_TIMEOUT_S, Interaction, act, control, kernel_idle, menu, snapshot, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
VIEW = {"width": 1280, "height": 720}
SLIDESHOWS = [
    Interaction("00-course-map.ipynb", kind="toggle", label="stage", value="attention", output="img"),
    Interaction("03-attention.ipynb", kind="dropdown", label="query", value="cat", output="img"),
]
MAX_STEPS = 200  # more steps than any notebook has

pytestmark = pytest.mark.browser

VISIBLE_JS = """() => {
  const cells = [...document.querySelectorAll('.jp-NotebookPanel .jp-Cell')];
  const shown = cells.filter(c => c.classList.contains('jp-deck-mod-onscreen') && c.getBoundingClientRect().height > 0);
  let top = 1e9, bottom = 0;
  for (const c of shown) { const r = c.getBoundingClientRect(); top = Math.min(top, r.top); bottom = Math.max(bottom, r.bottom); }
  return {cells: shown.map(c => cells.indexOf(c)), top, bottom};
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {timeout_s:.0f} s")


@pytest.fixture
def view(browser):
    context = browser.new_context(viewport=VIEW)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


# ---------------------------------------------------------------- (a) slides


def _step_through(page, server, notebook: str, step: Interaction, tall: list[int], widget_cell: int, shots: Path):
    """Step like Space (down to the next fragment or subslide, else forward to the next slide) until the end;
    check each slide's size; move the widget on its slide."""
    buttons = [page.locator(f"button.jp-deck-mod-direction-{d}").first for d in ("down", "forward")]
    seen, moved, last = [], False, None
    for _ in range(MAX_STEPS):
        page.wait_for_timeout(100)
        now = page.evaluate(VISIBLE_JS)
        if now["cells"] and now["cells"] != last:
            seen.append(now)
            if not (last and set(last) < set(now["cells"])):  # a new slide, not a fragment of the last one
                page.screenshot(path=str(shots / f"{notebook[:2]}_slide_{len(seen):03d}.png"))
            height = now["bottom"] - now["top"]
            overflow = now["top"] < -1 or now["bottom"] > VIEW["height"] + 1
            if overflow and not (len(now["cells"]) == 1 and now["cells"][0] in tall):
                pytest.fail(f"{notebook}: the slide with cells {now['cells']} is {height:.0f} px tall "
                            f"(top {now['top']:.0f}, bottom {now['bottom']:.0f}): it overflows the 1280x720 view")
            if widget_cell in now["cells"] and not moved:
                ctl = control(page, step)
                ctl.wait_for(state="visible", timeout=30_000)
                area = page.locator(".jp-NotebookPanel .jp-Cell").nth(widget_cell)
                before = snapshot(area, step.output)
                area.screenshot(path=str(shots / f"{notebook[:2]}_slide_widget_before.png"))
                act(page, ctl, step)
                wait_until(page, server, lambda: snapshot(area, step.output) != before,
                           f"{notebook}: the widget on its slide to redraw after {step.kind} {step.label!r}", 30)
                page.wait_for_timeout(500)
                area.screenshot(path=str(shots / f"{notebook[:2]}_slide_widget_after.png"))
                moved = True
        last = now["cells"]
        enabled = [b for b in buttons if "jp-mod-disabled" not in (b.get_attribute("class") or "")]
        if not enabled:
            break  # the last slide
        enabled[0].click()
    return seen, moved


def _leave_deck(page) -> None:
    try:
        page.keyboard.press("Escape")
        page.wait_for_timeout(300)
        toggle = page.locator('[data-command="deck:toggle"]').first
        if page.locator(".jp-deck-mod-onscreen").count() and toggle.is_visible():
            toggle.click()
    except Exception:  # noqa: BLE001 (the page may be what broke; the test has failed already then)
        pass


@pytest.mark.parametrize("step", SLIDESHOWS, ids=lambda s: s.notebook[:2])
def test_slideshow_steps_through_every_slide(step, lab_server, view, screenshots):
    from tinyformer.slides import slides, tall_cells

    path = REPO_ROOT / "notebooks" / step.notebook
    nb = json.loads(path.read_text(encoding="utf-8"))  # autosave is off (conftest): the browser never writes it
    widget_cell = next(i for i, c in enumerate(nb["cells"]) if "app" in c["metadata"].get("tags", []))
    checkpoint = path.parent / ".ipynb_checkpoints" / f"{path.stem}-checkpoint.ipynb"
    had_checkpoint = checkpoint.exists()
    try:
        view.set_default_timeout(30_000)
        view.goto(lab_server.notebook_url(f"notebooks/{step.notebook}"), timeout=90_000)
        view.locator(".jp-NotebookPanel .jp-Notebook").wait_for(state="visible", timeout=90_000)
        wait_until(view, lab_server, lambda: kernel_idle(view), "the kernel to start", 90)
        # run what the widget needs (every cell above it, then it): the cells after it keep their stored outputs
        view.locator(".jp-NotebookPanel .jp-Cell").nth(widget_cell).locator(".jp-InputPrompt").click()
        menu(view, "Run", "Run All Above Selected Cell")
        view.wait_for_timeout(1000)
        wait_until(view, lab_server, lambda: kernel_idle(view), "the cells above the widget to run", RUN_TIMEOUT_S)
        view.locator(".jp-NotebookPanel .jp-Cell").nth(widget_cell).locator(".jp-InputPrompt").click()
        view.keyboard.press("Shift+Enter")
        control(view, step).wait_for(state="visible", timeout=60_000)
        wait_until(view, lab_server, lambda: kernel_idle(view), "the widget cell to run", 60)
        view.locator(".jp-NotebookPanel .jp-Cell").first.locator(".jp-InputPrompt").click()  # the deck starts here
        view.keyboard.press("Escape")
        view.locator('[data-command="deck:toggle"]').first.click()
        view.locator(".jp-deck-mod-onscreen").first.wait_for(state="visible", timeout=30_000)
        seen, moved = _step_through(view, lab_server, step.notebook, step, tall_cells(nb), widget_cell, screenshots)
        shown = {i for s in seen for i in s["cells"]}
        planned = {i for page in slides(nb) for i in page.cells}
        assert planned <= shown, f"{step.notebook}: cells {sorted(planned - shown)} never came on screen"
        assert moved, f"{step.notebook}: the widget's slide (cell {widget_cell}) never came on screen"
        slides_seen = sum(1 for a, b in zip([[]] + [s["cells"] for s in seen], [s["cells"] for s in seen])
                          if not (a and set(a) < set(b)))
        print(f"{step.notebook}: {slides_seen} slides, {len(seen)} steps")
    finally:
        _leave_deck(view)  # the deck's state outlives the page: leave it, or the next notebook opens as a deck
        lab_server.shut_down_kernels()
        if not had_checkpoint:
            checkpoint.unlink(missing_ok=True)
            try:
                checkpoint.parent.rmdir()
            except OSError:
                pass


# ---------------------------------------------------------------- (b) a widget app


APPS = SLIDESHOWS[1:]  # 03's app (each app runs its notebook's code up to the widget: one keeps the suite short)


@pytest.mark.parametrize("step", APPS, ids=lambda s: s.notebook[:2])
def test_voila_app_loads_offline_and_its_control_changes_the_output(step, chromium_path, view, screenshots, tmp_path):
    pytest.importorskip("voila", reason="Voila is not installed: pip install -r requirements.txt")
    from tinyformer.apps import build_app, voila_command, voila_env

    nn = step.notebook[:2]
    app = build_app(nn, out_dir=tmp_path)
    port = _free_port()
    env = {k: v for k, v in voila_env().items() if k != "MPLBACKEND"}
    log = tmp_path / "voila.log"
    base = f"http://127.0.0.1:{port}/"
    requests: list[str] = []
    view.on("request", lambda r: requests.append(r.url))
    with open(log, "wb") as out:
        proc = subprocess.Popen(voila_command(app, port), cwd=REPO_ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_http(base, 90)
        view.goto(base, timeout=120_000)
        ctl = control(view, step)
        ctl.wait_for(state="visible", timeout=120_000)
        area = view.locator(".jp-OutputArea-output").filter(has=ctl).first
        view.wait_for_timeout(500)
        before = snapshot(area, step.output)
        assert before, "the app's widget shows no figure"
        view.screenshot(path=str(screenshots / f"{nn}_app_before.png"))
        act(view, ctl, step)
        deadline = time.monotonic() + 30
        while snapshot(area, step.output) == before:
            assert time.monotonic() < deadline, f"the app's figure did not change:\n{log.read_text()[-2000:]}"
            view.wait_for_timeout(250)
        view.screenshot(path=str(screenshots / f"{nn}_app_after.png"))
        assert "Traceback" not in view.inner_text("body")
        leaving = [u for u in requests if not u.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:"))]
        assert not leaving, f"the app requested pages outside 127.0.0.1: {leaving[:5]}"
    finally:
        try:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, 9)


# ---------------------------------------------------------------- (c) the static site


def test_static_site_renders_offline(chromium_path, view, screenshots, tmp_path):
    from tinyformer.site import build

    site = tmp_path / "site"
    notebooks = [REPO_ROOT / "notebooks" / s.notebook for s in SLIDESHOWS]
    pages = [f.name for f in build(site, notebooks)]
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    requests: list[str] = []
    view.on("request", lambda r: requests.append(r.url))
    try:
        for name in pages:
            view.goto(base + name, wait_until="load")
            assert view.locator("h1").count() >= 1, f"{name}: no heading rendered"
            broken = view.evaluate("() => [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length")
            assert broken == 0, f"{name}: {broken} images did not load"
            if name == "index.html":
                links = view.evaluate("() => [...document.querySelectorAll('a')].map(a => a.getAttribute('href'))")
                assert all(p in links for p in pages if p != "index.html")
            view.screenshot(path=str(screenshots / f"site_{name.replace('.html', '')}.png"))
        leaving = [u for u in requests if not u.startswith((base, "data:"))]
        assert not leaving, f"requests left 127.0.0.1: {leaving[:5]}"
        assert len(requests) >= len(pages)
        assert re.search(r"<math", (site / "03-attention.html").read_text())
    finally:
        server.shutdown()
