"""Tests for tinyformer.train: loss, schedule, checkpoints and exact resume (also after SIGKILL)."""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyformer.checkpoint import config_diff, load_checkpoint, save_checkpoint
from tinyformer.train import TrainConfig, label_smoothed_cross_entropy, lr_lambda, train
from tinyformer.utils import seed_everything

# ---------------------------------------------------------------------------------------------
# a tiny task: a 2-layer MLP with dropout on synthetic regression data; each step's batch comes
# from a permutation per epoch drawn from a generator seeded by the epoch, so it depends only on
# the step. Dropout and a random noise term use the global RNGs, so resume must restore them.


@dataclass
class MLPConfig:
    d_in: int = 4
    d_hidden: int = 16
    dropout: float = 0.2


def make_model(cfg: MLPConfig = MLPConfig()) -> nn.Module:
    seed_everything(0)
    return nn.Sequential(nn.Linear(cfg.d_in, cfg.d_hidden), nn.ReLU(), nn.Dropout(cfg.dropout),
                         nn.Linear(cfg.d_hidden, 1))


DATA_X = torch.randn(64, 4, generator=torch.Generator().manual_seed(1))
DATA_Y = DATA_X.sum(dim=1, keepdim=True)


def get_batch(step: int, batch_size: int = 8):
    per_epoch = len(DATA_X) // batch_size
    epoch, i = divmod(step, per_epoch)
    perm = torch.randperm(len(DATA_X), generator=torch.Generator().manual_seed(epoch))
    idx = perm[i * batch_size:(i + 1) * batch_size]
    return DATA_X[idx], DATA_Y[idx]


def loss_fn(model, batch):
    x, y = batch
    scale = 1 + 0.1 * random.random() + 0.1 * float(np.random.rand())   # uses the Python and NumPy RNGs
    return F.mse_loss(model(x), y) * scale


def quiet(**kw) -> TrainConfig:
    base = dict(max_steps=30, lr=1e-2, warmup_steps=5, schedule="inverse_sqrt", progress=False)
    base.update(kw)
    return TrainConfig(**base)


def params(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def assert_identical(a: list[torch.Tensor], b: list[torch.Tensor]) -> None:
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------
# label smoothing


@settings(max_examples=25, deadline=None)
@given(smoothing=st.floats(0.0, 0.5), seed=st.integers(0, 1000), use_ignore=st.booleans())
def test_label_smoothing_matches_pytorch(smoothing, seed, use_ignore):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(3, 5, 7, generator=g, dtype=torch.float64)
    target = torch.randint(0, 7, (3, 5), generator=g)
    target[0, 0] = 0
    ignore = 0 if use_ignore else -100
    ours = label_smoothed_cross_entropy(logits, target, smoothing, ignore_index=ignore if use_ignore else None)
    ref = F.cross_entropy(logits.reshape(-1, 7), target.reshape(-1), label_smoothing=smoothing, ignore_index=ignore)
    torch.testing.assert_close(ours.double(), ref)


def test_label_smoothing_by_hand():
    """Uniform logits over V=4: -log p = log 4 for every class, so loss = log 4 whatever eps is.
    Logits [0, 0, 0, big] with target 3 and eps=0.1: nll ~ 0, uniform part ~ (3*big)/4 -> 0.1 * 0.75 * big."""
    logits = torch.zeros(1, 4)
    torch.testing.assert_close(label_smoothed_cross_entropy(logits, torch.tensor([2]), 0.1), torch.tensor(math.log(4)))
    big = 50.0
    logits = torch.tensor([[0.0, 0.0, 0.0, big]])
    got = label_smoothed_cross_entropy(logits, torch.tensor([3]), 0.1)
    torch.testing.assert_close(got, torch.tensor(0.1 * 0.75 * big), atol=1e-3, rtol=1e-4)


def test_label_smoothing_bad_input():
    with pytest.raises(ValueError, match="target"):
        label_smoothed_cross_entropy(torch.zeros(2, 3, 5), torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="smoothing"):
        label_smoothed_cross_entropy(torch.zeros(2, 5), torch.zeros(2, dtype=torch.long), smoothing=1.0)


# ---------------------------------------------------------------------------------------------
# schedule and config


def test_warmup_then_cosine():
    cfg = TrainConfig(max_steps=110, warmup_steps=10, schedule="cosine", min_lr_ratio=0.1)
    assert lr_lambda(0, cfg) == pytest.approx(0.1)
    assert lr_lambda(9, cfg) == pytest.approx(1.0)
    assert lr_lambda(60, cfg) == pytest.approx(0.1 + 0.9 * 0.5)        # half way: cos(pi/2) = 0
    assert lr_lambda(110, cfg) == pytest.approx(0.1)
    values = [lr_lambda(s, cfg) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(values, values[1:]))


def test_inverse_sqrt():
    cfg = TrainConfig(warmup_steps=100, schedule="inverse_sqrt")
    assert lr_lambda(99, cfg) == pytest.approx(1.0)
    assert lr_lambda(399, cfg) == pytest.approx(0.5)                   # sqrt(100 / 400)


def test_scheduler_drives_optimizer_lr():
    model = make_model()
    cfg = quiet(max_steps=12, warmup_steps=4, lr=0.01)
    seen = []
    orig = torch.optim.AdamW.step

    def spy(self, *a, **k):
        seen.append(self.param_groups[0]["lr"])
        return orig(self, *a, **k)

    torch.optim.AdamW.step = spy
    try:
        train(model, get_batch, loss_fn, cfg)
    finally:
        torch.optim.AdamW.step = orig
    assert seen == pytest.approx([0.01 * lr_lambda(s, cfg) for s in range(12)])


def test_config_validation():
    with pytest.raises(ValueError, match="schedule"):
        TrainConfig(schedule="linear")
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=0)
    with pytest.raises(ValueError, match="grad_clip"):
        TrainConfig(grad_clip=-1.0)
    with pytest.raises(ValueError, match="checkpoint_path"):
        train(make_model(), get_batch, loss_fn, quiet(), resume=True)


# ---------------------------------------------------------------------------------------------
# the loop


def test_training_reduces_loss_and_clips():
    model = make_model()
    result = train(model, get_batch, loss_fn, quiet(max_steps=200, grad_clip=0.5))
    assert len(result.losses) == 200
    assert np.mean(result.losses[-10:]) < 0.3 * np.mean(result.losses[:10])


def test_grad_clip_bounds_the_update_norm():
    """With clipping at c, the gradient norm seen by the optimizer is at most c."""
    model = make_model()
    norms = []
    orig = torch.optim.AdamW.step

    def spy(self, *a, **k):
        g = torch.cat([p.grad.flatten() for grp in self.param_groups for p in grp["params"] if p.grad is not None])
        norms.append(g.norm().item())
        return orig(self, *a, **k)

    torch.optim.AdamW.step = spy
    try:
        train(model, lambda s: (DATA_X * 100, DATA_Y * 100), loss_fn, quiet(max_steps=5, grad_clip=0.25))
    finally:
        torch.optim.AdamW.step = orig
    assert max(norms) <= 0.25 + 1e-5


def test_eval_callback_does_not_change_training():
    """Evaluating (even with an eval_fn that draws random numbers) leaves the trajectory unchanged."""
    a = make_model()
    train(a, get_batch, loss_fn, quiet())
    b = make_model()

    def noisy_eval(model):
        torch.rand(3), random.random(), np.random.rand()
        return {"mse": F.mse_loss(model(DATA_X), DATA_Y).item()}

    result = train(b, get_batch, loss_fn, quiet(eval_every=7), eval_fn=noisy_eval)
    assert_identical(params(a), params(b))
    assert [e["step"] for e in result.evals] == [7, 14, 21, 28, 30]
    assert b.training


def test_resume_in_process_is_exact(tmp_path):
    """N steps straight == k steps, stop, resume, N-k more steps (parameters bit for bit)."""
    straight = make_model()
    full = train(straight, get_batch, loss_fn, quiet())
    ckpt = tmp_path / "run.pt"
    first = make_model()
    train(first, get_batch, loss_fn, quiet(max_steps=13, checkpoint_path=str(ckpt)))
    random.random(), np.random.rand(), torch.rand(5)          # disturb the RNGs: resume must restore them
    resumed = make_model()
    torch.nn.init.zeros_(resumed[0].weight)                   # and the weights
    result = train(resumed, get_batch, loss_fn, quiet(checkpoint_path=str(ckpt)), resume=True)
    assert result.resumed_from == 13
    assert result.losses == full.losses
    assert_identical(params(straight), params(resumed))


def test_resume_refuses_other_model_config(tmp_path):
    ckpt = tmp_path / "run.pt"
    train(make_model(), get_batch, loss_fn, quiet(max_steps=3, checkpoint_path=str(ckpt)), model_config=MLPConfig())
    with pytest.raises(ValueError, match=r"d_hidden: checkpoint 16, now 32") as err:
        train(make_model(), get_batch, loss_fn, quiet(checkpoint_path=str(ckpt)), resume=True,
              model_config=MLPConfig(d_hidden=32, dropout=0.5))
    assert "dropout: checkpoint 0.2, now 0.5" in str(err.value)
    with pytest.raises(ValueError, match="d_hidden"):
        load_checkpoint(ckpt, make_model(), model_config={"d_in": 4, "d_hidden": 8, "dropout": 0.2})


def test_config_diff_lists_each_field():
    assert config_diff({"a": 1, "b": (1, 2)}, {"a": 1, "b": [1, 2]}) == []
    assert config_diff({"a": 1}, {"a": 2, "c": 3}) == ["a: checkpoint 1, now 2", "c: checkpoint '<missing>', now 3"]


def test_checkpoint_round_trip_and_atomic_write(tmp_path):
    model = make_model()
    path = save_checkpoint(tmp_path / "sub" / "m.pt", model, step=7, model_config=MLPConfig())
    assert sorted(p.name for p in path.parent.iterdir()) == ["m.pt"]     # no temp file left behind
    other = make_model()
    torch.nn.init.zeros_(other[0].weight)
    state = load_checkpoint(path, other, model_config=MLPConfig())
    assert state["step"] == 7
    assert_identical(params(model), params(other))
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt", other)


# ---------------------------------------------------------------------------------------------
# SIGKILL in the middle of a run, then resume from the last checkpoint

SCRIPT = textwrap.dedent("""
    import sys, time, torch
    sys.path.insert(0, {tests!r})
    import test_train as t
    torch.set_num_threads(1)
    def slow_loss(model, batch):
        time.sleep(0.02)
        return t.loss_fn(model, batch)
    t.train(t.make_model(), t.get_batch, slow_loss,
            t.quiet(max_steps=10_000, checkpoint_every=5, checkpoint_path={ckpt!r}), resume=True)
""")


def test_resume_after_sigkill_is_exact(tmp_path):
    torch.set_num_threads(1)
    ckpt = tmp_path / "killed.pt"
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).parent), ckpt=str(ckpt)))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            if ckpt.exists() and torch.load(ckpt, weights_only=True)["step"] >= 10:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the training subprocess wrote no checkpoint within 60 s")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    saved = torch.load(ckpt, weights_only=True)["step"]
    assert saved % 5 == 0 and saved >= 10
    n = saved + 12
    resumed = make_model()
    result = train(resumed, get_batch, loss_fn, quiet(max_steps=n, checkpoint_path=str(ckpt)), resume=True)
    assert result.resumed_from == saved
    straight = make_model()
    full = train(straight, get_batch, loss_fn, quiet(max_steps=n))
    assert_identical(params(straight), params(resumed))
    assert result.losses == full.losses
