"""The column-wise formatters give exactly the text of the Python format specs they copy,
which is what makes the vectorised alert reasons equal to the per-customer ones."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from corecustomers.segments.phrases import (
    concat,
    fixed,
    general,
    grouped,
    join_present,
    json_values,
    scatter,
)

VALUES = np.concatenate(
    [
        np.random.default_rng(0).normal(0, 1, 3000) * 10.0 ** (np.arange(3000) % 13),
        [0.0, -0.0, -0.004, 0.005, 999.995, 999_999.995, -1000.0, 1e15, np.inf, -np.inf, np.nan],
        # half-way cases in decimal, near a half in binary: the rounding must be Python's
        [0.125, 0.5, 1.5, 2.5, 2.675, 1.005, -2.675, 0.045, 1e-7, 2.0**52, 2.0**53 + 2, 9e18],
        # prices with three decimals, and whole numbers, at every size
        np.random.default_rng(1).integers(-(10**9), 10**9, 3000) / 1000.0,
        np.random.default_rng(2).integers(0, 10**15, 1000).astype(np.float64),
    ]
)


@pytest.mark.parametrize("digits", [0, 1, 2])
def test_fixed_and_grouped_equal_python(digits: int) -> None:
    assert fixed(VALUES, digits).tolist() == [format(v, f".{digits}f") for v in VALUES]
    assert grouped(VALUES, digits).tolist() == [format(v, f",.{digits}f") for v in VALUES]


def test_general_equals_python() -> None:
    assert general(VALUES).tolist() == [format(v, "g") for v in VALUES]


def test_join_present_skips_nulls_and_keeps_all_null_rows_null() -> None:
    a = pa.array(["a", None, None, "x"])
    b = pa.array(["b", "c", None, None])
    assert join_present([a, b], "; ").to_pylist() == ["a; b", "c", None, "x"]
    with pytest.raises(ValueError):
        join_present([a, pa.array(["b"])], ",")


def test_concat_and_scatter() -> None:
    words = concat("n=", np.array(["1", "22"]), "!")
    assert words.tolist() == ["n=1!", "n=22!"]
    assert scatter(4, np.array([1, 3]), words).to_pylist() == [None, "n=1!", None, "n=22!"]


def test_json_values_equal_json_dumps() -> None:
    import json

    rng = np.random.default_rng(3)
    numbers = np.concatenate(
        [VALUES, rng.lognormal(0, 8, 3000), [1e-4, 9.99e-5, 1e15, 0.1 + 0.2, 5e-324]]
    )
    valid = rng.random(len(numbers)) > 0.05
    expected = [
        json.dumps(float(v)) if ok and np.isfinite(v) else "null"
        for v, ok in zip(numbers, valid, strict=True)
    ]
    assert json_values(numbers, valid).to_pylist() == expected
    flags = np.array([True, False, True])
    assert json_values(flags, np.array([True, True, False])).to_pylist() == [
        "true",
        "false",
        "null",
    ]
    texts = np.array(['say "hi"', "新", None, "a\\b"], dtype=object)
    ok = np.array([True, True, False, True])
    assert json_values(texts, ok).to_pylist() == ['"say \\"hi\\""', '"新"', "null", '"a\\\\b"']
