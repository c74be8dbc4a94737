"""Tests of the exercise mechanism: run_check never raises and says what went wrong, the hint ladder
(nudge, then hint), and the "without X" guards (forbid reads the code, refusing_tensor refuses at run time)."""

import contextlib
import io

import pytest
import torch

from tinyformer.embeddings import sinusoidal_positional_encoding  # a library function to forbid
from tinyformer.exercises.core import (CheckFailed, Forbidden, expect, expect_close, expect_equal, find_shortcut,
                                       forbid, plain, refusing_tensor, reset_hints, run_check)
from tinyformer.tokenizer import BPETokenizer

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


# ---------------------------------------------------------------- the hint ladder

NUDGE = "what shape should it have?"


@pytest.fixture(autouse=True)
def fresh_hints():
    reset_hints()
    yield
    reset_hints()


def ladder_line(name: str, test) -> str:
    """Run one check and return its help line (the line after the ❌ line)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        run_check(name, test, HINT, nudge=NUDGE)
    return buf.getvalue().splitlines()[-1].strip()


def stub_test():
    raise NotImplementedError


def wrong_test():
    expect(False, "wrong")


def test_ladder_stub_shows_the_nudge_and_does_not_count_as_a_try():
    for _ in range(3):
        assert ladder_line("demo", stub_test) == f"Nudge: {NUDGE}"
    assert ladder_line("demo", wrong_test).startswith(f"Nudge: {NUDGE}")  # still the first real try


def test_ladder_first_failure_nudges_second_and_later_hint():
    assert ladder_line("demo", wrong_test).startswith(f"Nudge: {NUDGE}")
    assert ladder_line("demo", wrong_test) == f"Hint: {HINT}"
    assert ladder_line("demo", lambda: 1 / 0) == f"Hint: {HINT}"  # a crash counts as a try too
    assert ladder_line("demo", stub_test) == f"Hint: {HINT}"  # back to the stub after two tries: the hint


def test_ladder_is_per_check_and_reset_hints_starts_again():
    ladder_line("one", wrong_test)
    ladder_line("one", wrong_test)
    assert ladder_line("two", wrong_test).startswith("Nudge:")
    assert ladder_line("one", wrong_test).startswith("Hint:")
    reset_hints()
    assert ladder_line("one", wrong_test).startswith("Nudge:")


def test_ladder_first_failure_says_a_fuller_hint_comes():
    assert "another miss shows a fuller hint" in ladder_line("demo", wrong_test)


def test_ladder_without_a_nudge_always_shows_the_hint(capsys):
    for _ in range(2):
        run_check("demo", wrong_test, HINT)
        assert capsys.readouterr().out.splitlines()[-1].strip() == f"Hint: {HINT}"


def test_ladder_pass_prints_no_help(capsys):
    run_check("demo", wrong_test, HINT, nudge=NUDGE)
    run_check("demo", lambda: None, HINT, nudge=NUDGE)
    out = capsys.readouterr().out.splitlines()[-1]
    assert out == "✅ demo: correct!"


# ---------------------------------------------------------------- forbid: reading the learner's code

TOKENIZER = BPETokenizer()  # a library instance a learner might reach for


def uses_decode(data):
    return data.decode("utf-8")


def calls_helper_that_decodes(data):
    return uses_decode(data)


def uses_library_function(n, c):
    return sinusoidal_positional_encoding(n, c)


def uses_library_instance(ids):
    return TOKENIZER.decode(ids)


def imports_library_inside(n, c):
    import tinyformer.embeddings as E

    return E.sinusoidal_positional_encoding(n, c)


def uses_codec_name(data):
    return str(data, "UTF-8")


def for_loop(x):
    total = 0
    for v in x:
        total += v
    return total


def while_loop(x):
    while x > 0:
        x -= 1
    return x


def comprehension(x):
    return sum([v for v in x])


def vectorised(x):
    return x.sum()


def test_find_shortcut_attribute_names_and_helpers():
    assert find_shortcut(uses_decode, names=("decode",)) == ("`.decode`", False)
    assert find_shortcut(calls_helper_that_decodes, names=("decode",)) == ("`.decode`", False)  # read the helper too
    assert find_shortcut(calls_helper_that_decodes) is None


def test_find_shortcut_alias_resolves_to_the_forbidden_object():
    from torch.nn.functional import softmax as sm

    def aliased(x):
        return sm(x, dim=-1)

    assert find_shortcut(aliased, names=("softmax",)) == ("`sm`", False)


def test_find_shortcut_closure_and_default_argument():
    F = torch.nn.functional

    def closure(x):
        return F.softmax(x, -1)

    def default(x, f=torch.softmax):
        return f(x, -1)

    assert find_shortcut(closure, names=("softmax",)) == ("`.softmax`", False)
    assert find_shortcut(default, names=("softmax",)) == ("`a default argument`", False)


def test_find_shortcut_libraries_as_function_instance_and_import():
    used, library = find_shortcut(uses_library_function)
    assert library and "sinusoidal_positional_encoding" in used and "tinyformer.embeddings" in used
    used, library = find_shortcut(uses_library_instance)
    assert library and "TOKENIZER" in used and "tinyformer.tokenizer" in used
    used, library = find_shortcut(imports_library_inside)
    assert library and "tinyformer.embeddings" in used
    assert find_shortcut(uses_library_function, allow=("sinusoidal_positional_encoding",)) is None
    assert find_shortcut(uses_library_function, modules=()) is None


def test_find_shortcut_strings_case_insensitive():
    assert find_shortcut(uses_codec_name, strings=("utf-8",)) == ("the string 'UTF-8'", False)


@pytest.mark.parametrize("fn", [for_loop, while_loop, comprehension])
def test_find_shortcut_loops(fn):
    assert find_shortcut(fn, loops=True)[0].startswith("a loop")
    assert find_shortcut(fn) is None  # loops are only refused when asked


def test_find_shortcut_accepts_plain_code_and_builtins():
    assert find_shortcut(vectorised, names=("softmax",), loops=True) is None
    assert find_shortcut(len) is None  # nothing to read in a builtin


def test_find_shortcut_follows_a_learner_function_with_a_forbidden_name():
    def softmax(x):  # the learner's own softmax: followed, not refused for its name
        e = torch.exp(x - x.max())
        return e / e.sum()

    def uses_own_softmax(x):
        return softmax(x)

    assert find_shortcut(uses_own_softmax, names=("softmax",)) is None


def test_forbid_raises_forbidden_with_what_and_why():
    with pytest.raises(Forbidden, match=r"your code uses `.decode`: decode by hand"):
        forbid(uses_decode, "decode by hand", names=("decode",))
    with pytest.raises(Forbidden, match=r"from tinyformer.embeddings: that is the code the check compares with"):
        forbid(uses_library_function, "not this reason")
    forbid(vectorised)  # nothing to find: no error


def test_forbidden_in_run_check_names_the_shortcut(capsys):
    assert run_check("demo", lambda: forbid(uses_decode, "decode by hand", names=("decode",)), HINT, NUDGE) is False
    out = capsys.readouterr().out
    assert "❌ demo: your code uses `.decode`: decode by hand." in out and "Nudge:" in out


# ---------------------------------------------------------------- refusing_tensor: refused at run time


def test_refusing_tensor_refuses_the_named_operations_and_their_results_too():
    t = refusing_tensor(torch.arange(6.0).view(3, 2), {"__getitem__": "indexing", "softmax": "softmax"}, "why")
    with pytest.raises(Forbidden, match="your code used indexing: why"):
        t[0]
    with pytest.raises(Forbidden, match="softmax"):
        torch.softmax(t * 2, dim=-1)  # a result computed from it refuses too
    with pytest.raises(Forbidden):
        torch.nn.functional.softmax(t, dim=-1)
    out = torch.ones(1, 3) @ t  # everything else works
    assert type(plain(out)) is torch.Tensor
    torch.testing.assert_close(plain(out), torch.tensor([[6.0, 9.0]]))
    assert t.shape[0] == 3 and t.size(1) == 2  # shapes are not tensor indexing


def test_plain_leaves_other_values_alone():
    x = torch.ones(2)
    assert plain(x) is x and plain(3) == 3
