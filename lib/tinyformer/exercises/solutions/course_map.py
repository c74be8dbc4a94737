"""Solutions to notebook 00's exercises (the course map). Try them first."""

from __future__ import annotations

import torch

__all__ = ["utf8_length", "most_likely_next"]


def utf8_length(text: str) -> int:
    """The number of bytes of the text's UTF-8 encoding (1 to 4 per character)."""
    return len(text.encode("utf-8"))


def most_likely_next(probs: torch.Tensor) -> int:
    """The position (id) of the largest probability, as a Python int."""
    return int(probs.argmax())
