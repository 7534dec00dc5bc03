"""Summary tables for the report: order, shares, empty segments, JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from corecustomers.errors import InputError
from corecustomers.segments import (
    CN8,
    NAMED,
    abc_classes,
    abc_table,
    assign_segments,
    segment_table,
)

KEYS = ["segment", "label", "customers", "revenue", "share_customers", "share_revenue"]


def test_segment_table_follows_the_named_order_and_adds_up() -> None:
    rng = np.random.default_rng(11)
    r, f, m = (rng.integers(1, 6, size=300) for _ in range(3))
    value = rng.gamma(1.0, 40.0, size=300)
    codes, labels = assign_segments(r, f, m)
    rows = segment_table(codes, labels, value)
    assert [row["segment"] for row in rows] == [c for c in NAMED.codes if c in set(codes)]
    assert all(list(row) == KEYS for row in rows)
    assert sum(row["customers"] for row in rows) == 300
    assert sum(row["revenue"] for row in rows) == pytest.approx(value.sum())
    assert sum(row["share_customers"] for row in rows) == pytest.approx(1.0)
    assert sum(row["share_revenue"] for row in rows) == pytest.approx(1.0)
    assert json.loads(json.dumps(rows, allow_nan=False)) == rows


def test_with_the_scheme_every_segment_is_listed_even_when_empty() -> None:
    codes, labels = assign_segments([5, 1], [5, 1], [5, 1], scheme="cn8", lang="zh")
    rows = segment_table(codes, labels, [300.0, 20.0], scheme="cn8", lang="zh")
    assert [row["segment"] for row in rows] == list(CN8.codes)
    assert [row["label"] for row in rows] == list(CN8.labels("zh"))
    assert [row["customers"] for row in rows] == [1, 0, 0, 0, 0, 0, 0, 1]
    assert rows[1]["revenue"] == 0.0
    assert rows[0]["share_revenue"] == pytest.approx(300.0 / 320.0)


def test_without_a_known_scheme_segments_are_ordered_by_value() -> None:
    rows = segment_table(["x", "y", "z", "y"], ["X", "Y", "Z", "Y"], [5.0, 1.0, 9.0, 2.0])
    assert [(row["segment"], row["label"]) for row in rows] == [("z", "Z"), ("x", "X"), ("y", "Y")]


def test_codes_from_another_scheme_are_rejected() -> None:
    with pytest.raises(InputError, match=r"\['Champions'\] are not segments of scheme 'cn8'"):
        segment_table(["Champions"], ["Champions"], [1.0], scheme="cn8")


def test_shares_of_a_non_positive_total_are_none() -> None:
    rows = segment_table(["Lost", "Lost"], ["Lost", "Lost"], [5.0, -5.0])
    assert rows[0]["share_revenue"] is None
    assert rows[0]["share_customers"] == 1.0


def test_lengths_must_match() -> None:
    with pytest.raises(InputError, match="one value per customer"):
        segment_table(["Lost"], ["Lost", "Lost"], [1.0])


def test_abc_table_lists_a_b_c_in_order_with_labels() -> None:
    value = np.array([50.0, 30.0, 10.0, 6.0, 4.0, -2.0])
    classes = abc_classes(value)
    rows = abc_table(classes, value)
    assert [row["class"] for row in rows] == ["A", "B", "C"]
    assert [row["label"] for row in rows] == [
        "Key customers",
        "Important customers",
        "Ordinary customers",
    ]
    assert [row["customers"] for row in rows] == [2, 2, 2]
    assert [row["revenue"] for row in rows] == [80.0, 16.0, 2.0]
    assert rows[0]["share_revenue"] == pytest.approx(80.0 / 98.0)
    zh = abc_table(classes, value, lang="zh")
    assert [row["label"] for row in zh] == ["重点客户", "重要客户", "普通客户"]
    assert json.loads(json.dumps(rows, allow_nan=False)) == rows


def test_abc_table_keeps_empty_classes() -> None:
    rows = abc_table(["A"], [10.0])
    assert [row["customers"] for row in rows] == [1, 0, 0]


def test_abc_table_rejects_unknown_classes() -> None:
    with pytest.raises(InputError, match=r"A, B or C; got \['D'\]"):
        abc_table(["A", "D"], [1.0, 2.0])
