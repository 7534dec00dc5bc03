"""The churn risk's shortcuts give the figures of the longer way: the blocked rounding."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from corecustomers.insights._risk_frames import significant


def elementwise(values: np.ndarray[Any, Any], digits: int = 6) -> np.ndarray[Any, Any]:
    """The rounding as it was written before the blocks and the table of powers."""
    x = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        finite = np.isfinite(x) & (x != 0.0)
        mag = np.floor(np.log10(np.abs(np.where(finite, x, 1.0))))
        scale = np.where(finite, 10.0 ** (digits - 1 - mag), 1.0)
        out = np.round(x * scale) / scale
    return np.where(np.isfinite(x), out, np.where(np.isinf(x), np.nan, x))


def same(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> bool:
    """Bit for bit, NaN included (and -0.0 told from 0.0)."""
    return a.shape == b.shape and a.tobytes() == b.tobytes()


@settings(max_examples=60, deadline=None)
@given(
    values=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=2, max_side=40),
        elements=st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True),
    ),
    digits=st.integers(min_value=1, max_value=17),
)
def test_significant_is_the_elementwise_rounding_bit_for_bit(
    values: np.ndarray[Any, Any], digits: int
) -> None:
    assert same(significant(values, digits), elementwise(values, digits))


def test_significant_across_blocks_and_at_the_edges_of_float64() -> None:
    rng = np.random.default_rng(0)
    x = rng.lognormal(0.0, 6.0, 300_001) * rng.choice([-1.0, 1.0], 300_001)
    edges = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -2.2250738585072014e-308]
    edges += [1.7976931348623157e308, 999999.5, 9.999995e5, 1e-300, 1e22, 1e23]
    x[: len(edges)] = edges
    x[100_000:100_100] = np.nextafter(10.0 ** rng.integers(-30, 30, 100), 0.0)
    assert same(significant(x), elementwise(x))
    strided = x[:-1].reshape(-1, 6)[:, 2:5]  # not contiguous
    assert same(significant(strided), elementwise(strided))
    with pytest.raises(ValueError, match="between 1 and 17"):
        significant(x, 18)
