"""The notebook 02 checks reject stubs, plausible mistakes and the shortcuts they rule out, and accept the solutions."""

import math

import pytest
import torch
import torch.nn.functional as F

from tinyformer.embeddings import sinusoidal_positional_encoding
from tinyformer.exercises import check_cosine_similarity_matrix, check_one_hot_lookup, check_positional_encoding
from tinyformer.exercises.core import reset_hints
from tinyformer.exercises.solutions.embeddings import cosine_similarity_matrix, one_hot_lookup, positional_encoding


@pytest.fixture(autouse=True)
def fresh_hints():
    reset_hints()


def stub(*args):
    raise NotImplementedError


def test_one_hot_lookup(capsys):
    assert check_one_hot_lookup(stub) is False
    assert "❌" in capsys.readouterr().out

    def wrong_transposed(ids, table):  # one-hot over the wrong axis size
        return torch.nn.functional.one_hot(ids, table.shape[1]).to(table.dtype) @ table.T

    assert check_one_hot_lookup(wrong_transposed) is False
    assert "❌" in capsys.readouterr().out

    assert check_one_hot_lookup(one_hot_lookup) is True
    assert "✅" in capsys.readouterr().out


def indexing(ids, table):
    return table[ids]


def embedding(ids, table):
    return F.embedding(ids, table)


def index_select(ids, table):
    return table.index_select(0, ids.flatten()).view(*ids.shape, -1)


def embedding_module(ids, table):
    return torch.nn.Embedding.from_pretrained(table)(ids)


def getitem_by_name(ids, table):  # indexing that reading the code does not see: refused at run time
    return table.__getitem__(ids)


def rows_one_by_one(ids, table):  # indexing by iterating over the table's rows
    rows = list(table)
    return torch.stack([torch.stack([rows[i] for i in row]) for row in ids.tolist()])


@pytest.mark.parametrize("shortcut, used", [
    (indexing, "indexing (table[...])"), (embedding, "`.embedding`"), (index_select, "`.index_select`"),
    (embedding_module, "`.Embedding`"), (getitem_by_name, "indexing"), (rows_one_by_one, "the table's rows one by one"),
])
def test_one_hot_lookup_rejects_indexing(capsys, shortcut, used):
    assert check_one_hot_lookup(shortcut) is False
    out = capsys.readouterr().out
    assert used in out and "without indexing the table" in out


def test_positional_encoding(capsys):
    assert check_positional_encoding(stub) is False
    assert "not done yet" in capsys.readouterr().out

    def by_loops(n_positions, d_model):
        pe = torch.zeros(n_positions, d_model, dtype=torch.float64)
        for p in range(n_positions):
            for i in range(0, d_model, 2):
                angle = p / 10000 ** (i / d_model)
                pe[p, i], pe[p, i + 1] = math.sin(angle), math.cos(angle)
        return pe

    def swapped(n_positions, d_model):  # cos in even columns: a common slip
        return by_loops(n_positions, d_model)[:, [j + 1 if j % 2 == 0 else j - 1 for j in range(d_model)]]

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
    assert check_positional_encoding(by_loops) is True
    assert check_positional_encoding(positional_encoding) is True


def library(n_positions, d_model):
    return sinusoidal_positional_encoding(n_positions, d_model).double()


def library_via_helper(n_positions, d_model):  # a learner helper that calls the library is read too
    return library(n_positions, d_model)


def library_imported_inside(n_positions, d_model):
    from tinyformer import embeddings

    return embeddings.sinusoidal_positional_encoding(n_positions, d_model).double()


@pytest.mark.parametrize("shortcut", [library, library_via_helper, library_imported_inside])
def test_positional_encoding_rejects_the_library(capsys, shortcut):
    assert check_positional_encoding(shortcut) is False
    out = capsys.readouterr().out
    assert "tinyformer" in out and "the code the check compares with" in out


def test_cosine_similarity_matrix(capsys):
    assert check_cosine_similarity_matrix(stub) is False

    def dot_only(x):  # forgets to normalise
        return x @ x.T

    assert check_cosine_similarity_matrix(dot_only) is False
    assert "❌" in capsys.readouterr().out

    assert check_cosine_similarity_matrix(cosine_similarity_matrix) is True
    assert "✅" in capsys.readouterr().out
