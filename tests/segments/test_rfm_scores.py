"""RFM scores: range, ties, permutation invariance, monotonicity, one-time buyers."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from corecustomers.errors import ConfigError, InputError
from corecustomers.segments import quantile_scores, rfm_scores, rfm_table

PROPERTY = settings(max_examples=80, deadline=None, derandomize=True, database=None)
BINS = st.integers(min_value=3, max_value=10)


@st.composite
def customers(draw: st.DrawFn, max_size: int = 60) -> tuple[np.ndarray, ...]:
    """Small integer-valued features, so that ties are common."""
    n = draw(st.integers(min_value=1, max_value=max_size))
    days = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 40)))
    freq = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 6)))
    money = draw(hnp.arrays(np.int64, n, elements=st.integers(-5, 30)))
    return days.astype(float), freq.astype(float), money * 2.5


@PROPERTY
@given(customers(), BINS)
def test_scores_are_whole_numbers_from_1_to_bins(data: tuple[np.ndarray, ...], bins: int) -> None:
    for scores in rfm_scores(*data, bins=bins):
        assert scores.dtype == np.int64
        assert scores.min() >= 1
        assert scores.max() <= bins


@PROPERTY
@given(customers(), BINS, st.data())
def test_shuffling_the_rows_shuffles_the_scores(
    data: tuple[np.ndarray, ...], bins: int, draw: st.DataObject
) -> None:
    n = len(data[0])
    order = np.array(draw.draw(st.permutations(range(n))), dtype=np.int64)
    before = rfm_scores(*data, bins=bins)
    after = rfm_scores(*(x[order] for x in data), bins=bins)
    for b, a in zip(before, after, strict=True):
        np.testing.assert_array_equal(b[order], a)


@PROPERTY
@given(customers(max_size=30), BINS)
def test_identical_customers_get_identical_scores(data: tuple[np.ndarray, ...], bins: int) -> None:
    doubled = tuple(np.concatenate([x, x[::-1]]) for x in data)
    r, f, m = rfm_scores(*doubled, bins=bins)
    n = len(data[0])
    for scores in (r, f, m):
        np.testing.assert_array_equal(scores[:n], scores[n:][::-1])
    days, freq, money = doubled
    for i in range(len(days)):
        same = (days == days[i]) & (freq == freq[i]) & (money == money[i])
        assert (r[same] == r[i]).all()
        assert (f[same] == f[i]).all()
        assert (m[same] == m[i]).all()


@PROPERTY
@given(customers(), BINS)
def test_a_better_value_never_gets_a_lower_score(data: tuple[np.ndarray, ...], bins: int) -> None:
    days, freq, money = data
    r, f, m = rfm_scores(days, freq, money, bins=bins)
    more_recent = days[:, None] < days[None, :]
    assert (r[:, None] >= r[None, :])[more_recent].all()
    more_frequent = freq[:, None] > freq[None, :]
    assert (f[:, None] >= f[None, :])[more_frequent].all()
    more_spend = money[:, None] > money[None, :]
    assert (m[:, None] >= m[None, :])[more_spend].all()


@PROPERTY
@given(customers(), BINS)
def test_one_time_buyers_get_f_1_and_repeat_buyers_2_to_bins(
    data: tuple[np.ndarray, ...], bins: int
) -> None:
    _, f, _ = rfm_scores(*data, bins=bins)
    one_time = data[1] == 0
    assert (f[one_time] == 1).all()
    assert (f[~one_time] >= 2).all()


@PROPERTY
@given(customers(), BINS)
def test_ties_are_never_split_to_fill_scores(data: tuple[np.ndarray, ...], bins: int) -> None:
    days, freq, money = data
    r, f, m = rfm_scores(days, freq, money, bins=bins)
    assert len(np.unique(r)) <= len(np.unique(days))
    assert len(np.unique(f)) <= len(np.unique(freq))
    assert len(np.unique(m)) <= len(np.unique(money))


@PROPERTY
@given(st.integers(min_value=1, max_value=200), BINS, st.integers(0, 2**32 - 1))
def test_distinct_values_fill_every_score_evenly(n: int, bins: int, seed: int) -> None:
    values = np.random.default_rng(seed).permutation(n).astype(float)
    scores = quantile_scores(values, bins=bins)
    counts = np.bincount(scores, minlength=bins + 1)[1:]
    assert set(counts.tolist()) <= {n // bins, -(-n // bins)}
    if n >= bins:
        assert (counts > 0).all()


@pytest.mark.parametrize("bins", range(3, 11))
def test_everyone_alike_gets_the_middle_score(bins: int) -> None:
    r, f, m = rfm_scores([7] * 9, [2] * 9, [50.0] * 9, bins=bins)
    middle = bins // 2 + 1
    assert set(r.tolist()) == {middle}
    assert set(m.tolist()) == {middle}
    # Repeat buyers share F = 2..bins: alike, they sit in the middle of those levels.
    assert set(f.tolist()) == {(bins - 1) // 2 + 2}


def test_a_score_level_stays_empty_rather_than_split_a_tie() -> None:
    scores = quantile_scores([1.0] * 9 + [9.0], bins=5)
    assert scores.tolist() == [3] * 9 + [5]


def test_fewer_days_since_the_last_purchase_is_the_better_recency() -> None:
    r, _, _ = rfm_scores([1, 10, 100, 1000, 10000], [0] * 5, [1.0] * 5)
    assert r.tolist() == [5, 4, 3, 2, 1]


def test_repeat_buyers_spread_over_2_to_bins_even_with_a_mass_of_one_time_buyers() -> None:
    freq = np.array([0] * 500 + [1, 2, 3, 4, 5, 6, 7, 8] * 10)
    _, f, _ = rfm_scores(np.zeros(len(freq)), freq, np.ones(len(freq)), bins=5)
    assert (f[:500] == 1).all()
    assert np.bincount(f[500:], minlength=6)[1:].tolist() == [0, 20, 20, 20, 20]


def test_monetary_may_be_negative_and_scores_lowest() -> None:
    _, _, m = rfm_scores([1, 2, 3], [0, 0, 0], [-20.0, 0.0, 35.0], bins=3)
    assert m.tolist() == [1, 2, 3]


def test_empty_input_gives_empty_scores() -> None:
    r, f, m = rfm_scores([], [], [])
    assert len(r) == len(f) == len(m) == 0


def test_pyarrow_arrays_are_accepted() -> None:
    r, f, m = rfm_scores(
        pa.chunked_array([[1, 2], [3]]), pa.array([0, 1, 2]), pa.array([1.0, 2.0, 3.0]), bins=3
    )
    assert r.tolist() == [3, 2, 1]
    assert f.tolist() == [1, 2, 3]
    assert m.tolist() == [1, 2, 3]


@pytest.mark.parametrize("bins", [2, 11, 0, -5, 5.0, True, "5", None])
def test_bins_outside_3_to_10_are_a_config_error(bins: object) -> None:
    with pytest.raises(ConfigError, match="bins"):
        rfm_scores([1], [0], [1.0], bins=bins)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("days", "freq", "money", "message"),
    [
        ([1, np.nan], [0, 0], [1.0, 1.0], "days_since_last_purchase.*missing or infinite"),
        ([1, 2], [0, np.inf], [1.0, 1.0], "frequency.*missing or infinite"),
        ([1, 2], [0, -1], [1.0, 1.0], "frequency.*cannot be negative"),
        ([1, 2], [0, 1], [1.0], "one value per customer"),
        ([[1, 2]], [[0, 1]], [[1.0, 2.0]], "one-dimensional"),
        ([1, 2], [0, 1], ["a", "b"], "monetary.*numbers"),
    ],
)
def test_bad_input_is_an_input_error_naming_the_column(
    days: object, freq: object, money: object, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        rfm_scores(days, freq, money)


def test_null_in_an_arrow_column_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"frequency.*1 missing"):
        rfm_scores([1, 2], pa.array([0, None]), [1.0, 2.0])


FEATURES = pa.table(
    {
        "customer_id": ["a", "b", "c", "d"],
        "days_since_last_purchase": pa.array([1, 30, 300, 30], pa.int64()),
        "frequency": pa.array([3, 0, 0, 1], pa.int64()),
        "total_spend": [120.0, 15.0, 40.0, 80.0],
    }
)


def test_rfm_table_scores_every_customer_in_row_order() -> None:
    table = rfm_table(FEATURES, bins=3)
    assert table.column_names == ["customer_id", "r_score", "f_score", "m_score"]
    assert table.column("customer_id").to_pylist() == ["a", "b", "c", "d"]
    r, f, m = rfm_scores([1, 30, 300, 30], [3, 0, 0, 1], [120.0, 15.0, 40.0, 80.0], bins=3)
    assert table.column("r_score").to_pylist() == r.tolist()
    assert table.column("f_score").to_pylist() == f.tolist()
    assert table.column("m_score").to_pylist() == m.tolist()


def test_monetary_mean_scores_spend_per_purchase_period() -> None:
    # Mean spend per purchase period: 30, 15, 40, 40.
    table = rfm_table(FEATURES, bins=3, monetary="mean")
    expected = quantile_scores([120.0 / 4, 15.0, 40.0, 80.0 / 2], bins=3)
    assert table.column("m_score").to_pylist() == expected.tolist()


def test_rfm_table_names_a_missing_column() -> None:
    with pytest.raises(InputError, match="no column 'total_spend'"):
        rfm_table(FEATURES.drop_columns(["total_spend"]))


def test_unknown_monetary_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match='"total" or "mean"'):
        rfm_table(FEATURES, monetary="median")  # type: ignore[arg-type]
