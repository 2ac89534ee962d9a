"""BLAS thread limits: applied inside the block, restored after, chosen by flag, env or load."""

from __future__ import annotations

import os

import pytest
from threadpoolctl import threadpool_info

from digitlens.errors import ParameterError
from digitlens.nn.threads import auto_threads, blas_threads


def blas_counts() -> list[int]:
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


def test_limit_applies_and_restores() -> None:
    before = blas_counts()
    assert before, "numpy's BLAS is not visible to threadpoolctl"
    with blas_threads(1) as n:
        assert n == 1 and blas_counts() == [1] * len(before)
    assert blas_counts() == before


def test_env_and_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGITLENS_THREADS", "3")
    assert auto_threads() == 3
    assert auto_threads(recorded=1) == 3  # the variable says so: it beats a run's record
    monkeypatch.setenv("DIGITLENS_THREADS", "many")
    with pytest.raises(ParameterError, match="DIGITLENS_THREADS"):
        auto_threads()
    monkeypatch.delenv("DIGITLENS_THREADS")
    cores = os.cpu_count() or 1
    monkeypatch.setattr(os, "getloadavg", lambda: (cores + 1.0, 0.0, 0.0))
    assert auto_threads() == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert auto_threads() == cores
    assert auto_threads(recorded=1) == 1  # a resumed run keeps its count whatever the load
    with pytest.raises(ParameterError, match="'threads' parameter"), blas_threads(0):
        pass
