"""The mechanism behind every auto-checked exercise.

A `check_*` function runs the learner's answer on a few cases, prints one clear result, pass or
fail, and returns a bool. It never raises: a wrong answer, a crash and an exercise left as
`raise NotImplementedError` each print a failure that says what to look at.

Help comes as a ladder, per check and per session: the stub and the first failed attempt print a
*nudge* (a question or a pointer), the second failed attempt and later ones the fuller *hint* (the
method in words). Neither holds the answer; that lives in `tinyformer.exercises.solutions`.
`reset_hints()` starts the ladder again.

An exercise that says "without X" enforces it with `forbid` (reads the learner's bytecode, and the
helpers the learner wrote that it calls) and, where reading code cannot see it, with a guarded
argument (`refusing_tensor`: a tensor that refuses some operations). A rejected shortcut fails
the check with `Forbidden`, naming what was used and why the exercise does without it.
"""

from __future__ import annotations

import builtins
import dis
import types
from typing import Any, Callable, Iterable

import torch

# the libraries the checks compare with: calling them would make any exercise pass
LIBRARIES = ("tinyformer", "tiktoken", "tokenizers", "transformers")
LIBRARY_WHY = "that is the code the check compares with; write it with torch and your own functions"
# functions from these modules are read like the learner's own (a notebook; the worked solutions)
LEARNER_MODULES = ("__main__", "tinyformer.exercises.solutions")

_failures: dict[str, int] = {}  # check name -> failed attempts in this session


class CheckFailed(AssertionError):
    """Raised inside a check with a message meant for the learner."""


class Forbidden(CheckFailed):
    """The learner's code used a shortcut that the exercise asks to do without."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def expect_close(got: Any, want: torch.Tensor, what: str = "result", atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """Compare a learner's tensor to the expected one, with messages about type, shape, then values."""
    if not isinstance(got, torch.Tensor):
        raise CheckFailed(f"{what} should be a torch.Tensor, got {type(got).__name__}")
    if tuple(got.shape) != tuple(want.shape):
        raise CheckFailed(f"{what} has shape {tuple(got.shape)}, expected {tuple(want.shape)}")
    got, want = plain(got).detach().to(torch.float64), want.detach().to(torch.float64)
    if not torch.allclose(got, want, atol=atol, rtol=rtol):
        worst = (got - want).abs().max().item()
        raise CheckFailed(f"{what} has the right shape but wrong values (largest difference {worst:.3g})")


def expect_equal(got: Any, want: Any, what: str = "result") -> None:
    if got != want:
        raise CheckFailed(f"{what} is {got!r}, expected {want!r}")


# ---------------------------------------------------------------- the hint ladder


def reset_hints() -> None:
    """Forget every failed attempt: the next failure of each check prints its nudge again."""
    _failures.clear()


def _help(name: str, hint: str, nudge: str | None, attempt: bool) -> str:
    """The help line: the nudge until the second failed attempt, the hint from then on."""
    if nudge is None:  # a check without a ladder
        return f"Hint: {hint}"
    if attempt:
        _failures[name] = _failures.get(name, 0) + 1
    if _failures.get(name, 0) >= 2:
        return f"Hint: {hint}"
    return f"Nudge: {nudge}" + (" (another miss shows a fuller hint)" if attempt else "")


def run_check(name: str, test: Callable[[], None], hint: str, nudge: str | None = None) -> bool:
    """Run `test`; print a pass, or a fail with what went wrong and help from the ladder; return whether it passed.

    The stub (`raise NotImplementedError`) prints the nudge without counting as an attempt; the first
    failed attempt prints the nudge, later ones the hint. Without a nudge the hint is always shown.
    """
    try:
        test()
    except NotImplementedError:
        print(f"❌ {name}: not done yet. Replace `raise NotImplementedError` with your code.\n"
              f"   {_help(name, hint, nudge, attempt=False)}")
        return False
    except CheckFailed as e:
        print(f"❌ {name}: {e}.\n   {_help(name, hint, nudge, attempt=True)}")
        return False
    except Exception as e:  # the learner's code crashed: show the error, not a traceback
        print(f"❌ {name}: your code raised {type(e).__name__}: {e}.\n   {_help(name, hint, nudge, attempt=True)}")
        return False
    print(f"✅ {name}: correct!")
    return True


# ---------------------------------------------------------------- "without X", read from the code

_GLOBAL_LOADS = {"LOAD_GLOBAL", "LOAD_NAME"}
_ATTR_LOADS = {"LOAD_ATTR", "LOAD_METHOD", "LOAD_SUPER_ATTR"}
_CELL_LOADS = {"LOAD_DEREF", "LOAD_CLASSDEREF"}


def _in_modules(module: str | None, modules: Iterable[str]) -> bool:
    return bool(module) and any(module == m or module.startswith(m + ".") for m in modules)


def _code_objects(code: types.CodeType) -> Iterable[types.CodeType]:
    """`code` and every code object nested in it (lambdas, inner functions, comprehensions)."""
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _is_loop(ins: dis.Instruction) -> bool:
    """A for loop's FOR_ITER, or any jump back to an earlier instruction (while loops, every Python version)."""
    if ins.opname == "FOR_ITER" or "BACKWARD" in ins.opname:
        return True
    jumps = ins.opcode in dis.hasjrel or ins.opcode in dis.hasjabs
    return jumps and isinstance(ins.argval, int) and ins.argval <= ins.offset


def _closure_values(fn: types.FunctionType) -> dict[str, Any]:
    values = {}
    for var, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
        try:
            values[var] = cell.cell_contents
        except ValueError:  # a cell not filled yet
            pass
    return values


def _module_of(obj: Any) -> str | None:
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    module = getattr(obj, "__module__", None)
    return module if isinstance(module, str) else type(obj).__module__


def find_shortcut(fn: Callable, names: Iterable[str] = (), modules: Iterable[str] = LIBRARIES,
                  strings: Iterable[str] = (), loops: bool = False,
                  allow: Iterable[str] = ()) -> tuple[str, bool] | None:
    """What in `fn` breaks the rules, in words, and whether it is a library; None if nothing does.

    Reads the bytecode of `fn`, of the functions and lambdas inside it, and of every function it
    refers to that was written next to it (same globals: the same notebook or module; or one of
    `LEARNER_MODULES`), resolving global and closure names. Breaks the rules: an attribute or global called one of `names`
    (`.decode`, `softmax`), an object whose `__name__` is one of them (an alias), anything from one of
    `modules` (a module, function, class or instance) unless its name is in `allow`, a string
    constant in `strings` (case-insensitive), and with `loops=True` a for/while loop or comprehension.
    """
    names, modules, allow = set(names), tuple(modules), set(allow)
    strings = {s.lower() for s in strings}
    if not isinstance(fn, types.FunctionType):
        return None  # a builtin or a callable object: nothing to read
    home = fn.__globals__
    todo, seen = [fn], set()
    while todo:
        f = todo.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        refs = [("a default argument", v) for v in (f.__defaults__ or ())]
        refs += [("a default argument", v) for v in (f.__kwdefaults__ or {}).values()]
        cells = _closure_values(f)
        for code in _code_objects(f.__code__):
            for ins in dis.get_instructions(code):
                op, arg = ins.opname, ins.argval
                if loops and _is_loop(ins):
                    return "a loop (a for or while loop, or a comprehension)", False
                if op in _ATTR_LOADS and arg in names:
                    return f"`.{arg}`", False
                if op == "IMPORT_NAME" and _in_modules(arg, modules):
                    return f"an import of `{arg}`", True
                if op == "LOAD_CONST" and isinstance(arg, str) and arg.lower() in strings:
                    return f"the string {arg!r}", False
                if op in _GLOBAL_LOADS:
                    if arg in f.__globals__:
                        refs.append((arg, f.__globals__[arg]))
                    elif hasattr(builtins, arg):
                        refs.append((arg, getattr(builtins, arg)))
                    elif arg in names:
                        return f"`{arg}`", False
                if op in _CELL_LOADS and arg in cells:
                    refs.append((arg, cells[arg]))
        for ref, obj in refs:
            learners = isinstance(obj, types.FunctionType) and (
                obj.__globals__ is home or _in_modules(obj.__module__, LEARNER_MODULES))
            if learners:
                todo.append(obj)  # a helper the learner wrote: read it too
                continue
            obj_name = getattr(obj, "__name__", None)
            if ref in names or (isinstance(obj_name, str) and obj_name in names):
                return f"`{ref}`", False
            module = _module_of(obj)
            if _in_modules(module, modules) and ref not in allow and obj_name not in allow:
                return f"`{ref}` from {module}", True
    return None


def forbid(fn: Callable, why: str = LIBRARY_WHY, *, names: Iterable[str] = (), modules: Iterable[str] = LIBRARIES,
           strings: Iterable[str] = (), loops: bool = False, allow: Iterable[str] = ()) -> None:
    """Raise `Forbidden` ("your code uses X: why") if `find_shortcut` finds something in `fn`.

    By default only the libraries the checks compare with (`LIBRARIES`) are off limits.
    """
    found = find_shortcut(fn, names=names, modules=modules, strings=strings, loops=loops, allow=allow)
    if found is not None:
        used, library = found
        raise Forbidden(f"your code uses {used}: {LIBRARY_WHY if library else why}")


# ---------------------------------------------------------------- "without X", refused at run time


class _RefusingTensor(torch.Tensor):
    """A tensor that raises `Forbidden` when one of `_refuse` (torch function names) is applied to it."""

    _refuse: dict[str, str] = {}
    _why: str = ""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in cls._refuse:
            raise Forbidden(f"your code used {cls._refuse[name]}: {cls._why}")
        return super().__torch_function__(func, types, args, kwargs or {})


def refusing_tensor(t: torch.Tensor, refuse: dict[str, str], why: str) -> torch.Tensor:
    """`t` as a tensor that refuses the torch functions named in `refuse` (name -> words for the learner).

    Tensors computed from it refuse them too; `plain` turns a result back into an ordinary tensor.
    Example: `refusing_tensor(table, {"__getitem__": "indexing (table[ids])"}, "the point is the product")`.
    """
    guarded = type("RefusingTensor", (_RefusingTensor,), {"_refuse": dict(refuse), "_why": why})
    return t.as_subclass(guarded)


def plain(x: Any) -> Any:
    """An ordinary tensor back from a `refusing_tensor` result; anything else unchanged."""
    return x.as_subclass(torch.Tensor) if isinstance(x, _RefusingTensor) else x
