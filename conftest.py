"""Repository-wide pytest setup: the other-CPU check in the background, and a closing table of time per file.

tests/test_other_cpu.py runs nbval on every training notebook with another CPU's kernels, in two
background processes started right after collection (they train while the unit tests run); its test
joins them after the unit tests and leaves the models they trained in data/generated/ (when none are
saved), so the browser check, last, loads them instead of training again. nbval in this process
skips the notebooks the other-CPU check compares.
The suite must stay under 15 minutes on 2 cores (CONTRIBUTING.md); the closing table says which
notebook or test file to look at when it grows.
"""

from __future__ import annotations

import shutil

from collections import defaultdict
from pathlib import Path

import pytest
import torch

_seconds: dict[str, float] = defaultdict(float)


OTHER_CPU_TEST = "tests/test_other_cpu.py::test_training_notebooks_pass_with_other_kernels"
# Notebooks whose cells time code and assert on the growth they measure: run when the machine is quiet.
TIMED_NOTEBOOKS = ("notebooks/10-cost-and-scale.ipynb",)


@pytest.hookimpl(trylast=True)  # after -m / -k have deselected what they deselect
def pytest_collection_modifyitems(session, config, items) -> None:
    other_cpu = [item for item in items if item.nodeid == OTHER_CPU_TEST]
    if not other_cpu:
        return
    # The other-CPU check runs nbval on the training notebooks (other kernels, in subprocesses), so
    # nbval here does not check them a second time; their asserts still run with this machine's
    # kernels in the browser check, which executes every notebook.
    checked = {nb for group in other_cpu[0].module.GROUPS for nb in group}
    twice = [item for item in items if item.nodeid.split("::")[0] in checked]
    if twice:
        config.hook.pytest_deselected(items=twice)
    # Order: everything else while the background runs train, then the other-CPU check (joining
    # them), then the notebooks that time things (on a quiet machine), then the browser check, which
    # loads the models the background runs trained.
    browser = [item for item in items if item.nodeid.startswith("tests/browser/")]
    timed = [item for item in items if item.nodeid.split("::")[0] in TIMED_NOTEBOOKS and item not in twice]
    rest = [item for item in items if item not in twice + browser + other_cpu + timed]
    items[:] = rest + other_cpu + timed + browser


def pytest_collection_finish(session) -> None:
    """Start the other-CPU nbval runs now, so they train while the unit tests run (2 cores, both busy)."""
    import tempfile

    config = session.config
    other_cpu = [item for item in session.items if item.nodeid == OTHER_CPU_TEST]
    if config.option.collectonly or not other_cpu:
        return
    workdir = Path(tempfile.mkdtemp(prefix="tinyformer-other-cpu-"))
    config.other_cpu_runs = other_cpu[0].module.OtherCpuRuns(Path(__file__).resolve().parent, workdir)
    # Three processes share two cores: one torch thread here, so none of them spins waiting for a core.
    config.other_cpu_threads = torch.get_num_threads()
    torch.set_num_threads(1)


def pytest_runtest_setup(item) -> None:
    threads = getattr(item.config, "other_cpu_threads", None)
    if item.nodeid == OTHER_CPU_TEST and threads:
        torch.set_num_threads(threads)  # the background runs end in this test


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
