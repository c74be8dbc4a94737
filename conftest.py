"""Repository-wide pytest setup: a closing table of where the suite's time went, per file.

The suite must stay under 15 minutes on 2 cores (CONTRIBUTING.md); this table says which notebook
or test file to look at when it grows. Setup and teardown count with the file's tests.
"""

from __future__ import annotations

from collections import defaultdict

_seconds: dict[str, float] = defaultdict(float)


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
