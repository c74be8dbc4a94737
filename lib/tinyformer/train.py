"""A small, generic training loop: AdamW, warmup + decay, gradient clipping, checkpoints, exact resume.

The caller gives two functions: `get_batch(step) -> batch`, a deterministic function of the step
(so "where we are in the data" is just the step number), and `loss_fn(model, batch) -> loss`.
The same loop trains the encoder-decoder translator (notebook 07) and the GPT (notebook 08).

Schedule: linear warmup to `lr`, then cosine decay to `min_lr_ratio * lr` or the inverse square
root of "Attention Is All You Need" (Vaswani et al. 2017, eq. 3, with the peak set by `lr`).
Label smoothing (Szegedy et al. 2016): the target puts 1 - eps on the right token and spreads eps
uniformly over the vocabulary; `label_smoothed_cross_entropy` writes it out by hand.

Checkpoints (checkpoint.py) hold the model, optimizer, scheduler, step, every RNG state and the
loss history, and are written atomically; resuming from one continues exactly as if the run had
never stopped. So a resume refuses changed settings that decide how a step is taken (lr, warmup,
schedule, weight decay, betas, eps, clipping, the model config, and the caller's `run_config`:
batch size, label smoothing, seed, ...), naming each with both values; it applies the ones in
`RESUME_MAY_CHANGE` (how long to run, what to report and save).

Several processes (`torchrun`, see distributed.py): when a `torch.distributed` process group is
initialised, the model is wrapped in `DistributedDataParallel`; process r takes rows
[r*B/W, (r+1)*B/W) of every global batch get_batch(step), so W processes take the steps one process
takes on the whole batch when the loss is a mean over rows. The logged loss is the mean over
processes; rank 0 alone evaluates (the metrics are sent to all), shows the bar and writes checkpoints
(the unwrapped model's state_dict: it resumes at any world size). RNG: each process gets its own torch
stream (its dropout masks differ); Python's and NumPy's stay alike on all processes. A checkpoint
keeps every process's RNG state, so a resume with the same number of processes is exact even with
dropout; with another number, every process starts from rank 0's state and splits it again (same
batches, other dropout masks). One process without a process group runs exactly as before.
Batches are moved to the model's device; mixed precision is the loss function's choice (e.g.
`lm.lm_loss_bf16`). Left out: gradient accumulation, sharded optimizers.
Shapes: `N` positions (B*T flattened), `V` vocab.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn as nn
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from .checkpoint import (ConfigMismatchError, config_dict, config_diff, fill_defaults, get_rng_state, plain_metrics,
                         read_checkpoint, restore_checkpoint, save_checkpoint, set_rng_state)
from .distributed import broadcast_object, check_environment, gather_objects, rank_and_world, shard, to_device

__all__ = [
    "RESUME_MAY_CHANGE",
    "TrainConfig",
    "TrainResult",
    "label_smoothed_cross_entropy",
    "lr_lambda",
    "make_optimizer",
    "make_scheduler",
    "check_resume",
    "train",
]

SCHEDULES = ("cosine", "inverse_sqrt", "constant")
# The TrainConfig fields a resumed run may change; the new value applies. They decide how long to run
# and what to report or save, not how a step is taken. A new max_steps must be >= the step reached;
# with the cosine schedule the decay is recomputed over the new total, so the learning rate moves to
# where the longer (or shorter) schedule is at this step. Every other field must match the checkpoint.
RESUME_MAY_CHANGE = ("max_steps", "eval_every", "checkpoint_every", "checkpoint_path", "max_seconds", "progress",
                     "log_every")


@dataclass
class TrainConfig:
    """Everything that decides a training run (except the model, the data and the loss)."""

    max_steps: int = 1000
    lr: float = 1e-3                   # peak learning rate, reached at the end of warmup
    warmup_steps: int = 100
    schedule: str = "cosine"           # "cosine", "inverse_sqrt" or "constant" after warmup
    min_lr_ratio: float = 0.1          # cosine decays to lr * min_lr_ratio
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-9
    grad_clip: float | None = 1.0      # max global gradient norm; None = no clipping
    eval_every: int = 0                # 0 = only at the end (if an eval_fn is given)
    checkpoint_every: int = 0          # 0 = only at the end (if a checkpoint_path is given)
    checkpoint_path: str | None = None
    max_seconds: float | None = None   # stop after this much wall-clock training time (evaluation not counted)
    progress: bool = True              # tqdm bar with the live loss
    log_every: int = 10                # how often the bar's loss is refreshed

    def __post_init__(self) -> None:
        for name in ("max_steps", "warmup_steps", "eval_every", "checkpoint_every", "log_every"):
            setattr(self, name, _int(name, getattr(self, name), minimum=1 if name == "log_every" else 0))
        for name in ("lr", "min_lr_ratio", "weight_decay", "eps"):
            setattr(self, name, _float(name, getattr(self, name)))
        if not self.lr > 0:
            raise ValueError(f"lr={self.lr} must be > 0")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule={self.schedule!r} is unknown; choose one of {', '.join(SCHEDULES)}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"min_lr_ratio={self.min_lr_ratio} must be in [0, 1]")
        if self.weight_decay < 0 or not self.eps > 0:
            raise ValueError(f"weight_decay={self.weight_decay} must be >= 0 and eps={self.eps} > 0")
        if isinstance(self.betas, (str, bytes)) or not hasattr(self.betas, "__len__") or len(self.betas) != 2:
            raise ValueError(f"betas={self.betas!r} must be two numbers in [0, 1), e.g. (0.9, 0.98)")
        self.betas = tuple(_float("betas", b) for b in self.betas)
        if not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas={self.betas} must be two numbers in [0, 1)")
        for name in ("grad_clip", "max_seconds"):
            value = getattr(self, name)
            if value is not None and not _float(name, value) > 0:
                raise ValueError(f"{name}={value} must be > 0 or None")
            setattr(self, name, None if value is None else float(value))
        if self.checkpoint_path is not None:
            if not isinstance(self.checkpoint_path, (str, os.PathLike)):
                raise TypeError(f"checkpoint_path must be a str, a path or None, got {type(self.checkpoint_path).__name__}")
            self.checkpoint_path = str(self.checkpoint_path)
        if not isinstance(self.progress, bool):
            raise TypeError(f"progress must be True or False, got {self.progress!r}")


def _int(name: str, value: Any, minimum: int = 0) -> int:
    """`value` as a plain int >= minimum (a NumPy integer too); ValueError naming `name` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an int >= {minimum}")
    return int(value)


def _float(name: str, value: Any) -> float:
    """`value` as a plain finite float (an int or a NumPy number too): a checkpoint then always loads."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} ({value!r})")
    if not math.isfinite(value):
        raise ValueError(f"{name}={value} must be a finite number")
    return float(value)


@dataclass
class TrainResult:
    """What `train` hands back: the step reached, the loss of every step and the evaluations."""

    step: int
    losses: list[float] = field(default_factory=list)
    evals: list[dict[str, float]] = field(default_factory=list)   # each has a "step" key
    seconds: float = 0.0                                          # training time, evaluation excluded
    resumed_from: int | None = None


# ---------------------------------------------------------------------------------------------
# loss


def label_smoothed_cross_entropy(logits: torch.Tensor, target: torch.Tensor, smoothing: float = 0.1,
                                 ignore_index: int | None = None) -> torch.Tensor:
    """Mean cross-entropy against (1 - smoothing) * one_hot + smoothing / V, skipping `ignore_index`.

    Same definition as `F.cross_entropy(..., label_smoothing=smoothing, ignore_index=...)`.
    `logits` (..., V), `target` (...) long. Raises TypeError for other dtypes, ValueError for
    disagreeing shapes or smoothing outside [0, 1).
    """
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise TypeError(f"logits must be a float tensor (..., V), got {_describe(logits)}")
    if not isinstance(target, torch.Tensor) or target.is_floating_point() or target.dtype == torch.bool:
        raise TypeError(f"target must be an integer tensor of class ids, got {_describe(target)}")
    if logits.shape[:-1] != target.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and target {tuple(target.shape)} disagree; "
                         "expected logits (..., V) and target (...)")
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing={smoothing} must be in [0, 1)")
    V = logits.shape[-1]
    logits = logits.reshape(-1, V)                                   # (N, V)
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    logp = F.log_softmax(logits, dim=-1)                             # (N, V)
    target = target.reshape(-1)                                      # (N,)
    keep = torch.ones_like(target, dtype=torch.bool) if ignore_index is None else target != ignore_index
    safe = torch.where(keep, target, torch.zeros_like(target))
    nll = -logp.gather(1, safe[:, None]).squeeze(1)                  # (N,) the one-hot part
    uniform = -logp.mean(dim=-1)                                     # (N,) the spread part
    per_token = (1 - smoothing) * nll + smoothing * uniform
    return (per_token * keep).sum() / keep.sum().clamp(min=1)


# ---------------------------------------------------------------------------------------------
# optimizer and schedule


def lr_lambda(step: int, config: TrainConfig) -> float:
    """Multiplier of `config.lr` at `step`: linear warmup, then the chosen decay."""
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    step = _int("step", step)
    w = config.warmup_steps
    if w > 0 and step < w:
        return (step + 1) / w
    if config.schedule == "constant":
        return 1.0
    if config.schedule == "inverse_sqrt":
        return math.sqrt(max(w, 1) / (step + 1))
    decay_steps = max(config.max_steps - w, 1)
    progress = min(max(step - w, 0) / decay_steps, 1.0)
    cosine = 0.5 * (1 + math.cos(math.pi * progress))
    return config.min_lr_ratio + (1 - config.min_lr_ratio) * cosine


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (biases, norms and 1-d parameters are not decayed)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas, eps=config.eps)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_lambda(step, config))


# ---------------------------------------------------------------------------------------------
# the loop


def _evaluate(model: nn.Module, eval_fn: Callable[[nn.Module], dict[str, float]], step: int) -> dict[str, Any]:
    """Run `eval_fn` in eval mode without touching the training RNG streams."""
    rng = get_rng_state()
    was_training = model.training
    model.eval()
    with torch.no_grad():
        metrics = eval_fn(model)
    model.train(was_training)
    set_rng_state(rng)
    return plain_metrics(metrics, step)


def check_resume(path: str | os.PathLike, config: TrainConfig, *, model_config: Any = None,
                 run_config: Any = None) -> dict[str, Any]:
    """Read the checkpoint at `path` for a resume with `config`; refuse settings that changed.

    Raises ConfigMismatchError (a ValueError) naming every changed field with both values: a
    TrainConfig field not in RESUME_MAY_CHANGE, any `model_config` or `run_config` field (those the
    checkpoint saved); ValueError if `config.max_steps` is below the step it reached; and whatever
    `read_checkpoint` raises for a file that is not a checkpoint. Returns the checkpoint's dict.
    """
    state = read_checkpoint(path)
    diff: list[str] = []
    for saved, now, ignore in ((state.get("model_config"), model_config, ()),
                               (state.get("train_config"), config, RESUME_MAY_CHANGE),
                               (state.get("run_config"), run_config, ())):
        saved = fill_defaults(saved, now)  # a field added since the save: the checkpoint used its default
        now = config_dict(now)
        if saved is not None and now is not None:
            diff += [d for d in config_diff(saved, now, ignore) if d not in diff]
    if diff:
        raise ConfigMismatchError(
            f"cannot resume from checkpoint {Path(path).name} with other settings: {'; '.join(diff)}. A resumed run "
            f"continues the saved one exactly; only {', '.join(RESUME_MAY_CHANGE)} may change. Use the checkpoint's "
            "values, or start a new run with another checkpoint_path (load_checkpoint(path, model) gives it the "
            "saved weights).")
    if config.max_steps < state["step"]:
        raise ValueError(f"max_steps={config.max_steps} is below the step the checkpoint {Path(path).name} reached "
                         f"({state['step']}); ask for max_steps >= {state['step']}")
    return state


def _split_rng(state: dict[str, Any] | None, rank: int, world: int) -> None:
    """Give each of `world` processes its own torch stream (dropout), or restore each one's saved streams.

    Every process arrives here with the same RNG state (seeded alike, or rank 0's restored). A
    checkpoint written by as many processes holds each one's state: restore it (an exact resume).
    Otherwise draw one seed (the same on all processes) and seed torch with seed + rank.
    """
    saved = state.get("rng_per_rank") if state is not None else None
    if saved is not None and len(saved) == world:
        set_rng_state(saved[rank])
        return
    seed = int(torch.randint(2**62, (1,)).item())
    torch.manual_seed(seed + rank)


def _agree(loss: float, stop: bool, device: torch.device) -> tuple[float, bool]:
    """(mean of every process's loss, whether any process must stop): one all-reduce, the same on all."""
    on = device if dist.get_backend() == "nccl" else torch.device("cpu")
    stats = torch.tensor([loss, float(stop)], dtype=torch.float64, device=on)
    dist.all_reduce(stats)
    return stats[0].item() / dist.get_world_size(), stats[1].item() > 0


def _device_of(model: nn.Module) -> torch.device:
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def _check_callables(**functions: Any) -> None:
    for name, fn in functions.items():
        if fn is not None and not callable(fn):
            raise TypeError(f"{name} must be a function, got {type(fn).__name__}")


def train(model: nn.Module, get_batch: Callable[[int], Any], loss_fn: Callable[[nn.Module, Any], torch.Tensor],
          config: TrainConfig, *, eval_fn: Callable[[nn.Module], dict[str, float]] | None = None,
          model_config: Any = None, run_config: Any = None, resume: bool = False,
          on_eval: Callable[[dict[str, float]], None] | None = None, compile_model: bool = False) -> TrainResult:
    """Train `model` for `config.max_steps` steps; with `resume=True` continue from `config.checkpoint_path`.

    Each step: batch = get_batch(step); loss = loss_fn(model, batch) (a 0-d tensor); backward; clip;
    AdamW; schedule. `eval_fn(model) -> {name: number}` runs every `eval_every` steps and at the end;
    its values are stored as plain Python numbers (NumPy scalars and 0-d tensors are converted; other
    types raise TypeError at once). `on_eval` sees each result as it arrives (e.g. to print a line).
    `run_config` (a dataclass or dict) holds the caller's settings behind get_batch and loss_fn
    (batch size, label smoothing, seed, ...); it is saved with each checkpoint.

    A resumed run continues exactly where the checkpoint left off: same parameters, optimizer moments,
    learning rate, RNG and data position. It refuses (ConfigMismatchError, naming each field with both
    values) a changed model_config, run_config or TrainConfig field outside RESUME_MAY_CHANGE.
    Raises TypeError/ValueError for a bad argument before any step.

    Under an initialised `torch.distributed` process group the steps are data-parallel (see the module
    docstring); RuntimeError if WORLD_SIZE > 1 and none is. `compile_model=True` runs the forward and
    backward through `torch.compile` (the checkpoint still holds the plain model's state_dict).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    _check_callables(get_batch=get_batch, loss_fn=loss_fn, eval_fn=eval_fn, on_eval=on_eval)
    if get_batch is None or loss_fn is None:
        raise TypeError("get_batch and loss_fn must be functions, got None")
    if resume and config.checkpoint_path is None:
        raise ValueError("resume=True needs config.checkpoint_path")
    check_environment()
    rank, world = rank_and_world()
    device = _device_of(model)
    ckpt = Path(config.checkpoint_path) if config.checkpoint_path else None
    state = check_resume(ckpt, config, model_config=model_config, run_config=run_config) \
        if resume and ckpt.is_file() else None
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config)
    result = TrainResult(step=0)
    if state is not None:
        restore_checkpoint(state, model, optimizer=optimizer, scheduler=scheduler, restore_rng=True)
        for group, base in zip(optimizer.param_groups, scheduler.base_lrs):   # a new max_steps applies now
            group["lr"] = base * lr_lambda(scheduler.last_epoch, config)
        result.step = result.resumed_from = state["step"]
        result.losses, result.evals = list(state["losses"]), list(state["evals"])
    net = model                                    # what the steps call: the model, or a wrapper around it
    if world > 1:
        _split_rng(state, rank, world)
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if compile_model:
        net = torch.compile(net)

    def checkpoint() -> None:
        if ckpt is None:
            return
        rngs = gather_objects(get_rng_state()) if world > 1 else None
        if rank == 0:
            save_checkpoint(ckpt, model, optimizer=optimizer, scheduler=scheduler, step=result.step,
                            model_config=model_config, train_config=config, run_config=run_config,
                            losses=result.losses, evals=result.evals, rng_per_rank=rngs)
        if world > 1:
            dist.barrier()                         # the file is complete before any process goes on

    eval_seconds = 0.0

    def evaluate() -> None:
        nonlocal eval_seconds
        metrics = None
        if rank == 0:
            t = time.perf_counter()
            metrics = _evaluate(model, eval_fn, result.step)
            eval_seconds += time.perf_counter() - t
        if world > 1:
            metrics = broadcast_object(metrics)
        result.evals.append(metrics)
        if on_eval is not None and rank == 0:
            on_eval(metrics)

    start = time.perf_counter()
    net.train()
    # At most one redraw a second: plenty for a live view, and few enough messages that a long run in a
    # notebook does not overflow the kernel's output channel (nbval then loses the end of the cell).
    bar = tqdm(total=config.max_steps, initial=result.step, disable=not config.progress or rank != 0, desc="train",
               mininterval=1.0)
    while result.step < config.max_steps:
        batch = get_batch(result.step)
        if world > 1:
            batch = shard(batch, rank, world)
        if device.type != "cpu":
            batch = to_device(batch, device)
        loss = loss_fn(net, batch)
        if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
            raise TypeError(f"loss_fn must return a 0-d tensor (one number), got {_describe(loss)}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip is not None:          # under DDP the gradients are already averaged: the same on all
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        scheduler.step()
        result.step += 1
        loss_value = loss.item()
        out_of_time = config.max_seconds is not None and time.perf_counter() - start - eval_seconds > config.max_seconds
        if world > 1:                              # every process logs the global loss and stops at the same step
            loss_value, out_of_time = _agree(loss_value, out_of_time, device)
        result.losses.append(loss_value)
        bar.update(1)
        if result.step % config.log_every == 0 or result.step == config.max_steps:
            recent = result.losses[-config.log_every:]
            bar.set_postfix(loss=f"{sum(recent) / len(recent):.4f}", lr=f"{scheduler.get_last_lr()[0]:.2e}",
                            refresh=False)
        last = result.step == config.max_steps or out_of_time
        if eval_fn is not None and ((config.eval_every and result.step % config.eval_every == 0) or last):
            evaluate()
        if (config.checkpoint_every and result.step % config.checkpoint_every == 0) or last:
            checkpoint()
        if out_of_time:
            break
    bar.close()
    result.seconds = time.perf_counter() - start - eval_seconds
    return result


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    return f"a {type(value).__name__}"
