"""Exercises for notebook 07 (translation): the learning-rate schedule, label smoothing, one beam step."""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from .core import CheckFailed, expect, expect_close, forbid, run_check

__all__ = ["check_warmup_cosine_lr", "check_label_smoothed_loss", "check_beam_step"]


def _reference_lr(step: int, peak: float, warmup: int, total: int, floor: float) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min((step - warmup) / max(total - warmup, 1), 1.0)
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def check_warmup_cosine_lr(fn: Callable[[int, float, int, int, float], float]) -> bool:
    """fn(step, peak, warmup, total, floor) -> learning rate: linear warmup to peak, cosine down to floor."""

    def test() -> None:
        forbid(fn)
        for peak, warmup, total, floor in ((1e-3, 10, 110, 1e-4), (0.5, 4, 20, 0.0)):
            for step in (0, 1, warmup - 1, warmup, (warmup + total) // 2, total - 1, total, total + 5):
                got = fn(step, peak, warmup, total, floor)
                want = _reference_lr(step, peak, warmup, total, floor)
                expect(isinstance(got, (int, float)), f"fn should return a float, got {type(got).__name__}")
                expect(abs(got - want) <= 1e-9 + 1e-6 * abs(want),
                       f"at step={step} (peak={peak}, warmup={warmup}, total={total}, floor={floor}) "
                       f"you return {got:.6g}, expected {want:.6g}")

    return run_check("warmup_cosine_lr", test,
                     "while step is below warmup, grow linearly so that step 0 already gets peak / warmup and step "
                     "warmup - 1 reaches peak; after that, measure the progress from 0 to 1 over the steps from "
                     "warmup to total, cap it at 1, and go from peak down to floor along half a cosine",
                     nudge="is the rate at step 0 zero or already above it? And what should happen after step "
                           "total: does the cosine come back up?")


def check_label_smoothed_loss(fn: Callable[[torch.Tensor, torch.Tensor, float, int], torch.Tensor]) -> bool:
    """fn(logits (N, V), target (N,), eps, pad_id) -> mean label-smoothed cross-entropy over non-pad targets.

    Vectorised: a loop (for, while, comprehension) or F.cross_entropy / nn.CrossEntropyLoss is rejected.
    """

    def test() -> None:
        forbid(fn, "the exercise writes the smoothed loss from log-probabilities, vectorised: no loop, and no "
                   "F.cross_entropy (it is what the check compares with)",
               names=("cross_entropy", "CrossEntropyLoss"), loops=True)
        g = torch.Generator().manual_seed(0)
        logits = torch.randn(7, 6, generator=g, dtype=torch.float64)
        target = torch.tensor([1, 2, 0, 5, 0, 3, 4])
        for eps in (0.0, 0.1, 0.3):
            got = fn(logits, target, eps, 0)
            want = F.cross_entropy(logits, target, label_smoothing=eps, ignore_index=0)
            if isinstance(got, torch.Tensor) and got.shape == want.shape:
                plain = F.cross_entropy(logits, target, label_smoothing=eps)
                if torch.allclose(got.double(), plain):
                    raise CheckFailed("your loss counts the padding positions (target == pad_id); leave them out "
                                      "of both the sum and the count")
            expect_close(got, want, f"loss with eps={eps}", atol=1e-6)

    return run_check("label_smoothed_loss", test,
                     "take `log_softmax` over the vocabulary; per position, weigh the target's negative "
                     "log-probability (pick it out with `gather`) by 1 - eps and the mean negative log-probability "
                     "over all tokens by eps, add them, and average over the positions whose target is not pad_id",
                     nudge="with smoothing, which part of the loss looks at the target token and which at every "
                           "token? And which positions should count in the average?")


def _reference_beam_step(scores: torch.Tensor, logp: torch.Tensor, k: int):
    K, V = logp.shape
    top, idx = (scores[:, None] + logp).view(-1).topk(k)
    return top, idx // V, idx % V


def check_beam_step(fn: Callable[[torch.Tensor, torch.Tensor, int], tuple]) -> bool:
    """fn(scores (K,), logp (K, V), k) -> (new_scores (k,), beam (k,), token (k,)): the k best extensions."""

    def test() -> None:
        forbid(fn)
        g = torch.Generator().manual_seed(1)
        scores = torch.tensor([-0.5, -1.0, -3.0])
        logp = torch.log_softmax(torch.randn(3, 5, generator=g) * 2, dim=-1)
        got = fn(scores, logp, 3)
        expect(isinstance(got, tuple) and len(got) == 3, "return a tuple (new_scores, beam, token)")
        want = _reference_beam_step(scores, logp, 3)
        only_best_beam = torch.topk(scores[0] + logp[0], 3).values
        if isinstance(got[0], torch.Tensor) and got[0].shape == (3,) and torch.allclose(got[0], only_best_beam):
            raise CheckFailed("you extended only the best beam; every beam's every token is a candidate")
        if isinstance(got[0], torch.Tensor) and got[0].shape == (3,) and torch.allclose(got[0], logp.view(-1).topk(3).values):
            raise CheckFailed("you ranked tokens by their own log-probability; add each beam's score first")
        expect_close(got[0], want[0], "new_scores")
        expect(torch.equal(torch.as_tensor(got[1]).long(), want[1]), f"beam is {got[1]}, expected {want[1]}")
        expect(torch.equal(torch.as_tensor(got[2]).long(), want[2]), f"token is {got[2]}, expected {want[2]}")

    return run_check("beam_step", test,
                     "add each beam's score to its row of logp to get a (K, V) table of candidate scores; flatten "
                     "it and take the k largest (`topk`); a flat position splits back into its beam and its token by "
                     "integer division by V and the remainder",
                     nudge="is every (beam, token) pair a candidate, and what is its total score? How do you find "
                           "the k best in a 2-D table?")
