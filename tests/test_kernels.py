"""oneDNN's kernel cache: raised for training and evaluation, unless the user chose a size."""

from __future__ import annotations

import os

import pytest

from nlpplat.kernels import CAPACITY, VARIABLE, keep_compiled_kernels


def test_the_cache_is_raised_where_the_user_left_it_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    keep_compiled_kernels()

    assert os.environ[VARIABLE] == str(CAPACITY)


def test_the_users_own_size_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VARIABLE, "64")
    keep_compiled_kernels()

    assert os.environ[VARIABLE] == "64"
