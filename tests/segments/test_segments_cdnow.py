"""The CDNOW sample (Fader, Hardie & Lee 2005): 2,357 customers, 60 % one-time buyers.

The 39-week calibration summary (``cdnow_customers_summary.csv``) gives frequency,
recency and T in weeks; the spend is summed from ``CDNOW_sample.txt`` over the same
period (1997-01-01 to 1997-09-30).
"""

from __future__ import annotations

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
    # 1411 one-time buyers; 439 with one repeat purchase hold the middle of the lowest
    # repeat quartiles (F = 2), so F = 3 stays empty rather than splitting them.
    assert np.bincount(f, minlength=6)[1:].tolist() == [1411, 439, 0, 314, 193]


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


def test_pareto_on_cdnow(cdnow: dict[str, np.ndarray]) -> None:
    c = concentration(cdnow["spend"], frequency=cdnow["frequency"])
    assert c["customers"] == 2357
    assert c["one_time_buyers"] == 1411
    assert 0.5 < c["top_20pct_share"] < 0.8
    assert 0.4 < c["gini"] < 0.8
    classes = abc_classes(cdnow["spend"])
    a_share = cdnow["spend"][classes == "A"].sum() / cdnow["spend"].sum()
    assert 0.80 <= a_share < 0.81
    assert (classes[cdnow["spend"] <= 0] == "C").all()
