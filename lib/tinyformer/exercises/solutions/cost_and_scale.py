"""Solutions to notebook 10's exercises (cost and scale). Try them first."""

from __future__ import annotations

import math

import torch

__all__ = ["kv_cache_bytes", "attention_crossover", "online_softmax", "tiled_attention"]


def kv_cache_bytes(n_layers: int, n_kv_heads: int, head_dim: int, bytes_per_value: int) -> int:
    """A key and a value per head per layer: 2 · n_layers · n_kv_heads · head_dim · bytes_per_value."""
    return 2 * n_layers * n_kv_heads * head_dim * bytes_per_value


def attention_crossover(d_model: int, d_ff: int) -> float:
    """4·T·C (attention) = 8·C² (q, k, v, out projections) + 4·C·d_ff (MLP)  ->  T = (8·C² + 4·C·d_ff) / (4·C)."""
    return (8 * d_model**2 + 4 * d_model * d_ff) / (4 * d_model)


def online_softmax(blocks) -> tuple[torch.Tensor, torch.Tensor]:
    """One pass: running max m and running sum l of exp(score - m), rescaled whenever m grows."""
    m = torch.tensor(-math.inf, dtype=torch.float64)
    l = torch.tensor(0.0, dtype=torch.float64)
    for block in blocks:
        m_new = torch.maximum(m, block.max())
        l = l * torch.exp(m - m_new) + torch.exp(block - m_new).sum()
        m = m_new
    return m, l


def tiled_attention_2d(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, block_size: int) -> torch.Tensor:
    """softmax(q kᵀ / √D) v by (block, block) tiles of scores and an online softmax per query row."""
    T, D = q.shape
    out = []
    for i in range(0, T, block_size):
        qi = q[i : i + block_size] / math.sqrt(D)  # (Bq, D)
        m = torch.full((qi.shape[0], 1), -math.inf, dtype=q.dtype)  # (Bq, 1) running max
        l = torch.zeros(qi.shape[0], 1, dtype=q.dtype)  # (Bq, 1) running sum
        acc = torch.zeros(qi.shape[0], v.shape[1], dtype=q.dtype)  # (Bq, D_v) running output
        for j in range(0, k.shape[0], block_size):
            s = qi @ k[j : j + block_size].T  # (Bq, Bk) one tile of scores
            m_new = torch.maximum(m, s.max(dim=1, keepdim=True).values)
            p = torch.exp(s - m_new)  # (Bq, Bk)
            scale = torch.exp(m - m_new)  # (Bq, 1) rescales what was summed against the old max
            l = l * scale + p.sum(dim=1, keepdim=True)
            acc = acc * scale + p @ v[j : j + block_size]
            m = m_new
        out.append(acc / l)
    return torch.cat(out)  # (T, D_v)
