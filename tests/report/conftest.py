"""Fixed inputs for the report tests: a summary and a scored customers table that agree.

The data are simulated once from a fixed seed and summarised here with plain NumPy, so the
report tests depend on the input contract only, not on the analysis code.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

N_CUSTOMERS = 600
SEED = 20240630

EN_SEGMENTS = {
    "champions": "Champions",
    "loyal": "Loyal customers",
    "potential": "Potential loyalists",
    "new": "New customers",
    "at_risk": "At risk",
    "cant_lose": "Can't lose them",
    "hibernating": "Hibernating",
    "lost": "Lost",
}
ZH_SEGMENTS = {
    "important_value": "重要价值客户",
    "important_develop": "重要发展客户",
    "important_keep": "重要保持客户",
    "important_retain": "重要挽留客户",
    "general_value": "一般价值客户",
    "general_develop": "一般发展客户",
    "general_keep": "一般保持客户",
    "general_retain": "一般挽留客户",
}


def _quintile(values: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    order = np.argsort(values if higher_is_better else -values, kind="stable")
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[order] = np.arange(len(values))
    return 1 + ranks * 5 // len(values)


def _segment_en(r: int, f: int, m: int) -> str:
    if r >= 4 and f >= 4:
        return "champions"
    if r >= 3 and f >= 3:
        return "loyal"
    if r >= 4 and f <= 2:
        return "new" if f == 1 else "potential"
    if r <= 2 and f >= 4 and m >= 4:
        return "cant_lose"
    if r <= 2 and f >= 3:
        return "at_risk"
    if r == 1:
        return "lost"
    return "hibernating" if r == 2 else "potential"


def _segment_zh(r: int, f: int, m: int) -> str:
    importance = "important" if m >= 3 else "general"
    kind = {(True, True): "value", (True, False): "develop", (False, True): "keep"}.get(
        (r >= 3, f >= 3), "retain"
    )
    return f"{importance}_{kind}"


def build_inputs(scheme: str = "en") -> tuple[dict[str, Any], pa.Table, list[dict[str, Any]]]:
    """``(summary, customers, quarantine)`` with every optional part present."""
    rng = np.random.default_rng(SEED)
    n = N_CUSTOMERS
    frequency = rng.negative_binomial(1, 0.3, n)
    T = rng.uniform(10, 52, n).round(1)
    recency = np.where(frequency > 0, T * rng.uniform(0.2, 1.0, n), 0.0).round(1)
    monetary = np.where(frequency > 0, rng.lognormal(3.6, 0.7, n), 0.0).round(2)
    first = rng.lognormal(3.4, 0.6, n).round(2)
    total = (first + frequency * monetary).round(2)
    days_since = ((T - recency) * 7).round().astype(np.int64)
    r = _quintile(-days_since.astype(float))
    f = _quintile(frequency.astype(float) + rng.uniform(0, 0.01, n))
    m = _quintile(total)
    labels = EN_SEGMENTS if scheme == "en" else ZH_SEGMENTS
    assign = _segment_en if scheme == "en" else _segment_zh
    segment = np.array([assign(int(a), int(b), int(c)) for a, b, c in zip(r, f, m, strict=True)])
    order = np.argsort(-total, kind="stable")
    cumulative = np.cumsum(total[order]) / total.sum()
    abc_sorted = np.where(cumulative <= 0.8, "A", np.where(cumulative <= 0.95, "B", "C"))
    abc = np.empty(n, dtype=object)
    abc[order] = abc_sorted
    p_alive = np.clip(1 - days_since / (days_since.max() + 30), 0.02, 0.99).round(4)
    expected = (p_alive * (frequency + 1) / (T / 26)).round(3)
    clv = (expected * np.maximum(monetary, first) * 0.9).round(2)
    ids = [f"C{i:05d}" for i in range(1, n + 1)]
    customers = pa.table(
        {
            "customer_id": ids,
            "frequency": pa.array(frequency, pa.int64()),
            "recency": recency,
            "T": T,
            "monetary_value": monetary,
            "total_spend": total,
            "days_since_last_purchase": days_since,
            "r_score": pa.array(r, pa.int8()),
            "f_score": pa.array(f, pa.int8()),
            "m_score": pa.array(m, pa.int8()),
            "rfm_segment": segment.tolist(),
            "abc_class": abc.tolist(),
            "p_alive": p_alive,
            "expected_purchases": expected,
            "expected_spend": (expected * monetary).round(2),
            "clv": clv,
        }
    )
    revenue = float(total.sum())
    ranked = total[order]

    def top_share(p: float) -> float:
        return float(ranked[: max(1, int(np.ceil(p * n)))].sum() / revenue)

    ascending = np.sort(total)
    lorenz_y = np.r_[0.0, np.cumsum(ascending) / revenue]
    lorenz_x = np.arange(n + 1) / n
    keep = np.unique(np.linspace(0, n, 101).round().astype(int))
    gini = float(1 - 2 * np.trapezoid(lorenz_y, lorenz_x))
    segment_rows = []
    for code, label in labels.items():
        mask = segment == code
        segment_rows.append(
            {
                "segment": code,
                "label": label,
                "customers": int(mask.sum()),
                "revenue": float(total[mask].sum()),
                "share_customers": float(mask.mean()),
                "share_revenue": float(total[mask].sum() / revenue),
            }
        )
    abc_rows = [
        {
            "class": name,
            "customers": int((abc == name).sum()),
            "revenue": float(total[abc == name].sum()),
            "share_customers": float((abc == name).mean()),
            "share_revenue": float(total[abc == name].sum() / revenue),
        }
        for name in ("A", "B", "C")
    ]
    weeks = 26
    base = 40 + 6 * np.sin(np.arange(weeks) / 3)
    summary: dict[str, Any] = {
        "source": "data/transactions_2024.csv",
        "generated_at": "2024-07-01T08:30:00+00:00",
        "as_of": "2024-06-30",
        "calibration_end": "2023-12-31",
        "time_unit": "week",
        "currency": "¥",
        "rows_read": 1_284_512,
        "rows_accepted": 1_283_901,
        "rows_quarantined": 468,
        "rows_after_as_of": 143,
        "quarantine_reasons": {
            "unparseable_timestamp": 311,
            "missing_customer_id": 120,
            "bad_amount": 37,
        },
        "warnings": [
            {
                "code": "duplicate_rows",
                "count": 58,
                "message": "58 rows repeat an earlier row exactly; they were kept. Set dedupe = true to drop them.",
            }
        ],
        "customers": n,
        "revenue": revenue,
        "concentration": {
            "top_1pct_share": top_share(0.01),
            "top_10pct_share": top_share(0.10),
            "top_20pct_share": top_share(0.20),
            "gini": gini,
            "one_time_buyers": int((frequency == 0).sum()),
            "one_time_buyer_share": float((frequency == 0).mean()),
            "lorenz": [[float(lorenz_x[i]), float(lorenz_y[i])] for i in keep],
        },
        "segments": {"scheme": "rfm-en" if scheme == "en" else "rfm-zh-8", "table": segment_rows},
        "abc": {"thresholds": {"A": 0.8, "B": 0.95}, "value": "revenue", "table": abc_rows},
        "settings": {
            "source": {"path": "data/transactions_2024.csv", "encoding": "utf-8"},
            "columns": {"customer_id": "会员号", "timestamp": "下单时间", "amount": "实付金额"},
            "time_unit": "week",
            "currency": "¥",
            "segments": {"scheme": "rfm-en" if scheme == "en" else "rfm-zh-8", "quantiles": 5},
            "discount_rate": 0.01,
        },
        "models": {
            "transaction": {
                "model": "BetaGeoModel",
                "params": {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259},
                "standard_errors": {"r": 0.0126, "alpha": 0.3782, "a": 0.1859, "b": 0.7057},
                "log_likelihood": -9582.43,
                "n_customers": n,
                "converged": True,
            },
            "selection": {
                "name": "bg_nbd",
                "criterion": "holdout",
                "candidates": [
                    {
                        "name": name,
                        "model": model,
                        "n_params": k,
                        "n_customers": n,
                        "log_likelihood": ll,
                        "bic": -2 * ll + k * float(np.log(n)),
                        "holdout_mae": mae,
                        "converged": True,
                        "selected": name == "bg_nbd",
                    }
                    for name, model, k, ll, mae in (
                        ("bg_nbd", "BetaGeoModel", 4, -9582.43, 0.712),
                        ("mbg_nbd", "ModifiedBetaGeoModel", 4, -9580.11, 0.719),
                        ("pareto_nbd", "ParetoNBDModel", 4, -9595.68, 0.725),
                    )
                ],
            },
            "spend": {
                "model": "GammaGammaModel",
                "params": {"p": 6.2490, "q": 3.7443, "v": 15.4426},
                "standard_errors": {"p": 0.3127, "q": 0.2551, "v": 1.9321},
                "log_likelihood": -4023.12,
                "n_customers": int((frequency > 0).sum()),
                "converged": True,
                "n_repeat_customers": int((frequency > 0).sum()),
                "spend_frequency_correlation": 0.113,
            },
            "clv": {
                "horizon_months": 12,
                "annual_discount_rate": 0.1,
                "monthly_discount_rate": 0.00797,
                "discounting": "discrete, monthly",
                "margin": 1.0,
                "time_unit": "week",
                "total": float(clv.sum()),
            },
        },
        "holdout": {
            "model": "BetaGeoModel",
            "n_customers": n,
            "duration_holdout": 26.0,
            "actual_purchases": 1788.0,
            "predicted_purchases": 1714.6,
            "actual_total": 1788.0,
            "predicted_total": 1714.6,
            "mae": 0.712,
            "rmse": 1.304,
            "correlation": 0.641,
            "by_frequency": [
                {"frequency": f, "n_customers": c, "customers": c, "actual": a, "predicted": p}
                for f, c, a, p in (
                    ("0", 1411, 0.23, 0.20),
                    ("1", 439, 0.62, 0.66),
                    ("2", 214, 1.04, 1.09),
                    ("3", 117, 1.52, 1.46),
                    ("4", 65, 1.97, 1.87),
                    ("5", 40, 2.41, 2.35),
                    ("6", 29, 2.66, 2.87),
                    ("7+", 42, 4.10, 3.86),
                )
            ],
            "purchases_top_share": [
                {"share": 0.1, "n_customers": 60, "captured": 0.412, "best_possible": 0.611},
                {"share": 0.2, "n_customers": 120, "captured": 0.597, "best_possible": 0.842},
            ],
            # Cumulative, as the service writes it (Fader, Hardie & Lee 2005, fig. 2).
            "tracking": {
                "period_length": 1.0,
                "period": list(range(1, weeks + 1)),
                "actual": np.cumsum(base + rng.normal(0, 3, weeks)).round(1).tolist(),
                "predicted": np.cumsum(base * 0.98).round(1).tolist(),
                "conditional": np.cumsum(base * 1.01).round(1).tolist(),
            },
        },
    }
    quarantine = [
        {
            "source_row": 1000 + 37 * i,
            "reason": reason,
            "message": message,
            "raw": raw,
        }
        for i, (reason, message, raw) in enumerate(
            [
                (
                    "unparseable_timestamp",
                    "timestamp '31/02/2024' is not a date; use YYYY-MM-DD",
                    {"会员号": "M1001", "下单时间": "31/02/2024", "实付金额": "88.00"},
                ),
                (
                    "unparseable_timestamp",
                    "timestamp 'yesterday' is not a date; use YYYY-MM-DD",
                    {"会员号": "M2044", "下单时间": "yesterday", "实付金额": "12.50"},
                ),
                (
                    "missing_customer_id",
                    "customer_id is empty",
                    {"会员号": "", "下单时间": "2024-03-02 10:11:00", "实付金额": "45.00"},
                ),
                (
                    "bad_amount",
                    "amount 'N/A' is not a number",
                    {"会员号": "M3310", "下单时间": "2024-04-18 19:40:00", "实付金额": "N/A"},
                ),
            ]
        )
    ]
    return summary, customers, quarantine


_CACHE: dict[str, tuple[dict[str, Any], pa.Table, list[dict[str, Any]]]] = {}


def _cached(scheme: str) -> tuple[dict[str, Any], pa.Table, list[dict[str, Any]]]:
    if scheme not in _CACHE:
        _CACHE[scheme] = build_inputs(scheme)
    summary, customers, quarantine = _CACHE[scheme]
    return copy.deepcopy(summary), customers, copy.deepcopy(quarantine)


@pytest.fixture
def inputs() -> Callable[..., tuple[dict[str, Any], pa.Table, list[dict[str, Any]]]]:
    """A factory: ``inputs(scheme="en"|"zh")`` -> fresh ``(summary, customers, quarantine)``."""
    return _cached


@pytest.fixture
def full_inputs() -> tuple[dict[str, Any], pa.Table, list[dict[str, Any]]]:
    """Inputs with every optional part: models, holdout, CLV columns, quarantine sample."""
    return _cached("en")


@pytest.fixture
def minimal_inputs() -> tuple[dict[str, Any], pa.Table, list[dict[str, Any]]]:
    """Inputs without any optional part: no models, holdout, clv or model columns."""
    summary, customers, _ = _cached("en")
    for key in ("models", "holdout", "calibration_end"):
        summary.pop(key)
    keep = [
        name
        for name in customers.column_names
        if name not in ("p_alive", "expected_purchases", "expected_spend", "clv")
    ]
    return summary, customers.select(keep), []
