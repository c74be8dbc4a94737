"""Solutions to notebook 08's exercises (sampling). Try them first."""

from __future__ import annotations

import torch

__all__ = ["temperature_probs", "top_k", "top_p", "greedy_generate"]


def temperature_probs(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """softmax(logits / T) over the last dim: T < 1 sharpens, T > 1 flattens."""
    return torch.softmax(logits / temperature, dim=-1)


def top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest logits of each row, set the rest to -inf (probability exactly 0)."""
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1) each row's k-th largest
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest most-likely set with mass >= p (the token crossing p included), vectorised over rows."""
    probs = torch.softmax(logits, dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    mass_above = sorted_probs.cumsum(dim=-1) - sorted_probs  # what the higher-ranked tokens already cover
    drop_sorted = mass_above >= p
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, float("-inf"))


def greedy_generate(model: torch.nn.Module, ids: list[int], n: int) -> list[int]:
    """n times: run the model on the last block_size ids, append the argmax at the last position."""
    ids = list(ids)
    for _ in range(n):
        x = torch.tensor([ids[-model.config.block_size:]])  # (1, T), cropped to what the model can see
        logits = model(x)  # (1, T, V)
        ids.append(logits[0, -1].argmax().item())
    return ids
