"""give_back_memory: the cycles it collects are freed, and it may run at any time."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pyarrow as pa

from corecustomers.service.memory import give_back_memory


class _Holder:
    """An object that refers to itself: freed only by the cycle collector."""

    def __init__(self) -> None:
        self.me = self
        self.values = np.ones(1_000_000)


def test_a_reference_cycle_is_freed() -> None:
    enabled = gc.isenabled()
    gc.disable()  # no automatic collection may free it instead
    try:
        holder = _Holder()
        freed: list[bool] = []
        weakref.finalize(holder, freed.append, True)
        del holder
        assert freed == []
        give_back_memory()
        assert freed == [True]
    finally:
        if enabled:
            gc.enable()


def test_live_data_is_kept() -> None:
    table = pa.table({"x": np.arange(1_000_000)})
    values = np.full(1_000_000, 2.5)
    give_back_memory()
    give_back_memory()
    assert table.column("x").to_numpy()[-1] == 999_999
    assert float(values.sum()) == 2_500_000.0
