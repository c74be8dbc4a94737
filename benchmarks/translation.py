"""Benchmark: train notebook 07's Korean→English model from scratch on the CPU for 2 minutes.

Prints held-out BLEU / chrF / exact match as training goes (on 300 held-out sentences), then the
full held-out split (unseen subject-predicate combinations) with greedy and beam search, and,
separately, a harder split: three-clause sentences, longer than any sentence seen in training.
The clock counts training only (evaluation pauses it). Last line: `heldout_bleu: <score>`.

    python benchmarks/translation.py              # 120 s budget, the notebook's recipe
    python benchmarks/translation.py --seconds 60
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, replace

from tinyformer.data import ko_en_length_split, ko_en_splits
from tinyformer.translate import GREETING, Recipe, train_translator


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=120.0, help="training-time budget (default 120)")
    p.add_argument("--steps", type=int, default=None, help="override the recipe's step count (schedule length)")
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: the recipe's)")
    args = p.parse_args()
    recipe = Recipe()
    if args.steps:
        recipe = replace(recipe, steps=args.steps)
    if args.threads:
        recipe = replace(recipe, threads=args.threads)
    print("recipe:", ", ".join(f"{k}={v}" for k, v in asdict(recipe).items()))
    splits = ko_en_splits(recipe.n_pairs, recipe.n_test, seed=recipe.data_seed)
    longer = ko_en_length_split(200, seed=recipe.data_seed, n_clauses=3)
    print(f"train {len(splits.train)} pairs, held-out {len(splits.test)}, harder (3 clauses) {len(longer)}; "
          f"budget {args.seconds:.0f} s of training, {recipe.threads} thread(s)")
    print(f"{'wall s':>8} {'cpu s':>7} {'step':>5} {'BLEU':>6} {'chrF':>6} {'exact%':>6}   "
          "(300 held-out, greedy; times include these evaluations)")
    t0, c0 = time.perf_counter(), time.process_time()

    def show(m: dict) -> None:
        print(f"{time.perf_counter() - t0:8.1f} {time.process_time() - c0:7.1f} {m['step']:5d} "
              f"{m['bleu']:6.2f} {m['chrf']:6.2f} {m['exact']:6.1f}", flush=True)

    translator, result = train_translator(recipe, train_pairs=splits.train, eval_pairs=splits.test,
                                          eval_every=args.eval_every, progress=False, max_seconds=args.seconds,
                                          on_eval=show)
    print(f"trained {result.step} steps in {result.seconds:.1f} s ({result.step / result.seconds:.2f} steps/s), "
          f"final loss {sum(result.losses[-20:]) / 20:.3f}")
    greedy = translator.evaluate(splits.test)
    beam = translator.evaluate(splits.test, beam_size=4)
    hard = translator.evaluate(longer)
    hard_beam = translator.evaluate(longer, beam_size=4)
    line = lambda m: f"BLEU {m['bleu']:6.2f}  chrF {m['chrf']:6.2f}  exact {m['exact']:5.1f}%"
    print(f"held-out, greedy:          {line(greedy)}")
    print(f"held-out, beam 4:          {line(beam)}")
    print(f"harder (3 clauses), greedy: {line(hard)}")
    print(f"harder (3 clauses), beam 4: {line(hard_beam)}")
    print(f"greeting: {GREETING[0]} -> {translator.translate(GREETING[0])!r} (want {GREETING[1]!r})")
    print(f"heldout_bleu: {greedy['bleu']:.2f}")


if __name__ == "__main__":
    main()
