"""Solutions to notebook 02's exercises (embeddings and positions). Try them first."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["one_hot_lookup", "positional_encoding", "cosine_similarity_matrix"]


def one_hot_lookup(ids: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """The embedding lookup as a product: one-hot rows (B, T, V) @ table (V, C) -> (B, T, C)."""
    V = table.shape[0]
    one_hot = F.one_hot(ids, num_classes=V).to(table.dtype)  # (B, T, V)
    return one_hot @ table  # (B, T, C)


def positional_encoding(n_positions: int, d_model: int) -> torch.Tensor:
    """PE[p, 2i] = sin(p / 10000^(2i/d_model)), PE[p, 2i+1] = cos of the same angle; (n_positions, d_model)."""
    pe = torch.zeros(n_positions, d_model, dtype=torch.float64)
    p = torch.arange(n_positions, dtype=torch.float64)[:, None]  # (T, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (C/2,) the even column indices 2i
    angle = p / 10000 ** (two_i / d_model)  # (T, C/2)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe


def cosine_similarity_matrix(x: torch.Tensor) -> torch.Tensor:
    """Entry [i, j] = cos(x_i, x_j): normalise every row to length 1, then all dot products at once; (N, N)."""
    xn = x / x.norm(dim=1, keepdim=True)  # (N, d)
    return xn @ xn.T  # (N, N)
