"""Notebook 10's experiments: the scaling sweep, cheaper attention compared, pretrain-then-fine-tune.

    python benchmarks/scaling.py --full [--only sweep attention finetune]   # writes data/results/*.json
    python benchmarks/scaling.py [--out DIR]                                 # quick: tiny settings, seconds

--full reproduces the committed JSON files (one thread). The committed run, on a 2-core machine shared
with other jobs (load 8-10), took 36 min (sweep), 38 min (comparison; linear attention's Python loop over
time is most of it) and 8 min (fine-tune) of wall time, each recorded as "seconds_total"; a quiet core
needs a fraction of that. `--only` runs one part.
- data/results/scaling.json: `tinyformer.scaling.run_scaling_sweep` with its defaults: 7 GPT sizes
  (non-embedding N from about 3 thousand to 800 thousand) trained 400 steps of 16 x 64 tokens
  on notebook 08's docs corpus (BPE vocabulary 512), held-out bits per byte, the middle size's
  curve against tokens, per-token accuracy and exact match of whole spans; with the power-law fit.
- data/results/cheap_attention.json: `run_attention_comparison` (full, window 16, linear; d_model 64,
  2 layers, 300 steps of 16 x 128 tokens), peak memory of one layer for T up to 2048.
- data/results/finetune.json: `tinyformer.finetune.run_finetune_comparison` on notebook 08's GPT
  (`load_or_train_gpt(DEFAULT_CHECKPOINT, LMRecipe())`, trained if data/generated/ lacks it).
Quick mode runs the same code on tiny settings (tests/test_scaling.py runs it) and writes to --out
(default: <generated_dir>/results-quick). Every file records the machine and threads it ran on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from tinyformer.utils import REPO_ROOT, generated_dir

RESULTS = REPO_ROOT / "data" / "results"
PARTS = ("sweep", "attention", "finetune")


def _write(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
    print(f"wrote {path}")


def sweep(full: bool, data) -> dict:
    from tinyformer.scaling import fit_power_law, run_scaling_sweep

    if full:
        result = run_scaling_sweep(data=data)
    else:
        result = run_scaling_sweep(sizes=((8, 1, 2), (16, 1, 2), (24, 1, 2)), steps=4, batch_size=4, seq_len=32,
                                   vocab_size=data.tokenizer.vocab_size, eval_every=2, span_lengths=(1, 4),
                                   context=8, data=data)
    rows = result["sizes"]
    try:
        result["fit"] = fit_power_law([r["params_non_embedding"] for r in rows], [r["bits_per_byte"] for r in rows],
                                      n_boot=500 if full else 20)
    except ValueError as e:  # quick mode's 4 steps need not give losses that fall with N
        result["fit"] = {"error": str(e)}
    return result


def attention(full: bool, data) -> dict:
    from tinyformer.scaling import run_attention_comparison

    if full:
        return run_attention_comparison(data=data)
    return run_attention_comparison(kinds=(("full", None), ("window", 4), ("linear", None)), steps=3, batch_size=2,
                                    seq_len=16, vocab_size=data.tokenizer.vocab_size, d_model=16, n_layers=1,
                                    n_heads=2, memory_lengths=(16, 32), data=data)


def finetune(full: bool, data) -> dict:
    from tinyformer.corpus import python_docs_split
    from tinyformer.data import encode_text
    from tinyformer.finetune import run_finetune_comparison
    from tinyformer.lm import DEFAULT_CHECKPOINT, LMRecipe, load_or_train_gpt
    from tinyformer.model import GPT, GPTConfig

    train_text, held_out_text = python_docs_split()
    if full:
        gpt, tok, _ = load_or_train_gpt(DEFAULT_CHECKPOINT, LMRecipe(), progress=False)
        return run_finetune_comparison(gpt, lambda s: encode_text(tok, s), train_text, held_out_text)
    torch.manual_seed(0)
    tiny = GPT(GPTConfig(vocab_size=data.tokenizer.vocab_size, block_size=32, d_model=16, n_heads=2, n_layers=1,
                         d_ff=32))
    return run_finetune_comparison(tiny, lambda s: encode_text(data.tokenizer, s), train_text[:20_000],
                                   held_out_text[:5_000], n_labelled=(8, 16), steps=3, batch_size=4, n_test=40)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="the committed settings; write data/results/")
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS), help="run only these parts")
    parser.add_argument("--out", type=Path, default=None, help="folder for the JSON (quick mode only)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args(argv)
    if args.full and args.out is not None:
        parser.error("--out is for quick mode; --full writes data/results/")
    torch.set_num_threads(args.threads)
    out = RESULTS if args.full else (args.out or generated_dir() / "results-quick")
    from tinyformer.lm import build_data
    from tinyformer.scaling import machine_info

    data = build_data(512 if args.full else 300)
    names = {"sweep": "scaling.json", "attention": "cheap_attention.json", "finetune": "finetune.json"}
    for part in PARTS:
        if part in args.only:
            start = time.perf_counter()
            result = {"sweep": sweep, "attention": attention, "finetune": finetune}[part](args.full, data)
            result["seconds_total"] = time.perf_counter() - start
            result.setdefault("machine", machine_info())  # the sweep and comparison record it themselves
            result["command"] = "python benchmarks/scaling.py " + ("--full" if args.full else "(quick)")
            _write(out / names[part], result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
