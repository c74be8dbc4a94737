"""The notebook-07 exercise checks reject stubs, plausible mistakes and the shortcuts they rule out, and accept
the solutions."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from tinyformer.exercises import check_beam_step, check_label_smoothed_loss, check_warmup_cosine_lr
from tinyformer.exercises.core import reset_hints
from tinyformer.exercises.solutions.translation import beam_step as beam_solution
from tinyformer.exercises.solutions.translation import smoothed_loss as ls_solution
from tinyformer.exercises.solutions.translation import warmup_cosine_lr as lr_solution
from tinyformer.train import TrainConfig, label_smoothed_cross_entropy, lr_lambda


@pytest.fixture(autouse=True)
def fresh_hints():
    reset_hints()


def stub(*args):
    raise NotImplementedError


# ---- warmup + cosine


def lr_no_cap(step, peak, warmup, total, floor):          # forgets to stop at total: cosine comes back up
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / (total - warmup)
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def lr_off_by_one(step, peak, warmup, total, floor):      # starts warmup at 0 instead of peak / warmup
    if step < warmup:
        return peak * step / warmup
    return lr_solution(step, peak, warmup, total, floor)


def test_warmup_cosine_lr(capsys):
    assert check_warmup_cosine_lr(stub) is False
    assert "❌" in capsys.readouterr().out
    assert check_warmup_cosine_lr(lr_no_cap) is False
    assert check_warmup_cosine_lr(lr_off_by_one) is False
    assert "❌" in capsys.readouterr().out
    assert check_warmup_cosine_lr(lr_solution) is True
    assert "✅" in capsys.readouterr().out


# ---- label smoothing


def ls_counts_padding(logits, target, eps, pad_id):            # averages over every position, padding included
    logp = torch.log_softmax(logits, dim=-1)
    nll = -logp.gather(1, target[:, None]).squeeze(1)
    return ((1 - eps) * nll + eps * (-logp.mean(dim=-1))).mean()


def ls_wrong_spread(logits, target, eps, pad_id):           # spreads eps over the V-1 wrong classes only
    logp = torch.log_softmax(logits, dim=-1)
    V = logits.size(-1)
    nll = -logp.gather(1, target[:, None]).squeeze(1)
    others = (-logp.sum(-1) - nll) / (V - 1)
    keep = target != pad_id
    return ((1 - eps) * nll + eps * others)[keep].mean()


def ls_cross_entropy(logits, target, eps, pad_id):
    return F.cross_entropy(logits, target, label_smoothing=eps, ignore_index=pad_id)


def ls_module(logits, target, eps, pad_id):
    return torch.nn.CrossEntropyLoss(label_smoothing=eps, ignore_index=pad_id)(logits, target)


def ls_loop(logits, target, eps, pad_id):                     # right values, one position at a time
    losses = []
    for row, t in zip(logits, target):
        if t != pad_id:
            logp = torch.log_softmax(row, dim=-1)
            losses.append((1 - eps) * -logp[t] + eps * -logp.mean())
    return torch.stack(losses).mean()


def ls_comprehension(logits, target, eps, pad_id):
    logp = torch.log_softmax(logits, dim=-1)
    nll = torch.stack([-logp[i, t] for i, t in enumerate(target.tolist())])
    keep = target != pad_id
    return ((1 - eps) * nll + eps * -logp.mean(dim=-1))[keep].mean()


def ls_library(logits, target, eps, pad_id):
    return label_smoothed_cross_entropy(logits, target, eps, pad_id)


@pytest.mark.parametrize("shortcut, used", [
    (ls_cross_entropy, "`.cross_entropy`"), (ls_module, "`.CrossEntropyLoss`"), (ls_loop, "a loop"),
    (ls_comprehension, "a loop"), (ls_library, "`label_smoothed_cross_entropy` from tinyformer.train"),
])
def test_label_smoothed_loss_rejects_shortcuts_and_loops(capsys, shortcut, used):
    assert check_label_smoothed_loss(shortcut) is False
    assert f"your code uses {used}" in capsys.readouterr().out


def test_warmup_cosine_lr_rejects_the_library(capsys):
    def via_library(step, peak, warmup, total, floor):
        return peak * lr_lambda(step, TrainConfig(max_steps=total, lr=peak, warmup_steps=warmup))

    assert check_warmup_cosine_lr(via_library) is False
    assert "from tinyformer.train" in capsys.readouterr().out


def test_label_smoothed_loss(capsys):
    assert check_label_smoothed_loss(stub) is False
    assert check_label_smoothed_loss(ls_counts_padding) is False
    assert "padding" in capsys.readouterr().out
    assert check_label_smoothed_loss(ls_wrong_spread) is False
    assert "❌" in capsys.readouterr().out
    assert check_label_smoothed_loss(ls_solution) is True
    assert "✅" in capsys.readouterr().out


# ---- one beam step


def beam_only_best(scores, logp, k):
    top, tok = (scores[0] + logp[0]).topk(k)
    return top, torch.zeros(k, dtype=torch.long), tok


def beam_ignores_scores(scores, logp, k):
    V = logp.size(1)
    top, idx = logp.reshape(-1).topk(k)
    return top, idx // V, idx % V


def beam_swapped(scores, logp, k):                          # beam and token mixed up
    V = logp.size(1)
    top, idx = (scores[:, None] + logp).reshape(-1).topk(k)
    return top, idx % V, idx // V


def test_beam_step(capsys):
    assert check_beam_step(stub) is False
    assert check_beam_step(beam_only_best) is False
    assert "only the best beam" in capsys.readouterr().out
    assert check_beam_step(beam_ignores_scores) is False
    assert "score" in capsys.readouterr().out
    assert check_beam_step(beam_swapped) is False
    assert check_beam_step(beam_solution) is True
    assert "✅" in capsys.readouterr().out
