"""Tests for tinyformer.train: loss, schedule, checkpoints and exact resume (also after SIGKILL)."""

from __future__ import annotations

import math
import os
import random
import re
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


# ---------------------------------------------------------------------------------------------
# resuming with changed settings: applied or refused, never silently ignored


@pytest.mark.parametrize("field, value, shown", [
    ("lr", 0.1, "lr: checkpoint 0.01, now 0.1"),
    ("warmup_steps", 2, "warmup_steps: checkpoint 5, now 2"),
    ("schedule", "cosine", "schedule: checkpoint 'inverse_sqrt', now 'cosine'"),
    ("min_lr_ratio", 0.5, "min_lr_ratio: checkpoint 0.1, now 0.5"),
    ("weight_decay", 0.1, "weight_decay: checkpoint 0.01, now 0.1"),
    ("betas", (0.8, 0.9), "betas: checkpoint (0.9, 0.98), now (0.8, 0.9)"),
    ("eps", 1e-6, "eps: checkpoint 1e-09, now 1e-06"),
    ("grad_clip", None, "grad_clip: checkpoint 1.0, now None"),
])
def test_resume_refuses_a_changed_step_setting(tmp_path, field, value, shown):
    ckpt = tmp_path / "run.pt"
    train(make_model(), get_batch, loss_fn, quiet(max_steps=3, checkpoint_path=str(ckpt)))
    before = ckpt.read_bytes()
    with pytest.raises(ValueError, match=re.escape(f"cannot resume from checkpoint run.pt with other settings: {shown}")) as err:
        train(make_model(), get_batch, loss_fn, quiet(max_steps=6, checkpoint_path=str(ckpt), **{field: value}),
              resume=True)
    assert "max_steps" in str(err.value) and "another checkpoint_path" in str(err.value)   # what may change, and how
    assert ckpt.read_bytes() == before                                                    # nothing was trained


def test_resume_names_every_changed_field_once(tmp_path):
    ckpt = tmp_path / "run.pt"
    train(make_model(), get_batch, loss_fn, quiet(max_steps=3, checkpoint_path=str(ckpt)),
          run_config={"batch_size": 8, "lr": 0.01, "label_smoothing": 0.1, "seed": 0})
    with pytest.raises(ValueError) as err:
        train(make_model(), get_batch, loss_fn, quiet(lr=0.1, grad_clip=2.0, checkpoint_path=str(ckpt)), resume=True,
              run_config={"batch_size": 16, "lr": 0.1, "label_smoothing": 0.0, "seed": 1})
    message = str(err.value)
    for part in ("batch_size: checkpoint 8, now 16", "lr: checkpoint 0.01, now 0.1", "grad_clip: checkpoint 1.0, now 2.0",
                 "label_smoothing: checkpoint 0.1, now 0.0", "seed: checkpoint 0, now 1"):
        assert part in message
    assert message.count("lr: checkpoint") == 1                   # in both configs, named once


def test_resume_applies_bookkeeping_settings(tmp_path):
    """eval_every, log_every, progress, checkpoint_every and a larger max_steps take their new values."""
    ckpt = tmp_path / "run.pt"
    train(make_model(), get_batch, loss_fn, quiet(max_steps=10, checkpoint_path=str(ckpt)))
    result = train(make_model(), get_batch, loss_fn, quiet(max_steps=20, eval_every=4, log_every=3, checkpoint_every=5,
                                                            checkpoint_path=str(ckpt)),
                   eval_fn=lambda m: {"n": 1}, resume=True)
    assert result.resumed_from == 10 and result.step == 20
    assert [e["step"] for e in result.evals] == [12, 16, 20]


def test_resume_with_more_steps_recomputes_the_cosine_decay(tmp_path):
    """Cosine over 10 steps, resumed at step 6 with max_steps=30: from then on the lr is the 30-step schedule's."""
    ckpt = tmp_path / "run.pt"
    short = quiet(max_steps=6, schedule="cosine", warmup_steps=2, checkpoint_path=str(ckpt))
    train(make_model(), get_batch, loss_fn, short)
    seen = []
    orig = torch.optim.AdamW.step

    def spy(self, *a, **k):
        seen.append(self.param_groups[0]["lr"])
        return orig(self, *a, **k)

    longer = quiet(max_steps=9, schedule="cosine", warmup_steps=2, checkpoint_path=str(ckpt))
    torch.optim.AdamW.step = spy
    try:
        train(make_model(), get_batch, loss_fn, longer, resume=True)
    finally:
        torch.optim.AdamW.step = orig
    assert seen == pytest.approx([0.01 * lr_lambda(s, longer) for s in (6, 7, 8)], rel=1e-12)


def test_resume_refuses_fewer_steps_than_done(tmp_path):
    ckpt = tmp_path / "run.pt"
    train(make_model(), get_batch, loss_fn, quiet(max_steps=8, checkpoint_path=str(ckpt)))
    with pytest.raises(ValueError, match=r"max_steps=5 is below the step the checkpoint run.pt reached \(8\)"):
        train(make_model(), get_batch, loss_fn, quiet(max_steps=5, checkpoint_path=str(ckpt)), resume=True)
    assert train(make_model(), get_batch, loss_fn, quiet(max_steps=8, checkpoint_path=str(ckpt)), resume=True).step == 8


# ---------------------------------------------------------------------------------------------
# a checkpoint that was written always loads: plain Python numbers at the boundary


@pytest.mark.parametrize("value, plain", [
    (np.float64(0.25), 0.25), (np.float32(0.5), 0.5), (np.float16(0.5), 0.5), (np.int64(3), 3), (np.int32(-2), -2),
    (np.uint8(7), 7), (np.bool_(True), True), (np.array(1.5), 1.5), (torch.tensor(0.75), 0.75),
    (torch.tensor(4), 4), (torch.tensor(True), True), (torch.tensor(0.5, dtype=torch.float64), 0.5),
    (torch.tensor(0.5, dtype=torch.bfloat16), 0.5), (0.125, 0.125), (2, 2), (False, False), ("a sample", "a sample"),
    (None, None),
])
def test_every_number_an_eval_callback_returns_is_saved_plainly(tmp_path, value, plain):
    ckpt = tmp_path / "run.pt"
    result = train(make_model(), get_batch, loss_fn, quiet(max_steps=2, checkpoint_path=str(ckpt)),
                   eval_fn=lambda m: {"metric": value})
    assert result.evals[-1]["metric"] == plain and type(result.evals[-1]["metric"]) is type(plain)
    state = torch.load(ckpt, weights_only=True)                   # what failed with UnpicklingError before
    assert type(state["evals"][-1]["metric"]) is type(plain)
    resumed = train(make_model(), get_batch, loss_fn, quiet(max_steps=3, checkpoint_path=str(ckpt)),
                    eval_fn=lambda m: {"metric": value}, resume=True)
    assert resumed.resumed_from == 2 and len(resumed.evals) == 2


@pytest.mark.parametrize("returned, error, match", [
    ({"acc": [0.5, 0.6]}, TypeError, "'acc' of type list"),
    ({"acc": {"a": 1}}, TypeError, "'acc' of type dict"),
    ({"acc": torch.tensor([0.5, 0.6])}, TypeError, r"'acc' with shape \(2,\)"),
    ({"acc": np.array([1.0, 2.0])}, TypeError, r"'acc' with shape \(2,\)"),
    ({"acc": object()}, TypeError, "'acc' of type object"),
    ({"acc": 1 + 2j}, TypeError, "'acc' of type complex"),
    ({3: 0.5}, TypeError, "metric names must be str"),
    ({"step": 1}, ValueError, "'step' key"),
    (0.5, TypeError, "eval_fn must return a dict"),
])
def test_an_eval_value_a_checkpoint_cannot_hold_fails_when_returned(tmp_path, returned, error, match):
    ckpt = tmp_path / "run.pt"
    with pytest.raises(error, match=match):
        train(make_model(), get_batch, loss_fn, quiet(max_steps=2, eval_every=1, checkpoint_path=str(ckpt)),
              eval_fn=lambda m: returned)
    assert not ckpt.exists()                                      # refused before anything was saved


def test_save_checkpoint_converts_numpy_and_refuses_what_would_not_load(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", make_model(), step=np.int64(3), losses=[np.float32(0.5)],
                           extra={"score": np.float64(1.5), "ids": (np.int64(1), 2), "note": "ok"})
    state = torch.load(path, weights_only=True)
    assert state["step"] == 3 and state["losses"] == [0.5] and type(state["losses"][0]) is float
    assert state["extra"] == {"score": 1.5, "ids": (1, 2), "note": "ok"} and type(state["extra"]["ids"][0]) is int
    for extra, where in (({"x": object()}, r"checkpoint\['extra'\]\['x'\] is of type object"),
                         ({"x": [1, np.zeros(3)]}, r"checkpoint\['extra'\]\['x'\]\[1\] is a NumPy array of shape \(3,\)")):
        with pytest.raises(TypeError, match=where):
            save_checkpoint(tmp_path / "bad.pt", make_model(), extra=extra)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]   # nothing written, no temp file left


def test_numpy_numbers_in_the_train_config_become_python_numbers(tmp_path):
    """lr from np.logspace is an np.float64: it reaches the optimizer state, so it must be a float when saved."""
    ckpt = tmp_path / "run.pt"
    config = quiet(max_steps=3, lr=np.logspace(-3, -2, 2)[1], warmup_steps=np.int64(1), checkpoint_path=ckpt)
    assert type(config.lr) is float and type(config.warmup_steps) is int and config.checkpoint_path == str(ckpt)
    train(make_model(), get_batch, loss_fn, config)
    resumed = train(make_model(), get_batch, loss_fn, quiet(max_steps=4, lr=0.01, warmup_steps=1,
                                                             checkpoint_path=str(ckpt)), resume=True)
    assert resumed.resumed_from == 3


# ---------------------------------------------------------------------------------------------
# a file that is not a checkpoint: a clear ValueError naming it


def _not_checkpoints(tmp_path):
    import json
    import zipfile

    from tinyformer.tokenizer import BPETokenizer

    files = {
        "notes.txt": ("a text file", lambda p: p.write_text("step 10 loss 2.3\n")),
        "config.json": ("a JSON file", lambda p: p.write_text(json.dumps({"lr": 0.001}))),
        "tok.json": ("a tokenizer JSON file", lambda p: BPETokenizer.train("abc abc", 258).save(p)),
        "empty.pt": ("an empty file", lambda p: p.write_bytes(b"")),
        "noise.pt": ("binary data", lambda p: p.write_bytes(bytes(range(256)))),
        "weights.pt": ("a bare state_dict", lambda p: torch.save(make_model().state_dict(), p)),
        "whole.pt": ("Python objects other than tensors", lambda p: torch.save(make_model(), p)),
        "list.pt": ("a PyTorch file holding a list", lambda p: torch.save([1, 2], p)),
        "kor.zip": ("a zip archive torch cannot read", lambda p: zipfile.ZipFile(p, "w").writestr("kor.txt", "x")),
    }
    good = save_checkpoint(tmp_path / "good.pt", make_model())
    files["cut.pt"] = ("truncated", lambda p: p.write_bytes(good.read_bytes()[:2000]))
    for name, (_, write) in files.items():
        write(tmp_path / name)
    return [(tmp_path / name, looks) for name, (looks, _) in files.items()]


def test_load_checkpoint_on_a_file_that_is_not_ours(tmp_path):
    for path, looks in _not_checkpoints(tmp_path):
        with pytest.raises(ValueError, match="is not a tinyformer checkpoint") as err:
            load_checkpoint(path, make_model())
        assert str(path) in str(err.value) and looks in str(err.value), str(err.value)


def test_a_checkpoint_of_several_processes_keeps_each_ones_rng_state(tmp_path):
    from tinyformer.checkpoint import get_rng_state

    torch.manual_seed(1)
    states = [get_rng_state()]
    torch.manual_seed(2)
    states.append(get_rng_state())                        # rank 1's streams differ from rank 0's
    state = load_checkpoint(save_checkpoint(tmp_path / "two.pt", nn.Linear(2, 2), rng_per_rank=states))
    assert len(state["rng_per_rank"]) == 2
    for saved, made in zip(state["rng_per_rank"], states):
        assert torch.equal(saved["torch"], made["torch"]) and list(saved["python"][1]) == list(made["python"][1])
    assert torch.equal(state["rng"]["torch"], states[0]["torch"])          # `rng` is rank 0's
    single = load_checkpoint(save_checkpoint(tmp_path / "one.pt", nn.Linear(2, 2)))
    assert "rng_per_rank" not in single                                   # one process: the file as before
    if not torch.cuda.is_available():
        assert set(single["rng"]) == {"torch", "python", "numpy"}


def test_compile_model_trains_through_torch_compile_and_saves_the_plain_state_dict(tmp_path, monkeypatch):
    compiled = []
    real_compile = torch.compile

    def eager_compile(module):                            # dynamo's tracing without a C++ compiler
        compiled.append(module)
        return real_compile(module, backend="eager")

    monkeypatch.setattr(torch, "compile", eager_compile)
    path = tmp_path / "c.pt"
    model = make_model(MLPConfig(dropout=0.0))
    result = train(model, get_batch, plain_loss,
                   quiet(max_steps=3, checkpoint_path=str(path)),
                   compile_model=True)
    assert compiled == [model]
    assert set(load_checkpoint(path)["model"]) == set(model.state_dict())          # no "_orig_mod." prefix
    plain = make_model(MLPConfig(dropout=0.0))
    again = train(plain, get_batch, plain_loss, quiet(max_steps=3))
    torch.testing.assert_close(torch.tensor(result.losses), torch.tensor(again.losses))
    for a, b in zip(params(model), params(plain)):
        torch.testing.assert_close(a, b)


def plain_loss(model, batch):
    x, y = batch
    return F.mse_loss(model(x), y)
