"""The report's top-customer tables pick the rows a full sort of the table would put
first (``top_rows``, ``_top_customers``), without sorting or filtering a million rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from corecustomers.report._core import top_rows


def customers(n: int, seed: int) -> pa.Table:
    """Scores with ties, nulls and NaN; ids unique but not in order; text columns."""
    rng = np.random.default_rng(seed)
    score = np.round(rng.gamma(1.0, 3.0, n))  # many ties
    score[rng.random(n) < 0.1] = np.nan
    nulls = rng.random(n) < 0.1
    ids = [f"c{i:05d}" for i in rng.permutation(n)]
    return pa.table(
        {
            "customer_id": pa.array(ids),
            "core_score": pa.array(score, mask=nulls),
            "clv": pa.array(rng.gamma(1.0, 50.0, n)),
            "tier": pa.array(rng.choice(["core", "other"], n).tolist()),
        }
    )


def plain(table: pa.Table, mask: Any, keys: tuple[str, ...], limit: int) -> list[dict[str, Any]]:
    """The rows as the report chose them before: filter, sort all, take the first."""
    chosen = table.filter(mask)
    sort = [(name, "descending") for name in keys if name in chosen.column_names][:1]
    order = pc.sort_indices(chosen, sort_keys=[*sort, ("customer_id", "ascending")])
    rows: list[dict[str, Any]] = chosen.take(order[:limit]).to_pylist()
    return rows


@pytest.mark.parametrize("n", [0, 1, 7, 5_000])
@pytest.mark.parametrize("limit", [0, 3, 20, 10_000])
@pytest.mark.parametrize("keys", [("core_score", "clv"), ("missing", "clv"), ("missing",)])
def test_top_rows_are_the_full_sorts_first_rows(n: int, limit: int, keys: tuple[str, ...]) -> None:
    table = customers(n, seed=n + limit)
    mask = pc.equal(table.column("tier"), "core")
    if n > 1:  # a null in the mask is not chosen, as filter leaves it out
        mask = pa.chunked_array([pa.array([*mask.to_pylist()[:-1], None], pa.bool_())])
    assert comparable(top_rows(table, mask, keys, limit)) == comparable(
        plain(table, mask, keys, limit)
    )


def comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with NaN as a text (NaN is not equal to itself)."""
    return [{k: "NaN" if v != v else v for k, v in row.items()} for row in rows]


@pytest.mark.parametrize("k", [1, 10, 100, 5_000])
def test_the_top_customers_selection_is_the_sorts_first_rows(k: int) -> None:
    """``_top_customers`` selects the first k by total spend (nulls and NaN last, ties by
    id) with ``select_k_unstable``: its indices are the full sort's first k."""
    table = customers(5_000, seed=k).rename_columns(["customer_id", "total_spend", "clv", "tier"])
    keys = [("total_spend", "descending"), ("customer_id", "ascending")]
    chosen = pc.select_k_unstable(table.select(["total_spend", "customer_id"]), k, keys)
    assert chosen.to_pylist() == pc.sort_indices(table, sort_keys=keys)[:k].to_pylist()
