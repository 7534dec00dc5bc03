"""Fixed inputs for the report tests: a summary and a scored customers table that agree.

The data are simulated once from a fixed seed and summarised here with plain NumPy, so the
report tests depend on the input contract only, not on the analysis code. That contract is
what ``analyze`` writes: ``test_report_fixtures.py`` compares these inputs with the
summaries and customer tables of real runs (key by key, and the codes of reasons, models,
parameters, segments, tiers and actions), so they cannot drift from it.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from analyses import Analysis, run_analysis

from corecustomers.config import Settings

N_CUSTOMERS = 600
SEED = 20240630

#: Segment codes of the built-in schemes (``named`` in English, ``cn8`` in Chinese) with
#: their labels, as ``analyze`` writes them; ``test_report_fixtures`` checks them.
EN_SEGMENTS = {
    "Champions": "Champions",
    "Loyal": "Loyal",
    "Potential Loyalist": "Potential Loyalist",
    "New": "New",
    "At Risk": "At Risk",
    "Can't Lose Them": "Can't Lose Them",
    "Hibernating": "Hibernating",
    "Lost": "Lost",
}
ZH_SEGMENTS = {
    "Important value": "重要价值客户",
    "Important development": "重要发展客户",
    "Important retention": "重要保持客户",
    "Important win-back": "重要挽留客户",
    "General value": "一般价值客户",
    "General development": "一般发展客户",
    "General retention": "一般保持客户",
    "General win-back": "一般挽留客户",
}
SCHEMES = {"en": "named", "zh": "cn8"}
#: The segment whose ordinary customers get no action, per scheme.
LOST_SEGMENT = {"en": "Lost", "zh": "General win-back"}


def _quintile(values: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    order = np.argsort(values if higher_is_better else -values, kind="stable")
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[order] = np.arange(len(values))
    return 1 + ranks * 5 // len(values)


def _segment_en(r: int, f: int, m: int) -> str:
    if r >= 4 and f >= 4:
        return "Champions"
    if r >= 3 and f >= 3:
        return "Loyal"
    if r >= 4 and f <= 2:
        return "New" if f == 1 else "Potential Loyalist"
    if r <= 2 and f >= 4 and m >= 4:
        return "Can't Lose Them"
    if r <= 2 and f >= 3:
        return "At Risk"
    if r == 1:
        return "Lost"
    return "Hibernating" if r == 2 else "Potential Loyalist"


def _segment_zh(r: int, f: int, m: int) -> str:
    importance = "Important" if m >= 3 else "General"
    kind = {(True, True): "value", (True, False): "development", (False, True): "retention"}
    return f"{importance} {kind.get((r >= 3, f >= 3), 'win-back')}"


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
            "unparseable_date": 311,
            "missing_customer_id": 120,
            "non_numeric_amount": 37,
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
        "segments": {"scheme": SCHEMES[scheme], "table": segment_rows},
        "abc": {"thresholds": {"A": 0.8, "B": 0.95}, "value": "revenue", "table": abc_rows},
        # The settings as ``analyze`` writes them (``Settings.to_dict``).
        "settings": Settings(
            columns={"customer_id": "会员号", "timestamp": "下单时间", "amount": "实付金额"},
            calibration_end=dt.date(2023, 12, 31),
            currency="¥",
            lang="zh" if scheme == "zh" else "en",
            rfm_scheme=SCHEMES[scheme],
        ).to_dict(),
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
                "name": "bgnbd",
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
                        "selected": name == "bgnbd",
                    }
                    for name, model, k, ll, mae in (
                        ("bgnbd", "BetaGeoModel", 4, -9582.43, 0.712),
                        ("mbgnbd", "ModifiedBetaGeoModel", 4, -9580.11, 0.719),
                        ("pnbd", "ParetoNBDModel", 4, -9595.68, 0.725),
                    )
                ],
            },
            "spend": {
                "model": "GammaGammaModel",
                "params": {"p": 6.2490, "q": 3.7443, "gamma": 15.4426},
                "standard_errors": {"p": 0.3127, "q": 0.2551, "gamma": 1.9321},
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
                    "unparseable_date",
                    "timestamp '31/02/2024' is not a date; use YYYY-MM-DD",
                    {"会员号": "M1001", "下单时间": "31/02/2024", "实付金额": "88.00"},
                ),
                (
                    "unparseable_date",
                    "timestamp 'yesterday' is not a date; use YYYY-MM-DD",
                    {"会员号": "M2044", "下单时间": "yesterday", "实付金额": "12.50"},
                ),
                (
                    "missing_customer_id",
                    "customer_id is empty",
                    {"会员号": "", "下单时间": "2024-03-02 10:11:00", "实付金额": "45.00"},
                ),
                (
                    "non_numeric_amount",
                    "amount 'N/A' is not a number",
                    {"会员号": "M3310", "下单时间": "2024-04-18 19:40:00", "实付金额": "N/A"},
                ),
            ]
        )
    ]
    customers, core = core_parts(customers, scheme)
    summary.update(core)
    return summary, customers, quarantine


# --- the core-customer parts: tiers, migration, warnings, actions, capture ------------------

TIERS = ("strategic", "key", "ordinary")
CORE_TIERS = ("strategic", "key")
#: Core customers with a P(active) below this are alerted (35 of them).
ALERT_BELOW = 0.8
TIER_LABELS = {
    "strategic": ("Strategic", "战略客户"),
    "key": ("Key", "重点客户"),
    "ordinary": ("Ordinary", "普通客户"),
}
#: Summary keys and customer columns of the core-customer sections.
CORE_KEYS = (
    "tiers",
    "migration",
    "migration_series",
    "alerts",
    "core_score",
    "capture",
    "actions",
    "recommendations",
)
CORE_COLUMNS = (
    "tier",
    "tier_label",
    "tier_label_en",
    "tier_label_zh",
    "tier_reason_en",
    "tier_reason_zh",
    "previous_tier",
    "core",
    "core_score",
    "alert",
    "alert_reason_en",
    "alert_reason_zh",
    "value_at_stake",
    "alert_rank",
    "potential_score",
    "high_potential",
    "action_code",
    "action_en",
    "action_zh",
    "next_best_action",
    "channel",
    "deadline_days",
    "due",
    "recommended_products",
)
#: (code, English, Chinese, channel, deadline days) of the actions the fixture uses.
PLAYS = {
    "AM_VISIT": ("Account-manager visit", "客户经理上门拜访", "visit", 7),
    "QBR": ("Quarterly business review", "季度业务回顾", "visit", 30),
    "RETENTION_CALL": ("Retention call", "挽留回访电话", "call", 7),
    "KEY_CARE": ("Personal recommendations", "个性化推荐与积分提醒", "email", 14),
    "NO_ACTION": ("No action (cost control)", "暂不跟进（控制成本）", "none", None),
    "NEWSLETTER": ("Regular member newsletter", "常规会员资讯", "email", 30),
}
PRODUCTS = ["冰拿铁", "热美式", "芝士可颂", "红豆贝果", "抹茶拿铁", "三文鱼沙拉"]


def core_parts(customers: pa.Table, scheme: str) -> tuple[pa.Table, dict[str, Any]]:
    """Tiers, reasons, alerts, actions and migration for ``customers``, with the summary keys.

    Tiers by CLV rank (top 5 % strategic, next 20 % key); the previous tiers are the tiers
    with one customer in ten moved one tier and one in fifty new; alerts are the core
    customers with ``p_alive < ALERT_BELOW``.
    """
    rng = np.random.default_rng(SEED + 1)
    n = customers.num_rows
    ids = customers.column("customer_id").to_pylist()
    clv = customers.column("clv").to_numpy()
    p_alive = customers.column("p_alive").to_numpy()
    spend = customers.column("total_spend").to_numpy()
    segment = np.array(customers.column("rfm_segment").to_pylist())
    score = clv * rng.uniform(0.9, 1.1, n)
    order = np.argsort(-score, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    level = np.where(rank < 0.05 * n, 0, np.where(rank < 0.25 * n, 1, 2))
    tier = np.array(TIERS)[level]
    moved = rng.uniform(size=n) < 0.1
    shift = np.where(rng.uniform(size=n) < 0.5, -1, 1)
    previous_level = np.where(moved, np.clip(level + shift, 0, 2), level)
    new = rng.uniform(size=n) < 0.02
    previous = [None if fresh else TIERS[k] for k, fresh in zip(previous_level, new, strict=True)]
    core = level < 2
    top_pct = (rank + 1) / n * 100
    reason_en = [
        f"{TIER_LABELS[t][0]}: predicted 12-month value ¥{v:,.0f} (top {q:.1f} %), active "
        f"with probability {p:.2f}"
        for t, v, q, p in zip(tier, clv, top_pct, p_alive, strict=True)
    ]
    reason_zh = [
        f"{TIER_LABELS[t][1]}：预测12个月价值 ¥{v:,.0f}（前{q:.1f}%），活跃概率 {p:.2f}"
        for t, v, q, p in zip(tier, clv, top_pct, p_alive, strict=True)
    ]
    alert = core & (p_alive < ALERT_BELOW)
    alert_order = np.argsort(-np.where(alert, clv, -np.inf), kind="stable")
    alert_rank = np.full(n, -1)
    alert_rank[alert_order[: int(alert.sum())]] = np.arange(1, int(alert.sum()) + 1)
    lost_segment = LOST_SEGMENT[scheme]
    codes = np.where(
        level == 0,
        np.where(alert, "AM_VISIT", "QBR"),
        np.where(
            level == 1,
            np.where(alert, "RETENTION_CALL", "KEY_CARE"),
            np.where(segment == lost_segment, "NO_ACTION", "NEWSLETTER"),
        ),
    )
    as_of = dt.date(2024, 6, 30)
    days = [PLAYS[c][3] for c in codes]
    products = [
        "|".join(rng.choice(PRODUCTS, 4, replace=False)) if not i % 3 else None for i in range(n)
    ]
    columns: dict[str, Any] = {
        "tier": tier.tolist(),
        "tier_label": [TIER_LABELS[t][0] for t in tier],
        "tier_label_en": [TIER_LABELS[t][0] for t in tier],
        "tier_label_zh": [TIER_LABELS[t][1] for t in tier],
        "tier_reason_en": reason_en,
        "tier_reason_zh": reason_zh,
        "previous_tier": pa.array(previous, pa.string()),
        "core": core,
        "core_score": score.round(3),
        "alert": alert,
        "alert_reason_en": [
            f"At risk: probability of being active fell to {p:.2f}." if a else None
            for a, p in zip(alert, p_alive, strict=True)
        ],
        "alert_reason_zh": [
            f"流失预警：活跃概率降至 {p:.2f}。" if a else None
            for a, p in zip(alert, p_alive, strict=True)
        ],
        "value_at_stake": np.where(alert, clv, np.nan),
        "alert_rank": pa.array([int(r) if r > 0 else None for r in alert_rank], pa.int64()),
        "potential_score": (clv / np.maximum(spend, 1.0)).round(3),
        "high_potential": clv > 2 * spend,
        "action_code": codes.tolist(),
        "action_en": [PLAYS[c][0] for c in codes],
        "action_zh": [PLAYS[c][1] for c in codes],
        "next_best_action": [PLAYS[c][0] for c in codes],
        "channel": [PLAYS[c][2] for c in codes],
        "deadline_days": pa.array(days, pa.int64()),
        "due": pa.array(
            [None if d is None else as_of + dt.timedelta(days=d) for d in days], pa.date32()
        ),
        "recommended_products": pa.array(products, pa.string()),
    }
    for name, values in columns.items():
        customers = customers.append_column(
            name, pa.array(values) if isinstance(values, (list, np.ndarray)) else values
        )
    value_before = clv * 0.9
    summary: dict[str, Any] = {
        "tiers": {
            "policy_version": "retail@1",
            "core_tiers": list(CORE_TIERS),
            "table": [
                {
                    "tier": t,
                    "label": TIER_LABELS[t][0],
                    "label_zh": TIER_LABELS[t][1],
                    "customers": int((tier == t).sum()),
                    "revenue": float(spend[tier == t].sum()),
                    "clv": float(clv[tier == t].sum()),
                }
                for t in TIERS
            ],
        },
        "alerts": {
            "core_customers": int(core.sum()),
            "alerted": int(alert.sum()),
            "value_at_stake": float(clv[alert].sum()),
            "holdout": {
                "n_core": int(core.sum()),
                "n_alerted": int(alert.sum()),
                "n_not_alerted": int((core & ~alert).sum()),
                "alerted_active_rate": 0.3316,
                "not_alerted_active_rate": 0.7300,
                "alerted_mean_purchases": 0.78,
                "not_alerted_mean_purchases": 2.94,
                "precision": 0.6684,
                "base_inactive_rate": 0.5228,
                "lift": 1.2785,
            },
        },
        "core_score": {
            "core_score": "combined",
            "reason": (
                "in the time-shifted validation (trained on features up to 2023-06-30, scored "
                "at 2023-12-31 against the revenue up to 2024-06-30) the combined ranking's top "
                "20% captured 70.47% of the revenue against 69.40% for the BTYD ranking, and did "
                "better in 90% of 200 bootstrap resamples of the customers (at least the 90% "
                "required)"
            ),
            "validation": {
                "method": "time-shifted",
                "customers": n,
                "combined": 0.7047,
                "btyd": 0.6940,
                "historic_spend": 0.6964,
                "bootstrap_share_better": 0.905,
                "features_end": "2023-06-30",
                "scored_at": "2023-12-31",
                "revenue_window": ["2023-12-31", "2024-06-30"],
            },
        },
        "actions": {code: int((codes == code).sum()) for code in sorted(set(codes.tolist()))},
        "recommendations": {
            "hit_rate_at_5": 0.3192,
            "hit_rate_at_10": 0.4671,
            "baseline": {"hit_rate_at_5": 0.3028, "hit_rate_at_10": 0.4742},
            "customers_evaluated": 426,
            "split_date": "2024-04-01",
            "end": "2024-06-30",
            "item": "product",
            "products": 197,
        },
    }
    summary["capture"] = {
        "calibration_end": "2023-12-31",
        "as_of": "2024-06-30",
        "top_share": 0.2,
        "customers": n,
        "top_customers": n // 5,
        "holdout_revenue": 70976.39,
        "capture": {
            "historic_spend": 0.6626,
            "btyd": 0.6629,
            "combined": 0.6930,
            "core_score": 0.6930,
            "best_possible": 0.9428,
        },
        "core_score": "combined",
        "reason": summary["core_score"]["reason"],
        "validation": summary["core_score"]["validation"],
    }
    summary["migration"] = _migration(ids, previous, tier.tolist(), value_before, clv)
    summary["migration_series"] = _migration_series()
    return customers, summary


def _migration(
    ids: list[str],
    before: list[str | None],
    after: list[str],
    value_before: np.ndarray,
    value_after: np.ndarray,
) -> dict[str, Any]:
    """The ``compare_snapshots`` result for these tiers, computed here with plain Python.

    Three customers who are not in ``ids`` left (one from each tier), so that the
    "gone" column is exercised.
    """
    index = {t: k for k, t in enumerate(TIERS)}
    size = len(TIERS)
    counts = [[0] * size for _ in range(size)]
    v_before = [[0.0] * size for _ in range(size)]
    v_after = [[0.0] * size for _ in range(size)]
    new_by_tier = dict.fromkeys(TIERS, 0)
    flows: dict[str, list[dict[str, Any]]] = {"won": [], "downgraded": [], "lost": []}
    won_moved = won_new = kept = 0
    kept_before = kept_after = at_risk = lost_value = 0.0
    for cid, b, a, vb, va in zip(ids, before, after, value_before, value_after, strict=True):
        if b is None:
            new_by_tier[a] += 1
            if a in CORE_TIERS:
                won_new += 1
                flows["won"].append(
                    {
                        "customer_id": cid,
                        "tier_before": None,
                        "tier_after": a,
                        "value_before": None,
                        "value_after": float(va),
                    }
                )
            continue
        i, j = index[b], index[a]
        counts[i][j] += 1
        v_before[i][j] += float(vb)
        v_after[i][j] += float(va)
        row = {
            "customer_id": cid,
            "tier_before": b,
            "tier_after": a,
            "value_before": float(vb),
            "value_after": float(va),
        }
        if b in CORE_TIERS and a in CORE_TIERS and j <= i:
            kept += 1
            kept_before += float(vb)
            kept_after += float(va)
        elif b in CORE_TIERS and j == size - 1:
            flows["lost"].append(row)
            lost_value += float(vb)
        elif b in CORE_TIERS:
            flows["downgraded"].append(row)
            at_risk += float(vb)
        elif a in CORE_TIERS:
            won_moved += 1
            flows["won"].append(row)
    for rows in flows.values():
        rows.sort(
            key=lambda r: -(r["value_after"] if r["value_before"] is None else r["value_before"])
        )
    core_before = sum(counts[i][j] for i in range(2) for j in range(size)) + 2
    core_after = sum(counts[i][j] for i in range(size) for j in range(2)) + sum(
        new_by_tier[t] for t in CORE_TIERS
    )
    both = sum(map(sum, counts))
    new_total = sum(new_by_tier.values())
    return {
        "before_date": "2024-03-31",
        "after_date": "2024-06-30",
        "tiers": list(TIERS),
        "core_tiers": list(CORE_TIERS),
        "value_column": "clv",
        "customers": {
            "before": both + 3,
            "after": both + new_total,
            "both": both,
            "gone": 3,
            "new": new_total,
        },
        "matrix": {
            "rows": "tier before",
            "columns": "tier after",
            "customers": counts,
            "value_before": v_before,
            "value_after": v_after,
        },
        "gone": {"customers": 3, "value": 120.0, "by_tier": dict.fromkeys(TIERS, 1)},
        "new": {"customers": new_total, "value": 0.0, "by_tier": new_by_tier},
        "core": {
            "before": {"customers": core_before, "value": 0.0},
            "after": {"customers": core_after, "value": 0.0},
            "won": {
                "customers": won_moved + won_new,
                "from_lower": won_moved,
                "new": won_new,
                "value": 0.0,
            },
            "kept": {"customers": kept, "value_before": kept_before, "value_after": kept_after},
            "downgraded": {
                "customers": len(flows["downgraded"]),
                "within_core": len(flows["downgraded"]),
                "out_of_core": 0,
            },
            "lost": {
                "customers": len(flows["lost"]) + 2,
                "gone": 2,
                "to_lowest": len(flows["lost"]),
                "value_before": lost_value,
            },
        },
        "revenue_at_risk": at_risk,
        "value_lost": lost_value,
        "time_in_tier": {
            t: {
                "customers": sum(1 for a in after if a == t),
                "median_days": 91.0,
                "mean_days": 120.5,
                "buckets": {"0-29": 3, "30-89": 5},
            }
            for t in TIERS
        },
        "customers_list": {flow: rows[:20] for flow, rows in flows.items()},
    }


def _migration_series() -> dict[str, Any]:
    """A monthly series over four snapshots (``migration_series`` shape)."""
    return {
        "dates": ["2024-03-31", "2024-04-30", "2024-05-31", "2024-06-30"],
        "series": {
            "to": ["2024-04-30", "2024-05-31", "2024-06-30"],
            "core": [141, 146, 150],
            "won": [12, 9, 11],
            "kept": [125, 133, 136],
            "downgraded": [2, 3, 1],
            "lost": [7, 4, 6],
            "revenue_at_risk": [310.5, 402.0, 120.25],
            "value_lost": [800.0, 420.0, 610.0],
            "tier_sizes": {
                "strategic": [28, 30, 31, 30],
                "key": [106, 111, 115, 120],
                "ordinary": [466, 459, 454, 450],
            },
        },
    }


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
    """Inputs without any optional part: no models, holdout, clv or model columns, and none
    of the core-customer keys and columns (tiers, migration, warnings, actions, capture)."""
    summary, customers, _ = _cached("en")
    for key in ("models", "holdout", "calibration_end", *CORE_KEYS):
        summary.pop(key)
    dropped = {"p_alive", "expected_purchases", "expected_spend", "clv", *CORE_COLUMNS}
    keep = [name for name in customers.column_names if name not in dropped]
    return summary, customers.select(keep), []


@pytest.fixture(scope="session")
def real_analysis(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Analysis]:
    """A factory: ``real_analysis("cdnow-en" | "cdnow-zh" | "demo")`` -> the files of that
    real run (:mod:`analyses`), made once per test session."""
    runs: dict[str, Analysis] = {}

    def get(kind: str) -> Analysis:
        if kind not in runs:
            runs[kind] = run_analysis(kind, tmp_path_factory.mktemp(f"analysis-{kind}"))
        return runs[kind]

    return get
