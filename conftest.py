"""Repository-wide pytest setup: the other-CPU check in the background, and a closing table of time per file.

tests/test_other_cpu.py runs nbval on every training notebook with another CPU's kernels, in two
background chains started right after collection (they train while the unit tests run); its test
joins each notebook's check just before that notebook's browser check, and leaves what the chain had
trained by then in data/generated/ (when none are saved), so the browser check loads it instead of
training again. nbval in this process skips the notebooks the other-CPU check compares.
The suite must stay under 15 minutes on 2 cores (CONTRIBUTING.md); the closing table says which
notebook or test file to look at when it grows.
"""

from __future__ import annotations

import shutil
import time

from collections import defaultdict
from pathlib import Path

import pytest
import torch

_seconds: dict[str, float] = defaultdict(float)
_session_start = time.monotonic()
_timeline: list[tuple[float, str]] = []  # (seconds since the session started, what began then)


OTHER_CPU_TEST = "tests/test_other_cpu.py::test_training_notebooks_pass_with_other_kernels"
BROWSER_NOTEBOOK_TEST = "tests/browser/test_jupyterlab.py::test_widgets_respond_in_jupyterlab"
# Notebooks whose cells time code and assert on the growth they measure: run when the machine is quiet.
TIMED_NOTEBOOKS = ("notebooks/10-cost-and-scale.ipynb",)


def _other_cpu_joins(items) -> dict[str, object]:
    """The other-CPU check's items, one per training notebook, by notebook path."""
    return {item.callspec.params["notebook"]: item for item in items if item.nodeid.startswith(OTHER_CPU_TEST + "[")}


def _browser_notebook(item) -> str | None:
    """notebooks/NN-name.ipynb for a browser check of one notebook's widgets, else None."""
    if item.nodeid.startswith(BROWSER_NOTEBOOK_TEST + "["):
        return "notebooks/" + item.callspec.params["notebook"]
    return None


@pytest.hookimpl(trylast=True)  # after -m / -k have deselected what they deselect
def pytest_collection_modifyitems(session, config, items) -> None:
    joins = _other_cpu_joins(items)
    if not joins:
        return
    module = next(iter(joins.values())).module
    # The other-CPU check runs nbval on the training notebooks (other kernels, in subprocesses), so
    # nbval here does not check them a second time; their asserts still run with this machine's
    # kernels in the browser check, which executes every notebook.
    twice = [item for item in items if item.nodeid.split("::")[0] in joins]
    if twice:
        config.hook.pytest_deselected(items=twice)
    # Order, so that both cores stay busy and nothing waits for a model it does not need:
    # 1. the unit tests and the other nbval, while the background chains train;
    # 2. the browser checks that need no trained model of theirs (e.g. the slides, 00, 01, 03);
    # 3. for each batch of training notebooks, in the order the chains should finish them: join its
    #    checks, then the batch's browser checks (which load what it trained);
    # 4. the notebooks that time code, on a quiet machine: nbval, then their browser check.
    browser = [item for item in items if item.nodeid.startswith("tests/browser/")]
    timed = [item for item in items if item.nodeid.split("::")[0] in TIMED_NOTEBOOKS and item not in twice]
    timed_browser = [item for item in browser if _browser_notebook(item) in TIMED_NOTEBOOKS]
    after_join = {nb: [item for item in browser if _browser_notebook(item) == nb] for nb in joins}
    placed = set(twice + timed + timed_browser + list(joins.values()) + sum(after_join.values(), []))
    rest = [item for item in items if item not in placed and item not in browser]
    free_browser = [item for item in browser if item not in placed]
    # a batch's joins together, then its browser checks one after another (so each opens the next ahead)
    ordered = sorted(joins, key=lambda nb: (module.expected_finish(nb), module.NOTEBOOKS.index(nb)))
    batches: list[list[str]] = []
    for nb in ordered:
        if batches and nb in module.batch_of(batches[-1][0]):
            batches[-1].append(nb)
        else:
            batches.append([nb])
    joined = [x for batch in batches for x in [*(joins[nb] for nb in batch), *sum((after_join[nb] for nb in batch), [])]]
    items[:] = rest + free_browser + joined + timed + timed_browser


def pytest_collection_finish(session) -> None:
    """Start the other-CPU nbval runs now, so they train while the unit tests run (2 cores, both busy)."""
    import tempfile

    config = session.config
    joins = _other_cpu_joins(session.items)
    if config.option.collectonly or not joins:
        return
    module = next(iter(joins.values())).module
    workdir = Path(tempfile.mkdtemp(prefix="tinyformer-other-cpu-"))
    config.other_cpu_runs = module.OtherCpuRuns(Path(__file__).resolve().parent, workdir, list(joins))
    # Three processes share two cores: one torch thread here, so none of them spins waiting for a core.
    config.other_cpu_threads = torch.get_num_threads()
    torch.set_num_threads(1)


def _phase(item) -> str:
    """The part of the suite an item belongs to, for the closing timeline."""
    path = item.nodeid.split("::")[0]
    if item.nodeid.startswith(OTHER_CPU_TEST + "["):
        return f"join other-CPU {Path(item.callspec.params['notebook']).name[:2]}"
    if path.startswith("tests/browser/"):
        return f"browser {Path(path).stem}"
    return "nbval" if path.startswith("notebooks/") else "unit tests"


def pytest_runtest_setup(item) -> None:
    phase = _phase(item)
    if not _timeline or _timeline[-1][1] != phase:
        _timeline.append((time.monotonic() - _session_start, phase))
    threads = getattr(item.config, "other_cpu_threads", None)
    if threads and (item.nodeid.split("::")[0] in TIMED_NOTEBOOKS or _browser_notebook(item) in TIMED_NOTEBOOKS):
        torch.set_num_threads(threads)  # every background run has ended by then


def pytest_unconfigure(config) -> None:
    runs = getattr(config, "other_cpu_runs", None)
    if runs is not None:
        runs.stop()  # an interrupted or failed session leaves no training process behind
        shutil.rmtree(runs.workdir, ignore_errors=True)


def pytest_runtest_logreport(report) -> None:
    _seconds[report.nodeid.split("::")[0]] += report.duration


def pytest_terminal_summary(terminalreporter) -> None:
    if not _seconds:
        return
    terminalreporter.section("time per file")
    groups: dict[str, float] = defaultdict(float)
    for path, seconds in sorted(_seconds.items(), key=lambda kv: -kv[1]):
        group = "notebooks (nbval)" if path.startswith("notebooks/") else (
            "browser check" if path.startswith("tests/browser/") else "other tests")
        groups[group] += seconds
        if seconds >= 5 or path.startswith("notebooks/"):
            terminalreporter.write_line(f"{seconds:8.1f} s  {path}")
    terminalreporter.write_line("  " + ", ".join(f"{g}: {s:.0f} s" for g, s in sorted(groups.items())))
    if any(phase.startswith("join") for _, phase in _timeline):  # where the whole-suite run spends its time
        end = time.monotonic() - _session_start
        ends = [t for t, _ in _timeline[1:]] + [end]
        terminalreporter.write_line("timeline: " + "; ".join(
            f"{start:.0f}-{stop:.0f} s {phase}" for (start, phase), stop in zip(_timeline, ends)))
        runs = getattr(terminalreporter.config, "other_cpu_runs", None)
        if runs is not None:
            terminalreporter.write_line("other-CPU checks ended (in the background): " + "; ".join(
                f"{Path(nb).name[:2]} at {end - _session_start:.0f} s"
                for nb, (_, _, end, _) in sorted(runs.results.items(), key=lambda kv: kv[1][2])))
