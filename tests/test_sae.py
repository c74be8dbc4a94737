"""Tests for tinyformer.sae: a perfect dictionary reconstructs, training, the load-or-train cache, metrics."""

import pytest
import torch

from helpers import sharp_random_gpt
from tinyformer import boundary
from tinyformer import sae as S
from tinyformer.model import GPT
from tinyformer.sampling import generate

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: two threads on a busy machine crawl


def tiny_gpt(seed: int = 0) -> GPT:
    return sharp_random_gpt(n_layers=2, block_size=32, seed=seed)


def byte_tokenizer(text: str) -> list[int]:
    return [b % 40 for b in text.encode()]


def perfect_sae(C: int = 16, scale: float = 1.0) -> S.SparseAutoencoder:
    """Features e_i and -e_i: f = [relu(x), relu(-x)], x_hat = relu(x) - relu(-x) = x exactly."""
    sae = S.SparseAutoencoder(C, 2 * C)
    eye = torch.eye(C)
    with torch.no_grad():
        sae.W_dec.copy_(torch.cat([eye, -eye], dim=1))  # (C, 2C), unit columns
        sae.W_enc.copy_(sae.W_dec.T)
        sae.b_enc.zero_()
        sae.b_dec.zero_()
        sae.scale.fill_(scale)
    return sae


def test_perfect_dictionary_reconstructs():
    sae = perfect_sae(scale=3.0)
    x = torch.randn(5, 7, 16)
    x_hat, f = sae(x)
    torch.testing.assert_close(x_hat, x)
    assert f.shape == (5, 7, 32) and bool((f >= 0).all())
    assert int((f > 0).sum(-1).max()) <= 16  # one of each +/- pair at most


def test_perfect_dictionary_metrics_on_a_gpt():
    model = tiny_gpt()
    windows = torch.randint(0, 40, (4, 12), generator=torch.Generator().manual_seed(0))
    m = S.reconstruction_metrics(model, perfect_sae(), windows, layer=1)
    assert m["fve"] == pytest.approx(1.0, abs=1e-5)
    assert m["loss_sae"] == pytest.approx(m["loss_clean"], abs=1e-5) and m["loss_zero"] != m["loss_clean"]
    assert m["loss_recovered"] == pytest.approx(1.0, abs=1e-4)
    bad = S.SparseAutoencoder(16, 32)  # an untrained dictionary explains little
    assert S.reconstruction_metrics(model, bad, windows, layer=1)["fve"] < 0.9


def test_residual_activations_are_block_inputs():
    model = tiny_gpt()
    windows = torch.randint(0, 40, (3, 9), generator=torch.Generator().manual_seed(1))
    acts = S.residual_activations(model, windows, 1, batch_size=2)
    assert acts.shape == (3, 9, 16)
    for n in range(3):
        torch.testing.assert_close(acts[n], boundary.prompt_residuals(model, windows[n], 1))


def test_training_lowers_loss_and_keeps_unit_decoder_columns():
    torch.manual_seed(0)
    atoms = torch.nn.functional.normalize(torch.randn(8, 24), dim=1)  # 24 sparse sources in 8 dims
    codes = torch.rand(2000, 24) * (torch.rand(2000, 24) < 0.1)
    acts = codes @ atoms.T  # (2000, 8)
    sae, losses = S.train_sae(acts, S.SAERecipe(n_features=32, l1=0.01, steps=200, batch_size=128, lr=1e-2))
    assert sum(losses[-20:]) / 20 < 0.3 * sum(losses[:20]) / 20
    torch.testing.assert_close(sae.W_dec.norm(dim=0), torch.ones(32))
    with torch.no_grad():
        x_hat, f = sae(acts)
    fve = 1 - float((acts - x_hat).pow(2).sum() / (acts - acts.mean(0)).pow(2).sum())
    assert fve > 0.8 and float((f > 0).float().sum(-1).mean()) < 16


def test_load_or_train_caches_by_recipe_and_gpt(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYFORMER_GENERATED_DIR", str(tmp_path))
    model = tiny_gpt()
    recipe = S.SAERecipe(layer=1, n_features=32, steps=20, batch_size=32, n_windows=4, seq_len=16)
    sae, extra = S.load_or_train_sae(model, byte_tokenizer, recipe)
    assert len(list(tmp_path.glob("sae_*.pt"))) == 1 and extra["gpt"] == S.gpt_digest(model)

    def no_training(*args, **kwargs):
        raise AssertionError("trained again although a saved SAE fits")

    monkeypatch.setattr(S, "train_sae", no_training)
    again, extra2 = S.load_or_train_sae(model, byte_tokenizer, recipe)
    for k, v in sae.state_dict().items():
        assert torch.equal(v, again.state_dict()[k])
    assert extra2["losses"] == pytest.approx(extra["losses"])
    with pytest.raises(AssertionError, match="trained again"):  # another recipe: another file
        S.load_or_train_sae(model, byte_tokenizer, S.SAERecipe(layer=1, n_features=32, steps=21, batch_size=32,
                                                               n_windows=4, seq_len=16))
    with pytest.raises(AssertionError, match="trained again"):  # another GPT: another file
        S.load_or_train_sae(tiny_gpt(seed=1), byte_tokenizer, recipe)


def test_token_windows_are_deterministic_slices():
    w = S.token_windows(byte_tokenizer, 5, 10, seed=3)
    assert w.shape == (5, 10) and torch.equal(w, S.token_windows(byte_tokenizer, 5, 10, seed=3))
    assert not torch.equal(w, S.token_windows(byte_tokenizer, 5, 10, seed=3, held_out=True))


def test_top_activating_contexts_worked_example():
    acts = torch.zeros(2, 4, 3)  # (N, T, F)
    acts[1, 2, 0] = 5.0
    acts[0, 3, 0] = 2.0
    acts[1, 0, 0] = 2.0  # ties with (0, 3): the earlier window comes first
    windows = torch.arange(8).view(2, 4)
    top = S.top_activating_contexts(acts, windows, feature=0, k=5, width=2)
    assert [(c["window"], c["position"], c["activation"]) for c in top] == [(1, 2, 5.0), (0, 3, 2.0), (1, 0, 2.0)]
    assert [c["tokens"] for c in top] == [[5, 6], [2, 3], [4]]
    assert S.top_activating_contexts(acts, windows, feature=1) == []  # never fires


def test_steer_zero_is_greedy_and_strength_changes_text():
    model = tiny_gpt()
    sae = perfect_sae()
    prompt = [1, 2, 3]
    plain = generate(model, prompt, 8, temperature=0)[3:]
    assert S.steer(model, sae, 1, 0, prompt, 0.0, 8) == plain
    outs = {tuple(S.steer(model, sae, 1, f, prompt, 30.0, 8)) for f in range(0, 32, 4)}
    assert len(outs) > 1 or outs != {tuple(plain)}


def steered_reference(model, sae, layer, feature, prompt, strength, n):
    """steer by its definition: every token re-reads the whole text, the direction added at every position."""
    direction = sae.W_dec[:, feature] * sae.scale * strength  # (C,)
    ids = list(prompt)
    handle = model.blocks[layer].register_forward_pre_hook(lambda m, args: (args[0] + direction, *args[1:]))
    try:
        with torch.no_grad():
            for _ in range(n):
                ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))
    finally:
        handle.remove()
    return ids[len(prompt):]


def test_steer_adds_the_direction_to_every_generated_token_too():
    # (a cached decoding step that skipped the hook steered the prompt's pass only: the first token)
    model, sae = tiny_gpt(), perfect_sae()
    prompt, differs = [1, 2, 3], 0
    for feature in range(0, 32, 4):
        out = S.steer(model, sae, 1, feature, prompt, 6.0, 8)
        assert out == steered_reference(model, sae, 1, feature, prompt, 6.0, 8)
        differs += out[1:] != generate(model, prompt + out[:1], 7, temperature=0)[4:]
    assert differs >= 2  # the steering shows after the first token, not only in it


@pytest.mark.parametrize("call, match", [
    (lambda m: S.SAERecipe(l1=-1), "l1"),
    (lambda m: S.SAERecipe(steps=0), "steps"),
    (lambda m: S.SparseAutoencoder(0, 4), "d_model"),
    (lambda m: perfect_sae()(torch.zeros(3, 5)), "x"),
    (lambda m: S.residual_activations(m, torch.zeros(2, 3), 0), "windows"),
    (lambda m: S.residual_activations(m, torch.zeros(2, 3, dtype=torch.long), 2), "layer"),
    (lambda m: S.residual_activations("gpt", torch.zeros(2, 3, dtype=torch.long), 0), "model"),
    (lambda m: S.load_or_train_sae(m, byte_tokenizer, S.SAERecipe(layer=5)), "layer"),
    (lambda m: S.load_or_train_sae(m, byte_tokenizer, "recipe"), "recipe"),
    (lambda m: S.top_activating_contexts(torch.zeros(2, 3, 4), torch.zeros(2, 3), 4), "feature"),
    (lambda m: S.top_activating_contexts(torch.zeros(2, 3, 4), torch.zeros(3, 3), 0), "windows"),
    (lambda m: S.steer(m, perfect_sae(), 0, 32, [1], 1.0), "feature"),
    (lambda m: S.steer(m, perfect_sae(), 0, 0, [1], float("inf")), "strength"),
    (lambda m: S.train_sae(torch.zeros(1, 4), S.SAERecipe()), "acts"),
])
def test_bad_input(call, match):
    model = tiny_gpt()
    with pytest.raises((TypeError, ValueError), match=match):
        call(model)
