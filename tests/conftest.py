"""Shared test setup: a headless matplotlib backend and the repository root."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest
import torch

# Unit tests draw figures without a display. Select Agg in this process only: setting the
# MPLBACKEND environment variable instead would leak into the kernels nbval starts for the
# notebooks (and the browser test's Jupyter server), where figures would then never be shown.
matplotlib.use("Agg")

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (the folder holding README.md and notebooks/)."""
    return REPO_ROOT


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread (two threads on a busy machine can be 40x slower); restored after."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def verdict(capsys):
    """verdict(check, fn) -> what the exercise check returned, after asserting it printed the matching ✅/❌."""

    def run(check, fn) -> bool:
        ok = check(fn)
        out = capsys.readouterr().out
        assert out.startswith("✅" if ok else "❌"), out
        return ok

    return run
