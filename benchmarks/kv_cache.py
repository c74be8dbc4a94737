"""KV cache benchmark: greedy generation with the notebook-08 GPT, with and without the cache, in one run.

Batch 1, a prompt of 16 tokens, greedy, 256 new tokens (the goal: >= 6x faster with the cache), plus
64 and 512 new tokens to show the gap growing with length. Each setting checks that both paths give
identical tokens. The model comes from data/generated/ (trained there first if missing, a few minutes);
`--untrained` uses a freshly initialised model of the same size instead (the same work per token).
Both paths run with torch's default thread count and with one thread, and each path's faster time
counts (`generate` itself runs cached steps of up to 8 rows on one thread: they are too small to split;
on a busy machine extra threads can make everything slower, which this keeps out of the ratio).

Then, at 256 new tokens:
- the floor: the matrix products one cached step must do (per layer the q/k/v, output and two FFN
  projections, q kᵀ and weights @ v over the cache; then the output layer), the same F.linear/matmul
  calls on the model's own weights in the same order, timed in a loop of the same length;
  printed against the cached step, with the share of the step spent outside them;
- batching: 8 prompts at once against one prompt (cached), as a ratio of times.

    python benchmarks/kv_cache.py [--repeats 3] [--profile] [--untrained] [--lengths 64 256 512] [--threads 2 1]

Last line: `kv_cache_speedup: <ratio>` at 256 new tokens (best time of each path).
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from tinyformer.model import GPT, GPTConfig
from tinyformer.sampling import generate
from timing import best_time  # benchmarks/timing.py, beside this script

PROMPT_TOKENS = 16
LENGTHS = (64, 256, 512)
HEADLINE = 256
BATCH = 8



def load_model(untrained: bool) -> tuple[GPT, list[int], str]:
    """The notebook-08 GPT and a held-out prompt; untrained: the same architecture, random weights."""
    if untrained:
        torch.manual_seed(0)
        model = GPT(GPTConfig(vocab_size=1024, block_size=512)).eval()
        return model, list(range(1, PROMPT_TOKENS + 1)), "untrained weights"
    from tinyformer.corpus import python_docs_split
    from tinyformer.lm import load_or_train_gpt

    model, tokenizer, _ = load_or_train_gpt()
    _, held_out = python_docs_split()
    prompt = tokenizer.encode(held_out)[:PROMPT_TOKENS]
    return model, prompt, repr(tokenizer.decode(prompt))


@torch.inference_mode()
def matmul_floor(model: GPT, batch: int, start: int, n: int) -> float:
    """Seconds for the matrix products of n cached steps (keys start..start+n-1) on the model's weights."""
    c = model.config
    H, D = c.n_heads, c.d_model // c.n_heads
    x = torch.randn(batch, 1, c.d_model)  # (B, 1, C)
    h = torch.randn(batch, 1, c.d_ff)  # (B, 1, d_ff)
    keys = torch.randn(batch, H, start + n, D)  # (B, H, S, D): stands in for the cache
    q = torch.randn(batch, H, 1, D)  # (B, H, 1, D)
    begin = time.perf_counter()
    for t in range(start + 1, start + n + 1):
        k = keys.narrow(2, 0, t)  # (B, H, t, D)
        for block in model.blocks:
            a, f = block.self_attn, block.ffn
            F.linear(x, a.in_proj_weight, a.in_proj_bias)  # (B, 1, 3C)
            w = q @ k.transpose(-2, -1)  # (B, H, 1, t)
            w @ k  # (B, H, 1, D)
            F.linear(x, a.out_proj.weight, a.out_proj.bias)  # (B, 1, C)
            F.linear(x, f.linear1.weight, f.linear1.bias)  # (B, 1, d_ff)
            F.linear(h, f.linear2.weight, f.linear2.bias)  # (B, 1, C)
        F.linear(x, model.lm_head.weight)  # (B, 1, V)
    return time.perf_counter() - begin


def time_paths(model, prompt: list[int], n: int, repeats: int, thread_counts: list[int]) -> tuple[float, float, dict]:
    """Best seconds without and with the cache (each at its best thread count); the tokens must agree."""
    default_threads = torch.get_num_threads()
    times, outs = {False: {}, True: {}}, {}
    for threads in sorted(set(thread_counts), reverse=True):
        torch.set_num_threads(threads)
        for use_cache in (False, True):
            run = lambda: generate(model, prompt, n, temperature=0, use_cache=use_cache)  # noqa: E731
            times[use_cache][threads], outs[use_cache] = best_time(run, repeats)
    torch.set_num_threads(default_threads)
    if outs[True] != outs[False]:
        raise SystemExit(f"FAIL: cached and uncached generation differ at {n} new tokens")
    return min(times[False].values()), min(times[True].values()), times


def report_floor(model, prompt: list[int], t_cache: float, n: int, repeats: int) -> None:
    """The cached step per token against its matrix products (one thread, as generate runs them)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    t_floor, _ = best_time(lambda: matmul_floor(model, 1, len(prompt), n), repeats)
    torch.set_num_threads(threads)
    step, floor = 1000 * t_cache / n, 1000 * t_floor / n
    print(f"cached step {step:.3f} ms/token; its matrix products alone {floor:.3f} ms/token: "
          f"{step / floor:.2f}x the floor, {100 * (1 - floor / step):.0f}% of the step outside them")


def report_batching(model, prompt: list[int], n: int, repeats: int) -> None:
    """Cached generation of BATCH prompts at once against one prompt."""
    one = torch.tensor([prompt])
    many = one.repeat(BATCH, 1)
    t_one, _ = best_time(lambda: generate(model, one, n, temperature=0), repeats)
    t_many, out = best_time(lambda: generate(model, many, n, temperature=0), repeats)
    if not torch.equal(out[0], out[-1]):
        raise SystemExit("FAIL: the same prompt gave different tokens in different rows of a batch")
    print(f"batched: {BATCH} prompts {1000 * t_many / n:.3f} ms/step, 1 prompt {1000 * t_one / n:.3f} ms/step: "
          f"{t_many / t_one:.2f}x the time for {BATCH}x the tokens")


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
    parser.add_argument("--untrained", action="store_true", help="random weights instead of the trained checkpoint")
    parser.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS), help=f"new tokens; must include {HEADLINE}")
    parser.add_argument("--threads", type=int, nargs="+", default=None,
                        help="thread counts to try for each path (default: torch's default and 1)")
    args = parser.parse_args()
    if HEADLINE not in args.lengths:
        parser.error(f"--lengths must include {HEADLINE}, the headline length")

    model, prompt, shown = load_model(args.untrained)
    config = model.config
    print(f"model: GPT {config.n_layers} layers, d_model {config.d_model}, {config.n_heads} heads, "
          f"block_size {config.block_size}, vocab {config.vocab_size}; torch threads {torch.get_num_threads()}, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}")
    print(f"prompt ({len(prompt)} tokens): {shown}")
    generate(model, prompt, 16, temperature=0, use_cache=True)  # warm up allocators and kernels
    generate(model, prompt, 16, temperature=0, use_cache=False)
    ratios, cached = {}, {}
    for n in args.lengths:
        if PROMPT_TOKENS + n > config.block_size:
            print(f"  note: {PROMPT_TOKENS}+{n} tokens exceed block_size {config.block_size}: the last "
                  f"{PROMPT_TOKENS + n - config.block_size} steps slide the window (the cache is rebuilt there)")
        t_plain, t_cache, times = time_paths(model, prompt, n, args.repeats, args.threads or [torch.get_num_threads(), 1])
        ratios[n], cached[n] = t_plain / t_cache, t_cache
        detail = lambda d: ", ".join(f"{t:.3f} s on {k} thread{'s' * (k > 1)}" for k, t in d.items())  # noqa: E731
        print(f"{n:4d} new tokens: no cache {t_plain:7.3f} s ({1000 * t_plain / n:6.2f} ms/token; {detail(times[False])})")
        print(f"{'':16}cache {t_cache:7.3f} s ({1000 * t_cache / n:6.2f} ms/token; {detail(times[True])})")
        print(f"{'':16}identical tokens, speedup {ratios[n]:.2f}x")
    report_floor(model, prompt, cached[HEADLINE], HEADLINE, args.repeats)
    report_batching(model, prompt, HEADLINE, args.repeats)
    if args.profile:
        profile_cached_step(model, prompt, HEADLINE)
    print(f"kv_cache_speedup: {ratios[HEADLINE]:.2f}")


if __name__ == "__main__":
    main()
