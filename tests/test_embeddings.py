"""Tests of tinyformer.embeddings: lookups equal one-hot @ table, the sinusoid table, range errors."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyformer.embeddings import (
    LearnedPositionalEmbedding,
    SinusoidalPositionalEncoding,
    TokenEmbedding,
    sinusoidal_positional_encoding,
)


def test_token_embedding_equals_nn_embedding_with_same_weights():
    torch.manual_seed(0)
    ours = TokenEmbedding(11, 6)
    ref = torch.nn.Embedding(11, 6)
    ref.load_state_dict(ours.state_dict())  # same parameter name: weight
    ids = torch.randint(0, 11, (3, 5))
    torch.testing.assert_close(ours(ids), ref(ids))


def test_token_embedding_is_one_hot_times_table():
    torch.manual_seed(0)
    emb = TokenEmbedding(7, 4).double()
    ids = torch.tensor([[3, 0, 6, 3]])
    one_hot = torch.nn.functional.one_hot(ids, 7).double()  # (1, 4, 7)
    torch.testing.assert_close(emb(ids), one_hot @ emb.weight)


def test_token_embedding_scale_multiplies_by_sqrt_d_model():
    torch.manual_seed(0)
    plain = TokenEmbedding(5, 16)
    scaled = TokenEmbedding(5, 16, scale=True)
    scaled.load_state_dict(plain.state_dict())
    ids = torch.tensor([0, 4, 2])
    torch.testing.assert_close(scaled(ids), plain(ids) * 4.0)  # sqrt(16) = 4


def test_token_embedding_gradient_reaches_only_used_rows():
    torch.manual_seed(0)
    emb = TokenEmbedding(5, 3)
    emb(torch.tensor([1, 1, 3])).sum().backward()
    used = emb.weight.grad.abs().sum(dim=1) > 0
    assert used.tolist() == [False, True, False, True, False]
    torch.testing.assert_close(emb.weight.grad[1], torch.full((3,), 2.0))  # row 1 used twice


@pytest.mark.parametrize("bad", [7, -1, 100])
def test_token_embedding_out_of_vocab_raises_value_error_naming_id(bad):
    emb = TokenEmbedding(7, 4)
    with pytest.raises(ValueError, match=rf"{bad}.*vocabulary of 7"):
        emb(torch.tensor([[0, bad]]))


def test_token_embedding_rejects_float_ids_and_bad_sizes():
    emb = TokenEmbedding(7, 4)
    with pytest.raises(TypeError, match="integers"):
        emb(torch.tensor([1.0]))
    with pytest.raises(ValueError, match="vocab_size"):
        TokenEmbedding(0, 4)
    with pytest.raises(TypeError, match="d_model"):
        TokenEmbedding(5, 4.0)


def test_sinusoidal_matches_formula_written_out():
    """PE[p, 2i] = sin(p / 10000^(2i/C)), PE[p, 2i+1] = cos(same); checked entry by entry."""
    T, C = 9, 6
    pe = sinusoidal_positional_encoding(T, C)
    for p in range(T):
        for i in range(C // 2):
            angle = p / 10000 ** (2 * i / C)
            assert pe[p, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[p, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_sinusoidal_worked_values():
    """Position 0 is [0, 1, 0, 1, ...]; position 1, dims 0-1 are (sin 1, cos 1) = (0.8415, 0.5403)."""
    pe = sinusoidal_positional_encoding(2, 4)
    torch.testing.assert_close(pe[0], torch.tensor([0.0, 1.0, 0.0, 1.0]))
    torch.testing.assert_close(pe[1, :2], torch.tensor([math.sin(1.0), math.cos(1.0)]))
    torch.testing.assert_close(pe[1, 2:], torch.tensor([math.sin(0.01), math.cos(0.01)]))  # 1/10000^(2/4)


def test_sinusoidal_odd_d_model_and_dtype():
    pe = sinusoidal_positional_encoding(5, 7)
    assert pe.shape == (5, 7) and pe.dtype == torch.get_default_dtype()
    p = torch.arange(5.0)
    torch.testing.assert_close(pe[:, 6], torch.sin(p / 10000 ** (6 / 7)))  # odd C: last column is a sine
    torch.testing.assert_close(pe[:, 5], torch.cos(p / 10000 ** (4 / 7)))


@settings(max_examples=25, deadline=None)
@given(p=st.integers(0, 60), k=st.integers(0, 30), half=st.integers(1, 16))
def test_sinusoidal_dot_product_depends_only_on_offset(p, k, half):
    """PE(p)·PE(p+k) = sum_i cos(k w_i): the same for every p."""
    C = 2 * half
    pe = sinusoidal_positional_encoding(100, C).double()
    torch.testing.assert_close(pe[p] @ pe[p + k], pe[0] @ pe[k], atol=1e-5, rtol=0)


def test_sinusoidal_rows_have_norm_sqrt_half_d():
    pe = sinusoidal_positional_encoding(50, 10)
    torch.testing.assert_close(pe.norm(dim=1), torch.full((50,), math.sqrt(5.0)))


def test_sinusoidal_module_slices_with_offset_and_errors_beyond_table():
    mod = SinusoidalPositionalEncoding(8, 4)
    torch.testing.assert_close(mod(3, offset=2), sinusoidal_positional_encoding(8, 4)[2:5])
    assert len(list(mod.parameters())) == 0 and "pe" not in mod.state_dict()
    with pytest.raises(ValueError, match="position 8 is beyond.*n_positions=8"):
        mod(4, offset=5)


def test_learned_positional_embedding_rows_and_errors():
    torch.manual_seed(0)
    pos = LearnedPositionalEmbedding(6, 3)
    torch.testing.assert_close(pos(4), pos.weight[:4])
    torch.testing.assert_close(pos(2, offset=3), pos.weight[3:5])
    torch.testing.assert_close(pos(torch.tensor([[5, 0]])), pos.weight[[5, 0]].unsqueeze(0))
    with pytest.raises(ValueError, match="position 6 is beyond"):
        pos(7)
    with pytest.raises(ValueError, match="6.*positional table of 6"):
        pos(torch.tensor([6]))
    pos(6).sum().backward()
    assert pos.weight.grad is not None


def test_invalid_table_sizes_raise():
    with pytest.raises(ValueError, match="n_positions"):
        sinusoidal_positional_encoding(0, 4)
    with pytest.raises(TypeError, match="d_model"):
        LearnedPositionalEmbedding(4, "8")


@pytest.mark.parametrize("n", [1, 64, 65, 1000])  # the few ids of a decoding step, and a batch
def test_out_of_vocabulary_ids_are_named_for_short_and_long_inputs(n):
    emb = TokenEmbedding(10, 4)
    for bad in (10, -1):
        ids = torch.zeros(n, dtype=torch.long)
        ids[n // 2] = bad
        with pytest.raises(ValueError, match=f"contain {bad}, outside the vocabulary of 10 rows"):
            emb(ids)
    assert emb(torch.full((n,), 9)).shape == (n, 4)
