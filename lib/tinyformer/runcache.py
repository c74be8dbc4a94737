"""A saved result for a small training run, reused when the run's recipe and code are unchanged.

Notebooks 04 and 06 train small models in the open (the loop is the lesson), each for a few tens of
seconds. In class, or when a learner reopens the notebook, waiting for them again teaches nothing, so
such a cell wraps its run:

    TRAIN_LIVE = False  # True: train now, even if a result of exactly this run is saved
    result = cached_run("04-leak", {"steps": 400, "lr": 3e-3}, train_both, code=[TinyAttentionModel],
                        retrain=TRAIN_LIVE)

The first call runs `compute()` and saves what it returns under `generated_dir()/runs/NAME.pt`; later
calls load it when the recipe is the same and the source of `compute` and of every object in `code`
is unchanged (a changed line retrains). The result must be plain data (numbers, strings, lists,
dicts, tensors, state dicts): it is written atomically with `torch.save` and read back with
`weights_only=True`.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

import torch

from .checkpoint import plain_data
from .utils import generated_dir

__all__ = ["cached_run", "code_digest", "run_path"]

T = TypeVar("T")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
FORMAT = "tinyformer-run"


def code_digest(objects: Iterable[object]) -> str:
    """SHA-256 of the source of each function or class (its repr when there is no source), in order."""
    h = hashlib.sha256()
    for obj in objects:
        try:
            text = inspect.getsource(obj)
        except (OSError, TypeError):  # a builtin, or code typed where no source is kept
            text = repr(obj)
        h.update(text.encode("utf-8") + b"\0")
    return h.hexdigest()


def run_path(name: str) -> Path:
    """Where the result of run `name` is saved."""
    return generated_dir() / "runs" / f"{name}.pt"


def cached_run(name: str, recipe: dict[str, Any], compute: Callable[[], T], *, code: Iterable[object] = (),
               retrain: bool = False) -> T:
    """compute()'s result, loaded from the saved run if `recipe` and the code are the same, else computed and saved.

    name: a file name stem (letters, digits, `_`, `.`, `-`). recipe: plain data that decides the run
    (steps, learning rate, seeds, ...). code: the functions and classes the run uses besides `compute`.
    Raises TypeError / ValueError for a bad argument, and ValueError for a file at the run's path that
    is not a saved run (it is left as it is).
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"name={name!r} must be a file name stem (letters, digits, _ . -)")
    if not isinstance(recipe, dict):
        raise TypeError(f"recipe must be a dict, got {type(recipe).__name__}")
    if not callable(compute):
        raise TypeError(f"compute must be callable, got {type(compute).__name__}")
    if not isinstance(retrain, bool):
        raise TypeError(f"retrain must be True or False, got {retrain!r}")
    key = {"recipe": plain_data(recipe, "recipe"), "code": code_digest([compute, *code])}
    path = run_path(name)
    if path.is_file() and not retrain:
        try:
            saved = torch.load(path, weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unreadable file is "not ours"
            raise ValueError(f"{path} is not a saved run ({type(e).__name__}); move it away or delete it") from None
        if not isinstance(saved, dict) or saved.get("format") != FORMAT:
            raise ValueError(f"{path} is not a saved run of tinyformer.runcache; move it away or delete it")
        if saved.get("key") == key:
            return saved["value"]
    value = compute()
    state = {"format": FORMAT, "key": key, "value": plain_data(value, "the run's result")}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return state["value"]  # the same plain data a later call loads
