"""The CDNOW sample (Fader, Hardie & Lee 2005): 2,357 customers, 60 % one-time buyers.

The 39-week calibration summary (``cdnow_customers_summary.csv``) gives frequency,
recency and T in weeks; the spend is summed from ``CDNOW_sample.txt`` over the same
period (1997-01-01 to 1997-09-30). Published: 2,357 customers, 1,411 without a repeat
purchase in the calibration period and 439 with one (FHL 2005, "Counting your customers
the easy way", fig. 1). Every other expected value is computed here, from the data, by the
rule the function documents, in plain Python.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from corecustomers.segments import (
    NAMED,
    abc_classes,
    assign_segments,
    concentration,
    rfm_scores,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def cdnow() -> dict[str, np.ndarray]:
    summary = np.loadtxt(FIXTURES / "cdnow_customers_summary.csv", delimiter=",", skiprows=1)
    tx = np.loadtxt(FIXTURES / "CDNOW_sample.txt")
    customer, date, dollars = tx[:, 1].astype(np.int64), tx[:, 2].astype(np.int64), tx[:, 4]
    calibration = date <= 19970930
    spend = np.bincount(
        customer[calibration], weights=dollars[calibration], minlength=len(summary) + 1
    )[1:]
    return {
        "frequency": summary[:, 1],
        "days_since_last_purchase": (summary[:, 3] - summary[:, 2]) * 7.0,
        "spend": spend,
    }


def test_the_fixture_is_the_published_sample(cdnow: dict[str, np.ndarray]) -> None:
    assert len(cdnow["frequency"]) == 2357
    assert int((cdnow["frequency"] == 0).sum()) == 1411


@pytest.mark.parametrize("bins", range(3, 11))
def test_one_time_buyers_do_not_collapse_the_frequency_scale(
    cdnow: dict[str, np.ndarray], bins: int
) -> None:
    r, f, m = rfm_scores(
        cdnow["days_since_last_purchase"], cdnow["frequency"], cdnow["spend"], bins=bins
    )
    one_time = cdnow["frequency"] == 0
    assert (f[one_time] == 1).all()
    assert (f[~one_time] >= 2).all()
    assert f[cdnow["frequency"] == cdnow["frequency"].max()].tolist() == [bins]
    assert len(np.unique(f)) >= min(bins, 4)
    # R and M have many distinct values: every score is used, in near-equal shares.
    for scores in (r, m):
        counts = np.bincount(scores, minlength=bins + 1)[1:]
        assert counts.min() > 0.8 * len(scores) / bins


def test_f_scores_on_five_bins(cdnow: dict[str, np.ndarray]) -> None:
    _, f, _ = rfm_scores(cdnow["days_since_last_purchase"], cdnow["frequency"], cdnow["spend"])
    # 1411 one-time buyers (F = 1); the 946 repeat buyers are split at their quartiles:
    # the 439 with one repeat purchase hold the middle of the lowest two (F = 2), so F = 3
    # stays empty rather than splitting them; two or three repeat purchases make F = 4,
    # four or more F = 5.
    x = cdnow["frequency"]
    expected = [1411, 439, 0, int(((x == 2) | (x == 3)).sum()), int((x >= 4).sum())]
    assert np.bincount(f, minlength=6)[1:].tolist() == expected
    assert expected[3:] == [314, 193]  # 214 + 100; and 62 + 38 + 29 + 64 (x >= 7)


def test_every_customer_is_in_one_segment(cdnow: dict[str, np.ndarray]) -> None:
    r, f, m = rfm_scores(cdnow["days_since_last_purchase"], cdnow["frequency"], cdnow["spend"])
    codes, labels = assign_segments(r, f, m, lang="zh")
    assert len(codes) == len(labels) == 2357
    assert set(labels.tolist()) <= set(NAMED.labels("zh"))
    assert set(codes.tolist()) <= set(NAMED.codes)
    assert len(set(codes.tolist())) >= 8
    cn8, _ = assign_segments(
        r,
        f,
        m,
        scheme="cn8",
        days_since_last_purchase=cdnow["days_since_last_purchase"],
        frequency=cdnow["frequency"],
        monetary=cdnow["spend"],
    )
    assert len(set(cn8.tolist())) == 8


def reference_top_share(values: np.ndarray, share: float) -> float:
    """The top ``share`` of customers' value, a fractional customer counted pro rata."""
    ranked = sorted(np.clip(values, 0.0, None).tolist(), reverse=True)
    whole, part = divmod(share * len(ranked), 1.0)
    k = int(whole)
    return (math.fsum(ranked[:k]) + part * ranked[k]) / math.fsum(ranked)


def reference_gini(values: np.ndarray) -> float:
    """sum_i (2 i - n - 1) x_i / (n sum_i x_i), values ascending (negatives as 0)."""
    x = sorted(np.clip(values, 0.0, None).tolist())
    n = len(x)
    return math.fsum((2 * i - n - 1) * v for i, v in enumerate(x, start=1)) / (n * math.fsum(x))


def reference_abc(values: np.ndarray, a: float = 0.80, b: float = 0.95) -> list[str]:
    """Largest first: A while the share held by the customers before is below ``a``, B
    below ``b``, else C; equal values share the class of their first place; zero or
    negative values are C."""
    total = math.fsum(v for v in values.tolist() if v > 0)
    classes: dict[float, str] = {}
    before = 0.0
    for value in sorted((v for v in values.tolist() if v > 0), reverse=True):
        if value not in classes:
            share = before / total
            classes[value] = (
                "A" if share < a * (1 - 1e-12) else "B" if share < b * (1 - 1e-12) else "C"
            )
        before += value
    return [classes.get(v, "C") if v > 0 else "C" for v in values.tolist()]


def test_pareto_on_cdnow(cdnow: dict[str, np.ndarray]) -> None:
    spend = cdnow["spend"]
    c = concentration(spend, frequency=cdnow["frequency"])
    assert c["customers"] == 2357
    assert c["one_time_buyers"] == 1411
    for key, share in (
        ("top_1pct_share", 0.01),
        ("top_10pct_share", 0.1),
        ("top_20pct_share", 0.2),
    ):
        assert c[key] == pytest.approx(reference_top_share(spend, share), abs=1e-12), key
    assert c["gini"] == pytest.approx(reference_gini(spend), abs=1e-12)
    classes = abc_classes(spend)
    assert classes.tolist() == reference_abc(spend)
    a_share = spend[classes == "A"].sum() / spend.sum()
    assert 0.80 <= a_share < 0.80 + spend.max() / spend.sum()  # A stops once it reaches 80 %
    assert (classes[spend <= 0] == "C").all()
