"""Auto-checked exercises for notebook 09 (looking inside): hooks that record, a head knocked out,
and the layer where the logit lens settles.

Each check compares the learner's function with `tinyformer.interpret` / `tinyformer.tracing` on a
small seeded GPT, prints one line (pass, or fail with help) and returns a bool; it never raises.
"""

from __future__ import annotations

from typing import Callable

import torch

from tinyformer.exercises.core import CheckFailed, expect, expect_close, forbid, run_check
from tinyformer.interpret import ablate, run_with_cache
from tinyformer.model import GPT, GPTConfig

__all__ = ["check_record_residuals", "check_ablate_head", "check_first_settled_layer"]


def _model(seed: int = 0, n_layers: int = 3) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=40, block_size=16, d_model=32, n_heads=4, n_layers=n_layers, d_ff=64)).eval()


def _ids(seed: int, B: int = 2, T: int = 6) -> torch.Tensor:
    return torch.randint(0, 40, (B, T), generator=torch.Generator().manual_seed(seed))


def _no_hooks_left(model: GPT) -> None:
    left = [name for name, m in model.named_modules() if m._forward_hooks or m._forward_pre_hooks]
    expect(not left, f"hooks are still registered on {left[:3]} after your function returned; remove each "
                     "handle (handle.remove()), ideally in a `finally:`")


def check_record_residuals(record_residuals: Callable[[GPT, torch.Tensor], list]) -> bool:
    """`record_residuals(model, idx) -> [x_0, ..., x_{L-1}]`: the residual stream entering each block, by hooks."""

    def test() -> None:
        forbid(record_residuals)
        for seed, n_layers in [(0, 3), (1, 2)]:
            model, idx = _model(seed, n_layers), _ids(seed)
            plain = model(idx)
            got = record_residuals(model, idx)
            _no_hooks_left(model)
            expect(isinstance(got, (list, tuple)), f"return a list of tensors, one per block; got {type(got).__name__}")
            expect(len(got) == n_layers, f"a {n_layers}-block model should give {n_layers} tensors, got {len(got)}")
            _, cache = run_with_cache(model, idx)
            for l, x in enumerate(got):
                if isinstance(x, torch.Tensor) and l + 1 < n_layers and x.shape == cache[f"resid_pre.{l + 1}"].shape \
                        and torch.allclose(x, cache[f"resid_pre.{l + 1}"]):
                    raise CheckFailed(f"tensor {l} is what block {l} gives out, not what goes in: a forward hook sees "
                                      "the output")
                expect_close(got[l], cache[f"resid_pre.{l}"], what=f"the stream entering block {l}")
            expect(torch.equal(model(idx), plain), "the model's output changed after your function ran")

    return run_check("record_residuals", test,
                     "a forward pre-hook registered on each block is called with the block and its positional "
                     "arguments before the block runs; the first argument is the stream, shaped (B, T, C). Append it "
                     "to a list, run the model once, then remove every handle",
                     nudge="which kind of hook sees a module's input rather than its output? And what must you do with "
                           "the handles once the model has run?")


def check_ablate_head(ablate_head: Callable[[GPT, torch.Tensor, int, int], torch.Tensor]) -> bool:
    """`ablate_head(model, idx, layer, head) -> logits`: the model's logits with one head's output set to zero."""

    def test() -> None:
        forbid(ablate_head)
        model, idx = _model(2), _ids(2)
        plain = model(idx)
        for layer, head in [(0, 1), (2, 3), (1, 0)]:
            got = ablate_head(model, idx, layer, head)
            _no_hooks_left(model)
            with ablate(model, heads=[(layer, head)]):
                want = model(idx)
            expect(isinstance(got, torch.Tensor) and got.shape == want.shape,
                   f"return the logits (B, T, V) = {tuple(want.shape)}; got {tuple(getattr(got, 'shape', ()))}")
            expect(not torch.allclose(got, plain), f"ablate_head(layer={layer}, head={head}) left the logits unchanged")
            for other in range(4):
                with ablate(model, heads=[(layer, other)]):
                    if other != head and torch.allclose(got, model(idx), atol=1e-6):
                        raise CheckFailed(f"you knocked out head {other}, not head {head}: head h owns features "
                                          f"h*D .. (h+1)*D - 1 of W_O's input")
            expect_close(got, want, what=f"the logits with head {head} of layer {layer} zeroed", atol=1e-5)
        expect(torch.equal(model(idx), plain), "the model's output changed after your function ran")

    return run_check("ablate_head", test,
                     "a forward pre-hook on the output projection W_O of that block's self-attention sees the heads "
                     "side by side, H blocks of D features; return a copy with the chosen head's D features set to "
                     "zero, run the model, remove the hook",
                     nudge="where in the attention layer are the heads still separate? Think of what W_O's input holds")


def check_first_settled_layer(first_settled_layer: Callable[[torch.Tensor], torch.Tensor]) -> bool:
    """`first_settled_layer(top) -> first`: top (L+1, B, T) lens argmax ids -> (B, T) first layer from which
    the argmax equals the last row's at that layer and every later one."""

    def test() -> None:
        forbid(first_settled_layer)
        top = torch.tensor([[[5, 1, 2]], [[7, 1, 9]], [[5, 3, 9]], [[5, 3, 9]]])  # (4, 1, 3)
        want = torch.tensor([[2, 2, 1]])
        got = first_settled_layer(top.clone())
        expect(isinstance(got, torch.Tensor) and got.shape == want.shape,
               f"the result should be a (B, T) tensor {tuple(want.shape)}, got {tuple(getattr(got, 'shape', ()))}")
        if got.tolist() == [[0, 2, 1]]:
            raise CheckFailed("at position 0 layer 0 agrees with the end, then layer 1 disagrees: the first "
                              "agreement is not where the prediction settles")
        if got.tolist() in ([[1, 1, 0]], [[3, 3, 2]]):
            raise CheckFailed("your layers are off by one: the answer counts rows of `top` from 0")
        expect(got.tolist() == want.tolist(), f"on a worked example got {got.tolist()}, expected {want.tolist()}")
        g = torch.Generator().manual_seed(0)
        top = torch.randint(0, 3, (5, 4, 7), generator=g)
        got = first_settled_layer(top.clone())
        same = top == top[-1]
        for b in range(4):
            for t in range(7):
                l = 4
                while l > 0 and bool(same[l - 1, b, t]):
                    l -= 1
                expect(int(got[b, t]) == l, f"on random ids, position (b={b}, t={t}) should settle at layer {l}, "
                                            f"got {int(got[b, t])}")

    return run_check("first_settled_layer", test,
                     "compare every row with the last one; a layer counts when it and all later rows agree: walk "
                     "from the last row backwards with a cumulative product of the agreements, then count the rows "
                     "that survive",
                     nudge="the last row always agrees with itself. Which rows, counted from the end, agree without a "
                           "break?")
