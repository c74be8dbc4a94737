"""Checkpoints: everything needed to resume training exactly, written so a crash never corrupts one.

A checkpoint holds the model, optimizer and scheduler states, the step, the RNG states of torch
(and of the current CUDA device once CUDA is in use), Python and NumPy, the loss history and the
configs (as plain dicts). A run of several processes also keeps each process's RNG states
(`rng_per_rank`, in rank order; `rng` is rank 0's). `save_checkpoint` writes a
temp file in the same folder, fsyncs it and renames it over the old one (`os.replace` is atomic),
so a run killed at any moment leaves the previous checkpoint intact. Everything is converted to
what `torch.load(..., weights_only=True)` reads (tensors and plain Python data: a NumPy scalar
becomes a Python number) when it is saved, and anything else is refused then, never at load time.
`read_checkpoint` reads one, and says so clearly when a file is not a tinyformer checkpoint;
`load_checkpoint` also refuses one saved with a different model config, naming each differing field.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import tempfile
import zipfile
from dataclasses import MISSING, fields, is_dataclass
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Iterable

import numpy as np
import torch
import torch.nn as nn

__all__ = ["FORMAT", "ConfigMismatchError", "get_rng_state", "set_rng_state", "config_diff", "check_config",
           "plain_data", "plain_metrics", "config_dict", "fill_defaults", "save_checkpoint", "read_checkpoint", "restore_checkpoint",
           "load_checkpoint"]

FORMAT = "tinyformer-checkpoint"   # written into every checkpoint (older ones are recognised by their keys)
_KEYS = ("model", "step", "rng")   # keys every checkpoint has, also those written before FORMAT existed


class ConfigMismatchError(ValueError):
    """A checkpoint was saved with other settings than the ones given now (the message names each field)."""


def get_rng_state() -> dict[str, Any]:
    """The state of every random generator a training step may touch, in plain tensors and lists."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():   # dropout on a GPU draws from its own generator
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


# ---------------------------------------------------------------------------------------------
# plain data: what torch.load(weights_only=True) reads back


_ATOMS = (type(None), bool, int, float, complex, str, bytes, torch.dtype, torch.device, torch.Size)


def plain_data(value: Any, where: str = "value") -> Any:
    """`value` as data `torch.load(weights_only=True)` reads: NumPy scalars and 0-d arrays become Python numbers.

    Keeps tensors, None, bool, int, float, str, bytes and lists, tuples and dicts of them; a subclass
    of int or float (an IntEnum, np.float64) becomes the plain type. Anything else raises TypeError
    naming `where` (e.g. "evals[0]['bleu']") and its type, so a bad value fails when saved, not when loaded.
    """
    if type(value) in _ATOMS or isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (np.generic, np.ndarray)) and np.ndim(value) == 0:
        return plain_data(value.item(), where)
    for plain in (bool, int, float, str):                   # IntEnum -> int, a str subclass -> str
        if isinstance(value, plain):
            return plain(value)
    if isinstance(value, dict):
        return {plain_data(k, f"a key of {where}"): plain_data(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [plain_data(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, np.ndarray):
        raise TypeError(f"{where} is a NumPy array of shape {value.shape}, which a checkpoint cannot hold; "
                        "convert it with torch.from_numpy(...)")
    raise TypeError(f"{where} is of type {type(value).__name__}, which a checkpoint cannot hold; use tensors, numbers, "
                    "str, None, and lists, tuples and dicts of them")


_METRIC_HELP = "return a number (a float, an int, a NumPy scalar or a 0-d tensor) or a str"


def _metric(name: str, value: Any) -> float | int | bool | str | None:
    """One value an eval_fn returned, as a plain Python value a checkpoint can hold."""
    if isinstance(value, (torch.Tensor, np.ndarray, np.generic)):
        if np.ndim(value) != 0:
            raise TypeError(f"eval_fn returned {name!r} with shape {tuple(np.shape(value))}; {_METRIC_HELP}")
        value = value.item()
    for plain in (bool, int, float, str):
        if isinstance(value, plain):
            return plain(value)
    if value is None:
        return None
    raise TypeError(f"eval_fn returned {name!r} of type {type(value).__name__} ({value!r:.60}); {_METRIC_HELP}")


def plain_metrics(metrics: Any, step: int) -> dict[str, Any]:
    """{"step": step, name: plain value, ...} from what an eval_fn returned, checked as it returns.

    Numbers, bools, str and None are kept (a NumPy scalar, 0-d array or 0-d tensor becomes a Python
    number), so a checkpoint holding them always loads. Raises TypeError for anything else (naming
    the metric and its type) or a non-dict, ValueError for a "step" key.
    """
    if not isinstance(metrics, Mapping):
        raise TypeError(f"eval_fn must return a dict of name -> number, got {type(metrics).__name__}")
    out: dict[str, Any] = {"step": step}
    for name, value in metrics.items():
        if not isinstance(name, str):
            raise TypeError(f"eval_fn returned the key {name!r}; metric names must be str")
        if name == "step":
            raise ValueError("eval_fn returned a 'step' key; train adds the step itself, so name it differently")
        out[name] = _metric(name, value)
    return out


def config_dict(config: Any, name: str = "config") -> dict[str, Any] | None:
    """A config as a dict of plain data (a dataclass's fields, or a copy of a dict); None stays None."""
    if config is None:
        return None
    if is_dataclass(config) and not isinstance(config, type):
        return plain_data({f.name: getattr(config, f.name) for f in fields(config)}, name)
    if isinstance(config, dict):
        return plain_data(dict(config), name)
    raise TypeError(f"{name} must be a dataclass or a dict, got {type(config).__name__}")


def fill_defaults(saved: dict[str, Any] | None, config: Any) -> dict[str, Any] | None:
    """`saved` with every field of `config`'s dataclass it lacks set to that field's default.

    A config field added later (e.g. GPTConfig.attention = "full") is missing from older checkpoints;
    they were made with what is now its default, so they compare equal to a config left at it.
    Fields without a default, and configs that are not dataclasses, are left as they are.
    """
    if saved is None or not (is_dataclass(config) and not isinstance(config, type)):
        return saved
    filled = dict(saved)
    for f in fields(config):
        if f.name not in filled:
            if f.default is not MISSING:
                filled[f.name] = plain_data(f.default, f.name)
            elif f.default_factory is not MISSING:
                filled[f.name] = plain_data(f.default_factory(), f.name)
    return filled


def _plain(value: Any) -> Any:
    """Tuples become lists, so a config compares equal after a save/load round trip."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def config_diff(saved: dict[str, Any], current: dict[str, Any], ignore: Iterable[str] = ()) -> list[str]:
    """Human-readable differences between two config dicts: ['d_model: checkpoint 64, now 128', ...].

    Keys in `ignore` are not compared.
    """
    out = []
    for key in sorted((set(saved) | set(current)) - set(ignore)):
        a, b = saved.get(key, "<missing>"), current.get(key, "<missing>")
        if _plain(a) != _plain(b):
            out.append(f"{key}: checkpoint {a!r}, now {b!r}")
    return out


def check_config(path: str | os.PathLike, what: str, saved: dict[str, Any] | None, current: Any,
                 advice: str, ignore: Iterable[str] = ()) -> None:
    """Raise ConfigMismatchError naming every field where `current` differs from the `saved` config.

    Nothing is checked when either is None (a checkpoint written before that config was saved); a
    field the saved config lacks is taken at its default (`fill_defaults`).
    """
    saved = fill_defaults(saved, current)
    current = config_dict(current, what.replace(" ", "_"))
    if saved is None or current is None:
        return
    diff = config_diff(saved, current, ignore)
    if diff:
        raise ConfigMismatchError(f"checkpoint {Path(path).name} was saved with a different {what}: "
                                  + "; ".join(diff) + f". {advice}")


# ---------------------------------------------------------------------------------------------
# writing


def save_checkpoint(path: str | os.PathLike, model: nn.Module, *, optimizer: torch.optim.Optimizer | None = None,
                    scheduler: Any = None, step: int = 0, model_config: Any = None,
                    train_config: Any = None, run_config: Any = None, extra: dict[str, Any] | None = None,
                    losses: list[float] | None = None, evals: list[dict[str, float]] | None = None,
                    rng_per_rank: list[dict[str, Any]] | None = None) -> Path:
    """Write a checkpoint atomically: a temp file in the same folder, then `os.replace`.

    `rng_per_rank` (from a run of several processes: each one's `get_rng_state()`, in rank order) is
    kept as well; `rng` is then rank 0's state.

    Every value goes through `plain_data` first, so what is written always loads with weights_only=True.
    Raises TypeError (model not an nn.Module, a value a checkpoint cannot hold, naming where it is)
    or ValueError (step not an int >= 0) before anything is written.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
        raise ValueError(f"step={step!r} must be an int >= 0")
    path = Path(path)
    state = plain_data({
        "format": FORMAT,
        "version": 1,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "step": int(step),
        "rng": rng_per_rank[0] if rng_per_rank else get_rng_state(),
        "model_config": config_dict(model_config, "model_config"),
        "train_config": config_dict(train_config, "train_config"),
        "run_config": config_dict(run_config, "run_config"),
        "losses": list(losses or []),
        "evals": list(evals or []),
        "extra": extra or {},
        **({"rng_per_rank": list(rng_per_rank)} if rng_per_rank else {}),
    }, "checkpoint")
    path.parent.mkdir(parents=True, exist_ok=True)
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


# ---------------------------------------------------------------------------------------------
# reading


def _looks_like(path: Path) -> str:
    """What a file that torch cannot read as a checkpoint seems to be, for the error message."""
    head = path.read_bytes()[:4096]
    if not head:
        return "an empty file"
    if head.startswith(b"PK"):
        return "a zip archive torch cannot read (a truncated or damaged checkpoint, or another zip file)"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "binary data that is not a PyTorch file"
    if text.lstrip().startswith(("{", "[")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            return "a text file"
        if isinstance(data, dict) and data.get("format") == "tinyformer-bpe":
            return "a tokenizer JSON file (load it with BPETokenizer.load)"
        return "a JSON file"
    return "a text file"


def _not_ours(path: Path, looks: str) -> ValueError:
    return ValueError(f"{path} is not a tinyformer checkpoint: it looks like {looks}")


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The dict a checkpoint holds, read with `torch.load(..., weights_only=True)` onto the CPU.

    Raises TypeError if `path` is not a str or path, FileNotFoundError if nothing is there, and
    ValueError naming the path when the file is not a tinyformer checkpoint (a text, JSON or
    tokenizer file, a damaged file, a bare state_dict, a pickle of other objects).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or a pathlib.Path, got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    with open(path, "rb") as f:
        legacy = f.read(2) == b"\x80\x02"                   # torch.save before 1.6 wrote a bare pickle
    if not (legacy or zipfile.is_zipfile(path)):
        raise _not_ours(path, _looks_like(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise _not_ours(path, "a PyTorch file holding Python objects other than tensors and plain data "
                              "(made by torch.save of a whole object, not by tinyformer)") from None
    except (RuntimeError, EOFError, OSError, ValueError):
        raise _not_ours(path, _looks_like(path)) from None
    if isinstance(state, dict) and (state.get("format") == FORMAT or all(k in state for k in _KEYS)):
        return state
    if isinstance(state, dict) and state and all(isinstance(v, torch.Tensor) for v in state.values()):
        raise _not_ours(path, "a bare state_dict (torch.save(model.state_dict())); load it with "
                              "model.load_state_dict(torch.load(path, weights_only=True))")
    raise _not_ours(path, f"a PyTorch file holding a {type(state).__name__}")


def restore_checkpoint(state: dict[str, Any], model: nn.Module | None = None, *,
                       optimizer: torch.optim.Optimizer | None = None, scheduler: Any = None,
                       restore_rng: bool = False) -> None:
    """Load the states of a `read_checkpoint` dict into the given objects (and the RNGs if asked)."""
    if model is not None:
        model.load_state_dict(state["model"])
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    if restore_rng:
        set_rng_state(state["rng"])


def load_checkpoint(path: str | os.PathLike, model: nn.Module | None = None, *, model_config: Any = None,
                    optimizer: torch.optim.Optimizer | None = None, scheduler: Any = None,
                    restore_rng: bool = False) -> dict[str, Any]:
    """Read a checkpoint (weights_only) into the given objects and return the raw dict.

    Raises what `read_checkpoint` raises; if `model_config` is given and differs from the one saved,
    ConfigMismatchError (a ValueError) naming each field, before anything is loaded.
    """
    if model is not None and not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module or None, got {type(model).__name__}")
    state = read_checkpoint(path)
    check_config(path, "model config", state.get("model_config"), model_config,
                 "Use the same config, or train a new model.")
    restore_checkpoint(state, model, optimizer=optimizer, scheduler=scheduler, restore_rng=restore_rng)
    return state
