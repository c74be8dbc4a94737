"""The one timing helper the benchmark scripts share (they run as `python benchmarks/NAME.py`)."""

from __future__ import annotations

import time
from typing import Any, Callable


def best_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """(fastest seconds, last result) over `repeats` runs: the fastest is the least disturbed by
    other processes on the machine."""
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats={repeats!r} must be an int >= 1")
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out
