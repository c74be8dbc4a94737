"""Tests of the exercise mechanism: run_check never raises and says what went wrong."""

import pytest
import torch

from tinyformer.exercises.core import CheckFailed, expect, expect_close, expect_equal, run_check

HINT = "look at the shapes"


def test_run_check_pass_prints_tick_and_returns_true(capsys):
    assert run_check("demo", lambda: None, HINT) is True
    out = capsys.readouterr().out
    assert out.startswith("✅ demo")
    assert "❌" not in out and HINT not in out


def test_run_check_check_failed_prints_message_and_hint(capsys):
    def test():
        expect(1 + 1 == 3, "1 + 1 should be 3 here")

    assert run_check("demo", test, HINT) is False
    out = capsys.readouterr().out
    assert out.startswith("❌ demo")
    assert "1 + 1 should be 3 here" in out
    assert f"Hint: {HINT}" in out


def test_run_check_not_implemented_says_not_done_yet(capsys):
    def test():
        raise NotImplementedError

    assert run_check("demo", test, HINT) is False
    out = capsys.readouterr().out
    assert out.startswith("❌ demo")
    assert "not done yet" in out
    assert "NotImplementedError" in out  # tells the learner which line to replace
    assert f"Hint: {HINT}" in out


@pytest.mark.parametrize("exc", [ZeroDivisionError("division by zero"), IndexError("list index out of range"), RuntimeError("shape mismatch")])
def test_run_check_learner_crash_is_caught_and_named(capsys, exc):
    def test():
        raise exc

    assert run_check("demo", test, HINT) is False
    out = capsys.readouterr().out
    assert out.startswith("❌ demo")
    assert type(exc).__name__ in out and str(exc) in out
    assert f"Hint: {HINT}" in out
    assert "Traceback" not in out


def test_run_check_prints_exactly_one_line_on_pass(capsys):
    run_check("demo", lambda: None, HINT)
    assert capsys.readouterr().out.count("\n") == 1


def test_expect_passes_silently_when_true():
    expect(True, "never shown")


def test_check_failed_is_an_assertion_error():
    # so a bare `assert` inside a check also reads as a failed check to pytest users
    assert issubclass(CheckFailed, AssertionError)


def test_expect_close_accepts_equal_tensors_of_other_dtype():
    expect_close(torch.tensor([1.0, 2.0], dtype=torch.float32), torch.tensor([1.0, 2.0], dtype=torch.float64))


def test_expect_close_non_tensor_names_the_type():
    with pytest.raises(CheckFailed, match=r"probs should be a torch.Tensor, got list"):
        expect_close([0.5, 0.5], torch.tensor([0.5, 0.5]), what="probs")


def test_expect_close_wrong_shape_shows_both_shapes():
    with pytest.raises(CheckFailed, match=r"has shape \(2, 3\), expected \(3, 2\)"):
        expect_close(torch.zeros(2, 3), torch.zeros(3, 2))


def test_expect_close_wrong_values_reports_largest_difference():
    want = torch.tensor([1.0, 2.0, 3.0])
    got = torch.tensor([1.0, 2.5, 3.0])
    with pytest.raises(CheckFailed, match=r"right shape but wrong values \(largest difference 0.5\)"):
        expect_close(got, want)


def test_expect_close_tolerance_is_respected():
    want = torch.tensor([1.0])
    expect_close(want + 5e-6, want)  # within atol=1e-5
    with pytest.raises(CheckFailed):
        expect_close(want + 1e-2, want)


def test_expect_close_detaches_tensors_that_require_grad():
    x = torch.ones(3, requires_grad=True)
    expect_close(x * 2, torch.full((3,), 2.0))


def test_expect_equal_shows_got_and_expected():
    expect_equal(3, 3)
    with pytest.raises(CheckFailed, match=r"n_tokens is 4, expected 3"):
        expect_equal(4, 3, what="n_tokens")
    with pytest.raises(CheckFailed, match=r"'b', expected 'a'"):
        expect_equal("b", "a")


def test_run_check_with_expect_close_end_to_end(capsys):
    def test():
        expect_close(torch.zeros(2), torch.ones(2), what="output")

    assert run_check("zeros", test, HINT) is False
    out = capsys.readouterr().out
    assert "output has the right shape but wrong values (largest difference 1)" in out
