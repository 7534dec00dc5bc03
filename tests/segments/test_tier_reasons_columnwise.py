"""The tier reasons built column-wise equal a plain customer-by-customer reference.

``assign_tiers`` builds ``tier_reasons``, ``tier_reason_en`` and ``tier_reason_zh`` from
templates over arrays (issue 8, item 4). The reference below is the loop it replaced,
written from the public pieces (``evaluate_condition``, ``condition_wording``,
``format_value``, ``top_phrase``): for each customer, the conditions of the tier it holds
(or of the tier above, for the catch-all) in the mode its basis gives, one phrase at a
time. Every basis (rule, band, grace by runs and by days, default, override, expired
override), fallbacks, an absent column, texts, flags, percents and money are covered, in
both languages, on customers whose values have ties, missing values and negative amounts.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from corecustomers.segments import _tier_reasons
from corecustomers.segments.conditions import (
    OP_EN,
    OP_ZH,
    ConditionResult,
    CustomerColumns,
    Value,
    condition_wording,
    evaluate_condition,
    format_value,
    top_phrase,
)
from corecustomers.segments.overrides import Override, parse_overrides
from corecustomers.segments.policy import DEFAULT_POLICY, TierPolicy, policy_from_config
from corecustomers.segments.tiers import TIER_COLUMNS, assign_tiers, decide_tiers

DAY = dt.date(2024, 12, 31)
N = 4000

CUSTOM: dict[str, Any] = {
    "name": "custom",
    "version": "1",
    "band": 0.2,
    "grace_runs": 2,
    "tier": [
        {
            "code": "vip",
            "label_en": "VIP",
            "label_zh": "贵宾",
            "grace_days": 45,
            "rules": [
                {
                    "name": "big and alive",
                    "all": [
                        {
                            "column": "rank_pct(clv)",
                            "op": "<=",
                            "value": 0.1,
                            "fallback": "rank_pct(total_spend)",
                        },
                        {
                            "column": "p_alive",
                            "op": ">=",
                            "value": 0.5,
                            "fallback": {
                                "column": "rank_pct(-days_since_last_purchase)",
                                "op": "<=",
                                "value": 0.6,
                            },
                        },
                    ],
                },
                {
                    "name": "A and long",
                    "all": [
                        {"column": "abc_class", "op": "in", "value": ["A"]},
                        {"column": "tenure_days", "op": ">=", "value": 730, "band": 0.1},
                    ],
                },
            ],
        },
        {
            "code": "good",
            "label_en": "Good",
            "label_zh": "好客户",
            "rules": [
                {
                    "name": "any of",
                    "any": [
                        {"column": "frequency", "op": ">=", "value": 5},
                        {
                            "column": "on_time_rate",
                            "op": ">=",
                            "value": 0.8,
                            "label_en": "paid on time {value}",
                            "label_zh": "按时 {value}",
                        },
                        {"column": "rfm_segment", "op": "in", "value": ["champions", "loyal"]},
                        {"column": "days_since_last_purchase", "op": "<=", "value": 30},
                        {"column": "balance", "op": ">", "value": 100, "format": "money"},
                        {"column": "alert", "op": "==", "value": False},
                        {"column": "no_such_column", "op": ">=", "value": 3},
                    ],
                },
                {
                    "name": "score",
                    "all": [
                        {"column": "monetary_value", "op": ">", "value": 50},
                        {"column": "expected_purchases", "op": ">", "value": 0.7},
                    ],
                },
            ],
        },
        {"code": "rest", "label_en": "Rest", "label_zh": "其他"},
    ],
}


def _customers(seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)

    def gaps(values: np.ndarray[Any, Any], share: float = 0.05) -> pa.Array:
        return pa.array(np.where(rng.random(N) < share, np.nan, values), pa.float64())

    segments = np.array(["champions", "loyal", "at_risk", "hibernating", None], dtype=object)
    return pa.table(
        {
            "customer_id": [f"c{i:05d}" for i in range(N)],
            # rounded: many ties in the ranks
            "core_score": np.round(rng.lognormal(5, 2, N), -1),
            "clv": gaps(rng.lognormal(4, 2, N)),
            "total_spend": np.round(rng.lognormal(5, 1.5, N), 2),
            "p_alive": gaps(rng.random(N)),
            "days_since_last_purchase": rng.integers(0, 900, N).astype(float),
            "tenure_days": rng.integers(1, 2000, N).astype(float),
            "abc_class": pa.array(rng.choice(["A", "B", "C"], N).tolist(), pa.string()),
            "frequency": rng.integers(0, 12, N).astype(float),
            "monetary_value": gaps(rng.lognormal(3, 1, N) * (rng.random(N) < 0.8)),
            "expected_purchases": rng.random(N) * 2,
            "rfm_segment": pa.array(rng.choice(segments, N).tolist(), pa.string()),
            "on_time_rate": gaps(np.round(rng.random(N), 3), 0.1),
            "balance": rng.normal(0, 300, N),
            "alert": pa.array(
                np.where(rng.random(N) < 0.05, None, rng.random(N) < 0.2).tolist(), pa.bool_()
            ),
        }
    )


def _previous(policy: TierPolicy, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    codes = np.array([*policy.codes, "gone"], dtype=object)
    since = np.datetime64("2024-06-30") - rng.integers(1, 300, N).astype("timedelta64[D]")
    below = np.where(
        rng.random(N) < 0.5,
        np.datetime64("NaT"),
        np.datetime64("2024-11-30") - rng.integers(1, 100, N).astype("timedelta64[D]"),
    )
    return pa.table(
        {
            "customer_id": [f"c{i:05d}" for i in range(N)],
            "tier": pa.array(codes[rng.integers(0, len(codes), N)].tolist(), pa.string()),
            "tier_since": pa.array(since, pa.date32()),
            "below_since": pa.array(below, pa.date32(), mask=np.isnat(below)),
            "below_runs": pa.array(rng.integers(0, 3, N)),
        }
    )


def _overrides(top: str, middle: str, last: str) -> list[dict[str, Any]]:
    return [
        {"customer_id": "c00000", "tier": middle, "by": "ann", "reason": "big account",
         "until": "2025-06-30"},
        {"customer_id": "c00001", "tier": top, "by": "bob", "reason": "partner", "until": None},
        {"customer_id": "c00002", "tier": middle, "by": "cy", "reason": "old deal",
         "until": "2024-01-31"},
        {"customer_id": "c00003", "tier": last, "by": "dee", "reason": "new deal",
         "until": "2025-01-31"},
    ]  # fmt: skip


# --- the reference: one customer at a time -------------------------------------------


def _json_value(value: object) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def _target(cond: Any, threshold: Value, lang: str, fmt: Any, currency: str) -> str:
    if cond.ranked and not isinstance(threshold, tuple | str | bool):
        top = top_phrase(float(threshold), lang)
        if cond.op in ("<=", "<"):
            return top
        return f"outside the {top}" if lang == "en" else f"{top}以外"
    ops = OP_EN if lang == "en" else OP_ZH
    return ops[cond.op] + format_value(threshold, fmt, lang, currency, cond.source)


def _describe(
    res: ConditionResult, tier: str, rule: str, i: int, mode: str, currency: str, horizon: int
) -> tuple[str, str, str]:
    cond = res.used or res.condition
    words = condition_wording(cond, horizon)
    line = "promotion" if mode in ("met", "missed") else "demotion"
    threshold = cond.value if line == "promotion" else res.stay_value
    plain = list(threshold) if isinstance(threshold, tuple) else threshold
    head = {"tier": tier, "rule": rule, "column": cond.source, "op": cond.op, "threshold": plain}
    prefix = json.dumps(head, ensure_ascii=False)[:-1]
    if res.used is None or res.values is None or res.valid is None:
        entry = f'{prefix}, "value": null, "line": "{line}", "met": false, "available": false}}'
        return entry, f"{words.noun_en} not available", f"无{words.noun_zh}数据"
    value = res.values.tolist()[i] if res.valid[i] else None
    met = bool(res.enter[i] if line == "promotion" else res.stay[i])
    entry = f'{prefix}, "value": {_json_value(value)}, "line": "{line}", "met": {json.dumps(met)}'
    extras: dict[str, list[str]] = {"en": [], "zh": []}
    share = float(res.rank[i]) if res.rank is not None else math.nan
    if math.isfinite(share):
        entry += f', "rank_pct": {round(share, 6)!r}'
        for lang in extras:
            extras[lang].append(top_phrase(share, lang))
    if res.fallback_used:
        entry += f', "fallback_for": {json.dumps(res.condition.source)}'
    entry += "}"
    texts = {}
    for lang in ("en", "zh"):
        template = words.template_en if lang == "en" else words.template_zh
        noun = words.noun_en if lang == "en" else words.noun_zh
        if cond.source == "alert" and isinstance(value, bool):
            yes, no = ("early warning raised", "no early warning")
            if lang == "zh":
                yes, no = ("已触发流失预警", "未触发流失预警")
            text = yes if value else no
        else:
            shown = format_value(value, words.fmt, lang, currency, cond.source)
            text = template.replace("{noun}", noun).replace("{v}", shown)
        targets = {
            "band": ("stays while {}", "保留线{}"),
            "missed": ("needs {}", "需{}"),
            "below": ("needs {} to stay", "保留需{}"),
        }
        if mode != "met" and threshold is not None:
            pattern = targets[mode][0 if lang == "en" else 1]
            extras[lang].append(pattern.format(_target(cond, threshold, lang, words.fmt, currency)))
        if res.fallback_used:
            original = condition_wording(res.condition, horizon)
            extras[lang].append(
                f"{original.noun_en} not available"
                if lang == "en"
                else f"无{original.noun_zh}数据，改用此项"
            )
        if extras[lang]:
            text += (
                f" ({', '.join(extras[lang])})"
                if lang == "en"
                else f"（{'，'.join(extras[lang])}）"
            )
        texts[lang] = text
    return entry, texts["en"], texts["zh"]


def _reference(
    customers: pa.Table,
    out: pa.Table,
    policy: TierPolicy,
    overrides: list[Override],
    currency: str,
    horizon: int,
) -> tuple[list[str], list[str], list[str]]:
    columns = CustomerColumns(customers)
    rules = [
        [
            (
                rule,
                [evaluate_condition(c, columns, band=policy.band) for c in rule.conditions],
            )
            for rule in tier.rules
        ]
        for tier in policy.tiers
    ]

    def rule_lines(results: list[ConditionResult], match: str) -> tuple[Any, Any]:
        combine = np.logical_and.reduce if match == "all" else np.logical_or.reduce
        enter = combine([r.enter for r in results])
        return enter, combine([r.stay for r in results]) | enter

    index = {code: t for t, code in enumerate(policy.codes)}
    by_customer = {o.customer_id: o for o in overrides}
    ids = out.column("customer_id").to_pylist()
    tiers = out.column("tier").to_pylist()
    bases = out.column("tier_basis").to_pylist()
    since = out.column("below_since").to_pylist()
    runs_below = out.column("below_runs").to_pylist()
    result: tuple[list[str], list[str], list[str]] = ([], [], [])
    for i, (cid, code, why) in enumerate(zip(ids, tiers, bases, strict=True)):
        t = index[code]
        current = policy.tiers[t]
        entries: list[str] = []
        en_head, zh_head = current.label_en, current.label_zh
        en: list[str] = []
        zh: list[str] = []
        o = by_customer.get(cid)
        if why == "override":
            assert o is not None
            until = o.until.isoformat() if o.until else None
            entries.append(
                json.dumps(
                    {"tier": o.tier, "rule": "override", "by": o.by, "reason": o.reason,
                     "until": until},
                    ensure_ascii=False,
                )
            )  # fmt: skip
            en_head += f": override by {o.by} " + (f"until {until}" if until else "(no end date)")
            zh_head += f"：{o.by} 人工指定" + (f"，有效至 {until}" if until else "（无截止日期）")
            en.append(o.reason)
            zh.append(o.reason)
        elif why == "default":
            above = policy.tiers[t - 1]
            en_head += f": below the line for {above.label_en} —"
            zh_head += f"：未达到{above.label_zh}标准——"
            for r, (rule, results) in enumerate(rules[t - 1]):
                for res in results:
                    if res.enter[i]:
                        continue
                    entry, p_en, p_zh = _describe(
                        res, above.code, rule.name, i, "missed", currency, horizon
                    )
                    entries.append(entry)
                    if r == 0:
                        en.append(p_en)
                        zh.append(p_zh)
        else:
            if why == "band":
                en_head += " (kept within the band)"
                zh_head += "（缓冲区内保留）"
            elif why == "grace":
                day = str(since[i])
                g_runs, g_days = policy.grace(current.code)
                grace: dict[str, Any] = {
                    "tier": current.code,
                    "rule": "grace",
                    "below_since": day,
                    "runs_below": runs_below[i],
                }
                if g_runs:
                    grace["grace_runs"] = g_runs
                    en_head += f" (grace period: below the line since {day}, run {runs_below[i]}"
                    en_head += f" of {g_runs})"
                    zh_head += f"（宽限期：自 {day} 起低于保留线，第 {runs_below[i]}/{g_runs} 次）"
                else:
                    grace["grace_days"] = g_days
                    ends = since[i] + dt.timedelta(days=g_days)
                    en_head += f" (grace period: below the line since {day}, until {ends})"
                    zh_head += f"（宽限期：自 {day} 起低于保留线，宽限至 {ends}）"
                entries.append(json.dumps(grace, ensure_ascii=False))
            first = True
            for rule, results in rules[t]:
                enter, stay = rule_lines(results, rule.match)
                if (why == "rule" and not enter[i]) or (why == "band" and not stay[i]):
                    continue
                for res in results:
                    if why == "rule":
                        mode = "met" if res.enter[i] else None
                    elif why == "band":
                        mode = "met" if res.enter[i] else "band" if res.stay[i] else None
                    else:
                        mode = None if res.stay[i] else "below"
                    if mode is None:
                        continue
                    entry, p_en, p_zh = _describe(
                        res, current.code, rule.name, i, mode, currency, horizon
                    )
                    entries.append(entry)
                    if first:
                        en.append(p_en)
                        zh.append(p_zh)
                first = False
        if o is not None and not o.active(DAY):
            until = o.until.isoformat() if o.until else ""
            entries.append(
                json.dumps(
                    {"tier": o.tier, "rule": "override expired", "by": o.by, "reason": o.reason,
                     "until": until},
                    ensure_ascii=False,
                )
            )  # fmt: skip
            en.append(f"override by {o.by} expired after {until}")
            zh.append(f"{o.by} 的人工指定已于 {until} 到期")
        sep_en = " " if en_head.endswith("—") else ": "
        sep_zh = "" if zh_head.endswith("——") else "："
        result[0].append("[" + ", ".join(entries) + "]")
        result[1].append(en_head + (sep_en + ", ".join(en) if en else ""))
        result[2].append(zh_head + (sep_zh + "，".join(zh) if zh else ""))
    return result


# --- the comparison --------------------------------------------------------------------

CASES = {
    "default, first run": dict(previous=False, drop=()),
    "default, previous snapshot and overrides": dict(previous=True, drop=()),
    "custom, previous snapshot and overrides": dict(previous=True, drop=()),
    "custom, no model columns (fallbacks)": dict(previous=False, drop=("clv", "p_alive")),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize(("currency", "block"), [("¥", None), ("", None), ("¥", 700)])
def test_reasons_equal_the_customer_by_customer_reference(
    case: str, currency: str, block: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if block is not None:  # the texts written a few customers at a time: the same texts
        monkeypatch.setattr(_tier_reasons, "BLOCK_CUSTOMERS", block)
    spec = CASES[case]
    customers = _customers(seed=len(case)).drop_columns(list(spec["drop"]))
    policy = (
        policy_from_config(CUSTOM, columns=customers.column_names)
        if case.startswith("custom")
        else DEFAULT_POLICY
    )
    codes = policy.codes
    overrides = (
        parse_overrides(_overrides(codes[0], codes[1], codes[-1])) if spec["previous"] else []
    )
    out = assign_tiers(
        customers,
        policy,
        previous=_previous(policy, seed=3) if spec["previous"] else None,
        overrides=overrides,
        as_of=DAY,
        currency=currency,
        lang="zh",
        horizon_months=6,
    )
    bases = set(out.column("tier_basis").to_pylist())
    if spec["previous"]:
        assert bases == {"rule", "band", "grace", "default", "override"}
    expected = _reference(customers, out, policy, overrides, currency, horizon=6)
    for name, want in zip(
        ("tier_reasons", "tier_reason_en", "tier_reason_zh"), expected, strict=True
    ):
        got = out.column(name).to_pylist()
        wrong = [i for i in range(N) if got[i] != want[i]]
        assert not wrong, (name, len(wrong), got[wrong[0]], want[wrong[0]])
    for text in out.column("tier_reasons").to_pylist()[:50]:
        assert isinstance(json.loads(text), list)
    if block is not None:
        assert out.column("tier_reasons").num_chunks == -(-N // block)


def test_a_decision_written_later_gives_the_table_of_assign_tiers() -> None:
    customers = _customers(seed=5)
    policy = policy_from_config(CUSTOM, columns=customers.column_names)
    codes = policy.codes
    kwargs: dict[str, Any] = dict(
        previous=_previous(policy, seed=3),
        overrides=parse_overrides(_overrides(codes[0], codes[1], codes[-1])),
        as_of=DAY,
        currency="¥",
        lang="zh",
        horizon_months=6,
    )
    decision = decide_tiers(customers, policy, **kwargs)
    assert "tier_reasons" not in decision.customers.column_names
    later, now = decision.table(), assign_tiers(customers, policy, **kwargs)
    assert later.schema == now.schema
    for name in TIER_COLUMNS:
        assert later.column(name).equals(now.column(name)), name
