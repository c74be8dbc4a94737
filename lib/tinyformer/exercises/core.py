"""The mechanism behind every auto-checked exercise.

A `check_*` function runs the learner's answer on a few cases, prints one clear line, pass or
fail with a hint, and returns a bool. It never raises: a wrong answer, a crash and an exercise
left as `raise NotImplementedError` each print a failure that says what to look at.
"""

from __future__ import annotations

from typing import Any, Callable

import torch


class CheckFailed(AssertionError):
    """Raised inside a check with a message meant for the learner."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def expect_close(got: Any, want: torch.Tensor, what: str = "result", atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """Compare a learner's tensor to the expected one, with messages about type, shape, then values."""
    if not isinstance(got, torch.Tensor):
        raise CheckFailed(f"{what} should be a torch.Tensor, got {type(got).__name__}")
    if tuple(got.shape) != tuple(want.shape):
        raise CheckFailed(f"{what} has shape {tuple(got.shape)}, expected {tuple(want.shape)}")
    got, want = got.detach().to(torch.float64), want.detach().to(torch.float64)
    if not torch.allclose(got, want, atol=atol, rtol=rtol):
        worst = (got - want).abs().max().item()
        raise CheckFailed(f"{what} has the right shape but wrong values (largest difference {worst:.3g})")


def expect_equal(got: Any, want: Any, what: str = "result") -> None:
    if got != want:
        raise CheckFailed(f"{what} is {got!r}, expected {want!r}")


def run_check(name: str, test: Callable[[], None], hint: str) -> bool:
    """Run `test`; print a pass, or a fail with what went wrong and `hint`; return whether it passed."""
    try:
        test()
    except NotImplementedError:
        print(f"❌ {name}: not done yet. Replace `raise NotImplementedError` with your code.\n   Hint: {hint}")
        return False
    except CheckFailed as e:
        print(f"❌ {name}: {e}.\n   Hint: {hint}")
        return False
    except Exception as e:  # the learner's code crashed: show the error, not a traceback
        print(f"❌ {name}: your code raised {type(e).__name__}: {e}.\n   Hint: {hint}")
        return False
    print(f"✅ {name}: correct!")
    return True
