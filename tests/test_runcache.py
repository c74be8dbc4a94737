"""cached_run: computes once, reloads while recipe and code are unchanged, recomputes otherwise."""

from __future__ import annotations

import pytest
import torch

from tinyformer.runcache import cached_run, code_digest, run_path


@pytest.fixture(autouse=True)
def generated(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYFORMER_GENERATED_DIR", str(tmp_path))
    return tmp_path


def counted(value):
    calls = []

    def compute():
        calls.append(1)
        return value

    return compute, calls


def test_computes_once_then_loads_the_same_value():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    compute, calls = counted({"state": model.state_dict(), "losses": [1.5, 0.5], "note": "ok"})
    first = cached_run("demo", {"steps": 2}, compute)
    second = cached_run("demo", {"steps": 2}, compute)
    assert len(calls) == 1
    assert second["losses"] == [1.5, 0.5] and second["note"] == "ok"
    torch.testing.assert_close(second["state"]["weight"], model.weight.detach())
    assert first.keys() == second.keys()
    restored = torch.nn.Linear(3, 2)
    restored.load_state_dict(second["state"])  # a state dict survives the round trip
    assert torch.load(run_path("demo"), weights_only=True)["value"]["note"] == "ok"


def test_a_changed_recipe_or_retrain_computes_again():
    compute, calls = counted([1, 2])
    cached_run("demo", {"steps": 2}, compute)
    cached_run("demo", {"steps": 3}, compute)
    assert len(calls) == 2
    cached_run("demo", {"steps": 3}, compute, retrain=True)
    assert len(calls) == 3


def test_changed_code_computes_again():
    calls = []

    def first():
        calls.append("first")
        return 1

    def second():  # same name in a notebook after an edit: different source
        calls.append("second")
        return 2

    assert cached_run("demo", {}, first) == 1
    assert cached_run("demo", {}, second) == 2
    assert calls == ["first", "second"]
    assert code_digest([first]) != code_digest([second])


def test_a_helper_named_in_code_is_part_of_the_key():
    compute, calls = counted(0)
    cached_run("demo", {}, compute, code=[counted])
    cached_run("demo", {}, compute, code=[counted, test_a_helper_named_in_code_is_part_of_the_key])
    assert len(calls) == 2


def test_a_file_that_is_not_a_saved_run_is_refused_and_left(generated):
    path = run_path("demo")
    path.parent.mkdir(parents=True)
    path.write_text("not a run")
    with pytest.raises(ValueError, match="is not a saved run"):
        cached_run("demo", {}, lambda: 1)
    torch.save({"format": "something else"}, path)
    with pytest.raises(ValueError, match="is not a saved run"):
        cached_run("demo", {}, lambda: 1)
    assert torch.load(path, weights_only=True) == {"format": "something else"}


@pytest.mark.parametrize("kwargs, error, match", [
    ({"name": "../up"}, ValueError, "name='../up'"),
    ({"name": ""}, ValueError, "name=''"),
    ({"recipe": [1]}, TypeError, "recipe must be a dict"),
    ({"compute": 3}, TypeError, "compute must be callable"),
    ({"retrain": "yes"}, TypeError, "retrain must be True or False"),
    ({"recipe": {"x": object()}}, TypeError, r"recipe\['x'\]"),
])
def test_bad_arguments_raise_before_any_work(kwargs, error, match):
    compute, calls = counted(1)
    args = {"name": "demo", "recipe": {}, "compute": compute} | kwargs
    with pytest.raises(error, match=match):
        cached_run(args.pop("name"), args.pop("recipe"), args.pop("compute"), **args)
    assert calls == []


def test_a_result_that_cannot_be_saved_raises_and_writes_nothing():
    with pytest.raises(TypeError, match="the run's result"):
        cached_run("demo", {}, lambda: {"model": torch.nn.Linear(2, 2)})
    assert not run_path("demo").exists()
