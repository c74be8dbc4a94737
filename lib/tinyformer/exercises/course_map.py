"""Checks for notebook 00 (the course map): counting UTF-8 bytes and reading next-token probabilities."""

from __future__ import annotations

from typing import Callable

import torch

from .core import CheckFailed, expect, forbid, run_check

__all__ = ["check_utf8_length", "check_most_likely_next"]

UTF8_CASES = ("cat", "café", "한국어", "🙂", "The cat 🐈 sat", "")


def check_utf8_length(utf8_length: Callable[[str], int]) -> bool:
    """`utf8_length(text) -> int`: how many bytes `text` takes in UTF-8."""

    def test() -> None:
        forbid(utf8_length)
        for text in UTF8_CASES:
            got = utf8_length(text)
            want = len(text.encode("utf-8"))
            expect(isinstance(got, int) and not isinstance(got, bool), f"utf8_length({text!r}) returned {type(got).__name__}, expected an int")
            if got == len(text) and got != want:
                raise CheckFailed(f"utf8_length({text!r}) returned {got}, the number of characters; it takes {want} bytes")
            expect(got == want, f"utf8_length({text!r}) returned {got}, expected {want}")

    return run_check(
        "utf8_length",
        test,
        "turn the text into its UTF-8 bytes with the str method `encode` (stage 1 above), then count the bytes, "
        "not the characters",
        nudge="is every character one byte? What could turn the text into the bytes a computer stores?",
    )


def check_most_likely_next(most_likely_next: Callable[[torch.Tensor], int]) -> bool:
    """`most_likely_next(probs) -> int`: the id (index) of the most probable next token in a (V,) tensor."""
    cases = [
        torch.tensor([0.1, 0.7, 0.2]),
        torch.tensor([0.05, 0.05, 0.1, 0.05, 0.6, 0.15]),
        torch.softmax(torch.tensor([2.0, -1.0, 0.5, 3.0, 1.0]), dim=0),
    ]

    def test() -> None:
        forbid(most_likely_next)
        for probs in cases:
            want = int(probs.argmax())
            got = most_likely_next(probs.clone())
            if isinstance(got, torch.Tensor):
                expect(got.numel() == 1, f"returned a tensor of shape {tuple(got.shape)}; expected one id")
                got = got.item()
            if isinstance(got, float) and abs(got - float(probs.max())) < 1e-6:
                raise CheckFailed(f"returned {got:.3f}, the highest probability itself; return its position (the id) instead")
            expect(isinstance(got, int) and not isinstance(got, bool), f"returned {got!r} ({type(got).__name__}); expected an int id")
            expect(got == want, f"for probs {[round(float(p), 3) for p in probs]} you returned id {got}, expected {want}")

    return run_check(
        "most_likely_next",
        test,
        "the id is the position of the largest probability, not the probability itself: `torch.argmax` gives "
        "positions, and `int` or the tensor method `item` turns a one-element tensor into a Python int",
        nudge="do you want the largest probability, or where it sits in the tensor?",
    )
