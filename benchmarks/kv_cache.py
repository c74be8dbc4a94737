"""KV cache benchmark: greedy generation with the notebook-08 GPT, with and without the cache, in one run.

Batch 1, a prompt of 16 tokens, greedy, 256 new tokens (the goal: >= 6x faster with the cache), plus
64 and 512 new tokens to show the gap growing with length. Each setting checks that both paths give
identical tokens. The model comes from data/generated/ (trained there first if missing, a few minutes).
Both paths run with torch's default thread count and with one thread, and each path's faster time
counts (`generate` itself runs cached single-token steps on one thread: they are too small to split;
on a busy machine extra threads can make everything slower, which this keeps out of the ratio).

    python benchmarks/kv_cache.py [--repeats 3] [--profile]

Last line: `kv_cache_speedup: <ratio>` at 256 new tokens (best time of each path).
"""

from __future__ import annotations

import argparse
import time

import torch

from tinyformer.corpus import python_docs_split
from tinyformer.lm import load_or_train_gpt
from tinyformer.sampling import generate

PROMPT_TOKENS = 16
LENGTHS = (64, 256, 512)
HEADLINE = 256


def best_time(fn, repeats: int) -> tuple[float, list[int]]:
    """The fastest of `repeats` runs (the least disturbed by other processes) and the last result."""
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def profile_cached_step(model, prompt: list[int], n: int) -> None:
    """Where the time of cached generation goes: the top operators of torch.profiler."""
    from torch.profiler import profile

    with profile() as prof:
        generate(model, prompt, n, temperature=0, use_cache=True)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="runs per setting; the best time counts")
    parser.add_argument("--profile", action="store_true", help="also profile one cached generation")
    args = parser.parse_args()

    model, tokenizer, extra = load_or_train_gpt()
    config = model.config
    _, held_out = python_docs_split()
    prompt = tokenizer.encode(held_out)[:PROMPT_TOKENS]
    print(f"model: GPT {config.n_layers} layers, d_model {config.d_model}, {config.n_heads} heads, "
          f"block_size {config.block_size}, vocab {config.vocab_size}; torch threads {torch.get_num_threads()}")
    print(f"prompt ({len(prompt)} tokens): {tokenizer.decode(prompt)!r}")

    default_threads = torch.get_num_threads()
    generate(model, prompt, 16, temperature=0, use_cache=True)  # warm up allocators and kernels
    generate(model, prompt, 16, temperature=0, use_cache=False)
    ratios = {}
    for n in LENGTHS:
        if PROMPT_TOKENS + n > config.block_size:
            print(f"  note: {PROMPT_TOKENS}+{n} tokens exceed block_size {config.block_size}: the last "
                  f"{PROMPT_TOKENS + n - config.block_size} steps slide the window (the cache is rebuilt there)")
        times, outs = {False: {}, True: {}}, {}
        for threads in sorted({default_threads, 1}, reverse=True):  # each path gets its best thread count
            torch.set_num_threads(threads)
            for use_cache in (False, True):
                run = lambda: generate(model, prompt, n, temperature=0, use_cache=use_cache)  # noqa: E731
                times[use_cache][threads], outs[use_cache] = best_time(run, args.repeats)
        torch.set_num_threads(default_threads)
        if outs[True] != outs[False]:
            raise SystemExit(f"FAIL: cached and uncached generation differ at {n} new tokens")
        t_plain, t_cache = min(times[False].values()), min(times[True].values())
        ratios[n] = t_plain / t_cache
        detail = lambda d: ", ".join(f"{t:.3f} s on {k} thread{'s' * (k > 1)}" for k, t in d.items())  # noqa: E731
        print(f"{n:4d} new tokens: no cache {t_plain:7.3f} s ({1000 * t_plain / n:6.2f} ms/token; {detail(times[False])})")
        print(f"{'':16}cache {t_cache:7.3f} s ({1000 * t_cache / n:6.2f} ms/token; {detail(times[True])})")
        print(f"{'':16}identical tokens, speedup {ratios[n]:.2f}x")
    if args.profile:
        profile_cached_step(model, prompt, HEADLINE)
    print(f"kv_cache_speedup: {ratios[HEADLINE]:.2f}")


if __name__ == "__main__":
    main()
