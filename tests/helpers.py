"""Small stand-ins several test files share (imported as `from helpers import ...`: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import torch

from tinyformer.model import GPT, GPTConfig


class ByteTokenizer:
    """The simplest tokenizer: one token per byte (what BPE starts from; Korean is 3 tokens a character)."""

    vocab_size = 256

    def encode(self, text):
        return list(text.encode("utf-8"))

    def token_bytes(self, i):
        return bytes([i])


def sharp_random_gpt(n_layers: int, block_size: int, seed: int = 0) -> GPT:
    """A tiny untrained GPT (vocabulary 40, d_model 16) whose matrices are scaled up 10x, so its
    activations and next-token choices differ clearly between inputs, as a trained model's do."""
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=40, block_size=block_size, d_model=16, n_heads=2, n_layers=n_layers, d_ff=32))
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.mul_(10)
    return model.eval()
