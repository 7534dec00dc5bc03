"""ABC classes and concentration: hand-computed cases, identities and invariances."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from corecustomers.errors import ConfigError, InputError
from corecustomers.segments import abc_classes, concentration

PROPERTY = settings(max_examples=80, deadline=None, derandomize=True, database=None)

values_with_ties = (
    st.integers(1, 80)
    .flatmap(lambda n: hnp.arrays(np.int64, n, elements=st.integers(-3, 12)))
    .map(lambda a: a * 2.5)
)
positive_values = st.integers(1, 100).flatmap(
    lambda n: hnp.arrays(np.float64, n, elements=st.one_of(st.just(0.0), st.floats(1e-3, 1e6)))
)

# ---------------------------------------------------------------- ABC classes


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        # 50 -> 50 %, 30 -> 80 %: A stops once 80 % is reached; 10 -> 90 %, 6 -> 96 %.
        ([50, 30, 10, 6, 4], {}, "AABBC"),
        # 30 crosses 80 % (60 % -> 90 %): the crossing customer is still A.
        ([60, 30, 10], {}, "AAB"),
        # 80 % exactly reached by the first customer: the next is B.
        ([80, 10, 10], {}, "ABB"),
        # Row order does not matter.
        ([10, 80, 10], {}, "BAB"),
        # Ties are classed as one group, by the group's first place.
        ([70, 20, 20, -5, 0], {}, "AAACC"),
        ([40, 40, 20], {}, "AAB"),
        # b = 1: every positive value is A or B.
        ([50, 30, 20], {"a": 0.5, "b": 1.0}, "ABB"),
        ([1, 1, 1, 1], {}, "AAAA"),
        ([0, -1, 0], {}, "CCC"),
        ([], {}, ""),
    ],
)
def test_abc_hand_computed(value: list[float], kwargs: dict[str, float], expected: str) -> None:
    assert "".join(abc_classes(value, **kwargs).tolist()) == expected


def test_shares_at_a_threshold_up_to_rounding_count_as_reaching_it() -> None:
    # 0.7 + 0.2 is 0.8999999999999999 in floating point: still "90 % reached".
    assert abc_classes([0.7, 0.2, 0.1], a=0.7, b=0.9).tolist() == ["A", "B", "C"]


def test_margin_or_any_value_column_works() -> None:
    margin = np.array([12.5, -3.0, 40.0, 0.0, 7.5])
    assert abc_classes(margin).tolist() == ["A", "C", "A", "C", "B"]


@pytest.mark.parametrize(
    ("a", "b"),
    [(0.0, 0.5), (0.5, 0.5), (0.9, 0.8), (0.5, 1.1), (-0.1, 0.5), (math.nan, 0.9), (True, 0.9)],
)
def test_thresholds_must_be_0_lt_a_lt_b_le_1(a: float, b: float) -> None:
    with pytest.raises(ConfigError, match="ABC threshold"):
        abc_classes([1.0, 2.0], a=a, b=b)


def test_a_missing_value_names_the_customer() -> None:
    with pytest.raises(InputError, match="customer c2"):
        abc_classes([1.0, np.nan], customer_ids=["c1", "c2"])
    with pytest.raises(InputError, match="position 1"):
        abc_classes([1.0, np.nan])
    with pytest.raises(InputError, match="one value per customer"):
        abc_classes([1.0, 2.0], customer_ids=["c1"])


@PROPERTY
@given(values_with_ties, st.data())
def test_abc_ignores_row_order(value: np.ndarray, data: st.DataObject) -> None:
    order = np.array(data.draw(st.permutations(range(len(value)))), dtype=np.int64)
    np.testing.assert_array_equal(abc_classes(value)[order], abc_classes(value[order]))


@PROPERTY
@given(values_with_ties, st.floats(0.05, 0.9), st.floats(0.05, 1.0))
def test_abc_is_tie_aware_monotone_and_a_reaches_its_share(
    value: np.ndarray, a: float, extra: float
) -> None:
    b = min(1.0, a + extra * (1.0 - a))
    if not a < b:
        return
    classes = abc_classes(value, a=a, b=b)
    rank = np.searchsorted(np.array(["A", "B", "C"]), classes)
    for i in range(len(value)):
        assert (classes[value == value[i]] == classes[i]).all()
        # a larger value never has a worse class
        assert (rank[value > value[i]] <= rank[i]).all()
    assert (classes[value <= 0] == "C").all()
    positive_total = value[value > 0].sum()
    if positive_total > 0:
        a_share = value[classes == "A"].sum() / positive_total
        assert a_share >= a - 1e-9
        # A is minimal: without its smallest group it is below a.
        smallest_a = value[classes == "A"].min()
        rest = value[(classes == "A") & (value > smallest_a)].sum() / positive_total
        assert rest < a + 1e-9


# ---------------------------------------------------------------- concentration


def test_concentration_hand_computed() -> None:
    c = concentration([10, 10, 10, 70], frequency=[0, 0, 2, 5])
    assert c["customers"] == 4
    assert c["revenue"] == 100.0
    assert c["negative_customers"] == 0
    # top 20 % = 0.8 of the largest customer: 0.8 * 70 / 100
    assert c["top_20pct_share"] == pytest.approx(0.56)
    assert c["top_10pct_share"] == pytest.approx(0.28)
    assert c["top_1pct_share"] == pytest.approx(0.028)
    # sum_i (2i - n - 1) x_i / (n sum x) = (-30 - 10 + 10 + 210) / 400
    assert c["gini"] == pytest.approx(0.45)
    assert c["lorenz"] == [[0.0, 0.0], [0.25, 0.1], [0.5, 0.2], [0.75, 0.3], [1.0, 1.0]]
    assert c["one_time_buyers"] == 2
    assert c["one_time_buyer_share"] == 0.5
    assert c["one_time_revenue"] == 20.0
    assert c["one_time_revenue_share"] == pytest.approx(0.2)


@pytest.mark.parametrize("n", [1, 2, 7, 100, 101, 2357])
def test_equal_values_have_gini_0_and_the_diagonal_as_lorenz_curve(n: int) -> None:
    c = concentration(np.full(n, 3.5))
    assert c["gini"] == pytest.approx(0.0, abs=1e-12)
    assert c["top_20pct_share"] == pytest.approx(0.2)
    for x, y in c["lorenz"]:
        assert y == pytest.approx(x, abs=1e-12)


@pytest.mark.parametrize("n", [1, 2, 5, 100, 1000])
def test_one_customer_with_everything_has_gini_1_minus_1_over_n(n: int) -> None:
    value = np.zeros(n)
    value[n // 2] = 99.0
    c = concentration(value)
    assert c["gini"] == pytest.approx(1.0 - 1.0 / n)
    assert c["top_20pct_share"] == pytest.approx(min(1.0, 0.2 * n))


@pytest.mark.parametrize("n", [1, 3, 100, 101, 5000])
def test_lorenz_curve_runs_from_0_0_to_1_1_in_at_most_101_points(n: int) -> None:
    value = np.random.default_rng(n).lognormal(3.0, 1.2, size=n)
    lorenz = concentration(value)["lorenz"]
    assert lorenz[0] == [0.0, 0.0]
    assert lorenz[-1] == [1.0, 1.0]
    assert len(lorenz) == min(n + 1, 101)
    xs, ys = np.array(lorenz).T
    assert (np.diff(xs) > 0).all()
    assert (np.diff(ys) >= 0).all()
    assert (ys <= xs + 1e-12).all()  # never above the diagonal
    if n > 100:
        np.testing.assert_allclose(xs, np.linspace(0, 1, 101))


def test_negative_values_count_as_zero() -> None:
    with_negative = concentration([-40.0, 10.0, 30.0])
    with_zero = concentration([0.0, 10.0, 30.0])
    assert with_negative["negative_customers"] == 1
    assert with_negative["revenue"] == 40.0
    for key in ("gini", "lorenz", "top_1pct_share", "top_10pct_share", "top_20pct_share"):
        assert with_negative[key] == with_zero[key]


@pytest.mark.parametrize("value", [[], [0.0, 0.0], [-5.0, 0.0]])
def test_nothing_to_describe_gives_none(value: list[float]) -> None:
    c = concentration(value, frequency=[0] * len(value))
    assert c["gini"] is None
    assert c["lorenz"] is None
    assert c["top_20pct_share"] is None
    assert c["one_time_revenue_share"] is None
    json.dumps(c, allow_nan=False)


def test_concentration_is_plain_json() -> None:
    value = np.random.default_rng(7).gamma(0.8, 50.0, size=500)
    freq = np.random.default_rng(8).poisson(0.9, size=500)
    c = concentration(value, frequency=freq)
    assert json.loads(json.dumps(c, allow_nan=False)) == c
    for key, item in c.items():
        assert type(item) in (int, float, list, type(None)), key


def test_frequency_must_match_in_length() -> None:
    with pytest.raises(InputError, match="one value per customer"):
        concentration([1.0, 2.0], frequency=[0])


def gini_by_mean_difference(x: np.ndarray) -> float:
    """The textbook definition: mean absolute difference over twice the mean."""
    return float(np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean()))


@PROPERTY
@given(positive_values, st.floats(0.01, 1000.0), st.data())
def test_gini_identities(value: np.ndarray, scale: float, data: st.DataObject) -> None:
    c = concentration(value)
    if value.sum() <= 0:
        assert c["gini"] is None
        return
    n = len(value)
    assert c["gini"] == pytest.approx(gini_by_mean_difference(value), abs=1e-9)
    assert 0.0 <= c["gini"] <= 1.0 - 1.0 / n + 1e-12
    # Gini = 1 - 2 * area under the (exact, n <= 100) Lorenz curve
    xs, ys = np.array(c["lorenz"]).T
    area = float(np.sum(np.diff(xs) * (ys[1:] + ys[:-1]) / 2))
    assert c["gini"] == pytest.approx(1.0 - 2.0 * area, abs=1e-9)
    # invariant to the row order and to the currency
    order = data.draw(st.permutations(range(n)))
    shuffled: dict[str, Any] = concentration(value[np.array(order, dtype=np.int64)] * scale)
    assert shuffled["gini"] == pytest.approx(c["gini"], abs=1e-9)
    # the top p of customers hold at least p of the value
    for key, p in (("top_1pct_share", 0.01), ("top_10pct_share", 0.1), ("top_20pct_share", 0.2)):
        assert c[key] >= p - 1e-9
