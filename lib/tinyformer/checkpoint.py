"""Checkpoints: everything needed to resume training exactly, written so a crash never corrupts one.

A checkpoint holds the model, optimizer and scheduler states, the step, the RNG states of torch,
Python and NumPy, the loss history and the configs (as plain dicts). `save_checkpoint` writes a
temp file in the same folder, fsyncs it and renames it over the old one (`os.replace` is atomic),
so a run killed at any moment leaves the previous checkpoint intact. `load_checkpoint` reads with
`torch.load(..., weights_only=True)` and refuses a checkpoint saved with a different model config,
naming each differing field.
"""

from __future__ import annotations

import os
import random
import tempfile
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

__all__ = ["get_rng_state", "set_rng_state", "config_diff", "save_checkpoint", "load_checkpoint"]


def get_rng_state() -> dict[str, Any]:
    """The state of every random generator a training step may touch, in plain tensors and lists."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))


def _as_dict(config: Any) -> dict[str, Any] | None:
    if config is None:
        return None
    if is_dataclass(config):
        return {f.name: getattr(config, f.name) for f in fields(config)}
    if isinstance(config, dict):
        return dict(config)
    raise TypeError(f"config must be a dataclass or a dict, got {type(config).__name__}")


def _plain(value: Any) -> Any:
    """Tuples become lists, so a config compares equal after a save/load round trip."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def config_diff(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Human-readable differences between two config dicts: ['d_model: checkpoint 64, now 128', ...]."""
    out = []
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key, "<missing>"), current.get(key, "<missing>")
        if _plain(a) != _plain(b):
            out.append(f"{key}: checkpoint {a!r}, now {b!r}")
    return out


def save_checkpoint(path: str | os.PathLike, model: nn.Module, *, optimizer: torch.optim.Optimizer | None = None,
                    scheduler: Any = None, step: int = 0, model_config: Any = None,
                    train_config: Any = None, extra: dict[str, Any] | None = None,
                    losses: list[float] | None = None, evals: list[dict[str, float]] | None = None) -> Path:
    """Write a checkpoint atomically: a temp file in the same folder, then `os.replace`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "step": int(step),
        "rng": get_rng_state(),
        "model_config": _as_dict(model_config),
        "train_config": _as_dict(train_config),
        "losses": list(losses or []),
        "evals": list(evals or []),
        "extra": extra or {},
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, model: nn.Module | None = None, *, model_config: Any = None,
                    optimizer: torch.optim.Optimizer | None = None, scheduler: Any = None,
                    restore_rng: bool = False) -> dict[str, Any]:
    """Read a checkpoint (weights_only) into the given objects and return the raw dict.

    If `model_config` is given and differs from the one saved, raises ValueError naming each field.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if model_config is not None and state.get("model_config") is not None:
        diff = config_diff(state["model_config"], _as_dict(model_config))
        if diff:
            raise ValueError(f"checkpoint {path.name} was saved with a different model config: " + "; ".join(diff)
                             + ". Use the same config, or train a new model.")
    if model is not None:
        model.load_state_dict(state["model"])
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    if restore_rng:
        set_rng_state(state["rng"])
    return state
