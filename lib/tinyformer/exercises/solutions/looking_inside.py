"""Solutions to notebook 09's exercises (looking inside). Try them first."""

from __future__ import annotations

import torch

__all__ = ["record_residuals", "ablate_head", "first_settled_layer"]


def record_residuals(model, idx: torch.Tensor) -> list[torch.Tensor]:
    """A forward pre-hook on every block keeps its input; the handles are removed even if the model fails."""
    seen: list[torch.Tensor] = []
    handles = [block.register_forward_pre_hook(lambda mod, args: seen.append(args[0].detach()))
               for block in model.blocks]
    try:
        model(idx)
    finally:
        for h in handles:
            h.remove()
    return seen


def ablate_head(model, idx: torch.Tensor, layer: int, head: int) -> torch.Tensor:
    """Zero head `head`'s features of W_O's input (the heads side by side, (B, T, H*D)), run, unhook."""
    attn = model.blocks[layer].self_attn
    D = attn.head_dim

    def zero_head(mod, args):
        z = args[0].clone()  # (B, T, H*D)
        z[..., head * D:(head + 1) * D] = 0.0
        return (z,)

    handle = attn.out_proj.register_forward_pre_hook(zero_head)
    try:
        return model(idx)
    finally:
        handle.remove()


def first_settled_layer(top: torch.Tensor) -> torch.Tensor:
    """top (L+1, B, T) -> (B, T): rows that agree with the last one without a break, counted from the end."""
    same = top == top[-1]  # (L+1, B, T)
    stays = same.flip(0).long().cumprod(0).flip(0)  # 1 where this row and every later one agree
    return top.shape[0] - stays.sum(0)
