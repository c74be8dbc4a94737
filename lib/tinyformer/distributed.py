"""Data-parallel training helpers: the same loop on one process or many, with PyTorch's own engine.

Under `torchrun` every process runs the same script. `init_distributed()` joins the process group
torchrun describes in the environment (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR/PORT): gloo on the
CPU, NCCL on CUDA. `tinyformer.train.train` then sees `torch.distributed.is_initialized()` and wraps
the model in `DistributedDataParallel`; it never starts a process group itself, and it refuses to run
with WORLD_SIZE > 1 and no process group (each process would train alone and overwrite the others'
checkpoints).

Data parallelism (Li et al. 2020, "PyTorch Distributed"): every process holds the whole model; each
step, process r takes its own contiguous slice of the global batch (`shard`); backward averages the
gradients over processes. With a loss that is a mean over the rows of a batch, the average of the
shards' mean gradients *is* the gradient of the global batch, so W processes take the same steps as
one process (up to float rounding in the order of the sums).
Left out: model/tensor/pipeline parallelism, sharded optimizers (ZeRO/FSDP), multi-node launchers.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist

__all__ = ["rank_and_world", "env_world_size", "check_environment", "init_distributed", "shard"]


def rank_and_world() -> tuple[int, int]:
    """(this process's rank, number of processes): (0, 1) unless a process group is initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def env_world_size() -> int:
    """WORLD_SIZE as torchrun sets it (1 when unset)."""
    value = os.environ.get("WORLD_SIZE", "1")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"the environment variable WORLD_SIZE={value!r} must be an int") from None


def check_environment() -> None:
    """Refuse WORLD_SIZE > 1 without a process group: N copies of one run would overwrite each other's files."""
    if env_world_size() > 1 and not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(
            f"WORLD_SIZE={env_world_size()} (set by torchrun) but torch.distributed is not initialised, so every "
            "process would train alone; call tinyformer.distributed.init_distributed() before train "
            "(python -m tinyformer.lm train does)")


def init_distributed(device: str | torch.device = "cpu") -> torch.device:
    """Join torchrun's process group when WORLD_SIZE > 1; return the device this process trains on.

    `device` "cpu" uses the gloo backend; "cuda" uses NCCL and gives process LOCAL_RANK its own GPU
    (cuda:LOCAL_RANK). With WORLD_SIZE unset or 1 nothing is started and `device` comes back as given.
    """
    device = torch.device(device)
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device={str(device)!r}: distributed training runs on 'cpu' (gloo) or 'cuda' (NCCL)")
    if env_world_size() <= 1 or dist.is_initialized():
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl", device_id=device)
    else:
        dist.init_process_group(backend="gloo")
    return device


def shard(batch: Any, rank: int, world: int) -> Any:
    """Rows [rank * b, (rank + 1) * b) of every tensor in `batch`, b = rows / world (tuples, lists, dicts kept).

    Raises ValueError when a tensor's first dimension does not divide by `world` (unequal shards would
    weigh rows unequally in the averaged gradient), TypeError for a batch holding other types.
    """
    if isinstance(batch, torch.Tensor):
        rows = batch.shape[0] if batch.dim() else 0
        if rows % world:
            raise ValueError(f"the batch has {rows} rows, which do not split evenly over {world} processes; "
                             f"choose a batch size divisible by {world}")
        size = rows // world
        return batch[rank * size:(rank + 1) * size]
    if isinstance(batch, (tuple, list)):
        return type(batch)(shard(b, rank, world) for b in batch)
    if isinstance(batch, dict):
        return {k: shard(v, rank, world) for k, v in batch.items()}
    raise TypeError(f"cannot split a batch of type {type(batch).__name__} over processes; get_batch must return "
                    "tensors, or tuples, lists or dicts of them")


def to_device(batch: Any, device: torch.device) -> Any:
    """Every tensor in `batch` moved to `device` (the same object when it is already there)."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def gather_objects(obj: Any) -> list[Any]:
    """Every process's `obj`, in rank order (a collective: all processes must call it)."""
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Process `src`'s `obj` on every process (a collective)."""
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]
