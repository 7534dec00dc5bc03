"""``compress_rows``: the packed-integer path for whole numbers (counts and days) gives
exactly what the general lexsort path gives, in the same order, with the same weights."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corecustomers.models import _optimize
from corecustomers.models._optimize import compress_rows, group_rows


def _by_lexsort(cols: list[np.ndarray], w: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    keep = w > 0
    cols, w = [c[keep] for c in cols], w[keep]
    order = np.lexsort(cols[::-1])
    s = [c[order] for c in cols]
    new = np.ones(w.size, dtype=bool)
    if w.size > 1:
        new[1:] = np.any([c[1:] != c[:-1] for c in s], axis=0)
    starts = np.flatnonzero(new)
    return [c[starts] for c in s], np.add.reduceat(w[order], starts)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 40),
            st.integers(-3, 400),
            st.integers(0, 10**6),
            st.sampled_from([0.0, 1.0, 2.5]),
        ),
        min_size=1,
        max_size=300,
    ),
    unit=st.booleans(),
)
def test_whole_numbers_pack_like_the_lexsort(
    rows: list[tuple[int, int, int, float]], unit: bool
) -> None:
    arr = np.array(rows, dtype=np.float64)
    cols = [arr[:, 0], arr[:, 1], arr[:, 2]]
    w = np.ones(len(rows)) if unit else arr[:, 3]
    if not np.any(w > 0):
        return
    got_cols, got_w = compress_rows(cols, w)
    want_cols, want_w = _by_lexsort(cols, w)
    for got, want in zip(got_cols, want_cols, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_w, want_w)


def test_the_packed_path_is_taken_for_days_and_not_for_fractions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[bool] = []
    packed = _optimize._packed_keys

    def spy(cols: list[np.ndarray]) -> object:
        result = packed(cols)
        calls.append(result is not None)
        return result

    monkeypatch.setattr(_optimize, "_packed_keys", spy)
    days = np.array([3.0, 1.0, 3.0])
    compress_rows([days, days])
    (weeks,), w = compress_rows([days / 7.0])
    assert calls == [True, False]
    np.testing.assert_array_equal(weeks, [1 / 7, 3 / 7])
    np.testing.assert_array_equal(w, [1.0, 2.0])


def test_a_key_too_wide_for_int64_falls_back_to_the_lexsort() -> None:
    big = np.array([0.0, 2.0**40, 0.0])
    (a, _), w = compress_rows([big, big])
    np.testing.assert_array_equal(a, [0.0, 2.0**40])
    np.testing.assert_array_equal(w, [2.0, 1.0])


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 40), st.integers(-3, 400), st.integers(0, 10**6)),
        min_size=1,
        max_size=300,
    ),
    scale=st.sampled_from([1.0, 7.0]),
)
def test_group_rows_gives_compress_rows_and_the_way_back(
    rows: list[tuple[int, int, int]], scale: float
) -> None:
    """Whole numbers (packed keys) and fractions (lexsort) alike: the distinct rows and
    counts of ``compress_rows``, and an index that rebuilds every row."""
    arr = np.array(rows, dtype=np.float64) / scale
    cols = [arr[:, 0], arr[:, 1], arr[:, 2]]
    got_cols, counts, index = group_rows(cols)
    want_cols, want_w = compress_rows(cols)
    for got, want, col in zip(got_cols, want_cols, cols, strict=True):
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(got[index], col)
    np.testing.assert_array_equal(counts, want_w)
    np.testing.assert_array_equal(np.bincount(index, minlength=counts.size), counts)


def test_group_rows_of_no_rows() -> None:
    (a,), counts, index = group_rows([np.zeros(0)])
    assert a.size == counts.size == index.size == 0
