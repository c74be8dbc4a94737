"""The notebook 02 checks reject stubs and plausible mistakes and accept a correct solution."""

import math

import torch

from tinyformer.exercises import check_cosine_similarity_matrix, check_one_hot_lookup, check_positional_encoding


def stub(*args):
    raise NotImplementedError


def test_one_hot_lookup(capsys):
    assert check_one_hot_lookup(stub) is False
    assert "❌" in capsys.readouterr().out

    def wrong_transposed(ids, table):  # one-hot over the wrong axis size
        return torch.nn.functional.one_hot(ids, table.shape[1]).to(table.dtype) @ table.T

    assert check_one_hot_lookup(wrong_transposed) is False
    assert "❌" in capsys.readouterr().out

    def right(ids, table):
        return torch.nn.functional.one_hot(ids, table.shape[0]).to(table.dtype) @ table

    assert check_one_hot_lookup(right) is True
    assert "✅" in capsys.readouterr().out


def test_positional_encoding(capsys):
    assert check_positional_encoding(stub) is False
    assert "not done yet" in capsys.readouterr().out

    def right(n_positions, d_model):
        pe = torch.zeros(n_positions, d_model, dtype=torch.float64)
        for p in range(n_positions):
            for i in range(0, d_model, 2):
                angle = p / 10000 ** (i / d_model)
                pe[p, i], pe[p, i + 1] = math.sin(angle), math.cos(angle)
        return pe

    def swapped(n_positions, d_model):  # cos in even columns: a common slip
        return right(n_positions, d_model)[:, [j + 1 if j % 2 == 0 else j - 1 for j in range(d_model)]]

    def wrong_exponent(n_positions, d_model):  # 10000**(2i/d) with i the column, not the pair index
        pe = torch.zeros(n_positions, d_model, dtype=torch.float64)
        for p in range(n_positions):
            for i in range(0, d_model, 2):
                angle = p / 10000 ** (2 * i / d_model)
                pe[p, i], pe[p, i + 1] = math.sin(angle), math.cos(angle)
        return pe

    for wrong in (swapped, wrong_exponent):
        assert check_positional_encoding(wrong) is False
        assert "❌" in capsys.readouterr().out
    assert check_positional_encoding(right) is True


def test_cosine_similarity_matrix(capsys):
    assert check_cosine_similarity_matrix(stub) is False

    def dot_only(x):  # forgets to normalise
        return x @ x.T

    assert check_cosine_similarity_matrix(dot_only) is False
    assert "❌" in capsys.readouterr().out

    def right(x):
        xn = x / x.norm(dim=1, keepdim=True)
        return xn @ xn.T

    assert check_cosine_similarity_matrix(right) is True
    assert "✅" in capsys.readouterr().out
