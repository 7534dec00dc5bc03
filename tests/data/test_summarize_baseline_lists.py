"""The hand-written SQL baseline of ``summarize`` (``benchmarks/summarize_sql.py``) spells out
the validation's lists so that its process imports nothing of ours; they must stay equal,
or the benchmark compares different work."""

from __future__ import annotations

from benchmarks import summarize_sql

from corecustomers.data import validation


def test_the_baseline_checks_the_same_placeholders_and_total_labels() -> None:
    assert summarize_sql.PLACEHOLDER_IDS == validation.PLACEHOLDER_IDS
    assert summarize_sql.SUMMARY_LABELS == validation.SUMMARY_LABELS
