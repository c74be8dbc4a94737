"""BPE training and encoding speed: a naive trainer, tinyformer's, and HF `tokenizers` (Rust).

Corpus: the Python documentation shipped with CPython (`pydoc_data.topics`, sorted topics joined),
about 466 KB, ~103k pre-split chunks of which ~6k are distinct. Vocab sizes 512 and 2048.

    python benchmarks/bpe.py            # a few minutes: the naive trainer at 2048 is the slow part
    python benchmarks/bpe.py --quick    # skips the naive trainer at 2048 (no final speedup line)

It also encodes one 100,000-character run of '=' (a single pre-split chunk), ours against tiktoken:
before issue 18 our chunk merge rescanned every pair after every merge, quadratic in the run.

The naive trainer is the textbook loop: keep every chunk of the corpus as a list of ids and, after
every merge, recount every pair of every chunk. Ours counts each distinct chunk once (weighted),
updates pair counts incrementally, visits only the chunks that contain the merged pair, and picks
the top pair from a lazy max-heap. Both use the same tie-break, so their merges must be equal.
Ours and HF run in turns and report medians, so both see the same machine load; the naive trainer
runs once (minutes). Every number comes from this one process.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import regex
import tiktoken
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from tinyformer.corpus import python_docs_text
from tinyformer.tokenizer import GPT2_PATTERN, BPETokenizer
from timing import best_time  # benchmarks/timing.py, beside this script


def naive_train(text: str, vocab_size: int) -> list[tuple[int, int, int]]:
    """Recount every pair after every merge; ties go to the smallest ids (same rule as ours)."""
    words = [list(chunk.encode("utf-8")) for chunk in regex.findall(GPT2_PATTERN, text)]
    vocab = [bytes([b]) for b in range(256)]
    merges = []
    while len(vocab) < vocab_size:
        counts = Counter()
        for w in words:
            counts.update(zip(w, w[1:]))
        if not counts:
            break
        top = max(counts.values())
        a, b = min(p for p, c in counts.items() if c == top)
        new_bytes = vocab[a] + vocab[b]
        if new_bytes in vocab:  # the same bytes made another way: reuse the id (as ours and HF do)
            new_id = vocab.index(new_bytes)
        else:
            new_id = len(vocab)
            vocab.append(new_bytes)
        merges.append((a, b, new_id))
        for k, w in enumerate(words):
            if len(w) < 2:
                continue
            out, i = [], 0
            while i < len(w):
                if w[i] == a and i + 1 < len(w) and w[i + 1] == b:
                    out.append(new_id)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            words[k] = out
    return merges


def hf_train(text: str, vocab_size: int) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tok.train_from_iterator([text], trainer)
    return tok



def interleaved_medians(fns: dict, repeats: int) -> dict[str, float]:
    """Median seconds of each function, run in turns (a, b, a, b, ...) so both see the same machine load."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def long_run_line(ours: BPETokenizer, repeats: int, n: int = 100_000) -> str:
    """Encode one chunk of `n` '=' (issue 18: quadratic before the heap merge), ours (cold cache) vs tiktoken."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ours.tiktoken"
        ours.save_tiktoken(path)
        ranks = {base64.b64decode(t): int(r) for t, r in (line.split() for line in path.read_text().splitlines())}
    ref = tiktoken.Encoding(name="docs", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={})
    text = "=" * n
    assert ours.encode(text) == ref.encode(text) and len(ours.token_bytes(max(ours.encode(text)))) > 1

    def cold():
        ours.clear_cache()
        ours.encode(text)

    med = interleaved_medians({"ours": cold, "tiktoken": lambda: ref.encode(text)}, repeats)
    return (f"encode '=' * {n:,} (one chunk), median of {repeats}: ours {med['ours'] * 1e3:.1f} ms | "
            f"tiktoken {med['tiktoken'] * 1e3:.1f} ms ({med['ours'] / med['tiktoken']:.1f}x tiktoken's time)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the naive trainer at vocab 2048")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    text = python_docs_text()
    n_bytes = len(text.encode("utf-8"))
    chunks = regex.findall(GPT2_PATTERN, text)
    print(f"corpus: {n_bytes / 1e3:.0f} KB, {len(chunks)} pre-split chunks, {len(set(chunks))} distinct")

    results = {}
    for vocab_size in (512, 2048):
        med = interleaved_medians(
            {"ours": lambda: BPETokenizer.train(text, vocab_size, progress=False), "hf": lambda: hf_train(text, vocab_size)},
            args.repeats,
        )
        ours_s, hf_s = med["ours"], med["hf"]
        row = f"vocab {vocab_size:5d}: ours {ours_s:7.3f} s | HF tokenizers {hf_s:7.3f} s ({hf_s / ours_s:.2f}x)"
        naive_s = None
        if not (args.quick and vocab_size == 2048):
            ours = BPETokenizer.train(text, vocab_size, progress=False)
            naive_s, naive = best_time(lambda: naive_train(text, vocab_size), 1)
            same = naive == ours._merges
            row += f" | naive {naive_s:8.2f} s ({naive_s / ours_s:.0f}x) | same merges as naive: {same}"
            assert same, "the naive and the incremental trainer disagree"
        results[vocab_size] = (ours_s, hf_s, naive_s)
        print(row, flush=True)

    # encoding throughput at vocab 2048
    ours = BPETokenizer.train(text, 2048, progress=False)
    hf = hf_train(text, 2048)
    ids = ours.encode(text)
    assert ours.decode(ids) == text
    lines = text.splitlines(keepends=True)

    def cold():
        ours.clear_cache()
        ours.encode(text)

    med = interleaved_medians(
        {"cold": cold, "warm": lambda: ours.encode(text), "lines": lambda: [ours.encode(line) for line in lines],
         "hf": lambda: hf.encode(text), "hf_batch": lambda: hf.encode_batch(lines)},
        args.repeats,
    )
    print(f"encode {n_bytes / 1e3:.0f} KB at vocab 2048 ({len(ids)} tokens; HF {len(hf.encode(text).ids)}), median of {args.repeats}:")
    print(f"  ours, cold chunk cache        {n_bytes / med['cold'] / 1e6:6.2f} MB/s")
    print(f"  ours, warm chunk cache        {n_bytes / med['warm'] / 1e6:6.2f} MB/s")
    print(f"  ours, one call per line       {n_bytes / med['lines'] / 1e6:6.2f} MB/s (warm; {len(lines)} calls: the per-call cost)")
    print(f"  HF tokenizers, one string     {n_bytes / med['hf'] / 1e6:6.2f} MB/s")
    print(f"  HF tokenizers, batch of lines {n_bytes / med['hf_batch'] / 1e6:6.2f} MB/s (parallel)")

    print(long_run_line(ours, args.repeats))

    ours_s, hf_s, naive_s = results[2048]
    print(f"bpe_train_speed_vs_hf_tokenizers: {hf_s / ours_s:.2f}")
    if naive_s is not None:
        print(f"bpe_train_speedup_vs_naive: {naive_s / ours_s:.0f}")


if __name__ == "__main__":
    main()
