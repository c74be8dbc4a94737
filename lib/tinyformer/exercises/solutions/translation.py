"""Solutions to notebook 07's exercises (translation). Try them first."""

from __future__ import annotations

import math

import torch

__all__ = ["warmup_cosine_lr", "smoothed_loss", "beam_step"]


def warmup_cosine_lr(step: int, peak: float, warmup: int, total: int, floor: float) -> float:
    """Linear warmup to `peak` over `warmup` steps, then half a cosine down to `floor` at `total`, flat after."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min((step - warmup) / (total - warmup), 1.0)
    return floor + (peak - floor) * (1 + math.cos(math.pi * progress)) / 2


def smoothed_loss(logits: torch.Tensor, target: torch.Tensor, eps: float, pad_id: int) -> torch.Tensor:
    """Mean over non-pad positions of (1 - eps) * -logp[target] + eps * -mean(logp); vectorised."""
    logp = torch.log_softmax(logits, dim=-1)  # (N, V)
    nll = -logp.gather(1, target[:, None]).squeeze(1)  # (N,) the target's negative log-probability
    uniform = -logp.mean(dim=-1)  # (N,) against the uniform distribution
    per_token = (1 - eps) * nll + eps * uniform
    keep = target != pad_id
    return per_token[keep].mean()


def beam_step(scores: torch.Tensor, logp: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The k best (beam, token) extensions: (new_scores (k,), beam (k,), token (k,)), best first."""
    K, V = logp.shape
    candidates = scores[:, None] + logp  # (K, V) total score of every extension
    new_scores, index = candidates.reshape(-1).topk(k)  # (k,) positions in the flattened table
    return new_scores, index // V, index % V
