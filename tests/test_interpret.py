"""tinyformer.interpret: recording, ablation, patching, residual hooks and the logit lens."""

import pytest
import torch

from tinyformer.interpret import (ablate, logit_lens, mean_activations, n_layers, patch, residual_hook,
                                  run_with_cache)
from tinyformer.model import GPT, GPTConfig, Transformer, TransformerConfig


def tiny_gpt(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=50, block_size=16, d_model=32, n_heads=4, n_layers=3, d_ff=64)).eval()


def tiny_transformer(seed: int = 0) -> Transformer:
    torch.manual_seed(seed)
    cfg = TransformerConfig(src_vocab_size=40, tgt_vocab_size=30, d_model=32, n_heads=4, n_encoder_layers=2,
                            n_decoder_layers=2, d_ff=64, dropout=0.0, max_len=32)
    return Transformer(cfg).eval()


def ids(B: int, T: int, V: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(3, V, (B, T), generator=torch.Generator().manual_seed(seed))


def test_recording_changes_no_output_gpt():
    model = tiny_gpt()
    x = ids(2, 7, 50)
    plain = model(x)
    logits, cache = run_with_cache(model, x)
    assert torch.equal(logits, plain)
    assert torch.equal(model(x), plain)  # the hooks are gone afterwards
    for l in range(3):
        assert cache[f"resid_pre.{l}"].shape == (2, 7, 32)
        assert cache[f"attn_weights.{l}"].shape == (2, 4, 7, 7)
        assert cache[f"z.{l}"].shape == (2, 7, 4, 8)
        assert cache[f"mlp_pre.{l}"].shape == (2, 7, 64)
    # the stream is what the pieces add: resid_post = resid_pre + attn_out + mlp_out
    torch.testing.assert_close(cache["resid_post.1"], cache["resid_pre.1"] + cache["attn_out.1"] + cache["mlp_out.1"])
    torch.testing.assert_close(cache["resid_post.0"], cache["resid_pre.1"])


def test_recorded_attention_weights_equal_the_models_own():
    model = tiny_gpt()
    x = ids(2, 7, 50)
    _, cache = run_with_cache(model, x)
    _, own = model(x, return_attention=True)
    for l in range(3):
        torch.testing.assert_close(cache[f"attn_weights.{l}"], own[l])
        assert torch.all(cache[f"attn_weights.{l}"].triu(1) == 0)  # causal


def test_recording_changes_no_output_transformer():
    model = tiny_transformer()
    src, tgt = ids(2, 6, 40), ids(2, 5, 30, seed=2)
    src[1, -2:] = 0  # padding in the second source
    plain = model(src, tgt)
    logits, cache = run_with_cache(model, tgt, src)
    assert torch.equal(logits, plain)
    assert cache["cross_attn_weights.1"].shape == (2, 4, 5, 6)
    assert cache["enc.attn_weights.0"].shape == (2, 4, 6, 6)
    assert torch.all(cache["cross_attn_weights.0"][1, :, :, -2:] == 0)  # padding gets no weight
    memory = model.encode(src)
    _, att = model.decode(tgt, memory, model.source_mask(src), return_attention=True)
    torch.testing.assert_close(cache["cross_attn_weights.1"], att["cross"][1])


def test_recording_with_kv_cache_matches_full_weights():
    model = tiny_gpt()
    x = ids(1, 6, 50)
    _, full = run_with_cache(model, x)
    kv = model.new_cache(1)
    model(x[:, :5], cache=kv)
    _, step = run_with_cache(model, x[:, 5:], kv_cache=kv)
    torch.testing.assert_close(step["attn_weights.2"][:, :, 0], full["attn_weights.2"][:, :, 5])
    torch.testing.assert_close(step["resid_post.2"][:, 0], full["resid_post.2"][:, 5])
    with pytest.raises(ValueError, match="kv_cache"):
        run_with_cache(tiny_transformer(), x, x, kv_cache=kv)


def test_patching_own_activation_is_a_no_op():
    model = tiny_gpt()
    x = ids(3, 7, 50)
    plain, cache = run_with_cache(model, x)
    for name in ("resid_pre", "resid_post", "attn_out", "mlp_out", "mlp_pre"):
        for pos in (0, 4, -1):
            with patch(model, name, 1, pos, cache[f"{name}.1"][:, pos]):
                assert torch.equal(model(x), plain), (name, pos)
    with patch(model, "resid_pre", 2, None, cache["resid_pre.2"]):
        assert torch.equal(model(x), plain)
    rows = torch.tensor([0, 3, 6])
    with patch(model, "mlp_out", 0, rows, cache["mlp_out.0"][torch.arange(3), rows]):
        assert torch.equal(model(x), plain)


def test_patching_transformer_own_activation_is_a_no_op():
    model = tiny_transformer()
    src, tgt = ids(2, 6, 40), ids(2, 5, 30, seed=2)
    plain, cache = run_with_cache(model, tgt, src)
    with patch(model, "cross_attn_out", 1, 2, cache["cross_attn_out.1"][:, 2]):
        assert torch.equal(model(src, tgt), plain)
    with patch(model, "enc.mlp_out", 0, 3, cache["enc.mlp_out.0"][:, 3]):
        assert torch.equal(model(src, tgt), plain)


def test_patching_moves_the_answer_and_only_later_positions():
    model = tiny_gpt()
    a, b = ids(1, 6, 50, seed=3), ids(1, 6, 50, seed=4)
    la, ca = run_with_cache(model, a)
    lb = model(b)
    with patch(model, "resid_pre", 0, None, ca["resid_pre.0"]):  # the whole stream from run a
        torch.testing.assert_close(model(b), la)
    with patch(model, "resid_pre", 1, 3, ca["resid_pre.1"][:, 3]):
        out = model(b)
    assert torch.equal(out[:, :3], lb[:, :3])  # causal: earlier positions untouched
    assert not torch.allclose(out[:, 3:], lb[:, 3:])


def test_ablating_nothing_is_a_no_op_and_ablating_something_is_not():
    model = tiny_gpt()
    x = ids(2, 7, 50)
    plain = model(x)
    with ablate(model):
        assert torch.equal(model(x), plain)
    with ablate(model, heads=[(1, 2)]):
        assert not torch.allclose(model(x), plain)
    with ablate(model, mlps=[0]):
        assert not torch.allclose(model(x), plain)
    assert torch.equal(model(x), plain)


def test_zero_ablating_a_head_zeroes_its_z_and_mean_ablation_uses_the_mean():
    model = tiny_gpt()
    x = ids(2, 7, 50)
    means = mean_activations(model, x)
    with ablate(model, heads=[(1, 2)], mlps=[2]):
        _, cache = run_with_cache(model, x)
    assert torch.all(cache["z.1"][:, :, 2] == 0) and not torch.all(cache["z.1"][:, :, 1] == 0)
    # zeroing head 2 of block 1 equals removing its columns of W_O
    W = model.blocks[1].self_attn.out_proj.weight.detach().clone()
    with torch.no_grad():
        model.blocks[1].self_attn.out_proj.weight[:, 16:24] = 0
        with ablate(model, mlps=[2]):
            ref = model(x)
        model.blocks[1].self_attn.out_proj.weight.copy_(W)
    with ablate(model, heads=[(1, 2)], mlps=[2]):
        torch.testing.assert_close(model(x), ref)
    assert torch.all(cache["mlp_out.2"] == 0)
    with ablate(model, mlps=[2], mode="mean", means=means):
        _, cache = run_with_cache(model, x)
    torch.testing.assert_close(cache["mlp_out.2"], means["mlp_out.2"].expand(2, 7, 32))


def test_transformer_cross_head_ablation_changes_output():
    model = tiny_transformer()
    src, tgt = ids(2, 6, 40), ids(2, 5, 30, seed=2)
    plain = model(src, tgt)
    with ablate(model, cross_heads=[(0, 1)]):
        assert not torch.allclose(model(src, tgt), plain)


def test_logit_lens_last_layer_is_the_models_logits():
    model = tiny_gpt()
    x = ids(2, 7, 50)
    logits, cache = run_with_cache(model, x)
    lens = logit_lens(model, cache)
    assert lens.shape == (4, 2, 7, 50)
    assert torch.equal(lens[-1], logits)
    tmodel = tiny_transformer()
    src, tgt = ids(2, 6, 40), ids(2, 5, 30, seed=2)
    tl, tc = run_with_cache(tmodel, tgt, src)
    assert torch.equal(logit_lens(tmodel, tc)[-1], tl)
    assert n_layers(tmodel) == 2


def test_residual_hook_identity_and_shift():
    model = tiny_gpt()
    x = ids(2, 7, 50)
    plain, cache = run_with_cache(model, x)
    with residual_hook(model, 1, lambda h: h):
        assert torch.equal(model(x), plain)
    with residual_hook(model, 3, lambda h: h):  # entering the final norm
        assert torch.equal(model(x), plain)
    d = torch.randn(32)
    with residual_hook(model, 2, lambda h: h + d):
        _, shifted = run_with_cache(model, x)
    torch.testing.assert_close(shifted["resid_pre.2"], cache["resid_pre.2"] + d)


def test_bad_input_errors():
    model = tiny_gpt()
    x = ids(1, 4, 50)
    with pytest.raises(TypeError, match="model"):
        run_with_cache(torch.nn.Linear(2, 2), x)
    with pytest.raises(ValueError, match="src"):
        run_with_cache(model, x, x)
    with pytest.raises(ValueError, match="src"):
        run_with_cache(tiny_transformer(), x)
    with pytest.raises(ValueError, match="names"):
        run_with_cache(model, x, names=["resid"])
    with pytest.raises(ValueError, match="mode"):
        with ablate(model, mlps=[0], mode="half"):
            pass
    with pytest.raises(ValueError, match="means"):
        with ablate(model, mlps=[0], mode="mean"):
            pass
    with pytest.raises(ValueError, match="head"):
        with ablate(model, heads=[(0, 4)]):
            pass
    with pytest.raises(ValueError, match="layer"):
        with ablate(model, mlps=[3]):
            pass
    with pytest.raises(ValueError, match="cross_heads"):
        with ablate(model, cross_heads=[(0, 0)]):
            pass
    with pytest.raises(ValueError, match="name"):
        with patch(model, "attn_weights", 0, 0, torch.zeros(32)):
            pass
    with pytest.raises(ValueError, match="layer"):
        with patch(model, "resid_pre", 5, 0, torch.zeros(32)):
            pass
    with pytest.raises(TypeError, match="value"):
        with patch(model, "resid_pre", 0, 0, [0.0] * 32):
            pass
    with pytest.raises(TypeError, match="position"):
        with patch(model, "resid_pre", 0, 1.5, torch.zeros(32)):
            pass
    with pytest.raises(ValueError, match="position"):
        with patch(model, "resid_pre", 0, 9, torch.zeros(32)):
            model(x)
    with pytest.raises(ValueError, match="layer"):
        with residual_hook(model, 4, lambda h: h):
            pass
    with pytest.raises(ValueError, match="fn"):
        with residual_hook(model, 0, lambda h: h[:, :1]):
            model(x)
    with pytest.raises(ValueError, match="cache"):
        logit_lens(model, {})
    assert torch.equal(model(x), model(x))  # every failed `with` removed its hooks
    plain = model(x)
    assert all(not b._forward_hooks and not b._forward_pre_hooks for b in model.modules()), "hooks left behind"
    assert torch.equal(plain, model(x))
