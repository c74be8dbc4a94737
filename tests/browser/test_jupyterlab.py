"""Real-browser check: each notebook's widget works in JupyterLab as a learner would use it.

One JupyterLab page stays open for the whole check, as a learner keeps one open (starting a fresh
JupyterLab page costs about 6 s of CPU here; opening a notebook in a running one about 2.5 s). For
every notebook in `INTERACTIONS`, the test opens it from the file browser, runs all cells from the
Run menu (the next notebook is opened in another tab and started meanwhile, so two run side by side
on a 2-core machine), waits for the kernel, then for each row: moves one control like a learner
(click, choose, arrow keys), and asserts that the widget's output changed and that no "Loading
widget" / "Error displaying widget" text and no error output is in the notebook. Screenshots of the
widget before and after each step go to tests/browser/screenshots/ (git-ignored): look at them.
Each notebook's tab is closed and its kernel shut down when its test ends, and the last test checks
that no kernel is left.

To cover another notebook's widget, add one row to `INTERACTIONS`:

    Interaction("05-multi-head-attention.ipynb", kind="dropdown", label="head", value="2"),

- `kind` is how the learner moves the control:
  "toggle"   click the button whose text is `value` in the ToggleButtons described `label`;
  "dropdown" choose the option whose text is `value` in the Dropdown described `label`;
  "slider"   focus the handle of the slider described `label` and press `value` keys,
             e.g. "ArrowRight*3" or "End";
  "checkbox" click the checkbox described `label` (`value` unused);
  "text"     type `value` into the text box described `label` and press Enter.
- `label` is the control's `description` as shown next to it.
- `output` is a CSS selector for what must change, inside the same cell's output (default: images,
  HTML widgets and Output widgets).
Rows of the same notebook run in order on one opened notebook.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Interaction:
    notebook: str
    kind: str
    label: str
    value: str = ""
    output: str = "img, .widget-html-content, .jupyter-widgets-output-area"


INTERACTIONS = [
    Interaction("00-course-map.ipynb", kind="toggle", label="stage", value="attention", output="img"),
    Interaction("00-course-map.ipynb", kind="dropdown", label="sentence", value="Korean", output="img"),
    Interaction("01-tokenization.ipynb", kind="slider", label="merges", value="End", output=".widget-html-content"),
    Interaction("01-tokenization.ipynb", kind="text", label="sentence", value="for i in range(100000):",
                output=".widget-html-content"),
    Interaction("02-embeddings-and-positions.ipynb", kind="slider", label="dimension", value="ArrowRight*3"),
    Interaction("02-embeddings-and-positions.ipynb", kind="slider", label="position", value="End"),
    Interaction("03-attention.ipynb", kind="dropdown", label="query", value="cat"),
    Interaction("04-masking.ipynb", kind="toggle", label="causal", value="off"),
    Interaction("04-masking.ipynb", kind="toggle", label="padding", value="off"),
    Interaction("05-multi-head-attention.ipynb", kind="dropdown", label="head", value="head 2"),
    Interaction("06-ffn-residual-layernorm.ipynb", kind="checkbox", label="residual"),
    Interaction("06-ffn-residual-layernorm.ipynb", kind="slider", label="depth", value="ArrowRight*4"),
    Interaction("07-translation.ipynb", kind="dropdown", label="subject", value="dog"),
    Interaction("08-sampling.ipynb", kind="slider", label="temperature", value="ArrowLeft*10",
                output=".widget-html-content"),
    Interaction("08-sampling.ipynb", kind="slider", label="top-k (0 off)", value="ArrowRight*3",
                output=".widget-html-content"),
    Interaction("09-looking-inside.ipynb", kind="dropdown", label="plane", value="principal directions"),
    Interaction("09-looking-inside.ipynb", kind="slider", label="layer", value="ArrowLeft"),
    Interaction("10-cost-and-scale.ipynb", kind="slider", label="context T", value="ArrowRight*2"),
    Interaction("10-cost-and-scale.ipynb", kind="slider", label="window", value="ArrowRight*3"),
]

# Notebooks that time code and assert on the growth they measure: never run beside another one
# (the root conftest.py's TIMED_NOTEBOOKS, for nbval).
RUN_ALONE = {"10-cost-and-scale.ipynb"}
RUN_TIMEOUT_S = 240  # the slowest notebook's budget (180 s) plus slack; 00 needs about 10 s
STEP_TIMEOUT_MS = 30_000
BAD_TEXTS = ("Loading widget", "Error displaying widget")
NOTEBOOKS = sorted({i.notebook for i in INTERACTIONS})

CONTROL_CLASS = {
    "toggle": "widget-toggle-buttons",
    "dropdown": "widget-dropdown",
    "slider": "widget-slider",
    "checkbox": "widget-checkbox",
    "text": "widget-text",
}


# ---------------------------------------------------------------- page helpers


def page_text(scope, n: int = 3000) -> str:
    """The last `n` characters of the text a learner sees on the page, or in one notebook's panel."""
    try:
        text = scope.inner_text(timeout=5_000) if hasattr(scope, "page") else scope.inner_text("body", timeout=5_000)
    except Exception as e:  # the page itself may be what broke
        return f"(could not read the page: {e})"
    return text[-n:]


def fail(page, server, message: str) -> None:
    pytest.fail(f"{message}\n--- page text (end) ---\n{page_text(page)}\n--- server log (end) ---\n{server.log_tail(20)}")


def wait_until(page, server, condition, what: str, timeout_s: float) -> None:
    """Poll `condition()` until true; fail with `what` and the page text after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            fail(page, server, f"timed out after {timeout_s:.0f} s waiting for {what}")
        page.wait_for_timeout(250)


STATE_JS = """() => {
  const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')].map(p => p.textContent.trim());
  const kernel = [...document.querySelectorAll('.jp-StatusBar-TextItem')].map(e => e.textContent.trim()).find(t => t.includes(' | '));
  return {prompts, kernel: kernel || ''};
}"""


def kernel_idle(page) -> bool:
    """The status bar says e.g. 'Python 3 (ipykernel) | Idle'; accept the kernel dialog if JupyterLab asks."""
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    if dialog.count() and dialog.first.is_visible():
        dialog.locator(".jp-Dialog-button.jp-mod-accept").click()  # "Select": the notebook's own kernel
    kernel = page.evaluate(STATE_JS)["kernel"]
    return kernel.endswith("| Idle") and not kernel.startswith("No Kernel")


# One notebook's panel: its code cells' prompts and its own toolbar's kernel status ("idle", "busy").
PANEL_STATE_JS = """panel => ({
  prompts: [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(p => p.textContent.trim()),
  status: (panel.querySelector('.jp-Notebook-ExecutionIndicator') || {dataset: {}}).dataset.status || '',
  kernel: ((panel.querySelector('.jp-Toolbar-kernelName') || {}).textContent || '').trim(),
})"""


def panel_state(panel) -> dict:
    return panel.evaluate(PANEL_STATE_JS)


def panel_idle(page, panel) -> bool:
    """The notebook's own kernel is idle (accept the kernel dialog if JupyterLab asks)."""
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    if dialog.count() and dialog.first.is_visible():
        dialog.locator(".jp-Dialog-button.jp-mod-accept").click()  # "Select": the notebook's own kernel
    state = panel_state(panel)
    return state["status"] == "idle" and not state["kernel"].startswith("No Kernel")


def menu(page, top: str, item: str) -> None:
    """Click menu `top` in the menu bar, then its entry `item`, as a learner would."""
    page.locator(".lm-MenuBar-item", has_text=re.compile(rf"^{re.escape(top)}$")).click()
    label = page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(item)}$"))
    page.locator(".lm-Menu-item").filter(has=label).click()


def control(page, step: Interaction, scope=None):
    """The widget control of `step`: a control of its kind whose description label is `step.label`
    (inside `scope`, e.g. one notebook's panel, when given)."""
    cls = CONTROL_CLASS.get(step.kind)
    if cls is None:
        pytest.fail(f"unknown interaction kind {step.kind!r}; use one of {sorted(CONTROL_CLASS)}")
    # a Checkbox shows its description in a `.widget-label-basic` beside the box, the others in `.widget-label`
    label = page.locator(".widget-label, .widget-label-basic", has_text=re.compile(rf"^\s*{re.escape(step.label)}\s*$"))
    return (scope or page).locator(f".jupyter-widgets.{cls}, .lm-Widget.{cls}").filter(has=label).first


def snapshot(area, selector: str) -> list[str]:
    """What the learner sees of the widget's output: each matching element's HTML (images by src)."""
    return area.locator(selector).evaluate_all("els => els.map(e => e.tagName === 'IMG' ? 'img:' + e.src : e.innerHTML)")


def act(page, ctl, step: Interaction) -> None:
    if step.kind == "toggle":
        ctl.locator("button", has_text=re.compile(rf"^\s*{re.escape(step.value)}\s*$")).click()
    elif step.kind == "dropdown":
        select = ctl.locator("select")
        option = select.locator("option", has_text=step.value).first  # option text uses &nbsp; for spaces
        select.select_option(value=option.get_attribute("value"))
    elif step.kind == "slider":
        handle = ctl.locator(".noUi-handle, input[type=range]").first
        handle.focus()
        key, _, times = step.value.partition("*")
        for _ in range(int(times or 1)):
            page.keyboard.press(key)
    elif step.kind == "checkbox":
        ctl.locator("input[type=checkbox]").click()
    elif step.kind == "text":
        box = ctl.locator("input, textarea").first
        box.fill(step.value)
        box.press("Enter")


def wait_settled(page, server, panel, area, selector: str, quiet_ms: int = 1000) -> None:
    """Wait until the kernel is idle and the output has not changed for `quiet_ms` (all updates arrived)."""
    deadline = time.monotonic() + 30
    last = snapshot(area, selector)
    while True:
        page.wait_for_timeout(quiet_ms)
        now = snapshot(area, selector)
        if now == last and panel_idle(page, panel):
            return
        if time.monotonic() > deadline:
            fail(page, server, "the widget kept changing for 30 s after one interaction")
        last = now


def assert_no_widget_errors(page, server, panel, where: str) -> None:
    body = page_text(panel, n=10**7)
    for bad in BAD_TEXTS:
        if bad in body:
            fail(page, server, f"{where}: the notebook shows {bad!r}")
    errors = panel.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']")
    if errors.count():
        fail(page, server, f"{where}: a cell raised an error: {errors.first.inner_text()[:1000]}")


# ---------------------------------------------------------------- the test


@dataclass
class Opened:
    """A notebook opened in a tab of the check's JupyterLab page, its Run All started (maybe still running)."""

    notebook: str
    panel_id: str  # the id of its panel in the page (and the data-id of its tab)
    stored: bytes  # the file as it was before opening: the browser must not change it
    had_checkpoint: bool
    n_code: int

    def panel(self, page):
        return page.locator(f'.jp-NotebookPanel[id="{self.panel_id}"]')

    def tab(self, page):
        return page.locator(f'.lm-DockPanel-tabBar .lm-TabBar-tab[data-id="{self.panel_id}"]')


def checkpoint_of(notebook: str) -> Path:
    """Where JupyterLab writes the notebook's checkpoint when it opens it."""
    return REPO_ROOT / "notebooks" / ".ipynb_checkpoints" / f"{notebook.removesuffix('.ipynb')}-checkpoint.ipynb"


@pytest.fixture(scope="session")
def lab_app(lab_server, browser):
    """The check's one JupyterLab page, its file browser in notebooks/."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    page.goto(lab_server.folder_url("notebooks", workspace="browser-check"), timeout=90_000)
    page.locator(".jp-DirListing-content").wait_for(state="visible", timeout=90_000)
    try:
        yield page
    finally:
        context.close()


def exact(text: str) -> re.Pattern:
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


def open_and_run_all(notebook: str, page, server) -> Opened:
    """Open the notebook from the file browser, clear its stored outputs and start Run All (no waiting for it)."""
    import nbformat

    path = REPO_ROOT / "notebooks" / notebook
    stored = path.read_bytes()
    cells = nbformat.reads(stored.decode(), as_version=4).cells
    n_code = sum(1 for c in cells if c.cell_type == "code" and c.source.strip())
    had_checkpoint = checkpoint_of(notebook).exists()
    name = page.locator(".jp-DirListing-itemText", has_text=exact(notebook))
    page.locator(".jp-DirListing-item").filter(has=name).dblclick()
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab").filter(
        has=page.locator(".lm-TabBar-tabLabel", has_text=exact(notebook)))
    tab.wait_for(state="visible", timeout=90_000)
    opened = Opened(notebook, tab.get_attribute("data-id"), stored, had_checkpoint, n_code)
    panel = opened.panel(page)
    panel.locator(".jp-Notebook").wait_for(state="visible", timeout=90_000)
    wait_until(page, server, lambda: panel_idle(page, panel), f"{notebook}'s kernel to start", 90)
    menu(page, "Edit", "Clear Outputs of All Cells")  # so stored prompts and widgets cannot pass for new ones
    wait_until(page, server, lambda: not any(re.fullmatch(r"\[\d+\]:", p) for p in panel_state(panel)["prompts"]),
               "the stored outputs to clear", 30)
    menu(page, "Run", "Run All Cells")
    return opened


def bring_to_front(opened: Opened, page) -> None:
    """Make the notebook's tab the current one (menus act on it; its widgets are on screen)."""
    opened.tab(page).click()
    opened.panel(page).wait_for(state="visible", timeout=STEP_TIMEOUT_MS)


def wait_for_run_all(opened: Opened, page, server) -> None:
    """Wait until every code cell ran and the kernel is idle; fail at once, with the error, when a cell
    raised (Run All stops there, so the other cells would never run)."""
    panel = opened.panel(page)
    errors = panel.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']")

    def done() -> bool:
        prompts = panel_state(panel)["prompts"]
        ran = sum(bool(re.fullmatch(r"\[\d+\]:", p)) for p in prompts)
        idle = "[*]:" not in prompts and panel_idle(page, panel)
        if idle and errors.count():
            fail(page, server, f"{opened.notebook}: a cell raised: {errors.first.inner_text()[:2000]}")
        return ran >= opened.n_code and idle

    wait_until(page, server, done, f"all {opened.n_code} code cells to run and the kernel to be idle", RUN_TIMEOUT_S)


# Notebooks opened ahead of their test: while one notebook's widgets are checked (mostly waiting for
# the page), the next one already runs. Its kernel is shut down by its own test. (Two ahead was
# slower on 2 cores: 85 s against 78 s for 02, 04, 05 and 06.)
_ahead: dict[str, Opened] = {}


@pytest.fixture(scope="session")
def run_order(request) -> tuple[dict[str, str], str | None]:
    """(notebook -> the notebook checked right after it, the last notebook checked) in this session.

    A notebook is opened ahead only when its check comes right after the current one: another test in
    between (the root conftest.py joins the background training there) may be what it waits for.
    """
    name = "test_widgets_respond_in_jupyterlab"
    ours = [getattr(item, "originalname", None) == name and hasattr(item, "callspec") for item in request.session.items]
    notebooks = [item.callspec.params["notebook"] if mine else None
                 for item, mine in zip(request.session.items, ours)]
    following = {a: b for a, b in zip(notebooks, notebooks[1:]) if a and b}
    last = next((nb for nb in reversed(notebooks) if nb), None)
    return following, last


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_widgets_respond_in_jupyterlab(notebook, lab_server, lab_app, screenshots, run_order):
    page, stem = lab_app, notebook.removesuffix(".ipynb")
    following, last = run_order
    opened = _ahead.pop(notebook, None)
    try:
        opened = opened or open_and_run_all(notebook, page, lab_server)
        after = following.get(notebook)  # checked right after this one: start it running now
        if after and after not in _ahead and RUN_ALONE.isdisjoint({notebook, after}):
            _ahead[after] = open_and_run_all(after, page, lab_server)
        bring_to_front(opened, page)
        panel = opened.panel(page)
        wait_for_run_all(opened, page, lab_server)
        page.screenshot(path=str(screenshots / f"{stem}_0_after_run_all.png"))

        for n, step in enumerate((s for s in INTERACTIONS if s.notebook == notebook), 1):
            ctl = control(page, step, scope=panel)
            try:
                ctl.wait_for(state="visible", timeout=STEP_TIMEOUT_MS)
            except Exception:
                fail(page, lab_server, f"{notebook}: no {step.kind} control described {step.label!r} became visible")
            ctl.scroll_into_view_if_needed()
            # the output area of the cell holding the control
            area = ctl.locator("xpath=ancestor::div[contains(concat(' ', @class, ' '), ' jp-OutputArea-output ')][1]")
            page.wait_for_timeout(500)  # let images finish loading before the screenshot
            assert_no_widget_errors(page, lab_server, panel, f"{notebook} before step {n}")
            before = snapshot(area, step.output)
            if not before:
                fail(page, lab_server, f"{notebook}: nothing matches output selector {step.output!r} in the widget's cell")
            area.screenshot(path=str(screenshots / f"{stem}_{n}_{step.kind}_{step.label}_before.png"))

            act(page, ctl, step)
            wait_until(page, lab_server, lambda: snapshot(area, step.output) != before,
                       f"the widget's output to change after {step.kind} {step.label!r} -> {step.value!r}", 30)
            wait_settled(page, lab_server, panel, area, step.output)
            area.screenshot(path=str(screenshots / f"{stem}_{n}_{step.kind}_{step.label}_after.png"))
            assert_no_widget_errors(page, lab_server, panel, f"{notebook} after step {n}")
    finally:
        close_notebook(notebook, opened, page, lab_server, last=last in (None, notebook))


def close_tab(opened: Opened, page) -> None:
    """Close the notebook's tab as a learner would, discarding the outputs it made (the file stays as stored)."""
    tab = opened.tab(page)
    if not tab.count():
        return
    tab.locator(".lm-TabBar-tabCloseIcon").click()
    discard = page.locator(".jp-Dialog .jp-Dialog-button", has_text=exact("Discard"))
    deadline = time.monotonic() + STEP_TIMEOUT_MS / 1000
    while tab.count():  # closed at once when nothing changed; else JupyterLab asks first
        if discard.count() and discard.first.is_visible():
            discard.first.click()  # "Save your work": the run changed the outputs
        if time.monotonic() > deadline:
            pytest.fail(f"{opened.notebook}: its tab did not close")
        page.wait_for_timeout(100)


def close_notebook(notebook: str, opened: Opened | None, page, server, last: bool) -> None:
    """Close this notebook's tab and end its kernel now (others keep theirs), and check nothing was left."""
    path = REPO_ROOT / "notebooks" / notebook
    if opened is not None:
        close_tab(opened, page)
    kernel_ids = [s["kernel"]["id"] for s in server.notebook_sessions(f"notebooks/{notebook}")]
    left = server.shut_down_notebook(f"notebooks/{notebook}")
    if left:
        pytest.fail(f"{notebook}: kernels still running after shutdown: {left}")
    deadline = time.monotonic() + 30
    while (pids := [p for k in kernel_ids for p in server.kernel_processes(k)]) and time.monotonic() < deadline:
        time.sleep(0.5)
    if pids:
        pytest.fail(f"{notebook}: kernel processes {pids} outlived their shutdown")
    if last:  # the whole check leaves no kernel behind
        for ahead in _ahead.values():
            close_tab(ahead, page)
        _ahead.clear()
        if left := server.shut_down_kernels():
            pytest.fail(f"kernels still running after the browser check: {left}")
    checkpoint = checkpoint_of(notebook)
    if opened is not None and not opened.had_checkpoint:
        checkpoint.unlink(missing_ok=True)
        try:
            checkpoint.parent.rmdir()  # only succeeds when empty: other people's checkpoints stay
        except OSError:
            pass
    # Autosave is off, so the browser never writes the notebook. (Not restored automatically: in a
    # shared working tree a change may be a teammate re-executing it.)
    if opened is not None and path.read_bytes() != opened.stored:
        pytest.fail(f"{notebook} changed on disk during the browser test: check `git diff notebooks/{notebook}`")
