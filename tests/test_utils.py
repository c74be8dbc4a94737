import random

import numpy as np
import pytest
import torch

from tinyformer.utils import get_device, seed_everything


def test_seed_everything_repeats_all_generators():
    seed_everything(123)
    first = (random.random(), np.random.rand(), torch.rand(3))
    seed_everything(123)
    second = (random.random(), np.random.rand(), torch.rand(3))
    assert first[:2] == second[:2]
    torch.testing.assert_close(first[2], second[2])


def test_seed_everything_different_seeds_differ():
    seed_everything(1)
    a = torch.rand(5)
    seed_everything(2)
    assert not torch.equal(a, torch.rand(5))


@pytest.mark.parametrize("bad, err", [(-1, ValueError), (2**32, ValueError), (1.5, TypeError), ("3", TypeError), (True, TypeError)])
def test_seed_everything_rejects_bad_seeds(bad, err):
    with pytest.raises(err, match="seed"):
        seed_everything(bad)


def test_get_device_falls_back_to_cpu_here():
    # CI and the course machines have no GPU: the order cuda -> mps -> cpu ends at cpu.
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert get_device().type == expected
    assert get_device("cpu") == torch.device("cpu")


def test_get_device_bad_name_lists_valid_ones():
    with pytest.raises(ValueError, match="cuda, mps, cpu"):
        get_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_get_device_unavailable_preference_is_clear():
    with pytest.raises(ValueError, match="not available"):
        get_device("cuda")


def test_generated_dir_defaults_to_data_generated_and_follows_the_environment(monkeypatch, tmp_path, repo_root):
    from tinyformer.utils import generated_dir

    monkeypatch.delenv("TINYFORMER_GENERATED_DIR", raising=False)
    assert generated_dir() == repo_root / "data" / "generated"
    monkeypatch.setenv("TINYFORMER_GENERATED_DIR", str(tmp_path))
    assert generated_dir() == tmp_path
