"""The thread limits of :func:`corecustomers.machine.thread_limit`: the same effect as
``threadpoolctl.threadpool_limits``, with the libraries found once until an import."""

from __future__ import annotations

import sys
import types

import numpy as np  # noqa: F401  (its OpenBLAS is loaded)
import pytest
from threadpoolctl import threadpool_info

import corecustomers.machine as machine


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_the_limit_holds_inside_and_is_undone_after() -> None:
    before = _blas_threads()
    assert before, "no BLAS library is loaded"
    with machine.thread_limit(1, "blas"):
        assert _blas_threads() == [1] * len(before)
    assert _blas_threads() == before


def test_the_libraries_are_found_again_only_after_an_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threadpoolctl

    made = []
    real = threadpoolctl.ThreadpoolController

    def counting() -> threadpoolctl.ThreadpoolController:
        made.append(1)
        return real()

    monkeypatch.setattr(threadpoolctl, "ThreadpoolController", counting)
    monkeypatch.setattr(machine, "_controller", None)
    for _ in range(3):
        with machine.thread_limit(1, "blas"):
            pass
    assert len(made) == 1
    # a module imported since (it could have loaded a thread pool): found again
    monkeypatch.setitem(sys.modules, "corecustomers_test_new_module", types.ModuleType("x"))
    with machine.thread_limit(1, "blas"):
        pass
    assert len(made) == 2
