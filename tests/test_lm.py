"""The notebook-08 GPT recipe: data, batches, loss, held-out evaluation, training, checkpoints."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import tinyformer.lm as lm
from tinyformer.corpus import python_docs_split
from tinyformer.lm import (
    LMRecipe,
    build_data,
    evaluate_lm,
    load_gpt,
    load_or_train_gpt,
    lm_loss,
    make_get_batch,
    save_gpt,
    train_gpt,
)
from tinyformer.model import GPT, GPTConfig

V = 300


def tiny_recipe(**changes) -> LMRecipe:
    args = dict(vocab_size=V, steps=4, batch_size=2, seq_len=16, lr=3e-3, warmup_steps=1,
                model=GPTConfig(vocab_size=V, block_size=32, d_model=16, n_heads=2, n_layers=1, d_ff=32))
    return LMRecipe(**(args | changes))


@pytest.fixture(scope="module")
def data():
    return build_data(V)


def tiny_model(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(tiny_recipe().model)


def test_build_data_encodes_the_split_losslessly(data):
    train_text, held_out_text = python_docs_split()
    assert data.tokenizer.vocab_size == V
    assert data.tokenizer.decode(data.train_ids.tolist()) == train_text
    assert data.tokenizer.decode(data.held_out_ids.tolist()) == held_out_text
    assert data.train_ids.dtype == torch.long and data.train_ids.max() < V


def test_batches_are_shifted_windows_and_a_function_of_the_step():
    ids = torch.arange(100) * 3  # the value tells the position
    get_batch = make_get_batch(ids, batch_size=4, seq_len=8, seed=1)
    x, y = get_batch(7)
    assert x.shape == y.shape == (4, 8)
    torch.testing.assert_close(y, x + 3)  # y is x one position later
    torch.testing.assert_close(x[:, 1:] - x[:, :-1], torch.full((4, 7), 3))  # contiguous windows
    x2, _ = get_batch(7)
    assert torch.equal(x, x2)
    assert not torch.equal(x, get_batch(8)[0])
    assert not torch.equal(x, make_get_batch(ids, 4, 8, seed=2)(7)[0])
    with pytest.raises(ValueError, match="seq_len"):
        make_get_batch(torch.arange(5), 2, 8)


def test_batches_draw_every_window_that_fits():
    """A window is seq_len + 1 tokens: with N tokens the starts are exactly 0 .. N - seq_len - 1."""
    x, y = make_get_batch(torch.arange(8), batch_size=1, seq_len=7)(0)  # exactly one window fits
    assert x.tolist() == [list(range(7))] and y.tolist() == [list(range(1, 8))]
    with pytest.raises(ValueError, match="too few for one window of seq_len=7"):
        make_get_batch(torch.arange(7), batch_size=1, seq_len=7)
    get_batch = make_get_batch(torch.arange(100), batch_size=64, seq_len=7, seed=3)
    starts = torch.cat([get_batch(step)[0][:, 0] for step in range(60)])
    assert set(starts.tolist()) == set(range(93))  # 0..92: every valid start, and no other
    assert max(get_batch(step)[1].max().item() for step in range(60)) == 99  # the last token is a target


def test_lm_loss_is_mean_next_token_cross_entropy():
    model = tiny_model()
    x = torch.randint(0, V, (2, 5), generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, V, (2, 5), generator=torch.Generator().manual_seed(1))
    logits = model(x)
    by_hand = sum(-F.log_softmax(logits[b, t], -1)[y[b, t]] for b in range(2) for t in range(5)) / 10
    torch.testing.assert_close(lm_loss(model, (x, y)), by_hand)


def test_evaluate_lm_averages_over_non_overlapping_windows():
    model = tiny_model().eval()
    ids = torch.randint(0, V, (50,), generator=torch.Generator().manual_seed(2))
    got = evaluate_lm(model, ids, seq_len=16, batch_size=2)  # 3 windows: 0..15, 16..31, 32..47
    with torch.no_grad():
        losses = [F.cross_entropy(model(ids[s : s + 16][None])[0], ids[s + 1 : s + 17], reduction="sum") for s in (0, 16, 32)]
    want = float(sum(losses)) / 48
    assert got["loss"] == pytest.approx(want, rel=1e-5)
    assert got["perplexity"] == pytest.approx(math.exp(want), rel=1e-5)
    assert got["loss"] == pytest.approx(math.log(V), abs=0.2)  # an untrained model is near uniform


def test_training_lowers_held_out_loss_and_is_deterministic(data):
    recipe = tiny_recipe(steps=30)
    model, result = train_gpt(data, recipe, progress=False)
    start = evaluate_lm(tiny_model(), data.held_out_ids, recipe.seq_len)["loss"]
    assert result.evals[-1]["loss"] < start - 0.5
    again, _ = train_gpt(data, recipe, progress=False)
    for (name, a), b in zip(model.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), name


def test_save_load_round_trip(data, tmp_path):
    recipe = tiny_recipe()
    model, result = train_gpt(data, recipe, progress=False)
    path = save_gpt(tmp_path / "gpt.pt", model, data.tokenizer, recipe, result.evals[-1])
    loaded, tokenizer, extra = load_gpt(path)
    assert (tmp_path / "gpt.tokenizer.json").is_file()
    assert not loaded.training
    x = torch.tensor([data.tokenizer.encode("The for statement")])
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
    assert tokenizer.encode("if x:\n    pass") == data.tokenizer.encode("if x:\n    pass")
    assert extra["metrics"]["loss"] == result.evals[-1]["loss"]
    assert extra["recipe"]["steps"] == recipe.steps


def test_load_or_train_reuses_a_matching_checkpoint_and_retrains_otherwise(tmp_path, monkeypatch):
    path = tmp_path / "gpt.pt"
    model, tokenizer, extra = load_or_train_gpt(path, tiny_recipe(), progress=False)
    assert path.is_file()

    def no_training(*args, **kwargs):
        raise AssertionError("should have loaded the checkpoint")

    monkeypatch.setattr(lm, "train_gpt", no_training)
    loaded, _, extra2 = load_or_train_gpt(path, tiny_recipe(), progress=False)
    assert extra2["metrics"] == pytest.approx(extra["metrics"])
    with pytest.raises(AssertionError, match="should have loaded"):
        load_or_train_gpt(path, tiny_recipe(steps=5), progress=False)  # another recipe: must retrain


def test_load_or_train_keeps_the_history_and_retrains_when_asked(tmp_path, monkeypatch, data):
    path = tmp_path / "gpt.pt"
    _, _, trained = load_or_train_gpt(path, tiny_recipe(), progress=False, data=data)
    _, _, loaded = load_or_train_gpt(path, tiny_recipe(), progress=False)
    for extra in (trained, loaded):  # what a notebook plots, whether it trained now or loaded
        assert extra["result"].step == 4 and len(extra["result"].losses) == 4 and extra["result"].evals
    assert loaded["result"].losses == trained["result"].losses
    assert loaded["result"].evals == trained["result"].evals
    calls = []
    monkeypatch.setattr(lm, "train_gpt", lambda *a, **k: calls.append(1) or pytest.fail("retrained"))
    with pytest.raises(pytest.fail.Exception, match="retrained"):
        load_or_train_gpt(path, tiny_recipe(), progress=False, retrain=True, data=data)
    with pytest.raises(pytest.fail.Exception, match="retrained"):  # batches drawn differently: stale
        load_or_train_gpt(path, tiny_recipe(data_version=1), progress=False, data=data)
    with pytest.raises(TypeError, match="retrain"):
        load_or_train_gpt(path, tiny_recipe(), progress=False, retrain="yes")
    assert len(calls) == 2


def test_the_default_checkpoint_lives_in_the_generated_dir():
    from tinyformer.utils import generated_dir

    assert lm.DEFAULT_CHECKPOINT.parent == generated_dir()


def test_resume_applies_more_steps_and_refuses_a_changed_recipe(data, tmp_path):
    ckpt = tmp_path / "run.pt"
    _, first = train_gpt(data, tiny_recipe(steps=3), progress=False, checkpoint_path=ckpt)
    for change, shown in ((dict(lr=0.1), "lr: checkpoint 0.003, now 0.1"),
                          (dict(warmup_steps=2), "warmup_steps: checkpoint 1, now 2"),
                          (dict(batch_size=3), "batch_size: checkpoint 2, now 3"),
                          (dict(seq_len=8), "seq_len: checkpoint 16, now 8"),
                          (dict(seed=1), "seed: checkpoint 0, now 1")):
        with pytest.raises(ValueError, match=shown):
            train_gpt(data, tiny_recipe(steps=6, **change), progress=False, checkpoint_path=ckpt, resume=True)
    _, result = train_gpt(data, tiny_recipe(steps=6), progress=False, checkpoint_path=ckpt, resume=True)
    assert result.resumed_from == 3 and result.step == 6 and result.losses[:3] == first.losses


def test_load_gpt_on_files_that_are_not_a_gpt(data, tmp_path):
    from tinyformer.checkpoint import save_checkpoint

    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    with pytest.raises(ValueError, match=f"{text} is not a tinyformer checkpoint: it looks like a text file"):
        load_gpt(text)
    other = save_checkpoint(tmp_path / "other.pt", torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="not a GPT saved by save_gpt"):
        load_gpt(other)
    recipe = tiny_recipe(steps=1)
    model, _ = train_gpt(data, recipe, progress=False)
    path = save_gpt(tmp_path / "gpt.pt", model, data.tokenizer, recipe)
    (tmp_path / "gpt.tokenizer.json").unlink()
    with pytest.raises(FileNotFoundError, match="gpt.tokenizer.json"):
        load_gpt(path)
    with pytest.raises(ValueError, match="not a tinyformer checkpoint"):
        load_or_train_gpt(text, recipe, progress=False)  # refused, not overwritten
    assert text.read_text() == "hello\n"


def test_recipe_validation():
    with pytest.raises(ValueError, match="vocab_size"):
        LMRecipe(vocab_size=512)  # the default model has vocab 1024
    with pytest.raises(ValueError, match="seq_len"):
        tiny_recipe(seq_len=64)


# ---------------------------------------------------------------------------------------------
# devices and the command line


def test_the_loss_is_float32_on_the_cpu_and_bfloat16_autocast_on_cuda():
    assert lm.loss_for_device("cpu") is lm_loss
    assert lm.loss_for_device(torch.device("cuda", 0)) is lm.lm_loss_bf16


def test_train_gpt_refuses_a_device_that_is_not_here(data):
    with pytest.raises(ValueError, match="prefer='tpu' is not a device"):
        train_gpt(data, tiny_recipe(), progress=False, device="tpu")
    with pytest.raises(TypeError, match="device must be a str or a torch.device"):
        train_gpt(data, tiny_recipe(), progress=False, device=0)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="'cuda' is not available"):
            train_gpt(data, tiny_recipe(), progress=False, device="cuda")


def test_the_command_line_help_runs_as_a_module():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "tinyformer.lm", "train", "--help"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    for flag in ("--steps", "--checkpoint", "--resume", "--device", "--compile", "torchrun --standalone"):
        assert flag in out.stdout, flag


def test_the_command_line_defaults_are_notebook_08s_recipe():
    args = lm._parser().parse_args(["train", "--checkpoint", "gpt.pt"])
    assert lm._recipe_from_args(args) == LMRecipe()
    assert args.device == "cpu" and not args.compile and not args.resume


CLI_TINY = ["--vocab-size", str(V), "--batch-size", "2", "--seq-len", "16", "--block-size", "32", "--d-model", "16",
            "--heads", "2", "--layers", "1", "--d-ff", "32", "--warmup-steps", "1", "--no-progress"]


def test_the_command_line_trains_saves_and_resumes_like_train_gpt(data, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(lm, "build_data", lambda vocab_size: data)
    path = tmp_path / "gpt.pt"
    assert lm.main(["train", "--steps", "4", "--checkpoint", str(path), "--checkpoint-every", "2", *CLI_TINY]) == 0
    out = capsys.readouterr().out
    assert "step     4  held-out loss" in out and f"saved {path} after 4 steps on 1 process(es) (cpu)" in out
    model, _, extra = load_gpt(path)
    direct, result = train_gpt(data, tiny_recipe(), progress=False)    # the same recipe through the library
    assert extra["recipe"] == lm._recipe_dict(tiny_recipe())
    assert extra["result"].losses == result.losses
    for (name, a), b in zip(model.state_dict().items(), direct.state_dict().values()):
        assert torch.equal(a, b), name
    assert path.with_suffix(".run.pt").is_file()
    assert lm.main(["train", "--steps", "5", "--resume", "--checkpoint", str(path), *CLI_TINY]) == 0
    assert "resumed from step 4" in capsys.readouterr().out
    assert load_gpt(path)[2]["result"].losses[:4] == result.losses
    assert lm.main(["train", "--steps", "6", "--resume", "--lr", "0.1", "--checkpoint", str(path), *CLI_TINY]) == 2
    assert "lr: checkpoint 0.003, now 0.1" in capsys.readouterr().err
    assert lm.main(["train", "--steps", "0", "--batch-size", "0", "--checkpoint", str(path)]) == 2
    assert "batch_size=0" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# benchmarks/gpu_train.py: the CUDA run itself needs a GPU; its arithmetic, its step and its skip do not


def _gpu_benchmark():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_train.py"
    spec = importlib.util.spec_from_file_location("gpu_train", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, path


def test_gpu_benchmark_says_plainly_that_it_skipped_without_cuda():
    import os
    import subprocess
    import sys

    _, path = _gpu_benchmark()
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, CUDA_VISIBLE_DEVICES=""))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "gpu_train_mfu: skipped (no CUDA device)"


def test_gpu_benchmark_peaks_and_mfu_arithmetic():
    g, _ = _gpu_benchmark()
    assert g.peak_flops("NVIDIA H200") == g.peak_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert g.peak_flops("NVIDIA H100 PCIe") == 756e12
    assert g.peak_flops("NVIDIA A100-SXM4-80GB") == 312e12
    assert g.peak_flops("NVIDIA L40S") == 362e12 and g.peak_flops("NVIDIA L4") == 121e12
    assert g.peak_flops("Tesla T4") is None
    # 124M parameters at 500k tokens/s: 6 * 124e6 * 5e5 = 3.72e14 FLOP/s, 37.6 % of 989 TFLOP/s
    assert g.mfu(124_000_000, 500_000, 989e12) == pytest.approx(0.3761, abs=1e-4)


def test_gpu_benchmark_step_runs_on_the_cpu(capsys):
    g, _ = _gpu_benchmark()
    args = ["--device", "cpu", "--steps", "1", "--warmup", "1", "--batch-size", "2", "--seq-len", "8",
            "--vocab-size", "64", "--d-model", "16", "--heads", "2", "--layers", "1", "--peak-tflops", "1"]
    assert g.main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"gpu_train_mfu: \d+\.\d{3}", lines[-1]), lines[-1]
    assert "tokens/s" in lines[-3] and "float32" in lines[-4]
