"""Repository-wide pytest setup: the other-CPU check first, and a closing table of time per file.

tests/test_other_cpu.py runs first: it runs nbval on every training notebook with another CPU's
kernels and leaves the models it trained in data/generated/ (when none are saved), so the browser
check loads them instead of training again; nbval in this process skips the notebooks it checked.
The suite must stay under 15 minutes on 2 cores (CONTRIBUTING.md); the closing table says which
notebook or test file to look at when it grows.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

_seconds: dict[str, float] = defaultdict(float)


@pytest.hookimpl(trylast=True)  # after -m / -k have deselected what they deselect
def pytest_collection_modifyitems(session, config, items) -> None:
    first = [item for item in items if item.nodeid.startswith("tests/test_other_cpu.py")]
    items[:] = first + [item for item in items if item not in first]
    # The other-CPU check runs nbval on the training notebooks (with other kernels, in subprocesses);
    # when it is part of this run, nbval does not check them a second time here. Their asserts still
    # run with this machine's kernels in the browser check, which executes every notebook.
    other_cpu = [item for item in first if item.name == "test_training_notebooks_pass_with_other_kernels"]
    if other_cpu:
        checked = {nb for group in other_cpu[0].module.GROUPS for nb in group}
        twice = [item for item in items if item.nodeid.split("::")[0] in checked]
        if twice:
            config.hook.pytest_deselected(items=twice)
            items[:] = [item for item in items if item not in twice]


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
