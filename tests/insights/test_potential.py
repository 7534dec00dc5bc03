"""Potential value: the log-ratio score, its fallbacks, ties at the cut, and bad input."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corecustomers.errors import ConfigError, InputError
from corecustomers.insights.potential import (
    BASIS_KEY,
    POTENTIAL_COLUMNS,
    potential_value,
    prediction_basis,
)


def test_scores_by_hand_with_clv() -> None:
    scored = pa.table(
        {
            "customer_id": ["a", "b", "c", "d"],
            "total_spend": [100.0, 0.0, -50.0, 900.0],
            "clv": [400.0, 50.0, 10.0, -20.0],
        }
    )
    out = potential_value(scored, shrinkage=100.0, top_share=0.5)

    assert tuple(out.column_names) == POTENTIAL_COLUMNS
    assert out.schema.metadata[BASIS_KEY] == b"clv"
    assert out.schema.metadata[b"potential_shrinkage"] == b"100.0"
    assert out["historic_value"].to_pylist() == [100.0, 0.0, 0.0, 900.0]  # floored at 0
    assert out["predicted_value"].to_pylist() == [400.0, 50.0, 10.0, 0.0]
    expected = [math.log(500 / 200), math.log(150 / 100), math.log(110 / 100), math.log(0.1)]
    assert out["potential_score"].to_pylist() == pytest.approx(expected, rel=1e-12)
    assert out["potential_rank"].to_pylist() == [1, 2, 3, 4]
    assert out["potential_percentile"].to_pylist() == [1.0, 0.75, 0.5, 0.25]
    assert out["high_potential"].to_pylist() == [True, True, False, False]


def test_default_shrinkage_is_the_median_positive_spend() -> None:
    scored = pa.table(
        {"customer_id": list("abcd"), "total_spend": [0.0, 10.0, 30.0, 50.0], "clv": [1.0] * 4}
    )
    out = potential_value(scored)
    assert out.schema.metadata[b"potential_shrinkage"] == b"30.0"
    assert out["potential_score"][0].as_py() == pytest.approx(math.log(31 / 30))
    nobody = pa.table({"customer_id": ["a"], "total_spend": [0.0], "clv": [5.0]})
    assert potential_value(nobody).schema.metadata[b"potential_shrinkage"] == b"1.0"


def test_falls_back_to_expected_purchases_times_spend() -> None:
    scored = pa.table(
        {
            "customer_id": ["a", "b"],
            "total_spend": [10.0, 10.0],
            "expected_purchases": [2.0, 0.5],
            "expected_spend": [30.0, 30.0],
        }
    )
    assert prediction_basis(scored) == "expected_purchases*expected_spend"
    out = potential_value(scored, shrinkage=10.0)
    assert out.schema.metadata[BASIS_KEY] == b"expected_purchases*expected_spend"
    assert out["predicted_value"].to_pylist() == [60.0, 15.0]
    assert out["potential_rank"].to_pylist() == [1, 2]


def test_without_predictions_nothing_is_scored_and_it_says_so() -> None:
    scored = pa.table({"customer_id": ["a", "b"], "total_spend": [10.0, 5.0]})
    out = potential_value(scored)
    assert out.schema.metadata[BASIS_KEY] == b"none"
    assert out.num_rows == 2 and out["high_potential"].to_pylist() == [False, False]
    for name in ("predicted_value", "potential_score", "potential_percentile", "potential_rank"):
        assert out[name].null_count == 2


def test_ties_at_the_cut_are_all_flagged_and_missing_clv_is_not_ranked() -> None:
    scored = pa.table(
        {
            "customer_id": ["e", "d", "c", "b", "a", "z"],
            "total_spend": [10.0] * 6,
            "clv": [90.0, 50.0, 50.0, 50.0, 10.0, None],
        }
    )
    out = potential_value(scored, shrinkage=10.0, top_share=0.4)
    # 5 scored customers: "e" alone is above the tied 50s; 1 < 0.4 * 5, so all of them in
    assert out["high_potential"].to_pylist() == [True, True, True, True, False, False]
    assert out["potential_rank"].to_pylist() == [1, 4, 3, 2, 5, None]  # ties by id
    assert out["potential_percentile"].to_pylist() == [1.0, 0.8, 0.8, 0.8, 0.2, None]
    # "a" has score 0 (as much ahead as behind): never flagged, even with everyone in
    everyone = potential_value(scored, shrinkage=10.0, top_share=1.0)
    assert everyone["high_potential"].to_pylist() == [True] * 4 + [False, False]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"top_share": 0.0}, "top_share"),
        ({"top_share": 1.5}, "top_share"),
        ({"top_share": True}, "top_share"),
        ({"shrinkage": 0.0}, "shrinkage"),
        ({"shrinkage": float("inf")}, "shrinkage"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float], match: str) -> None:
    scored = pa.table({"customer_id": ["a"], "total_spend": [1.0], "clv": [2.0]})
    with pytest.raises(ConfigError, match=match):
        potential_value(scored, **kwargs)


def test_bad_tables_are_refused() -> None:
    with pytest.raises(InputError, match="total_spend"):
        potential_value(pa.table({"customer_id": ["a"], "clv": [2.0]}))
    with pytest.raises(InputError, match="clv"):
        potential_value(
            pa.table({"customer_id": ["a"], "total_spend": [1.0], "clv": [float("inf")]})
        )
    with pytest.raises(InputError, match="total_spend"):
        potential_value(pa.table({"customer_id": ["a"], "total_spend": pa.array([None], "f8")}))


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(
    values=st.lists(
        st.tuples(st.integers(0, 50).map(float), st.integers(0, 50).map(float)),
        min_size=1,
        max_size=30,
    ),
    seed=st.integers(0, 1000),
    top_share=st.sampled_from([0.1, 0.25, 1.0]),
)
def test_invariants(values: list[tuple[float, float]], seed: int, top_share: float) -> None:
    n = len(values)
    spend, clv = (list(x) for x in zip(*values, strict=True))
    scored = pa.table(
        {"customer_id": [f"c{i:02d}" for i in range(n)], "total_spend": spend, "clv": clv}
    )
    out = potential_value(scored, top_share=top_share)
    pct = np.asarray(out["potential_percentile"].to_pylist())
    assert ((pct > 0) & (pct <= 1)).all() and pct.max() == 1.0
    assert sorted(out["potential_rank"].to_pylist()) == list(range(1, n + 1))
    flagged = np.asarray(out["high_potential"].to_pylist())
    score = np.asarray(out["potential_score"].to_pylist())
    assert (score[flagged] > 0).all()
    if flagged.any():  # everyone above a flagged customer is flagged
        assert (flagged | (score < score[flagged].min()) | (score <= 0)).all()
    # row order changes nothing
    order = np.random.default_rng(seed).permutation(n)
    shuffled = potential_value(scored.take(order), top_share=top_share)
    assert shuffled.sort_by("customer_id").equals(out.sort_by("customer_id"))


def test_docstring_examples_run() -> None:
    import corecustomers.insights.potential as module

    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_the_ranks_are_those_of_a_python_sort_by_score_then_id() -> None:
    """The Arrow sort of the ranks (``potential._ranks``) against the Python sort it
    replaced: ties by id in ``str`` order (non-ASCII, prefixes, digits), NaN unranked."""
    from corecustomers.insights.potential import _ranks

    rng = np.random.default_rng(3)
    n = 20_000
    ids = [f"{rng.choice(['C', 'c', '客户', 'Ä', ''])}{rng.integers(0, 10**6)}" for _ in range(n)]
    ids = list(dict.fromkeys(ids))
    n = len(ids)
    score = rng.choice([0.0, -0.0, 0.25, -1.5, np.nan, 2.0], size=n)
    score[: n // 2] = np.round(rng.normal(size=n // 2), 1)  # many ties
    order = sorted(np.flatnonzero(~np.isnan(score)).tolist(), key=lambda i: (-score[i], ids[i]))
    expected: list[int | None] = [None] * n
    for rank, i in enumerate(order, start=1):
        expected[i] = rank
    assert _ranks(score, pa.array(ids)).to_pylist() == expected
    chunked = pa.chunked_array([ids[: n // 3], ids[n // 3 :]])
    assert _ranks(score, chunked).to_pylist() == expected
