"""Shared test setup: a headless matplotlib backend and the repository root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Unit tests draw figures without a display; set before anything imports pyplot.
os.environ.setdefault("MPLBACKEND", "Agg")

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (the folder holding README.md and notebooks/)."""
    return REPO_ROOT
