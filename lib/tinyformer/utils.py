"""Small helpers every notebook uses: reproducible seeds, picking a device, where generated files go."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

DEVICES = ("cuda", "mps", "cpu")
REPO_ROOT = Path(__file__).resolve().parents[2]


def generated_dir() -> Path:
    """Where trained models and downloads are kept: `data/generated/` in the repository (git-ignored).

    The environment variable TINYFORMER_GENERATED_DIR moves it (the test that re-runs the training
    notebooks with other CPU kernels uses it to train afresh without touching the saved models).
    """
    return Path(os.environ.get("TINYFORMER_GENERATED_DIR") or REPO_ROOT / "data" / "generated")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch so a run can be repeated exactly."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed={seed} is out of range; use 0 <= seed < 2**32")
    os.environ["PYTHONHASHSEED"] = str(seed)  # only affects subprocesses started later
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def _available(name: str) -> bool:
    if name == "cuda":
        return torch.cuda.is_available()
    if name == "mps":
        return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    return True


def get_device(prefer: str | None = None) -> torch.device:
    """The best device here: cuda, then mps, then cpu; or `prefer` if it is available."""
    if prefer is not None:
        if not isinstance(prefer, str) or prefer.split(":")[0] not in DEVICES:
            raise ValueError(f"prefer={prefer!r} is not a device; choose one of {', '.join(DEVICES)} (or None)")
        if not _available(prefer.split(":")[0]):
            raise ValueError(f"prefer={prefer!r} is not available on this machine")
        return torch.device(prefer)
    return torch.device(next(d for d in DEVICES if _available(d)))
