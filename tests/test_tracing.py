"""tinyformer.tracing on small seeded models: the experiments' invariants."""

import pytest
import torch

from tinyformer.model import GPT, GPTConfig, Transformer, TransformerConfig
from tinyformer.tracing import ablation_sweep, causal_trace, lens_agreement, position_ablation, source_effects


def tiny_gpt() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=30, block_size=8, d_model=32, n_heads=4, n_layers=3, d_ff=64)).eval()


def data():
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, 30, (6, 5), generator=g), torch.randint(0, 30, (6,), generator=g)


def test_causal_trace_ends_and_untouched_positions():
    model = tiny_gpt()
    prompts, answers = data()
    tr = causal_trace(model, prompts, answers, [1, 2], samples=3, noise=10.0)
    assert tr["resid"].shape == tr["mlp"].shape == (3, 5)
    torch.testing.assert_close(tr["resid"][-1, -1], tr["clean"])  # the whole last stream restored = clean
    torch.testing.assert_close(tr["resid"][:, 0], tr["corrupt"].expand(3))  # before the subject: nothing to restore
    assert not torch.allclose(tr["clean"], tr["corrupt"])


def test_causal_trace_one_position_matches_a_single_patch():
    from tinyformer.interpret import patch, residual_hook, run_with_cache
    model = tiny_gpt()
    prompts, answers = data()
    tr = causal_trace(model, prompts, answers, [2], kinds=["mlp"], samples=1, noise=5.0, seed=3)
    _, clean = run_with_cache(model, prompts)
    eps = torch.zeros(6, 5, 32)
    eps[:, 2] = (torch.randn(1, 6, 5, 32, generator=torch.Generator().manual_seed(3)) * 5.0
                 * float(model.tok_embed.weight.detach().std()))[0, :, 2]
    with residual_hook(model, 0, lambda x: x + eps), patch(model, "mlp_out", 1, 3, clean["mlp_out.1"][:, 3]):
        p = torch.softmax(model(prompts)[:, -1], -1).gather(1, answers[:, None]).mean()
    torch.testing.assert_close(tr["mlp"][1, 3], p)


def test_ablation_sweeps():
    model = tiny_gpt()
    prompts, _ = data()
    answers = model(prompts)[:, -1].argmax(-1)  # the model's own answers: recall 1 when nothing is ablated
    sw = ablation_sweep(model, prompts, answers, mode="zero")
    assert sw["none"] == 1.0 and sw["heads"].shape == (3, 4) and sw["attn_only"].shape == (3,)
    pos = position_ablation(model, prompts, answers, allowed=answers.unique())
    assert pos["right"].shape == (3, 5) and torch.all(pos["kind"] >= pos["right"])
    from tinyformer.interpret import mean_activations, patch
    means = mean_activations(model, prompts)
    with patch(model, "mlp_out", 1, 4, means["mlp_out.1"]):
        pred = model(prompts)[:, -1].argmax(-1)
    assert pos["right"][1, 4] == (pred == answers).float().mean()


def test_lens_agreement_ends_at_one():
    model = tiny_gpt()
    prompts, _ = data()
    r = lens_agreement(model, prompts)
    assert r["agree"][-1] == 1.0 and r["settled"][-1] == 1.0
    assert torch.all(r["settled"] <= r["agree"] + 1e-6)
    assert torch.all(r["settled"][1:] >= r["settled"][:-1])


def test_source_effects_padding_and_shapes():
    torch.manual_seed(0)
    model = Transformer(TransformerConfig(40, 30, d_model=32, n_heads=4, n_encoder_layers=2, n_decoder_layers=2,
                                          d_ff=64, dropout=0.0, max_len=32)).eval()
    src = torch.tensor([[5, 6, 7, 8, 0]])  # one padding position
    tgt = torch.tensor([[1, 9, 10, 11]])
    r = source_effects(model, src, tgt, pad_id=0)
    assert r["weight"].shape == r["effect"].shape == (3, 5)
    torch.testing.assert_close(r["weight"].sum(-1), torch.ones(3))
    assert torch.all(r["weight"][:, -1] == 0) and torch.all(r["effect"][:, -1].abs() < 1e-5)  # padding: no role
    logits = model(src, tgt[:, :-1])
    torch.testing.assert_close(r["logp"], torch.log_softmax(logits[0], -1).gather(1, tgt[0, 1:, None])[:, 0])
    with pytest.raises(TypeError):
        source_effects(tiny_gpt(), src, tgt, 0)
    with pytest.raises(ValueError):
        causal_trace(tiny_gpt(), *data(), subject=[9])
