"""tinyformer.train on two processes (DistributedDataParallel, gloo on 127.0.0.1) takes the steps of one process.

The two processes are this file run as a script by `torchrun --standalone --nproc_per_node 2` (it
finds a free port itself); they join the group as the command line does (`init_distributed`), run
every 2-process training below once and end with `python -m tinyformer.lm train`'s `main`, writing
checkpoints the tests then compare with 1-process runs made here meanwhile. A tiny GPT in float64
(float32 for one figure), dropout 0 for the equality with one process, global batch 4 = 2 rows a process.
Starting the processes dominates (torch and torch._dynamo imports: about 30 s on two busy cores).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from tinyformer.checkpoint import read_checkpoint
import tinyformer.lm as lm
from tinyformer.distributed import init_distributed, rank_and_world, shard
from tinyformer.lm import evaluate_lm, lm_loss, load_gpt, make_get_batch
from tinyformer.model import GPT, GPTConfig
from tinyformer.train import TrainConfig, train

V, BATCH, SEQ, STEPS, HALF = 64, 4, 8, 6, 3
IDS = torch.randint(V, (400,), generator=torch.Generator().manual_seed(0))
HELD_OUT = torch.randint(V, (50,), generator=torch.Generator().manual_seed(1))
GET_BATCH = make_get_batch(IDS, BATCH, SEQ, seed=0)


def make_gpt(dropout: float = 0.0, dtype: torch.dtype = torch.float64) -> GPT:
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=V, block_size=16, d_model=16, n_heads=2, n_layers=1, d_ff=32, dropout=dropout)
    return GPT(config).to(dtype)


def run(path: Path, steps: int, *, dropout: float = 0.0, dtype: torch.dtype = torch.float64, resume: bool = False,
        loss_fn=lm_loss) -> GPT:
    """The same recipe on however many processes are running: AdamW, warmup, clipping, evals at 3 and 6."""
    model = make_gpt(dropout, dtype)
    config = TrainConfig(max_steps=steps, lr=1e-2, warmup_steps=2, schedule="inverse_sqrt", eval_every=3,
                         checkpoint_every=2, checkpoint_path=str(path), progress=False)
    train(model, GET_BATCH, loss_fn, config, eval_fn=lambda m: evaluate_lm(m, HELD_OUT, SEQ), resume=resume)
    return model


TINY = ["--vocab-size", "300", "--batch-size", "4", "--seq-len", "16", "--block-size", "32", "--d-model", "16",
        "--heads", "2", "--layers", "1", "--d-ff", "32", "--warmup-steps", "1", "--no-progress", "--checkpoint-every", "2"]


def worker(tmp: Path) -> None:
    """Every 2-process run the tests compare, in one process group, then the command line's main."""
    torch.set_num_threads(1)
    init_distributed("cpu")                              # from torchrun's environment, as the command line does
    rank, world = rank_and_world()
    assert world == 2 and dist.get_backend() == "gloo"
    rows: list[list[int]] = []

    def recording_loss(model, batch):                   # which windows this process trained on, step by step
        rows.append(batch[0][:, 0].tolist())
        return lm_loss(model, batch)

    run(tmp / "two.pt", STEPS, loss_fn=recording_loss)
    (tmp / f"rows{rank}.json").write_text(json.dumps(rows))
    run(tmp / "two_half.pt", HALF)                       # stopped at step 3 ...
    if rank == 0:
        shutil.copy(tmp / "two_half.pt", tmp / "two_resumed.pt")
        deadline = time.time() + 120
        while not (tmp / "one_half.pt").exists() and time.time() < deadline:   # the test writes it meanwhile
            time.sleep(0.05)
        shutil.copy(tmp / "one_half.pt", tmp / "one_to_two.pt")
    dist.barrier()
    run(tmp / "two_resumed.pt", STEPS, resume=True)      # ... and resumed to step 6
    run(tmp / "one_to_two.pt", STEPS, resume=True)       # a 1-process checkpoint continued by 2
    run(tmp / "two32.pt", STEPS, dtype=torch.float32)
    run(tmp / "drop.pt", STEPS, dropout=0.1)
    run(tmp / "drop_resumed.pt", HALF, dropout=0.1)
    run(tmp / "drop_resumed.pt", STEPS, dropout=0.1, resume=True)
    code = lm.main(["train", "--steps", "2", "--checkpoint", str(tmp / "cli.pt"), *TINY])   # ends the group
    sys.exit(code)


def _env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    if Path("/sys/class/net/lo").exists():               # gloo talks over the loopback, whatever the hostname says
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    return env


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The tmp dir holding the 2-process checkpoints, and the 1-process runs to compare them with."""
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("ddp")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", __file__, str(tmp)]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        run(tmp / "one_half.pt", HALF)                   # read by the workers: one process stopped at step 3
        one = {"one.pt": run(tmp / "one.pt", STEPS),    # meanwhile, the same runs on this one process
               "one32.pt": run(tmp / "one32.pt", STEPS, dtype=torch.float32)}
        out = proc.communicate(timeout=240)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, f"torchrun failed:\n{out}"
    shutil.copy(tmp / "two_half.pt", tmp / "two_to_one.pt")
    one["two_to_one.pt"] = run(tmp / "two_to_one.pt", STEPS, resume=True)   # a 2-process checkpoint continued by 1
    return tmp, one, out


def saved(path: Path) -> dict:
    return read_checkpoint(path)


def max_diff(a: dict, b: dict) -> float:
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


def test_each_process_trains_on_its_own_half_of_every_global_batch(runs):
    tmp, _, _ = runs
    rank0, rank1 = (json.loads((tmp / f"rows{r}.json").read_text()) for r in range(2))
    assert len(rank0) == len(rank1) == STEPS
    for step in range(STEPS):
        x, _ = GET_BATCH(step)
        assert rank0[step] + rank1[step] == x[:, 0].tolist()          # rows 0-1 on rank 0, rows 2-3 on rank 1
        assert len(rank0[step]) == BATCH // 2


def test_two_processes_reach_the_parameters_of_one(runs):
    tmp, one, _ = runs
    two = saved(tmp / "two.pt")
    ref = one["one.pt"].state_dict()
    diff = max_diff(two["model"], ref)
    print(f"float64: max |param(2 processes) - param(1 process)| after {STEPS} steps = {diff:.2e}")
    assert diff <= 1e-6
    single = saved(tmp / "one.pt")
    torch.testing.assert_close(torch.tensor(two["losses"]), torch.tensor(single["losses"]), rtol=0, atol=1e-9)
    assert [e["step"] for e in two["evals"]] == [3, 6]
    for a, b in zip(two["evals"], single["evals"]):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-9)


def test_float32_two_processes_stay_within_rounding_of_one(runs):
    """Every float32 parameter within 1e-6, but the key bias: its true gradient is exactly 0.

    b_K adds q . b_K to every score of a query, which the softmax ignores, so its gradient is rounding
    noise (~1e-9) of either run, and AdamW (eps 1e-9) turns noise into steps of up to lr: the two runs'
    noises differ. In float64 the noise (~1e-17) stays far below eps and moves nothing.
    """
    tmp, one, _ = runs
    two, ref = saved(tmp / "two32.pt")["model"], one["one32.pt"].state_dict()
    C = 16
    key_bias = "blocks.0.self_attn.in_proj_bias"
    for d in (two, ref):
        d[key_bias] = torch.cat([d[key_bias][:C], d[key_bias][2 * C:]])          # b_Q and b_V
    diff = max_diff(two, ref)
    print(f"float32: max |param(2 processes) - param(1 process)| after {STEPS} steps, b_K aside = {diff:.2e}")
    assert diff <= 1e-6


def test_a_resumed_two_process_run_equals_an_uninterrupted_one(runs):
    tmp, _, _ = runs
    straight, resumed = saved(tmp / "two.pt"), saved(tmp / "two_resumed.pt")
    assert resumed["step"] == straight["step"] == STEPS
    assert max_diff(straight["model"], resumed["model"]) == 0.0
    assert resumed["losses"] == straight["losses"]
    assert resumed["evals"] == straight["evals"]


def test_a_two_process_checkpoint_continues_on_one_process(runs):
    tmp, one, _ = runs
    assert saved(tmp / "two_half.pt")["step"] == HALF
    assert max_diff(one["two_to_one.pt"].state_dict(), one["one.pt"].state_dict()) <= 1e-6
    assert "rng_per_rank" not in saved(tmp / "two_to_one.pt")      # now written by one process


def test_a_one_process_checkpoint_continues_on_two_processes(runs):
    tmp, one, _ = runs
    assert max_diff(saved(tmp / "one_to_two.pt")["model"], one["one.pt"].state_dict()) <= 1e-6


def test_with_dropout_each_process_draws_its_own_masks_and_a_resume_is_exact(runs):
    tmp, _, _ = runs
    straight, resumed = saved(tmp / "drop.pt"), saved(tmp / "drop_resumed.pt")
    states = straight["rng_per_rank"]
    assert len(states) == 2 and not torch.equal(states[0]["torch"], states[1]["torch"])
    assert torch.equal(straight["rng"]["torch"], states[0]["torch"])
    assert max_diff(straight["model"], resumed["model"]) == 0.0       # each process got its own streams back
    assert resumed["losses"] == straight["losses"]
    assert max_diff(straight["model"], saved(tmp / "two.pt")["model"]) > 1e-4   # dropout did act


def test_shard_takes_a_contiguous_slice_of_every_tensor():
    x, y = torch.arange(12).view(6, 2), torch.arange(6)
    assert torch.equal(shard((x, y), 1, 3)[0], x[2:4]) and torch.equal(shard((x, y), 1, 3)[1], y[2:4])
    assert torch.equal(shard({"x": x}, 2, 3)["x"], x[4:6])
    assert isinstance(shard([x, y], 0, 2), list)
    with pytest.raises(ValueError, match="6 rows.*4 processes"):
        shard((x, y), 0, 4)
    with pytest.raises(TypeError, match="str"):
        shard("not a batch", 0, 2)


def test_world_size_without_a_process_group_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("WORLD_SIZE", "2")
    config = TrainConfig(max_steps=1, progress=False, checkpoint_path=str(tmp_path / "x.pt"))
    with pytest.raises(RuntimeError, match="WORLD_SIZE=2.*init_distributed"):
        train(make_gpt(), GET_BATCH, lm_loss, config)
    assert not (tmp_path / "x.pt").exists()


def test_the_command_line_trains_on_two_processes_and_resumes_on_one(runs, capsys):
    tmp, _, out = runs
    path = tmp / "cli.pt"
    assert out.count("saved") == 1 and "on 2 process(es)" in out       # rank 0 alone saves and reports
    assert out.count("held-out loss") == 1
    model, tokenizer, extra = load_gpt(path)
    assert extra["result"].step == 2 and len(extra["result"].losses) == 2
    assert len(read_checkpoint(path.with_suffix(".run.pt"))["rng_per_rank"]) == 2
    assert lm.main(["train", "--steps", "3", "--resume", "--checkpoint", str(path), *TINY]) == 0
    assert "resumed from step 2" in capsys.readouterr().out
    assert load_gpt(path)[2]["result"].step == 3


if __name__ == "__main__":
    worker(Path(sys.argv[1]))
