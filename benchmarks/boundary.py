"""Generation-boundary explorer benchmark: the batched, cached maps of tinyformer.boundary against a point-by-point loop.

On notebook 08's GPT (from data/generated/, trained there first if missing; `--untrained`: the same
architecture, random weights), a prompt of the held-out text, block 2's input, the plane of the
prompt's and another prompt's last states at the notebook's default resolution (41 x 41 = 1681 points):

- next-token map: `next_token_map` (all points in batches, the prompt's prefix cached once per
  batch) against a loop calling the model once per point on the whole prompt (its block input replaced);
- continuation map (4 greedy tokens): `continuation_map` (batched, KV cache) against
  `greedy_continuation_uncached` per point (the whole sequence re-run for every token).

The loops run on the first `--baseline-points` points only (default 200) and are compared per point;
each checks it gives the same tokens as the batched map on those points. Best of `--repeats` runs.

    python benchmarks/boundary.py [--resolution 41] [--baseline-points 200] [--repeats 3] [--threads 1] [--untrained]

Last line: `boundary_explorer_speedup: <ratio>`, the loops' time per point over the maps' (both maps together).
"""

from __future__ import annotations

import argparse

import torch

from tinyformer import boundary as B
from tinyformer.model import GPT, GPTConfig
from timing import best_time  # benchmarks/timing.py, beside this script

LAYER = 2
K = 4



def load_model(untrained: bool) -> tuple[GPT, list[int], list[int], str]:
    if untrained:
        torch.manual_seed(0)
        model = GPT(GPTConfig(vocab_size=1024, block_size=512)).eval()
        return model, list(range(1, 9)), list(range(20, 24)), "untrained weights"
    from tinyformer.lm import DEFAULT_CHECKPOINT, LMRecipe, load_or_train_gpt

    recipe = LMRecipe(vocab_size=1024, steps=1000, batch_size=8, seq_len=128, lr=3e-3,
                      model=GPTConfig(vocab_size=1024, block_size=512, d_model=128, n_heads=4, n_layers=4, d_ff=512))
    model, tok, _ = load_or_train_gpt(DEFAULT_CHECKPOINT, recipe)
    return model, tok.encode("The for statement is used to"), tok.encode("The return statement"), "notebook 08's GPT"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--resolution", type=int, default=41)
    p.add_argument("--baseline-points", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--untrained", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model, prompt, other, what = load_model(args.untrained)
    grid = B.plane_grid(B.prompt_residuals(model, prompt, LAYER)[-1], B.prompt_residuals(model, other, LAYER)[-1],
                        resolution=args.resolution)
    points = grid.flat()
    n_all, n_loop = points.shape[0], min(args.baseline_points, points.shape[0])
    print(f"{what}, prompt of {len(prompt)} tokens, block {LAYER}'s input, {args.resolution}x{args.resolution} = "
          f"{n_all} points, {torch.get_num_threads()} thread(s)")

    t_map, tmap = best_time(lambda: B.next_token_map(model, prompt, LAYER, grid), args.repeats)
    t_loop, loop = best_time(lambda: [B.greedy_continuation_uncached(model, prompt, LAYER, x, k=1)[0]
                                      for x in points[:n_loop]], args.repeats)
    assert loop == tmap.token.flatten()[:n_loop].tolist(), "the loop and the map disagree on the next token"
    next_map, next_loop = t_map / n_all, t_loop / n_loop
    print(f"next-token map    batched {t_map:7.3f} s ({1e3 * next_map:6.3f} ms/point)   "
          f"loop {1e3 * next_loop:6.3f} ms/point   ratio {next_loop / next_map:6.1f}")

    t_cmap, cmap = best_time(lambda: B.continuation_map(model, prompt, LAYER, grid, k=K), args.repeats)
    t_cloop, cloop = best_time(lambda: [B.greedy_continuation_uncached(model, prompt, LAYER, x, k=K)
                                        for x in points[:n_loop]], args.repeats)
    assert cloop == cmap.tokens.reshape(n_all, K)[:n_loop].tolist(), "the loop and the map disagree on a continuation"
    cont_map, cont_loop = t_cmap / n_all, t_cloop / n_loop
    print(f"continuation map  batched {t_cmap:7.3f} s ({1e3 * cont_map:6.3f} ms/point)   "
          f"loop {1e3 * cont_loop:6.3f} ms/point   ratio {cont_loop / cont_map:6.1f}   "
          f"({len(cmap.continuations)} distinct {K}-token continuations)")
    print(f"boundary_explorer_speedup: {(next_loop + cont_loop) / (next_map + cont_map):.3f}")


if __name__ == "__main__":
    main()
