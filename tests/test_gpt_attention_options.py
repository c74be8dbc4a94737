"""GPTConfig.attention: the course GPT with full, sliding-window or linear self-attention.

Checks: each kind builds the right module in every block with the same parameters; "full" is what
it was (same state_dict keys, same seeded weights); a window as long as the context equals full
attention; the KV cache gives the full forward step by step for all three kinds; bad options are
named; checkpoints and recipes saved before the fields existed still load without retraining.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from tinyformer.attention import MultiHeadAttention
from tinyformer.checkpoint import ConfigMismatchError, fill_defaults, load_checkpoint, save_checkpoint
from tinyformer.cheap_attention import LinearAttention, SlidingWindowAttention
from tinyformer.lm import LMRecipe, _recipe_dict, _saved_recipe
from tinyformer.model import GPT, GPTConfig
from tinyformer.train import TrainConfig, check_resume

SMALL = dict(vocab_size=40, block_size=16, d_model=16, n_heads=2, n_layers=2, d_ff=32)


def _gpt(**kw) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(**{**SMALL, **kw})).double().eval()


@pytest.mark.parametrize("kind, window, cls", [("full", None, MultiHeadAttention), ("window", 4, SlidingWindowAttention),
                                               ("linear", None, LinearAttention)])
def test_each_kind_swaps_every_block_and_keeps_the_parameters(kind, window, cls):
    model = _gpt(attention=kind, attention_window=window)
    full = _gpt()
    assert all(type(b.self_attn) is cls for b in model.blocks)
    if kind == "window":
        assert all(b.self_attn.window == 4 for b in model.blocks)
    assert list(model.state_dict()) == list(full.state_dict())
    # swapped before the init, the seeded weights are the same draw as the full model's
    for (name, a), b in zip(model.state_dict().items(), full.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_default_is_full_and_a_window_as_long_as_the_context_changes_nothing():
    assert GPTConfig(vocab_size=10).attention == "full" and GPTConfig(vocab_size=10).attention_window is None
    idx = torch.randint(0, 40, (3, 16), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(_gpt(attention="window", attention_window=16)(idx), _gpt()(idx))
    assert not torch.allclose(_gpt(attention="window", attention_window=3)(idx), _gpt()(idx))
    assert not torch.allclose(_gpt(attention="linear")(idx), _gpt()(idx))


@pytest.mark.parametrize("kind, window", [("full", None), ("window", 3), ("linear", None)])
def test_kv_cache_generation_equals_the_full_forward(kind, window):
    model = _gpt(attention=kind, attention_window=window)
    idx = torch.randint(0, 40, (2, 12), generator=torch.Generator().manual_seed(2))
    want = model(idx)  # (B, T, V)
    cache = model.new_cache(2)
    got = [model(idx[:, :5], cache=cache)]  # a prompt, then one token at a time
    for t in range(5, 12):
        got.append(model(idx[:, t : t + 1], cache=cache))
    torch.testing.assert_close(torch.cat(got, dim=1), want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kind", ["window", "linear"])
def test_cheaper_kinds_are_causal(kind):
    model = _gpt(attention=kind, attention_window=4 if kind == "window" else None)
    idx = torch.randint(0, 40, (1, 10), generator=torch.Generator().manual_seed(3))
    changed = idx.clone()
    changed[0, 6] = (idx[0, 6] + 1) % 40
    torch.testing.assert_close(model(idx)[:, :6], model(changed)[:, :6])


@pytest.mark.parametrize("kw, match", [
    (dict(attention="sparse"), r"attention='sparse' is not supported; choose one of full, window, linear"),
    (dict(attention="window"), r"attention_window=None: attention=\"window\" needs a positive int"),
    (dict(attention="window", attention_window=0), r"attention_window=0"),
    (dict(attention="window", attention_window=True), r"attention_window=True"),
    (dict(attention="linear", attention_window=4), r"attention_window=4 is only used with attention=\"window\""),
    (dict(attention_window=4), r"attention_window=4 is only used"),
])
def test_bad_options_are_named(kw, match):
    with pytest.raises(ValueError, match=match):
        GPT(GPTConfig(**{**SMALL, **kw}))


# ---- saved before the fields existed ---------------------------------------------------------------

def _old(config: GPTConfig) -> dict:
    d = dataclasses.asdict(config)
    del d["attention"], d["attention_window"]
    return d


def test_fill_defaults_adds_only_missing_fields():
    config = GPTConfig(**SMALL)
    assert fill_defaults(_old(config), config) == dataclasses.asdict(config)
    assert fill_defaults({"d_model": 3}, config)["d_model"] == 3
    assert fill_defaults(None, config) is None and fill_defaults({"a": 1}, {"a": 2}) == {"a": 1}


def test_an_old_checkpoint_loads_and_resumes_with_a_full_config_and_refuses_another(tmp_path):
    config = GPTConfig(**SMALL)
    model = GPT(config)
    path = save_checkpoint(tmp_path / "old.pt", model, model_config=_old(config),
                           train_config=TrainConfig(max_steps=5), step=2)
    load_checkpoint(path, GPT(config), model_config=config)  # no ConfigMismatchError
    check_resume(path, TrainConfig(max_steps=5), model_config=config)
    window = dataclasses.replace(config, attention="window", attention_window=4)
    with pytest.raises(ConfigMismatchError, match="attention: checkpoint 'full', now 'window'"):
        load_checkpoint(path, GPT(window), model_config=window)
    with pytest.raises(ConfigMismatchError, match="attention: checkpoint 'full', now 'window'"):
        check_resume(path, TrainConfig(max_steps=5), model_config=window)


def test_an_old_recipe_matches_its_full_recipe_and_not_a_windowed_one():
    recipe = LMRecipe()
    old = _recipe_dict(recipe)
    old["model"] = _old(recipe.model)
    assert old != _recipe_dict(recipe)  # what load_or_train_gpt used to compare: it would retrain
    assert _saved_recipe(old, recipe) == _recipe_dict(recipe)
    windowed = LMRecipe(model=dataclasses.replace(recipe.model, attention="window", attention_window=32))
    assert _saved_recipe(old, windowed) != _recipe_dict(windowed)
