"""Every exercise check passes its worked solution (tinyformer.exercises.solutions), each solution has its
notebook stub's signature, and the help ladder gives a nudge then a hint, neither holding the answer's code."""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import inspect
import io
import json
import pkgutil
import re
from pathlib import Path

import pytest

import tinyformer.exercises as exercises
from tinyformer.exercises.core import reset_hints

# modules other work adds; they join these tests once their solutions module exists
SKIP_WITHOUT_SOLUTIONS = {"looking_inside", "cost_and_scale"}
# modules whose checks must have a nudge + hint ladder
LADDER_TOPICS = ("course_map", "tokenization", "embeddings", "attention", "masking", "multihead", "blocks",
                 "translation", "sampling", "looking_inside", "cost_and_scale")
# check name (without check_) -> the notebook's function name, where they differ beyond a `my_` prefix
ALIASES = {"label_smoothed_loss": "smoothed_loss", "tiled_attention": "tiled_attention_2d"}
# code in a nudge or hint gives the answer away; describe the steps in words and name a function at most
CODE_PATTERNS = {
    "a matrix product": r"@",
    "a transpose call": r"\.transpose\(",
    "a tril/triu call": r"tri[lu]\(",
    "None-indexing": r"\[:, None",
    "a call with arguments": r"\w\(\S",
    "indexing": r"\w\[",
    "an assignment": r" = ",
    "a comparison": r"==|!=",
    "integer division": r"//",
    "a power": r"\*\*",
    "a .T transpose": r"\.T\b",
    "a dim= argument": r"\bdim=",
}


def _topics() -> list[str]:
    found = pkgutil.iter_modules(exercises.__path__)
    return sorted(m.name for m in found if not m.ispkg and m.name != "core")


def _has_solutions(topic: str) -> bool:
    return importlib.util.find_spec(f"tinyformer.exercises.solutions.{topic}") is not None


def _checks() -> list[tuple[str, str]]:
    pairs = []
    for topic in _topics():
        if topic in SKIP_WITHOUT_SOLUTIONS and not _has_solutions(topic):
            continue
        module = importlib.import_module(f"tinyformer.exercises.{topic}")
        pairs += [(topic, name) for name, obj in vars(module).items()
                  if name.startswith("check_") and inspect.isfunction(obj) and obj.__module__ == module.__name__]
    return sorted(pairs)


CHECKS = _checks()
LADDER_CHECKS = [(t, c) for t, c in CHECKS if t in LADDER_TOPICS]


def _solution(topic: str, check_name: str):
    """The solution function for a check: same name, or with `my_`, or the alias; fails if there is none."""
    module = importlib.import_module(f"tinyformer.exercises.solutions.{topic}")
    base = check_name.removeprefix("check_")
    for name in (ALIASES.get(base, base), f"my_{base}"):
        if inspect.isfunction(getattr(module, name, None)):
            return getattr(module, name)
    raise AssertionError(f"tinyformer.exercises.solutions.{topic} has no solution for {check_name}")


def _run(check, fn) -> tuple[bool, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ok = check(fn)
    return ok, out.getvalue()


@pytest.fixture(autouse=True)
def fresh_hints():
    reset_hints()
    yield
    reset_hints()


def test_every_ladder_topic_is_found():
    assert {t for t, _ in CHECKS} >= set(LADDER_TOPICS)
    assert len(LADDER_CHECKS) >= 27


@pytest.mark.parametrize("topic, check_name", CHECKS)
def test_check_passes_its_solution(topic, check_name):
    check = getattr(importlib.import_module(f"tinyformer.exercises.{topic}"), check_name)
    ok, out = _run(check, _solution(topic, check_name))
    assert ok is True and out.startswith("✅"), out


def _notebook_stubs() -> dict[str, ast.FunctionDef]:
    """check name -> the stub the notebook passes to it (from the exercise cells, read, never run)."""
    stubs = {}
    for path in sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] != "code" or "check_" not in source or "raise NotImplementedError" not in source:
                continue
            try:
                tree = ast.parse(source)
            except SyntaxError:
                continue
            defs = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
            for node in ast.walk(tree):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.startswith("check_")
                        and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id in defs):
                    stubs[node.func.id] = defs[node.args[0].id]
    return stubs


STUBS = _notebook_stubs()


@pytest.mark.parametrize("topic, check_name", LADDER_CHECKS)
def test_solution_has_the_notebook_stubs_signature(topic, check_name):
    if check_name not in STUBS:
        pytest.skip(f"no notebook exercise cell calls {check_name}")
    stub, solution = STUBS[check_name], _solution(topic, check_name)
    assert solution.__name__ == stub.name
    stub_params = [a.arg for a in stub.args.posonlyargs + stub.args.args + stub.args.kwonlyargs]
    assert list(inspect.signature(solution).parameters) == stub_params


def _code_lines(fn) -> list[str]:
    """The solution's code lines long enough to be telling, without comments."""
    lines = inspect.getsource(fn).splitlines()[1:]
    lines = [line.split("#")[0].strip() for line in lines]
    return [line for line in lines if len(line) >= 12 and not line.startswith(('"""', "return out", "return ids"))]


@pytest.mark.parametrize("topic, check_name", LADDER_CHECKS)
def test_ladder_nudge_then_hint_and_neither_holds_code(topic, check_name):
    check = getattr(importlib.import_module(f"tinyformer.exercises.{topic}"), check_name)

    def stub(*args, **kwargs):
        raise NotImplementedError

    def crashes(*args, **kwargs):
        raise ValueError("a wrong try")

    ok, out = _run(check, stub)
    assert not ok and "not done yet" in out and "Nudge:" in out and "Hint:" not in out, out
    nudge = out.split("Nudge:", 1)[1].strip()
    ok, out = _run(check, crashes)
    assert not ok and "Nudge:" in out and "Hint:" not in out, out  # the first failed try: the nudge again
    ok, out = _run(check, crashes)
    assert not ok and "Hint:" in out and "Nudge:" not in out, out  # the second: the fuller hint
    hint = out.split("Hint:", 1)[1].strip()
    assert nudge != hint
    for text in (nudge, hint):
        for what, pattern in CODE_PATTERNS.items():
            assert not re.search(pattern, text), f"{check_name}'s help has {what} ({pattern!r}): {text}"
        for line in _code_lines(_solution(topic, check_name)):
            assert line not in text, f"{check_name}'s help quotes the solution: {line}"
    reset_hints()
    assert "Nudge:" in _run(check, crashes)[1]
