"""Each notebook-09 check rejects the stub and plausible wrong answers, and accepts the solution."""

from __future__ import annotations

import torch

from tinyformer.exercises.looking_inside import check_ablate_head, check_first_settled_layer, check_record_residuals
from tinyformer.exercises.solutions.looking_inside import ablate_head, first_settled_layer, record_residuals
from tinyformer.interpret import run_with_cache


def stub(*args):
    raise NotImplementedError


def assert_fails(check, fn, capsys) -> str:
    assert check(fn) is False
    out = capsys.readouterr().out
    assert out.startswith("❌")
    return out


def assert_passes(check, fn, capsys) -> None:
    assert check(fn) is True, capsys.readouterr().out
    assert capsys.readouterr().out.startswith("✅")


def test_record_residuals_check(capsys):
    assert "not done yet" in assert_fails(check_record_residuals, stub, capsys)

    def outputs(model, idx):  # forward hooks: what each block gives out
        seen = []
        hs = [b.register_forward_hook(lambda m, a, o: seen.append(o)) for b in model.blocks]
        model(idx)
        for h in hs:
            h.remove()
        return seen

    assert "gives out" in assert_fails(check_record_residuals, outputs, capsys)

    def leaves_hooks(model, idx):
        seen = []
        for b in model.blocks:
            b.register_forward_pre_hook(lambda m, a: seen.append(a[0]))
        model(idx)
        return seen

    assert "still registered" in assert_fails(check_record_residuals, leaves_hooks, capsys)

    def library(model, idx):  # the code the check compares with
        _, cache = run_with_cache(model, idx)
        return [cache[f"resid_pre.{l}"] for l in range(len(model.blocks))]

    assert "tinyformer" in assert_fails(check_record_residuals, library, capsys)
    assert_passes(check_record_residuals, record_residuals, capsys)


def test_ablate_head_check(capsys):
    assert "not done yet" in assert_fails(check_ablate_head, stub, capsys)

    def zero_head(model, idx, layer, head):  # a correct ablation, written here so `forbid` lets it through
        D = model.blocks[layer].self_attn.head_dim

        def hook(mod, args):
            z = args[0].clone()
            z[..., head * D:(head + 1) * D] = 0.0
            return (z,)

        h = model.blocks[layer].self_attn.out_proj.register_forward_pre_hook(hook)
        try:
            return model(idx)
        finally:
            h.remove()

    def neighbour(model, idx, layer, head):
        return zero_head(model, idx, layer, (head + 1) % 4)

    assert "not head" in assert_fails(check_ablate_head, neighbour, capsys)

    def nothing(model, idx, layer, head):
        return model(idx)

    assert "unchanged" in assert_fails(check_ablate_head, nothing, capsys)

    def after_w_o(model, idx, layer, head):  # zeroes features of attention's output, after W_O mixed the heads
        D = model.blocks[layer].self_attn.head_dim

        def hook(mod, args, out):
            o = out[0].clone()
            o[..., head * D:(head + 1) * D] = 0
            return (o, out[1])

        h = model.blocks[layer].self_attn.register_forward_hook(hook)
        try:
            return model(idx)
        finally:
            h.remove()

    assert_fails(check_ablate_head, after_w_o, capsys)
    assert_passes(check_ablate_head, ablate_head, capsys)


def test_first_settled_layer_check(capsys):
    assert "not done yet" in assert_fails(check_first_settled_layer, stub, capsys)
    first_agreement = lambda top: (top == top[-1]).long().argmax(0)
    assert "first agreement" in assert_fails(check_first_settled_layer, first_agreement, capsys)
    def settled(top):  # a correct answer, written here so `forbid` lets it through
        stays = (top == top[-1]).flip(0).long().cumprod(0).flip(0)
        return top.shape[0] - stays.sum(0)

    off_by_one = lambda top: settled(top) - 1
    assert "off by one" in assert_fails(check_first_settled_layer, off_by_one, capsys)
    count_agreeing = lambda top: top.shape[0] - (top == top[-1]).long().sum(0)  # counts breaks too
    assert_fails(check_first_settled_layer, count_agreeing, capsys)
    assert_passes(check_first_settled_layer, first_settled_layer, capsys)
    # the same rule as tinyformer.tracing.lens_agreement
    from tinyformer.model import GPT, GPTConfig
    from tinyformer.tracing import lens_agreement
    from tinyformer.interpret import logit_lens
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=30, block_size=8, d_model=16, n_heads=2, n_layers=3, d_ff=32)).eval()
    idx = torch.randint(0, 30, (3, 8), generator=torch.Generator().manual_seed(1))
    _, cache = run_with_cache(model, idx)
    top = logit_lens(model, cache).argmax(-1)
    assert torch.equal(first_settled_layer(top), lens_agreement(model, idx)["first"])
