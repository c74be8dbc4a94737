"""GPU training throughput of the GPT recipe: tokens/s and model FLOPs utilisation (MFU).

The step is the library's: `GPT` with its fused attention (`MultiHeadAttention(fast=True)`: causal,
no mask, so `F.scaled_dot_product_attention` picks the flash kernel), the loss under bfloat16
autocast (`tinyformer.lm.lm_loss_bf16`), AdamW from `tinyformer.train.make_optimizer`, gradient
clipping; `--compile` adds `torch.compile`. Tokens are random (speed does not depend on them).
MFU = 6 * N * tokens/s / peak: about 6 FLOPs per parameter per token for the forward and backward
(Kaplan et al. 2020; N counts every trainable parameter, embeddings too, the tied one once; the
attention's own T^2 term is left out, so long contexts are slightly under-counted), against the
GPU's dense bfloat16 peak from the table below, found by `torch.cuda.get_device_name()`.
Without a CUDA device it says so and exits 0 (`--device cpu` runs the same step on the CPU, to check
the script; give it --peak-tflops). Last line: `gpu_train_mfu: <MFU>`.

    python benchmarks/gpu_train.py [--steps 20] [--warmup 5] [--batch-size 16] [--seq-len 1024] [--compile]
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from tinyformer.attention import MultiHeadAttention
from tinyformer.lm import loss_for_device, make_get_batch
from tinyformer.model import GPT, GPTConfig, count_parameters
from tinyformer.train import TrainConfig, make_optimizer

# Dense (not 2:4 sparse) bfloat16 tensor-core peaks from NVIDIA's data sheets, FLOP/s. Checked in
# order: the first name part found in the device name wins ("H100 PCIe" before "H100", "L40S" before "L4").
PEAK_BF16 = (
    ("H100 PCIe", 756e12),
    ("H100", 989e12),   # SXM
    ("H200", 989e12),
    ("A100", 312e12),
    ("L40S", 362e12),
    ("L4", 121e12),
)


def peak_flops(device_name: str) -> float | None:
    """The dense bfloat16 peak of a GPU named `device_name`, or None when it is not in the table."""
    return next((peak for part, peak in PEAK_BF16 if part in device_name), None)


def mfu(n_params: int, tokens_per_second: float, peak: float) -> float:
    """Model FLOPs utilisation: 6 N tokens/s over the peak FLOP/s."""
    return 6 * n_params * tokens_per_second / peak


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=20, help="timed steps (default 20)")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first, compilation included (default 5)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seq-len", type=int, default=1024)
    p.add_argument("--vocab-size", type=int, default=50304)
    p.add_argument("--d-model", type=int, default=768)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--peak-tflops", type=float, default=None, help="the GPU's bf16 peak when it is not in the table")
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                   help="cuda (default); cpu only checks the script (float32, no autocast)")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device here: nothing to measure")
        print("gpu_train_mfu: skipped (no CUDA device)")
        return 0

    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=args.vocab_size, block_size=args.seq_len, d_model=args.d_model, n_heads=args.heads,
                       n_layers=args.layers, d_ff=4 * args.d_model)
    model = GPT(config).to(device)
    assert all(m.fast for m in model.modules() if isinstance(m, MultiHeadAttention)), "the fused path is off"
    n_params = count_parameters(model)["total"]
    optimizer = make_optimizer(model, TrainConfig(lr=3e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1))
    loss_fn = loss_for_device(device)
    net = torch.compile(model) if args.compile else model
    ids = torch.randint(args.vocab_size, (1_000_000,), generator=torch.Generator().manual_seed(0))
    get_batch = make_get_batch(ids, args.batch_size, args.seq_len)

    def step(i: int) -> torch.Tensor:
        x, y = (t.to(device, non_blocking=True) for t in get_batch(i))
        loss = loss_fn(net, (x, y))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss

    for i in range(args.warmup):
        step(i)
    sync()
    start = time.perf_counter()
    for i in range(args.warmup, args.warmup + args.steps):
        loss = step(i)
    sync()
    seconds = time.perf_counter() - start
    tokens_per_second = args.steps * args.batch_size * args.seq_len / seconds
    print(f"device {name}; GPT {n_params / 1e6:.1f}M parameters (d_model {args.d_model}, {args.layers} layers), "
          f"batch {args.batch_size} x {args.seq_len} tokens, "
          f"{'bf16 autocast' if device.type == 'cuda' else 'float32'}, fused attention"
          f"{', torch.compile' if args.compile else ''}")
    print(f"{args.steps} steps in {seconds:.2f} s: {seconds / args.steps * 1e3:.1f} ms/step, "
          f"{tokens_per_second:,.0f} tokens/s, last loss {loss.item():.3f}")
    peak = args.peak_tflops * 1e12 if args.peak_tflops else peak_flops(name)
    if peak is None:
        print(f"gpu_train_mfu: unknown (no bf16 peak for {name!r}; pass --peak-tflops)")
        return 0
    print(f"model FLOPs: 6 x {n_params:,} x {tokens_per_second:,.0f} = {6 * n_params * tokens_per_second / 1e12:.3g} "
          f"TFLOP/s of {peak / 1e12:.3g} peak")
    print(f"gpu_train_mfu: {mfu(n_params, tokens_per_second, peak):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
