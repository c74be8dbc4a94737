"""Notebook hygiene: every notebooks/*.ipynb follows the course's rules.

Each rule is a pure function `rule(nb, name) -> list[str]` returning the problems it finds (empty
when the notebook is fine), so a failure names the notebook, the rule and the cell. The rules are
tested themselves at the bottom: each one passes on a minimal good notebook built here with
nbformat and fails on a copy broken in exactly the way it looks for. (Bad notebooks are built in
code and written to tmp_path, never stored under tests/, where nbval would collect them.)

To exempt a notebook from a rule, add it to an explicit table below (like `MIN_CHECK_CALLS`), with
the reason in a comment.
"""

from __future__ import annotations

import base64
import json
import re
import struct
from functools import lru_cache
from pathlib import Path

import nbformat
import pytest
from nbformat import v4
from nbval.plugin import comment_markers, find_comment_markers

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
NOTEBOOKS = sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb"))
COURSE_MAP = "00-course-map.ipynb"

MAX_FILE_BYTES = 1_500_000
MAX_OUTPUT_BYTES = 200_000
MAX_CODE_LINE = 100  # characters: a projected cell and a side-by-side editor show it without wrapping
MIN_FIGURE_DPI = 100  # stored figures: readable on a laptop, sharp enough on a projector
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
OPENING_HEADINGS = ("What you will build", "Prerequisites", "Time")
CLOSING_HEADINGS = ("Recap", "Exercises", "Going further")

# Exercise checks called after "## Exercises": at least 3, except where listed here.
MIN_CHECK_CALLS_DEFAULT = 3
MIN_CHECK_CALLS = {
    "00-course-map.ipynb": 1,  # the course map is a tour, not a lesson: one warm-up exercise
}

CHECK_CALL = re.compile(r"(?<![\w.])check_\w+\s*\(")
NAME_PATTERN = re.compile(r"^(\d\d)-[a-z0-9]+(-[a-z0-9]+)*\.ipynb$")


# ---------------------------------------------------------------- helpers


def load(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


@lru_cache(maxsize=None)
def load_repo_notebook(name: str) -> nbformat.NotebookNode:
    return load(NOTEBOOK_DIR / name)


def ignores_output(cell) -> bool:
    """What nbval itself reads: a comment line that is exactly `# NBVAL_IGNORE_OUTPUT`."""
    return cell.cell_type == "code" and dict(find_comment_markers(cell.source)).get("check") is False


def headings(cell) -> list[tuple[int, str]]:
    """Markdown headings of a cell as (level, text), skipping fenced code blocks."""
    if cell.cell_type != "markdown":
        return []
    found, in_fence = [], False
    for line in cell.source.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        m = re.match(r"^(#{1,6})\s+(.*\S)\s*$", line)
        if m and not in_fence:
            found.append((len(m.group(1)), m.group(2).strip()))
    return found


def heading_positions(nb, level: int = 2) -> list[tuple[int, str]]:
    """(cell index, heading text) of every heading of `level`, in order."""
    return [(i, text) for i, cell in enumerate(nb.cells) for lvl, text in headings(cell) if lvl == level]


def code_lines(source: str) -> str:
    """The source without comment-only lines (so `# assert later` does not count as an assert)."""
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("#"))


def section_start(nb, word: str) -> int | None:
    """Index of the cell holding the last level-2 heading that contains `word`."""
    hits = [i for i, text in heading_positions(nb) if word.lower() in text.lower()]
    return hits[-1] if hits else None


# ---------------------------------------------------------------- rules on one notebook


def file_name_problems(nb, name: str) -> list[str]:
    if NAME_PATTERN.match(name):
        return []
    return [f"file name {name!r} should look like 'NN-topic-words.ipynb' (two digits, lowercase, hyphens)"]


def kernelspec_problems(nb, name: str) -> list[str]:
    """The kernel is `python3` (any other name makes JupyterLab ask which kernel to use and nbval fail elsewhere)."""
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    return [] if kernel == "python3" else [f"metadata.kernelspec.name is {kernel!r}, expected 'python3'"]


def clean_run_problems(nb, name: str) -> list[str]:
    """Stored outputs come from one clean top-to-bottom run: counts of non-empty code cells are 1..n."""
    counts = [c.get("execution_count") for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    want = list(range(1, len(counts) + 1))
    problems = []
    if counts != want:
        problems.append(
            f"execution counts are {counts}, expected {want}: re-run top to bottom with "
            f"`jupyter nbconvert --to notebook --execute --inplace notebooks/{name}`"
        )
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "execute_result" and out.get("execution_count") != cell.get("execution_count"):
                problems.append(f"cell {i}: an output has execution_count {out.get('execution_count')}, the cell has {cell.get('execution_count')}")
    return problems


def error_output_problems(nb, name: str) -> list[str]:
    problems = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error":
                problems.append(f"cell {i} has an error output: {out.get('ename')}: {out.get('evalue')}")
    return problems


def stderr_problems(nb, name: str) -> list[str]:
    """No stderr (warnings, progress bars) stored outside NBVAL_IGNORE_OUTPUT cells: nbval compares it."""
    return [
        f"cell {i} stores stderr output ({out.get('text', '')[:80]!r}): silence it, or use NBVAL_IGNORE_OUTPUT + an assert"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and not ignores_output(cell)
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream" and out.get("name") == "stderr"
    ]


def widget_metadata_problems(nb, name: str) -> list[str]:
    """metadata.widgets is absent, or holds a widget-state entry with a `state` dict covering every shown widget."""
    widgets = nb.metadata.get("widgets")
    shown = [
        (i, out["data"][WIDGET_VIEW].get("model_id"))
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if WIDGET_VIEW in out.get("data", {})
    ]
    if widgets is None:
        return [f"cell {i} shows widget {mid} but metadata.widgets is missing (its state was not saved)" for i, mid in shown]
    entry = widgets.get(WIDGET_STATE) if isinstance(widgets, dict) else None
    if not isinstance(entry, dict) or not isinstance(entry.get("state"), dict):
        return [f"metadata.widgets should hold {WIDGET_STATE!r} with a 'state' dict, got {json.dumps(widgets)[:200]}"]
    state = entry["state"]
    return [f"cell {i} shows widget {mid} whose state is not in metadata.widgets" for i, mid in shown if mid not in state]


def opening_problems(nb, name: str) -> list[str]:
    """The first markdown cell: a `# NN · Title` title and the opening headings."""
    first = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    if first is None:
        return ["no markdown cell: the notebook should open with a title cell"]
    found = headings(first)
    problems = []
    titles = [text for level, text in found if level == 1]
    if not titles:
        problems.append("the first markdown cell has no '# ' title")
    elif NAME_PATTERN.match(name) and not titles[0].startswith(name[:2]):
        problems.append(f"the title {titles[0]!r} should start with the notebook number {name[:2]} ('# {name[:2]} · Title')")
    texts = [text.lower() for level, text in found if level >= 2]
    for word in OPENING_HEADINGS:
        if not any(word.lower() in t for t in texts):
            problems.append(f"the first markdown cell has no '## {word}' heading (found {[t for _, t in found]})")
    return problems


def closing_problems(nb, name: str) -> list[str]:
    """The last three level-2 headings are Recap, Exercises, Going further, and no code follows Going further."""
    found = heading_positions(nb)
    last = [text for _, text in found[-len(CLOSING_HEADINGS):]]
    ok = len(last) == len(CLOSING_HEADINGS) and all(w.lower() in t.lower() for w, t in zip(CLOSING_HEADINGS, last))
    problems = []
    if not ok:
        problems.append(f"the last '## ' headings should be {list(CLOSING_HEADINGS)} in that order, found {last} (use '###' inside sections)")
    elif any(c.cell_type == "code" and c.source.strip() for c in nb.cells[found[-1][0] + 1:]):
        problems.append("code cells follow '## Going further'; it should be the notebook's last (markdown) section")
    return problems


def exercise_check_problems(nb, name: str) -> list[str]:
    """Enough `check_...(...)` calls after '## Exercises', and each check cell shows its verdict."""
    start = section_start(nb, "Exercises")
    if start is None:
        return ["no '## Exercises' heading"]
    end = section_start(nb, "Going further")
    end = end if end is not None and end > start else len(nb.cells)
    need = MIN_CHECK_CALLS.get(name, MIN_CHECK_CALLS_DEFAULT)
    calls, problems = 0, []
    for i in range(start + 1, end):
        cell = nb.cells[i]
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in code_lines(cell.source).splitlines() if not line.lstrip().startswith("def "))
        n = len(CHECK_CALL.findall(source))
        calls += n
        if n and cell.get("execution_count") is not None:  # unexecuted cells are clean_run's complaint
            text = "".join(out.get("text", "") for out in cell.get("outputs", []) if out.get("output_type") == "stream")
            if "✅" not in text and "❌" not in text:
                problems.append(f"cell {i} calls a check but its stored output shows no ✅/❌ verdict")
    if calls < need:
        problems.append(f"{calls} check_...() call(s) after '## Exercises', need at least {need}")
    return problems


def ignored_output_problems(nb, name: str) -> list[str]:
    """Every `# NBVAL_IGNORE_OUTPUT` cell still asserts what matters."""
    return [
        f"cell {i} ignores its output (NBVAL_IGNORE_OUTPUT) but has no assert on what matters"
        for i, cell in enumerate(nb.cells)
        if ignores_output(cell) and not re.search(r"\bassert", code_lines(cell.source))
    ]


def marker_problems(nb, name: str) -> list[str]:
    """nbval honours a marker only as a whole comment line: `# NBVAL_IGNORE_OUTPUT (why)` is silently compared."""
    return [
        f"cell {i} has {line.strip()!r}, which nbval does not read as a marker: write the marker alone on its line "
        f"(e.g. '# NBVAL_IGNORE_OUTPUT') and the reason on the next"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if line.strip().startswith("#") and "NBVAL_" in line and line.strip().lstrip("#").strip() not in comment_markers
    ]


def output_size_problems(nb, name: str) -> list[str]:
    problems = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            size = len(json.dumps(out))
            if size > MAX_OUTPUT_BYTES:
                problems.append(f"cell {i} has an output of {size // 1000} KB (limit {MAX_OUTPUT_BYTES // 1000} KB): lower the dpi or figure size")
    return problems


def code_line_problems(nb, name: str) -> list[str]:
    """Code lines of at most MAX_CODE_LINE characters: what is projected or read beside the prose fits."""
    return [
        f"cell {i}: a code line of {len(line)} characters (limit {MAX_CODE_LINE}): {line[:60]!r}..."
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if len(line) > MAX_CODE_LINE
    ]


def png_dpi(data: bytes) -> float | None:
    """The resolution a PNG declares in its pHYs chunk (matplotlib writes the figure's dpi there), or None."""
    i = 8  # after the signature
    while i + 8 <= len(data):
        length, kind = struct.unpack(">I", data[i:i + 4])[0], data[i + 4:i + 8]
        if kind == b"pHYs":
            x, _, unit = struct.unpack(">IIB", data[i + 8:i + 17])
            return x * 0.0254 if unit == 1 else None  # pixels per metre -> per inch
        if kind == b"IDAT":  # pHYs must come before the image data
            return None
        i += 12 + length
    return None


def figure_dpi_problems(nb, name: str) -> list[str]:
    """Every stored figure was drawn at >= MIN_FIGURE_DPI (the old notebooks used 72: 5-9 px text)."""
    problems = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            png = out.get("data", {}).get("image/png")
            if png is None:
                continue
            dpi = png_dpi(base64.b64decode(png))
            if dpi is None or dpi < MIN_FIGURE_DPI - 0.5:
                problems.append(f"cell {i}: a figure at {dpi if dpi is None else round(dpi)} dpi (at least {MIN_FIGURE_DPI}): "
                                "do not lower figure.dpi; tinyformer.viz sets a readable default")
    return problems


def reading_minutes(nb) -> float:
    """A measured time to work through a notebook: prose at 150 words a minute, code at 4 s a line,
    30 s per figure, plus the run time its stored cells recorded (nbconvert's execution metadata)."""
    from datetime import datetime

    words = code = figures = 0
    run_s = 0.0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            words += len(cell.source.split())
            continue
        code += sum(1 for line in cell.source.splitlines() if line.strip())
        figures += sum("image/png" in out.get("data", {}) for out in cell.get("outputs", []))
        timing = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            start, end = (datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                          for k in ("iopub.execute_input", "shell.execute_reply"))
            run_s += (end - start).total_seconds()
    return words / 150 + code * 4 / 60 + figures * 0.5 + run_s / 60


def stated_minutes(nb) -> int | None:
    """N from the opening cell's '## Time' section ('About N minutes ...')."""
    first = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    m = re.search(r"## Time\s*\n+\s*About (\d+) minutes", first.source if first else "")
    return int(m.group(1)) if m else None


def time_estimate_problems(nb, name: str) -> list[str]:
    """'## Time' says 'About N minutes', N within a quarter (or 5 minutes) of reading_minutes()."""
    stated, measured = stated_minutes(nb), reading_minutes(nb)
    if stated is None:
        return ["the '## Time' section should start 'About N minutes' (the README's table repeats N)"]
    if abs(stated - measured) > max(5.0, 0.25 * measured):
        return [f"'## Time' says about {stated} minutes; reading and running measure {measured:.0f} "
                "(prose at 150 words/min, code at 4 s/line, 30 s/figure, the stored run time)"]
    return []


def cell_id_problems(nb, name: str) -> list[str]:
    """Every cell has an id (nbformat 4.5; a cell pasted in by a script without one is a future error)."""
    return [f"cell {i} has no id: give it one (nbformat.v4.new_*_cell does)"
            for i, cell in enumerate(nb.cells) if not cell.get("id")]


# A number the prose states as a result: a decimal (0.79), a percentage (86%), a count with thousands
# separators (1,680), a ratio (45×) or a duration (0.18 s, 12 ms, 40 µs).
PROSE_NUMBER = re.compile(
    r"(?<![\w.,/^_{-])(\d+(?:\.\d+)?(?:\s?%|×|\s?(?:ms|µs|s)\b)|\d{1,3}(?:,\d{3})+|\d+\.\d+)(?![\w.]*\})(?!\w|,\d)")
# Words before a number that cite rather than measure: "section 3.2.1", "PyTorch 2.13".
CITATION = re.compile(r"(section|§|equation|eq\.|PyTorch|Python|version|v)\s*$", re.IGNORECASE)
APPROXIMATE = re.compile(r"(about|around|nearly|roughly|~|≈)\s*$", re.IGNORECASE)
# Numbers stated in prose that no cell can print, each with where it comes from.
PROSE_NUMBERS_FROM_ELSEWHERE = {
    "00-course-map.ipynb": {"0.001": "1/1000, the uniform guess over the 1000 tokens the cell prints"},
    "01-tokenization.ipynb": {
        "150,000": "Unicode's count of assigned characters (unicode.org; it grows with each version)",
        "50,000": "GPT-2's merges file; tests/test_gpt2_rank_file.py loads it (offline here)",
        "50,257": "GPT-2's vocabulary size (its paper, section 2.2); the notebook stays offline",
    },
    "10-cost-and-scale.ipynb": {"0.34": "Chinchilla's fitted exponent (Hoffmann et al. 2022), a cited value"},
}


def stated_numbers(source: str) -> list[tuple[str, bool, str]]:
    """(number as written, approximate?, context) for each result-like number in markdown `source`,
    skipping LaTeX, inline and fenced code, link targets and citations."""
    text = re.sub(r"```.*?```|~~~.*?~~~", " ", source, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$|\$[^$]*\$|`[^`]*`|\]\([^)\s]*\)", " ", text, flags=re.S)
    found = []
    for m in PROSE_NUMBER.finditer(text):
        before = text[max(0, m.start() - 12):m.start()]
        if CITATION.search(before):
            continue
        context = " ".join(text[max(0, m.start() - 40):m.end() + 20].split())
        found.append((m.group(1), bool(APPROXIMATE.search(before)), context))
    return found


def shown_numbers(nb) -> list[float]:
    """Every number in the stored outputs (text, HTML) and in the code of a notebook."""
    texts = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        texts.append(cell.source)
        for out in cell.get("outputs", []):
            texts.append(out.get("text", ""))
            texts += [v for k, v in out.get("data", {}).items() if k in ("text/plain", "text/html", "text/markdown")]
    raw = re.findall(r"\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d+)?(?:e-?\d+)?", "\n".join(texts))
    return [float(x.replace(",", "")) for x in raw]


def matches(stated: str, approximate: bool, shown: list[float]) -> bool:
    """Does a shown number read as `stated` (same rounding; within 5% when the prose says 'about')?"""
    digits = re.sub(r"[^\d.]", "", stated)
    value, decimals = float(digits), len(digits.partition(".")[2])
    candidates = shown + [x * 100 for x in shown] if stated.endswith("%") else shown
    if approximate:
        return any(abs(x - value) <= 0.05 * abs(value) for x in candidates)
    return any(round(x, decimals) == round(value, decimals) for x in candidates)


def prose_number_problems(nb, name: str) -> list[str]:
    """A number the prose states as a result (a decimal, a percentage, a count like 1,680, a ratio, a
    duration) is one a cell shows: it appears, at the precision written, in a stored output or in the
    code. A cited number goes in PROSE_NUMBERS_FROM_ELSEWHERE with its source."""
    shown, cited = shown_numbers(nb), PROSE_NUMBERS_FROM_ELSEWHERE.get(name, {})
    return [
        f"cell {i}: the prose states {stated!r} (…{context}…), but no output or code shows it: "
        "print it from a cell, or cite its source in PROSE_NUMBERS_FROM_ELSEWHERE"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "markdown"
        for stated, approximate, context in stated_numbers(cell.source)
        if stated not in cited and not matches(stated, approximate, shown)
    ]


def file_size_problems(path: Path) -> list[str]:
    size = path.stat().st_size
    if size <= MAX_FILE_BYTES:
        return []
    return [f"{path.name} is {size / 1e6:.2f} MB (limit {MAX_FILE_BYTES / 1e6} MB): use smaller figures and fewer images"]


RULES = [
    file_name_problems,
    kernelspec_problems,
    clean_run_problems,
    error_output_problems,
    stderr_problems,
    widget_metadata_problems,
    opening_problems,
    closing_problems,
    exercise_check_problems,
    ignored_output_problems,
    marker_problems,
    output_size_problems,
    code_line_problems,
    figure_dpi_problems,
    time_estimate_problems,
    cell_id_problems,
    prose_number_problems,
]


# ---------------------------------------------------------------- rules across files


def readme_problems(readme: str, name: str, minutes: int | None = None) -> list[str]:
    """The notebook appears in a row of the README's notebook table, whose last column (minutes)
    equals the notebook's own '## Time' estimate when `minutes` is given."""
    rows = [line for line in readme.splitlines() if line.lstrip().startswith("|") and f"notebooks/{name}" in line]
    if not rows:
        return [f"README.md's notebook table has no row for {name} (e.g. `| {name[:2]} | [Title](notebooks/{name}) | ... |`)"]
    last = rows[0].strip().strip("|").split("|")[-1].strip()
    if minutes is not None and last != str(minutes):
        return [f"README.md's row for {name} says {last} minutes, the notebook's '## Time' says {minutes}"]
    return []


def course_map_problems(course_map, name: str) -> list[str]:
    """Notebook 00's map mentions the notebook by file name."""
    text = "\n".join(cell.source for cell in course_map.cells)
    return [] if name in text else [f"{COURSE_MAP} does not mention {name} in its map of the course"]


# ---------------------------------------------------------------- the repository's notebooks


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__.removesuffix("_problems"))
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_rule(name, rule):
    problems = rule(load_repo_notebook(name), name)
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_file_size(name):
    problems = file_size_problems(NOTEBOOK_DIR / name)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_listed_in_readme(name):
    problems = readme_problems((REPO_ROOT / "README.md").read_text(encoding="utf-8"), name,
                               stated_minutes(load_repo_notebook(name)))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_listed_in_course_map(name):
    if not (NOTEBOOK_DIR / COURSE_MAP).exists():
        pytest.fail(f"{COURSE_MAP} is missing: it holds the map of every notebook")
    problems = course_map_problems(load_repo_notebook(COURSE_MAP), name)
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- the rules themselves


def tiny_png(dpi: float) -> str:
    """A 1x1 PNG declaring `dpi`, drawn by matplotlib as the notebooks' figures are (base64, as stored)."""
    import io

    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(1 / dpi, 1 / dpi), dpi=dpi)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def good_notebook() -> nbformat.NotebookNode:
    """The smallest notebook that follows every rule."""
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        v4.new_markdown_cell("# 42 · A tiny topic\n\n## What you will build\n- a thing\n\n## Prerequisites\nNone.\n\n## Time\nAbout 5 minutes."),
        v4.new_code_cell("# a value and a figure\n1 + 1", execution_count=1, outputs=[
            v4.new_output("display_data", {"image/png": tiny_png(100), "text/plain": "<Figure>"}),
            v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)]),
        v4.new_code_cell("", execution_count=None),  # empty code cells are ignored
        v4.new_code_cell(
            "# NBVAL_IGNORE_OUTPUT\nimport time\nt = time.time()\nassert t > 0\nprint(t)",
            execution_count=2,
            outputs=[v4.new_output("stream", name="stdout", text="1700000000.0\n")],
        ),
        v4.new_markdown_cell("## Recap\n- things"),
        v4.new_markdown_cell("## Exercises\n### 1. First\n```python\n# not a heading\n```"),
        v4.new_code_cell(
            "from tinyformer.exercises import check_a, check_b, check_c\ncheck_a(f)\ncheck_b(f)\ncheck_c(f)",
            execution_count=3,
            outputs=[v4.new_output("stream", name="stdout", text="❌ a: not done yet.\n")],
        ),
        v4.new_markdown_cell("## Going further\n- read the paper"),
    ]
    return nb


GOOD_NAME = "42-a-tiny-topic.ipynb"


def roundtrip(nb, tmp_path: Path, name: str = GOOD_NAME) -> nbformat.NotebookNode:
    """Write the notebook to tmp_path and read it back, as the repository test does."""
    path = tmp_path / name
    nbformat.write(nb, path)
    return load(path)


def cell_with(nb, text: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if text in c.source)


def test_good_notebook_passes_every_rule(tmp_path):
    nb = roundtrip(good_notebook(), tmp_path)
    nbformat.validate(nb)
    for rule in RULES:
        assert rule(nb, GOOD_NAME) == [], rule.__name__
    assert file_size_problems(tmp_path / GOOD_NAME) == []


def break_kernelspec(nb):
    nb.metadata["kernelspec"]["name"] = "tinyformer-venv"


def break_counts(nb):
    nb.cells[1].execution_count = 2
    nb.cells[1].outputs[-1].execution_count = 2
    nb.cells[3].execution_count = 1


def break_unexecuted(nb):
    nb.cells[3].execution_count = None


def break_result_count(nb):
    nb.cells[1].outputs[-1].execution_count = 7


def break_error(nb):
    nb.cells[1].outputs.append(v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=[]))


def break_stderr(nb):
    nb.cells[1].outputs.append(v4.new_output("stream", name="stderr", text="UserWarning: Glyph 44256 missing from font\n"))


def break_widget_state(nb):
    nb.metadata["widgets"] = {WIDGET_STATE: {"version_major": 2, "version_minor": 0}}


def break_widget_missing_model(nb):
    nb.metadata["widgets"] = {WIDGET_STATE: {"state": {}, "version_major": 2, "version_minor": 0}}
    nb.cells[1].outputs.append(v4.new_output("display_data", {WIDGET_VIEW: {"model_id": "abc", "version_major": 2, "version_minor": 0}, "text/plain": "Dropdown()"}))


def break_widget_no_metadata(nb):
    nb.cells[1].outputs.append(v4.new_output("display_data", {WIDGET_VIEW: {"model_id": "abc", "version_major": 2, "version_minor": 0}, "text/plain": "Dropdown()"}))


def break_title(nb):
    nb.cells[0].source = nb.cells[0].source.replace("# 42 · A tiny topic", "A tiny topic")


def break_title_number(nb):
    nb.cells[0].source = nb.cells[0].source.replace("# 42 ·", "# 41 ·")


def break_prerequisites(nb):
    nb.cells[0].source = nb.cells[0].source.replace("## Prerequisites", "Prerequisites:")


def break_closing_order(nb):
    i, j = cell_with(nb, "## Recap"), cell_with(nb, "## Going further")
    nb.cells[i], nb.cells[j] = nb.cells[j], nb.cells[i]


def break_closing_missing_recap(nb):
    del nb.cells[cell_with(nb, "## Recap")]


def break_closing_code_after(nb):
    nb.cells.append(v4.new_code_cell("x = 1", execution_count=4))


def break_too_few_checks(nb):
    cell = nb.cells[cell_with(nb, "check_a(f)")]
    cell.source = "from tinyformer.exercises import check_a, check_b, check_c\ncheck_a(f)\n# check_b(f)\ndef check_c(x): ..."


def break_checks_before_exercises(nb):
    i = cell_with(nb, "check_a(f)")
    nb.cells.insert(cell_with(nb, "## Recap"), nb.cells.pop(i))
    for n, c in enumerate((c for c in nb.cells if c.cell_type == "code" and c.source.strip()), 1):
        c.execution_count = n


def break_check_without_verdict(nb):
    nb.cells[cell_with(nb, "check_a(f)")].outputs = []


def break_ignored_without_assert(nb):
    i = cell_with(nb, "NBVAL_IGNORE_OUTPUT")
    nb.cells[i].source = "# NBVAL_IGNORE_OUTPUT\n# assert this later\nprint(1)"


def break_marker_with_reason(nb):
    i = cell_with(nb, "NBVAL_IGNORE_OUTPUT")
    nb.cells[i].source = nb.cells[i].source.replace("# NBVAL_IGNORE_OUTPUT", "# NBVAL_IGNORE_OUTPUT (timings vary)")


def break_big_output(nb):
    nb.cells[1].outputs.append(v4.new_output("display_data", {"text/html": "A" * (MAX_OUTPUT_BYTES + 1), "text/plain": "<table>"}))


def break_long_line(nb):
    nb.cells[1].source = "# a value and a figure\n" + "1 + " * 30 + "1"


def break_low_dpi(nb):
    nb.cells[1].outputs[0]["data"]["image/png"] = tiny_png(72)


def break_prose_number(nb):
    nb.cells.insert(2, v4.new_markdown_cell("The sum is 2, and it took 0.25 s."))


def break_cell_id(nb):
    del nb.cells[1]["id"]


BREAKS = [
    (kernelspec_problems, break_kernelspec, "'tinyformer-venv'"),
    (clean_run_problems, break_counts, "execution counts"),
    (clean_run_problems, break_unexecuted, "execution counts"),
    (clean_run_problems, break_result_count, "execution_count 7"),
    (error_output_problems, break_error, "ZeroDivisionError"),
    (stderr_problems, break_stderr, "Glyph 44256"),
    (widget_metadata_problems, break_widget_state, "'state' dict"),
    (widget_metadata_problems, break_widget_missing_model, "abc"),
    (widget_metadata_problems, break_widget_no_metadata, "not saved"),
    (opening_problems, break_title, "no '# ' title"),
    (opening_problems, break_title_number, "notebook number 42"),
    (opening_problems, break_prerequisites, "Prerequisites"),
    (closing_problems, break_closing_order, "in that order"),
    (closing_problems, break_closing_missing_recap, "in that order"),
    (closing_problems, break_closing_code_after, "follow '## Going further'"),
    (exercise_check_problems, break_too_few_checks, "need at least 3"),
    (exercise_check_problems, break_checks_before_exercises, "0 check_"),
    (exercise_check_problems, break_check_without_verdict, "verdict"),
    (ignored_output_problems, break_ignored_without_assert, "no assert"),
    (marker_problems, break_marker_with_reason, "'# NBVAL_IGNORE_OUTPUT (timings vary)'"),
    (output_size_problems, break_big_output, "KB"),
    (code_line_problems, break_long_line, "121 characters"),
    (figure_dpi_problems, break_low_dpi, "72 dpi"),
    (prose_number_problems, break_prose_number, "'0.25 s'"),
]


@pytest.mark.parametrize("rule, breaker, message", BREAKS, ids=[b.__name__.removeprefix("break_") for _, b, _ in BREAKS])
def test_rule_fails_on_a_bad_notebook(tmp_path, rule, breaker, message):
    nb = good_notebook()
    breaker(nb)
    nb = roundtrip(nb, tmp_path)
    problems = rule(nb, GOOD_NAME)
    assert problems and any(message in p for p in problems), problems
    # only the targeted rule complains (so each rule tests one thing)
    others = [r.__name__ for r in RULES if r is not rule and r(nb, GOOD_NAME)]
    assert others in ([], ["clean_run_problems"]), others


def test_file_name_rule():
    assert file_name_problems(None, "03-attention.ipynb") == []
    assert file_name_problems(None, "06-ffn-residual-layernorm.ipynb") == []
    for bad in ("3-attention.ipynb", "03_attention.ipynb", "03-Attention.ipynb", "attention.ipynb"):
        assert file_name_problems(None, bad), bad


def test_exercise_check_minimum_has_an_explicit_exception_for_the_course_map(tmp_path):
    nb = good_notebook()
    i = cell_with(nb, "check_a(f)")
    nb.cells[i].source = "from tinyformer.exercises import check_a\ncheck_a(f)"
    nb = roundtrip(nb, tmp_path)
    assert exercise_check_problems(nb, COURSE_MAP) == []
    assert "need at least 3" in exercise_check_problems(nb, GOOD_NAME)[0]


def test_file_size_rule(tmp_path):
    nb = good_notebook()
    break_big_output(nb)
    for _ in range(7):  # 8 outputs of 200 KB each: over 1.5 MB
        break_big_output(nb)
    path = tmp_path / GOOD_NAME
    nbformat.write(nb, path)
    assert "limit 1.5 MB" in file_size_problems(path)[0]


def test_readme_rule():
    readme = "# t\n\n| # | notebook |\n|---|---|\n| 00 | [Course map](notebooks/00-course-map.ipynb) | x | 10 |\n"
    assert readme_problems(readme, "00-course-map.ipynb") == []
    assert readme_problems(readme, "03-attention.ipynb")
    assert readme_problems("See 03-attention.ipynb for attention.", "03-attention.ipynb"), "a mention outside the table does not count"
    assert readme_problems(readme, "00-course-map.ipynb", 10) == []
    assert "says 10 minutes" in readme_problems(readme, "00-course-map.ipynb", 25)[0]


def test_cell_id_rule():
    nb = good_notebook()  # not written to disk: nbformat.write would add the missing id back
    assert cell_id_problems(nb, GOOD_NAME) == []
    break_cell_id(nb)
    assert cell_id_problems(nb, GOOD_NAME) == ["cell 1 has no id: give it one (nbformat.v4.new_*_cell does)"]


def test_time_estimate_rule():
    nb = good_notebook()  # about 5 minutes stated; a few words and lines measured
    assert stated_minutes(nb) == 5 and reading_minutes(nb) < 2 and time_estimate_problems(nb, GOOD_NAME) == []
    nb.cells.insert(1, v4.new_markdown_cell("word " * 3000))  # 20 minutes of prose
    assert 20 < reading_minutes(nb) < 25
    assert f"measure {reading_minutes(nb):.0f}" in time_estimate_problems(nb, GOOD_NAME)[0]
    nb.cells[0].source = nb.cells[0].source.replace("About 5 minutes", "Five minutes")
    assert "About N minutes" in time_estimate_problems(nb, GOOD_NAME)[0]


def test_course_map_rule():
    nb = good_notebook()
    nb.cells.insert(1, v4.new_markdown_cell("| 03 | `03-attention.ipynb` | attention |"))
    assert course_map_problems(nb, "03-attention.ipynb") == []
    assert course_map_problems(nb, "04-masking.ipynb")


def test_headings_skip_fenced_code_and_read_levels():
    cell = v4.new_markdown_cell("# Title\ntext\n```\n## not a heading\n```\n### Sub  \n#not-a-heading")
    assert headings(cell) == [(1, "Title"), (3, "Sub")]
    assert headings(v4.new_code_cell("# comment")) == []


def test_good_notebook_is_not_shared_state():
    a, b = good_notebook(), good_notebook()
    break_error(a)
    assert not error_output_problems(b, GOOD_NAME)


def test_stderr_is_allowed_in_ignored_output_cells(tmp_path):
    nb = good_notebook()
    i = cell_with(nb, "NBVAL_IGNORE_OUTPUT")
    nb.cells[i].outputs.append(v4.new_output("stream", name="stderr", text="100%|██████| 50/50 [00:01<00:00]\n"))
    assert stderr_problems(roundtrip(nb, tmp_path), GOOD_NAME) == []


def test_prose_number_rule_reads_numbers_as_written():
    nb = good_notebook()
    nb.cells[1].outputs.append(v4.new_output("stream", name="stdout", text="accuracy 0.8612, 1680 lines, 45.2x\n"))
    ok = [
        "Accuracy is 0.86, that is 86%; the corpus has about 1,700 lines; the ratio is 45×.",
        "Section 3.2.1 of the paper, PyTorch 2.13, $\\alpha \\approx 0.076$ and `x = 0.5` are not results.",
        "A [link](https://example.org/v1.5/) and a plain count like 12 layers are not checked.",
    ]
    for text in ok:
        nb.cells.insert(2, v4.new_markdown_cell(text))
        assert prose_number_problems(nb, GOOD_NAME) == [], text
        del nb.cells[2]
    for bad in ["Accuracy is 0.87.", "That is 87%.", "The corpus has 1,700 lines.", "It is 46× faster.",
                "About 2,000 lines.", "It takes 12 ms."]:
        nb.cells.insert(2, v4.new_markdown_cell(bad))
        assert len(prose_number_problems(nb, GOOD_NAME)) == 1, bad
        del nb.cells[2]
