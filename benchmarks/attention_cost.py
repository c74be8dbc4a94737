"""Attention's cost against sequence length T: naive vs tiled (online softmax) vs PyTorch's fused kernel.

Time. For T = 128 .. 4096 (q, k, v of shape (1, HEADS, T, 64), float32, no mask, no gradients), the
best of `--repeats` runs of
- naive: `tinyformer.attention.scaled_dot_product_attention`, which forms the (T, T) score matrix;
- tiled: `tinyformer.attention.tiled_attention` (block_size 64), which forms 64 x 64 tiles of it;
- torch: `F.scaled_dot_product_attention` (on CPU, a fused flash-style C++ kernel).
Each length first checks the three outputs agree. The exponent k of time ∝ T^k is the slope of a
straight line fitted to (log T, log time) by np.polyfit. All three do T² work, so k tends to 2; at
small T fixed per-call overheads dominate and pull the fitted k below 2 (the tiled loop has
(T/64)² iterations of small Python-dispatched ops, so its overhead grows as T² too).
One thread by default (`--threads`): on a shared machine extra threads measure the neighbours.

Memory. The peak of tensor memory alive at once *inside* each call, at T = `--memory-length`,
measured by `tinyformer.scaling.PeakTensorMemory`, a TorchDispatchMode: every ATen op's output storages are counted
when created (inputs excluded) and uncounted when freed (a weak reference to each storage says when
it dies), and the running total's maximum is the peak. It sees every tensor that Python-level code
creates, the (T, T) scores of the naive version included, and is exact and deterministic (unlike
the process's resident memory, which the allocator's caching blurs). It does not see scratch space
that one C++ kernel allocates and frees inside itself (so it is not used on torch's fused kernel);
neither of our two versions hands work to such a kernel beyond matmul/softmax. `--rss` adds a
cross-check: the growth of peak resident memory (VmHWM) of a fresh process running one call.

    python benchmarks/attention_cost.py [--lengths 128 256 ... 4096] [--memory-length 4096] [--repeats 3]
                                        [--threads 1] [--rss]

Last line: `tiled_attention_peak_memory_ratio_at_T<memory-length>: <naive peak / tiled peak>`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

from tinyformer.attention import scaled_dot_product_attention, tiled_attention
from tinyformer.scaling import PeakTensorMemory  # counts every tensor created inside `with`, op by op
from timing import best_time  # benchmarks/timing.py, beside this script

HEADS = 2
HEAD_DIM = 64
BLOCK = 64
MIB = 2**20


def inputs(T: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(1, HEADS, T, HEAD_DIM, generator=g) for _ in range(3))  # 3 x (1, H, T, D)


METHODS = {
    "naive": lambda q, k, v: scaled_dot_product_attention(q, k, v)[0],
    "tiled": lambda q, k, v: tiled_attention(q, k, v, block_size=BLOCK)[0],
    "torch": lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
}



def time_lengths(lengths: list[int], repeats: int) -> dict[str, list[float]]:
    times = {name: [] for name in METHODS}
    print(f"time (s), best of {repeats}, q/k/v (1, {HEADS}, T, {HEAD_DIM}) float32, {torch.get_num_threads()} thread(s)")
    print(f"{'T':>6} " + " ".join(f"{name:>10}" for name in METHODS))
    for T in lengths:
        q, k, v = inputs(T)
        outs = [fn(q, k, v) for fn in METHODS.values()]  # also a warm-up
        for out in outs[1:]:
            torch.testing.assert_close(out, outs[0], atol=1e-5, rtol=1e-4)
        for name, fn in METHODS.items():
            times[name].append(best_time(lambda: fn(q, k, v), repeats)[0])
        print(f"{T:>6} " + " ".join(f"{times[name][-1]:>10.5f}" for name in METHODS))
    return times


def peak_memory(name: str, T: int) -> int:
    q, k, v = inputs(T)
    meter = PeakTensorMemory(q, k, v)
    with meter:
        out = METHODS[name](q, k, v)
    del out
    return meter.peak


def _peak_rss_mib() -> float:
    """The process's peak resident memory so far (VmHWM, Linux). Not ru_maxrss: a child process
    inherits its parent's ru_maxrss across fork and exec, which hides anything smaller."""
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024  # kB -> MiB


def rss_growth(name: str, T: int) -> float:
    """MiB of peak resident memory gained by one call in a fresh process (after a small warm-up call)."""
    code = (f"import sys; sys.path[:0] = {sys.path!r}; import attention_cost as ac; "
            f"ac.METHODS[{name!r}](*ac.inputs(128)); q, k, v = ac.inputs({T}); "
            f"before = ac._peak_rss_mib(); ac.METHODS[{name!r}](q, k, v); print(ac._peak_rss_mib() - before)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return float(out.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 256, 512, 1024, 2048, 4096])
    parser.add_argument("--memory-length", type=int, default=4096, help="T at which peak memory is measured")
    parser.add_argument("--repeats", type=int, default=3, help="runs per setting; the best time counts")
    parser.add_argument("--threads", type=int, default=1, help="torch threads while timing")
    parser.add_argument("--rss", action="store_true", help="also measure resident-memory growth in fresh processes")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with torch.no_grad():
        times = time_lengths(args.lengths, args.repeats)
        log_T = np.log(args.lengths)
        fits = {name: np.polyfit(log_T, np.log(t), 1)[0] for name, t in times.items()}
        print(f"fitted exponent k of time ∝ T^k, T {args.lengths[0]}..{args.lengths[-1]}: "
              + "  ".join(f"{name} {k:.2f}" for name, k in fits.items()))

        T = args.memory_length
        scores_bytes = HEADS * T * T * 4  # the (1, H, T, T) float32 scores
        peaks = {name: peak_memory(name, T) for name in ("naive", "tiled")}
    out_bytes = HEADS * T * (HEAD_DIM + 1) * 4  # the tiled output (1, H, T, D) and logsumexp (1, H, T)
    assert peaks["naive"] >= scores_bytes, "the meter missed the naive version's score matrix"
    print(f"peak tensor memory inside one call at T={T}, q/k/v (1, {HEADS}, {T}, {HEAD_DIM}) float32:")
    print(f"  naive {peaks['naive'] / MIB:9.2f} MiB  (the (1, H, T, T) scores alone: {scores_bytes / MIB:.2f} MiB; "
          f"scores and softmax weights are alive together)")
    print(f"  tiled {peaks['tiled'] / MIB:9.2f} MiB  (output + logsumexp alone: {out_bytes / MIB:.2f} MiB; "
          f"the rest is {BLOCK} x {BLOCK} tiles and running sums)")
    if args.rss:
        print(f"  cross-check, peak resident memory gained by one call in a fresh process: "
              f"naive {rss_growth('naive', T):.1f} MiB, tiled {rss_growth('tiled', T):.1f} MiB")
    print(f"tiled_attention_peak_memory_ratio_at_T{T}: {peaks['naive'] / peaks['tiled']:.2f}")


if __name__ == "__main__":
    main()
