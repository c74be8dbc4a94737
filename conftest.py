"""Repository-wide pytest setup: the other-CPU check first, and a closing table of time per file.

tests/test_other_cpu.py runs first: it trains notebooks 07 and 08 with another CPU's kernels and
leaves those models in data/generated/ (when none are saved), so the browser check and nbval load
them instead of training again. The suite must stay under 15 minutes on 2 cores (CONTRIBUTING.md);
the closing table says which notebook or test file to look at when it grows.
"""

from __future__ import annotations

from collections import defaultdict

_seconds: dict[str, float] = defaultdict(float)


def pytest_collection_modifyitems(session, config, items) -> None:
    first = [item for item in items if item.nodeid.startswith("tests/test_other_cpu.py")]
    items[:] = first + [item for item in items if item not in first]


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
