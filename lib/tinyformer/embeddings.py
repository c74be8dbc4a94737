"""Token embeddings and positional encodings: turning ids and positions into vectors.

A token embedding is a learned table of `V` rows of size `C`; looking up id `i` returns row `i`
(the same as one-hot(i) @ table). Attention alone ignores order, so a position vector is added:
either the fixed sinusoids of "Attention Is All You Need" (Vaswani et al., 2017, section 3.5),

    PE[p, 2i]   = sin(p / 10000^(2i / C))
    PE[p, 2i+1] = cos(p / 10000^(2i / C))

or a learned table of one row per position (as in BERT and GPT-2). The paper also multiplies the
token embeddings by sqrt(C) (section 3.4); `TokenEmbedding(scale=True)` does that.
Left out: rotary (RoPE) and relative position schemes.

Shapes: `B` batch, `T` time (positions), `C` d_model, `V` vocabulary size.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["TokenEmbedding", "sinusoidal_positional_encoding", "LearnedPositionalEmbedding", "SinusoidalPositionalEncoding"]


def _check_positive_int(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name}={value} must be a positive integer")


def _check_ids(ids: torch.Tensor, n_rows: int, what: str, table: str) -> None:
    """Raise a readable error before torch's 'index out of range in self'."""
    if not isinstance(ids, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor of integer ids, got {type(ids).__name__}")
    if ids.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise TypeError(f"{what} must hold integers (torch.long), got dtype {ids.dtype}")
    if ids.numel() == 0:
        return
    if ids.numel() <= 64:  # a decoding step's few ids: Python's min/max is ~8x cheaper than two tensor reductions
        flat = ids.flatten().tolist()
        lo, hi = min(flat), max(flat)
    else:
        lo, hi = (int(v) for v in torch.aminmax(ids))
    if lo < 0 or hi >= n_rows:
        bad = lo if lo < 0 else hi
        raise ValueError(f"{what} contain {bad}, outside the {table} of {n_rows} rows (valid: 0..{n_rows - 1})")


class TokenEmbedding(nn.Module):
    """A lookup table from token id to a d_model vector, optionally scaled by sqrt(d_model)."""

    def __init__(self, vocab_size: int, d_model: int, scale: bool = False):
        super().__init__()
        _check_positive_int("vocab_size", vocab_size)
        _check_positive_int("d_model", d_model)
        self.vocab_size = vocab_size
        self.d_model = d_model
        self.scale = scale
        self.weight = nn.Parameter(torch.empty(vocab_size, d_model))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # N(0, 1) like nn.Embedding; when scaled, N(0, 1/C) so rows times sqrt(C) have unit entries
        std = 1.0 / math.sqrt(self.d_model) if self.scale else 1.0
        nn.init.normal_(self.weight, mean=0.0, std=std)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        _check_ids(ids, self.vocab_size, "token ids", "vocabulary")
        x = self.weight[ids.long()]  # (..., C): row ids[...] of the table
        if self.scale:
            x = x * math.sqrt(self.d_model)
        return x

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, d_model={self.d_model}, scale={self.scale}"


def sinusoidal_positional_encoding(n_positions: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """The fixed (n_positions, d_model) table of sines and cosines from Vaswani et al. (2017)."""
    _check_positive_int("n_positions", n_positions)
    _check_positive_int("d_model", d_model)
    position = torch.arange(n_positions, dtype=torch.float64).unsqueeze(1)  # (T, 1)
    i2 = torch.arange(0, d_model, 2, dtype=torch.float64)  # (ceil(C/2),) the even indices 2i
    inv_freq = base ** (-i2 / d_model)  # 1 / 10000^(2i/C): wavelengths from 2*pi to 10000*2*pi
    angle = position * inv_freq  # (T, ceil(C/2))
    pe = torch.zeros(n_positions, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])  # odd C: the last column is a sine only
    return pe.to(torch.get_default_dtype())


class SinusoidalPositionalEncoding(nn.Module):
    """The fixed sinusoidal table as a module: forward(T) returns its first T rows, (T, C)."""

    def __init__(self, n_positions: int, d_model: int):
        super().__init__()
        self.n_positions = n_positions
        self.register_buffer("pe", sinusoidal_positional_encoding(n_positions, d_model), persistent=False)

    def forward(self, T: int, offset: int = 0) -> torch.Tensor:
        _check_range(T, offset, self.n_positions)
        return self.pe[offset : offset + T]  # (T, C)


class LearnedPositionalEmbedding(nn.Module):
    """A learned table with one d_model vector per position: forward(T) returns rows offset..offset+T-1."""

    def __init__(self, n_positions: int, d_model: int):
        super().__init__()
        _check_positive_int("n_positions", n_positions)
        _check_positive_int("d_model", d_model)
        self.n_positions = n_positions
        self.d_model = d_model
        self.weight = nn.Parameter(torch.empty(n_positions, d_model))
        nn.init.normal_(self.weight, mean=0.0, std=0.02)  # small, as in GPT-2

    def forward(self, T: int | torch.Tensor, offset: int = 0) -> torch.Tensor:
        """`T` an int (length: rows offset..offset+T-1, (T, C)) or a tensor of positions ((..., C))."""
        if isinstance(T, torch.Tensor):
            _check_ids(T, self.n_positions, "positions", "positional table")
            return self.weight[T.long()]
        _check_range(T, offset, self.n_positions)
        return self.weight[offset : offset + T]  # (T, C)

    def extra_repr(self) -> str:
        return f"n_positions={self.n_positions}, d_model={self.d_model}"


def _check_range(T: object, offset: object, n_positions: int) -> None:
    if not isinstance(T, int) or isinstance(T, bool) or T < 0:
        raise ValueError(f"T={T!r} must be a non-negative int (the number of positions)")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise ValueError(f"offset={offset!r} must be a non-negative int")
    if offset + T > n_positions:
        raise ValueError(
            f"position {offset + T - 1} is beyond the positional table of n_positions={n_positions} "
            f"(T={T}, offset={offset}); build the table with a larger n_positions (max_len)"
        )
