"""Tiers: reasons in data and words, band and grace between runs, and manual overrides."""

from __future__ import annotations

import datetime as dt
import doctest
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import corecustomers.segments.tiers as tiers_module
from corecustomers.errors import ConfigError, InputError, SourceError
from corecustomers.segments.policy import DEFAULT_POLICY, TierPolicy, get_preset, policy_from_config
from corecustomers.segments.tiers import (
    STATE_COLUMNS,
    TIER_COLUMNS,
    Override,
    assign_tiers,
    load_overrides,
    parse_overrides,
    save_overrides,
    split_overrides,
)

PROPERTY = settings(max_examples=40, deadline=None, derandomize=True, database=None)
D0 = dt.date(2025, 1, 31)

#: The mechanics below (reasons, bands, fallbacks) are shown on the policy that had
#: several rules per tier: retail@1, now the preset retail_v1.
RETAIL_V1 = get_preset("retail_v1")


def _tier(code: str, en: str, zh: str, *conditions: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "label_en": en, "label_zh": zh}
    if conditions:
        body["rules"] = [{"name": f"{code} line", "all": list(conditions)}]
    return body


def stable(**extra: Any) -> TierPolicy:
    """top: score >= 0.9 (leaves below 0.8); mid: score >= 0.5 (leaves below 0.4); low."""
    return policy_from_config(
        {
            "name": "stable",
            "version": "1",
            "tier": [
                _tier(
                    "top", "Top", "顶级", {"column": "score", "op": ">=", "value": 0.9, "exit": 0.8}
                ),
                _tier(
                    "mid", "Mid", "中级", {"column": "score", "op": ">=", "value": 0.5, "exit": 0.4}
                ),
                _tier("low", "Low", "普通"),
            ],
            **extra,
        }
    )


STABLE = stable()


def scores(*values: float) -> pa.Table:
    return pa.table({"customer_id": [f"c{i}" for i in range(len(values))], "score": list(values)})


def previous(*tiers: str | None, **state: list[Any]) -> pa.Table:
    ids = [f"c{i}" for i, t in enumerate(tiers) if t is not None]
    return pa.table({"customer_id": ids, "tier": [t for t in tiers if t is not None], **state})


def state(table: pa.Table) -> pa.Table:
    return table.select(list(STATE_COLUMNS))


def col(table: pa.Table, name: str) -> list[Any]:
    return table.column(name).to_pylist()


def retail(n: int = 100) -> pa.Table:
    """n customers, c0 the most valuable; c2 has CLV 8,240 and is a long-standing customer."""
    clv = np.concatenate([[12_000.0, 9_000.0, 8_240.0], np.linspace(8_000, 100, n - 3)])
    return pa.table(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "clv": clv,
            "p_alive": np.full(n, 0.94),
            "total_spend": np.linspace(5_000, 50, n),
            "tenure_days": np.full(n, 1534),
            "days_since_last_purchase": np.arange(n),
            "abc_class": (["A"] * 10 + ["B"] * 20 + ["C"] * n)[:n],
        }
    )


# ---------------------------------------------------------------------------- reasons


def test_strategic_reason_names_value_rank_and_activity_in_both_languages() -> None:
    out = assign_tiers(retail(), RETAIL_V1, as_of=D0, currency="¥")
    assert col(out, "tier")[2] == "strategic"
    assert col(out, "tier_reason_en")[2] == (
        "Strategic: predicted 12-month value ¥8,240 (top 3 %), active with probability 0.94"
    )
    assert col(out, "tier_reason_zh")[2] == "战略客户：预测12个月价值 ¥8,240（前3%），活跃概率 0.94"
    entries = json.loads(col(out, "tier_reasons")[2])
    first = entries[0]
    assert first == {
        "tier": "strategic",
        "rule": "top predicted value",
        "column": "clv",
        "op": "<=",
        "threshold": 0.05,
        "value": 8240.0,
        "line": "promotion",
        "met": True,
        "rank_pct": 0.025,
    }
    assert {e["rule"] for e in entries} == {"top predicted value", "long-standing A customer"}
    assert col(out, "policy_version") == ["retail_v1@1"] * 100


def test_ordinary_customers_get_the_line_they_missed() -> None:
    out = assign_tiers(retail(), RETAIL_V1, as_of=D0, currency="¥")
    i = 53
    assert col(out, "tier")[i] == "ordinary" and col(out, "tier_basis")[i] == "default"
    assert col(out, "tier_reason_en")[i] == (
        "Ordinary: below the line for Key — predicted 12-month value ¥3,885 "
        "(top 54 %, needs top 20 %)"
    )
    assert col(out, "tier_reason_zh")[i] == (
        "普通客户：未达到重点客户标准——预测12个月价值 ¥3,885（前54%，需前20%）"
    )
    missed = json.loads(col(out, "tier_reasons")[i])
    assert [(e["tier"], e["column"], e["met"]) for e in missed] == [
        ("key", "clv", False),
        ("key", "abc_class", False),
    ]


def test_without_a_model_the_default_falls_back_to_history_and_says_so() -> None:
    table = retail().drop_columns(["clv", "p_alive"])
    out = assign_tiers(table, RETAIL_V1, as_of=D0, currency="$")
    assert col(out, "tier")[:5] == ["strategic"] * 5
    assert col(out, "tier_reason_en")[0] == (
        "Strategic: historic spend $5,000 (top 0.5 %, predicted 12-month value not available), "
        "last purchase 0 days ago (top 0.5 %, probability of being active not available)"
    )
    assert "无预测12个月价值数据，改用此项" in col(out, "tier_reason_zh")[0]
    entry = json.loads(col(out, "tier_reasons")[0])[0]
    assert entry["column"] == "total_spend" and entry["fallback_for"] == "clv"


def test_a_condition_without_its_column_or_fallback_is_reported_unavailable() -> None:
    out = assign_tiers(scores(0.5).drop_columns(["score"]), STABLE, as_of=D0)
    assert col(out, "tier") == ["low"]
    assert col(out, "tier_reason_en") == ["Low: below the line for Mid — score not available"]
    assert col(out, "tier_reason_zh") == ["普通：未达到中级标准——无score数据"]
    assert json.loads(col(out, "tier_reasons")[0])[0]["available"] is False


def test_currency_horizon_and_label_language_are_parameters() -> None:
    out = assign_tiers(retail(), RETAIL_V1, as_of=D0, currency="€", horizon_months=6, lang="zh")
    assert col(out, "tier_reason_en")[2].startswith("Strategic: predicted 6-month value €8,240")
    assert col(out, "tier_label")[2] == "战略客户" and col(out, "tier_label_en")[2] == "Strategic"


def test_user_columns_use_their_condition_labels_and_formats() -> None:
    policy = policy_from_config(
        {
            "name": "bank",
            "version": "1",
            "tier": [
                _tier(
                    "vip",
                    "VIP",
                    "贵宾",
                    {
                        "column": "deposit",
                        "op": ">=",
                        "value": 1e6,
                        "label_en": "deposits of {value}",
                        "label_zh": "存款",
                        "format": "money",
                    },
                    {"column": "on_time_rate", "op": ">=", "value": 0.95},
                ),
                _tier("rest", "Rest", "其他"),
            ],
        }
    )
    table = pa.table({"customer_id": ["a"], "deposit": [2_500_000.0], "on_time_rate": [0.975]})
    out = assign_tiers(table, policy, as_of=D0, currency="¥")
    assert col(out, "tier_reason_en") == [
        "VIP: deposits of ¥2,500,000, on-time payment rate 97.5 %"
    ]
    assert col(out, "tier_reason_zh") == ["贵宾：存款 ¥2,500,000，按时缴费率 97.5%"]


def test_a_required_column_that_is_missing_is_a_config_error() -> None:
    policy = policy_from_config({"preset": "finance"})
    with pytest.raises(ConfigError, match=r"needs the column.*balance"):
        assign_tiers(retail(), policy, as_of=D0)


# ---------------------------------------------------------------------------- stability


@pytest.mark.parametrize(
    ("score", "before", "tier", "basis"),
    [
        (0.9, None, "top", "rule"),  # exactly at the promotion line enters
        (0.9, "top", "top", "rule"),  # ...and stays
        (0.85, None, "mid", "rule"),  # inside the band: not enough to enter
        (0.85, "top", "top", "band"),  # ...but enough to stay
        (0.8, "top", "top", "band"),  # exactly at the demotion line stays
        (0.79, "top", "mid", "rule"),  # below it drops (no grace here)
        (0.45, "top", "mid", "band"),  # dropping lands in the band of the tier below
        (0.3, "top", "low", "default"),
        (0.95, "mid", "top", "rule"),  # promotions are never held back
        (0.45, "mid", "mid", "band"),
        (0.4, "mid", "mid", "band"),
        (0.39, "mid", "low", "default"),
        (0.45, "low", "low", "default"),
    ],
)
def test_promotion_and_demotion_lines(
    score: float, before: str | None, tier: str, basis: str
) -> None:
    prev = previous(before) if before else None
    out = assign_tiers(scores(score), STABLE, previous=prev, as_of=D0)
    assert (col(out, "tier"), col(out, "tier_basis")) == ([tier], [basis])
    assert col(out, "previous_tier") == [before]


def test_band_reason_names_the_line_that_keeps_the_customer() -> None:
    out = assign_tiers(scores(0.85), STABLE, previous=previous("top"), as_of=D0)
    assert col(out, "tier_reason_en") == [
        "Top (kept within the band): score 0.85 (stays while ≥ 0.80)"
    ]
    assert col(out, "tier_reason_zh") == ["顶级（缓冲区内保留）：score 0.85（保留线≥0.80）"]
    entry = json.loads(col(out, "tier_reasons")[0])[0]
    assert (entry["line"], entry["threshold"], entry["met"]) == ("demotion", 0.8, True)


def test_grace_runs_keep_the_tier_for_that_many_runs_below_the_line() -> None:
    policy = stable(grace_runs=2)
    day = [D0 + dt.timedelta(days=30 * k) for k in range(4)]
    out = assign_tiers(scores(0.95), policy, as_of=day[0])
    out = assign_tiers(scores(0.7), policy, previous=state(out), as_of=day[1])
    assert (col(out, "tier"), col(out, "tier_basis"), col(out, "below_runs")) == (
        ["top"],
        ["grace"],
        [1],
    )
    assert col(out, "below_since") == [day[1]]
    assert col(out, "tier_reason_en") == [
        f"Top (grace period: below the line since {day[1]}, run 1 of 2): "
        "score 0.70 (needs ≥ 0.80 to stay)"
    ]
    grace = json.loads(col(out, "tier_reasons")[0])[0]
    assert grace == {"tier": "top", "rule": "grace", "below_since": str(day[1]),
                     "runs_below": 1, "grace_runs": 2}  # fmt: skip
    out = assign_tiers(scores(0.7), policy, previous=state(out), as_of=day[2])
    assert (col(out, "tier"), col(out, "below_runs"), col(out, "below_since")) == (
        ["top"],
        [2],
        [day[1]],
    )
    assert col(out, "tier_since") == [day[0]]
    out = assign_tiers(scores(0.7), policy, previous=state(out), as_of=day[3])
    assert (col(out, "tier"), col(out, "tier_basis"), col(out, "below_runs")) == (
        ["mid"],
        ["rule"],
        [0],
    )
    assert col(out, "below_since") == [None] and col(out, "tier_since") == [day[3]]


def test_recovering_inside_the_band_resets_the_grace_clock() -> None:
    policy = stable(grace_runs=1)
    out = assign_tiers(scores(0.95), policy, as_of=D0)
    out = assign_tiers(scores(0.7), policy, previous=state(out), as_of=D0 + dt.timedelta(30))
    assert col(out, "tier_basis") == ["grace"]
    out = assign_tiers(scores(0.85), policy, previous=state(out), as_of=D0 + dt.timedelta(60))
    assert (col(out, "tier_basis"), col(out, "below_runs"), col(out, "below_since")) == (
        ["band"],
        [0],
        [None],
    )
    out = assign_tiers(scores(0.7), policy, previous=state(out), as_of=D0 + dt.timedelta(90))
    assert (col(out, "tier"), col(out, "below_runs")) == (["top"], [1])


def test_grace_days_count_from_the_first_run_below_the_line() -> None:
    policy = stable(grace_days=30)
    out = assign_tiers(scores(0.95), policy, as_of=D0)
    d1 = D0 + dt.timedelta(days=7)
    out = assign_tiers(scores(0.7), policy, previous=state(out), as_of=d1)
    assert col(out, "tier") == ["top"] and col(out, "below_since") == [d1]
    assert "until 2025-03-09" in col(out, "tier_reason_en")[0]
    assert "宽限至 2025-03-09" in col(out, "tier_reason_zh")[0]
    kept = assign_tiers(scores(0.7), policy, previous=state(out), as_of=d1 + dt.timedelta(29))
    assert col(kept, "tier") == ["top"] and col(kept, "below_since") == [d1]
    dropped = assign_tiers(scores(0.7), policy, previous=state(kept), as_of=d1 + dt.timedelta(30))
    assert col(dropped, "tier") == ["mid"]


def test_a_tier_can_have_its_own_grace() -> None:
    body = stable().to_config()
    body["tier"][0]["grace_runs"] = 1
    policy = policy_from_config(body)
    assert policy.grace("top") == (1, 0) and policy.grace("mid") == (0, 0)
    out = assign_tiers(scores(0.7), policy, previous=previous("top"), as_of=D0)
    assert col(out, "tier") == ["top"]
    out = assign_tiers(scores(0.3), policy, previous=previous("mid"), as_of=D0)
    assert col(out, "tier") == ["low"]


def test_tier_since_carries_over_while_the_tier_is_kept() -> None:
    first = assign_tiers(scores(0.95, 0.6), STABLE, as_of=D0)
    assert col(first, "tier_since") == [D0, D0]
    d1 = D0 + dt.timedelta(days=31)
    second = assign_tiers(scores(0.95, 0.95), STABLE, previous=state(first), as_of=d1)
    assert col(second, "tier_since") == [D0, d1]
    assert col(second, "previous_tier") == ["top", "mid"]


def test_a_previous_tier_the_policy_no_longer_has_gives_no_band() -> None:
    out = assign_tiers(scores(0.85), STABLE, previous=previous("gold"), as_of=D0)
    assert (col(out, "tier"), col(out, "previous_tier")) == (["mid"], ["gold"])


def test_previous_snapshot_checks() -> None:
    with pytest.raises(InputError, match="not before as_of"):
        prev = previous("top", as_of=[D0])
        assign_tiers(scores(0.9), STABLE, previous=prev, as_of=D0)
    ok = previous("top", as_of=[D0 - dt.timedelta(days=1)])
    assert col(assign_tiers(scores(0.85), STABLE, previous=ok, as_of=D0), "tier") == ["top"]
    with pytest.raises(InputError, match="one row per customer; repeated: \\['c0'\\]"):
        assign_tiers(scores(0.9), STABLE, previous=pa.table({"customer_id": ["c0", "c0"],
                                                             "tier": ["top", "mid"]}), as_of=D0)  # fmt: skip
    with pytest.raises(InputError, match="no tier column"):
        assign_tiers(scores(0.9), STABLE, previous=pa.table({"customer_id": ["c0"]}), as_of=D0)
    with pytest.raises(InputError, match="tier_since must hold dates"):
        bad = previous("top", tier_since=["soon"])
        assign_tiers(scores(0.9), STABLE, previous=bad, as_of=D0)


def test_customers_table_checks() -> None:
    with pytest.raises(InputError, match="one row per customer"):
        assign_tiers(pa.table({"customer_id": ["a", "a"], "score": [1.0, 2.0]}), STABLE, as_of=D0)
    with pytest.raises(InputError, match="no customer_id"):
        assign_tiers(pa.table({"score": [1.0]}), STABLE, as_of=D0)
    with pytest.raises(ConfigError, match="as_of must be a date"):
        assign_tiers(scores(0.9), STABLE, as_of="2025-01-31")  # type: ignore[arg-type]


def test_output_columns_and_rerunning_on_the_output() -> None:
    out = assign_tiers(retail(10), RETAIL_V1, as_of=D0)
    assert out.column_names[-len(TIER_COLUMNS) :] == list(TIER_COLUMNS)
    assert out.schema.field("tier_since").type == pa.date32()
    assert out.schema.field("below_runs").type == pa.int64()
    again = assign_tiers(out, RETAIL_V1, previous=None, as_of=D0)
    assert again.column_names == out.column_names
    assert again.equals(out)
    empty = assign_tiers(retail(10).slice(0, 0), RETAIL_V1, as_of=D0)
    assert empty.num_rows == 0 and empty.column_names == out.column_names


# ---------------------------------------------------------------------------- overrides

LI_NA = Override("c0", "top", "Li Na", "key account under renegotiation", dt.date(2025, 3, 31))


def test_an_active_override_wins_and_says_who_why_and_until_when() -> None:
    out = assign_tiers(scores(0.1, 0.1), STABLE, overrides=[LI_NA], as_of=D0)
    assert col(out, "tier") == ["top", "low"]
    assert col(out, "tier_basis")[0] == "override"
    assert col(out, "tier_reason_en")[0] == (
        "Top: override by Li Na until 2025-03-31: key account under renegotiation"
    )
    assert col(out, "tier_reason_zh")[0] == (
        "顶级：Li Na 人工指定，有效至 2025-03-31：key account under renegotiation"
    )
    assert json.loads(col(out, "tier_reasons")[0]) == [
        {"tier": "top", "rule": "override", "by": "Li Na",
         "reason": "key account under renegotiation", "until": "2025-03-31"}
    ]  # fmt: skip
    last_day = assign_tiers(scores(0.1), STABLE, overrides=[LI_NA], as_of=LI_NA.until)  # type: ignore[arg-type]
    assert col(last_day, "tier") == ["top"]
    open_ended = Override("c0", "mid", "Wang Wei", "pilot customer")
    out = assign_tiers(scores(0.1), STABLE, overrides=[open_ended], as_of=D0)
    assert col(out, "tier_reason_en") == ["Mid: override by Wang Wei (no end date): pilot customer"]


def test_an_expired_override_is_ignored_and_reported() -> None:
    after = dt.date(2025, 4, 1)
    out = assign_tiers(scores(0.1), STABLE, overrides=[LI_NA], as_of=after)
    assert (col(out, "tier"), col(out, "tier_basis")) == (["low"], ["default"])
    assert col(out, "tier_reason_en")[0].endswith(", override by Li Na expired after 2025-03-31")
    assert "Li Na 的人工指定已于 2025-03-31 到期" in col(out, "tier_reason_zh")[0]
    assert json.loads(col(out, "tier_reasons")[0])[-1]["rule"] == "override expired"
    assert split_overrides([LI_NA], after) == ([], [LI_NA])


def test_after_an_override_the_band_and_grace_apply_to_the_tier_it_set() -> None:
    policy = stable(grace_runs=1)
    out = assign_tiers(scores(0.1), policy, overrides=[LI_NA], as_of=D0)
    out = assign_tiers(scores(0.1), policy, previous=state(out), as_of=dt.date(2025, 4, 30))
    assert (col(out, "tier"), col(out, "tier_basis")) == (["top"], ["grace"])


def test_override_checks() -> None:
    with pytest.raises(ConfigError, match="override for customer 'c0' \\(by Li Na\\): tier 'vip'"):
        assign_tiers(scores(0.1), STABLE, overrides=[Override("c0", "vip", "Li Na", "x")], as_of=D0)
    ghost = Override("nobody", "top", "Li Na", "x")
    assert col(assign_tiers(scores(0.1), STABLE, overrides=[ghost], as_of=D0), "tier") == ["low"]
    as_dicts = [LI_NA.to_record()]
    assert col(assign_tiers(scores(0.1), STABLE, overrides=as_dicts, as_of=D0), "tier") == ["top"]


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_overrides_survive_a_round_trip_through_a_file(tmp_path: Path, suffix: str) -> None:
    items = [LI_NA, Override("c1", "mid", "王伟", "试点客户，暂保留", None)]
    path = tmp_path / "workspace" / f"overrides{suffix}"
    save_overrides(path, items)
    assert load_overrides(path) == items
    first = assign_tiers(scores(0.1, 0.1), STABLE, overrides=load_overrides(path), as_of=D0)
    rerun = assign_tiers(scores(0.2, 0.3), STABLE, previous=state(first),
                         overrides=load_overrides(path), as_of=D0 + dt.timedelta(1))  # fmt: skip
    assert col(rerun, "tier") == ["top", "mid"]
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_override_files_written_by_hand(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text(
        "\ufeffcustomer_id, tier ,by,reason,until\n"
        "c1,top,Li Na,renegotiation,2025/03/31\n"
        ",,,,\n"
        "c2,mid,Li Na,pilot,\n",
        encoding="utf-8",
    )
    assert [(o.customer_id, o.until) for o in load_overrides(path)] == [
        ("c1", dt.date(2025, 3, 31)),
        ("c2", None),
    ]
    wrapped = tmp_path / "o.json"
    wrapped.write_text(json.dumps({"overrides": [LI_NA.to_record()]}), encoding="utf-8")
    assert load_overrides(wrapped) == [LI_NA]
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    assert load_overrides(empty) == []


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("o.csv", "customer_id,tier,by,reason,until\nc1,top,Li Na,x,2025-02-30\n",
         r"file .*o.csv, row 2, column 'until': until '2025-02-30' is not a date"),
        ("o.csv", "customer_id,tier,by,reason,until\nc1,top,Li Na,x,\nc2,top,,x,\n",
         r"row 3, column 'by': must name who set the override"),
        ("o.csv", "customer_id,tier,by,reason\nc1,top,A,x\nc1,mid,B,y\n",
         r"row 3, column 'customer_id': customer 'c1' already has an override in row 2"),
        ("o.csv", "customer_id,tier,who\nc1,top,A\n", r"row 1: the header lacks by, reason"),
        ("o.json", "[{\"customer_id\": \"c1\"}]",
         r"row 1, column 'tier': must name the tier code"),
        ("o.json", "[{\"customer_id\": \"c1\", \"tier\": \"top\", \"by\": \"A\", \"reason\": \"x\","
         " \"note\": 1}]", r"row 1: unknown field\(s\) note"),
        ("o.json", "{\"overrides\": 3}", r"expected a list of overrides"),
        ("o.json", "[1,", r"not valid JSON"),
    ],
)  # fmt: skip
def test_bad_override_files_name_the_row(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_overrides(path)


def test_override_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot read the overrides file"):
        load_overrides(tmp_path / "missing.csv")
    with pytest.raises(ConfigError, match=r"must end in \.csv or \.json"):
        save_overrides(tmp_path / "o.xlsx", [LI_NA])
    with pytest.raises(InputError, match="must name why"):
        save_overrides(tmp_path / "o.csv", [{"customer_id": "c", "tier": "t", "by": "b"}])
    assert not (tmp_path / "o.csv").exists()
    assert parse_overrides([]) == []


# ---------------------------------------------------------------------------- properties

CODES = ("strategic", "key", "ordinary")


@st.composite
def books(draw: st.DrawFn) -> tuple[pa.Table, pa.Table | None, list[Override], bool]:
    """A small customer book with ties and gaps, an optional previous snapshot and overrides."""
    n = draw(st.integers(1, 30))
    ids = [f"c{i:02d}" for i in range(n)]
    with_model = draw(st.booleans())
    money = st.sampled_from([0.0, 10.0, 50.0, 50.0, 120.0, 900.0, 8240.0])
    columns: dict[str, Any] = {
        "customer_id": ids,
        "total_spend": draw(st.lists(money, min_size=n, max_size=n)),
        "days_since_last_purchase": draw(st.lists(st.integers(0, 400), min_size=n, max_size=n)),
        "tenure_days": draw(st.lists(st.sampled_from([0, 365, 730, 731, 2000]), min_size=n,
                                     max_size=n)),
        "abc_class": draw(st.lists(st.sampled_from(["A", "B", "C"]), min_size=n, max_size=n)),
    }  # fmt: skip
    if with_model:
        columns["clv"] = draw(st.lists(money | st.none(), min_size=n, max_size=n))
        columns["p_alive"] = draw(
            st.lists(st.sampled_from([0.0, 0.3, 0.4, 0.5, 0.7, 0.94, 1.0]), min_size=n, max_size=n)
        )
    table = pa.table(columns)
    prev = None
    if draw(st.booleans()):
        keep = [i for i in range(n) if draw(st.booleans())]
        prev = pa.table(
            {
                "customer_id": [ids[i] for i in keep] + ["gone"],
                "tier": [draw(st.sampled_from([*CODES, "gold"])) for _ in keep] + ["key"],
                "tier_since": [D0 - dt.timedelta(days=draw(st.integers(1, 900)))
                               for _ in range(len(keep) + 1)],
                "below_since": [draw(st.none() | st.just(D0 - dt.timedelta(days=40)))
                                for _ in range(len(keep) + 1)],
                "below_runs": [draw(st.integers(0, 2)) for _ in range(len(keep) + 1)],
            }
        )  # fmt: skip
    overrides = [
        Override(ids[i], draw(st.sampled_from(CODES)), "Li Na", "review",
                 draw(st.none() | st.dates(D0 - dt.timedelta(5), D0 + dt.timedelta(5))))
        for i in sorted(draw(st.sets(st.integers(0, n - 1), max_size=3)))
    ]  # fmt: skip
    return table, prev, overrides, with_model


def by_customer(table: pa.Table) -> dict[str, tuple[Any, ...]]:
    names = ["tier", "tier_basis", "tier_reasons", "tier_reason_en", "tier_reason_zh",
             "previous_tier", "tier_since", "below_since", "below_runs"]  # fmt: skip
    rows = zip(*(col(table, name) for name in ["customer_id", *names]), strict=True)
    return {row[0]: row[1:] for row in rows}


@PROPERTY
@given(books(), st.randoms(use_true_random=False))
def test_tiers_are_deterministic_and_ignore_row_order(
    book: tuple[pa.Table, pa.Table | None, list[Override], bool], rnd: Any
) -> None:
    table, prev, overrides, _ = book
    out = assign_tiers(table, RETAIL_V1, previous=prev, overrides=overrides, as_of=D0, currency="¥")
    assert out.equals(assign_tiers(table, RETAIL_V1, previous=prev, overrides=overrides, as_of=D0,
                                   currency="¥"))  # fmt: skip
    order = list(range(table.num_rows))
    rnd.shuffle(order)
    shuffled_prev = prev
    if prev is not None:
        back = list(range(prev.num_rows))
        rnd.shuffle(back)
        shuffled_prev = prev.take(back)
    shuffled = assign_tiers(table.take(order), RETAIL_V1, previous=shuffled_prev,
                            overrides=list(reversed(overrides)), as_of=D0, currency="¥")  # fmt: skip
    assert by_customer(shuffled) == by_customer(out)


@PROPERTY
@given(books())
def test_every_customer_gets_exactly_one_tier_and_reasons_in_both_languages(
    book: tuple[pa.Table, pa.Table | None, list[Override], bool],
) -> None:
    table, prev, overrides, _ = book
    out = assign_tiers(table, RETAIL_V1, previous=prev, overrides=overrides, as_of=D0)
    assert out.num_rows == table.num_rows
    assert set(col(out, "tier")) <= set(CODES)
    for reasons, en, zh in zip(col(out, "tier_reasons"), col(out, "tier_reason_en"),
                               col(out, "tier_reason_zh"), strict=True):  # fmt: skip
        assert json.loads(reasons) and en.strip() and zh.strip()
    labels = dict(zip(DEFAULT_POLICY.codes, (t.label_en for t in DEFAULT_POLICY.tiers),
                      strict=True))  # fmt: skip
    for tier, en in zip(col(out, "tier"), col(out, "tier_reason_en"), strict=True):
        assert en.startswith(labels[tier])


LINES = st.sampled_from([0.0, 0.39, 0.4, 0.45, 0.5, 0.79, 0.8, 0.85, 0.9, 1.0]) | st.floats(0, 1)


@PROPERTY
@given(
    st.lists(st.tuples(LINES, st.sampled_from(["top", "mid", "low", None])), min_size=1,
             max_size=20),
    st.sampled_from([0, 1]),
)  # fmt: skip
def test_a_customer_at_or_inside_the_band_stays_put(
    rows: list[tuple[float, str | None]], grace_runs: int
) -> None:
    policy = stable(grace_runs=grace_runs)
    prev = previous(*(t for _, t in rows))
    out = assign_tiers(scores(*(s for s, _ in rows)), policy, previous=prev, as_of=D0)
    rank = {"top": 0, "mid": 1, "low": 2}
    for (score, before), tier in zip(rows, col(out, "tier"), strict=True):
        natural = "top" if score >= 0.9 else "mid" if score >= 0.5 else "low"
        if before is None or rank[natural] <= rank[before]:
            assert tier == natural
            continue
        stays = score >= (0.8 if before == "top" else 0.4)
        if stays or grace_runs:  # inside the band, or the first run below it
            assert tier == before
        else:
            assert rank[tier] > rank[before]
            assert tier == ("mid" if score >= 0.4 else "low")


@PROPERTY
@given(books())
def test_overrides_win_until_they_expire(
    book: tuple[pa.Table, pa.Table | None, list[Override], bool],
) -> None:
    table, prev, overrides, _ = book
    out = assign_tiers(table, RETAIL_V1, previous=prev, overrides=overrides, as_of=D0)
    plain = assign_tiers(table, RETAIL_V1, previous=prev, as_of=D0)
    tiers = dict(zip(col(out, "customer_id"), col(out, "tier"), strict=True))
    natural = dict(zip(col(plain, "customer_id"), col(plain, "tier"), strict=True))
    overridden = {o.customer_id for o in overrides}
    for o in overrides:
        assert tiers[o.customer_id] == (o.tier if o.active(D0) else natural[o.customer_id])
    assert all(tiers[c] == natural[c] for c in tiers if c not in overridden)


def test_module_examples_run() -> None:
    result = doctest.testmod(tiers_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_a_snapshot_of_an_earlier_version_of_the_policy_gives_no_band_or_grace() -> None:
    """retail@1 made every ABC class A customer key; after the upgrade to retail@2 a
    customer who was key only by that rule does not keep the tier by grace."""
    n = 100
    customers = pa.table(
        {
            "customer_id": [f"c{i:03d}" for i in range(n)],
            "core_score": [float(n - i) for i in range(n)],
        }
    )
    ids = customers.column("customer_id")
    was_key = pa.table(
        {"customer_id": ids, "tier": ["key"] * n, "policy_version": ["retail@1"] * n}
    )
    out = assign_tiers(customers, previous=was_key, as_of=D0)
    tiers = col(out, "tier")
    assert tiers.count("strategic") + tiers.count("key") == 20
    assert "grace" not in col(out, "tier_basis")
    # the same policy with a local change (a fingerprint) keeps band and grace
    tweaked = policy_from_config({"preset": "retail", "grace_runs": 2})
    same = pa.table({"customer_id": ids, "tier": ["key"] * n, "policy_version": ["retail@2"] * n})
    kept = assign_tiers(customers, tweaked, previous=same, as_of=D0)
    assert "ordinary" not in col(kept, "tier")
    assert col(kept, "tier_basis").count("grace") == n - 22  # 2 more within the band
