"""Next-best action: one action per customer, first match, defaults, config and validation."""

from __future__ import annotations

import datetime as dt
import doctest
import tomllib
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import corecustomers.segments.playbook as playbook_module
from corecustomers.errors import ConfigError, InputError
from corecustomers.segments.playbook import (
    ACTION_COLUMNS,
    DEFAULT_PLAYBOOK,
    Play,
    Playbook,
    action_counts,
    default_playbook,
    next_best_actions,
    playbook_from_config,
)
from corecustomers.segments.policy import DEFAULT_POLICY, policy_from_config
from corecustomers.segments.tiers import assign_tiers

PROPERTY = settings(max_examples=40, deadline=None, derandomize=True, database=None)
D0 = dt.date(2025, 1, 31)
SEGMENTS = ["Champions", "Loyal", "New", "Promising", "Potential Loyalist", "At Risk", "Lost",
            "Hibernating", "Important value", "General win-back"]  # fmt: skip


def book(rows: list[tuple[str, str]], **columns: list[Any]) -> pa.Table:
    return pa.table(
        {
            "customer_id": [f"c{i}" for i in range(len(rows))],
            "tier": [t for t, _ in rows],
            "rfm_segment": [s for _, s in rows],
            **columns,
        }
    )


def codes(table: pa.Table) -> list[str]:
    return table.column("action_code").to_pylist()


@pytest.mark.parametrize(
    ("tier", "segment", "alert", "code", "channel", "days"),
    [
        ("strategic", "Champions", True, "AM_VISIT", "visit", 7),
        ("strategic", "At Risk", False, "AM_VISIT", "visit", 7),
        ("strategic", "New", False, "AM_WELCOME", "visit", 14),
        ("strategic", "Champions", False, "QBR", "visit", 30),
        ("key", "Loyal", True, "RETENTION_CALL", "call", 7),
        ("key", "New", False, "WELCOME_CALL", "call", 7),
        ("key", "Important development", False, "WELCOME_CALL", "call", 7),
        ("key", "Champions", False, "KEY_CARE", "email", 14),
        ("ordinary", "Lost", False, "NO_ACTION", "none", None),
        ("ordinary", "General win-back", True, "NO_ACTION", "none", None),
        ("ordinary", "About to Sleep", False, "WINBACK_OFFER", "email", 14),
        ("ordinary", "Promising", False, "TARGETED_OFFER", "app", 14),
        ("ordinary", "Champions", False, "NEWSLETTER", "email", 30),
    ],
)
def test_default_playbook(
    tier: str, segment: str, alert: bool, code: str, channel: str, days: int | None
) -> None:
    out = next_best_actions(book([(tier, segment)], alert=[alert]), as_of=D0)
    assert codes(out) == [code]
    assert out.column("channel").to_pylist() == [channel]
    assert out.column("deadline_days").to_pylist() == [days]
    due = None if days is None else D0 + dt.timedelta(days=days)
    assert out.column("due").to_pylist() == [due]
    assert out.column("action_en")[0].as_py() and out.column("action_zh")[0].as_py()


def test_every_default_play_is_reachable() -> None:
    rows = [(t, s) for t in ("strategic", "key", "ordinary") for s in SEGMENTS]
    alerts = [False] * len(rows) + [True] * len(rows)
    out = next_best_actions(book(rows + rows, alert=alerts), as_of=D0)
    used = set(out.column("action_rule").to_pylist())
    assert used == {p.name for p in DEFAULT_PLAYBOOK.plays}


def test_at_risk_comes_from_alert_segment_or_p_alive_when_present() -> None:
    rows = [("key", "Champions")] * 4
    out = next_best_actions(
        book(rows, alert=[True, None, False, False], p_alive=[0.9, 0.9, 0.1, None]), as_of=D0
    )
    assert out.column("at_risk").to_pylist() == [True, False, True, False]
    bare = next_best_actions(pa.table({"customer_id": ["a"], "tier": ["key"]}), as_of=D0)
    assert bare.column("at_risk").to_pylist() == [False]
    assert codes(bare) == ["KEY_CARE"]
    no_p = playbook_from_config({"risk_p_alive": False, "risk_segments": []})
    out = next_best_actions(book([("key", "At Risk")], p_alive=[0.1]), no_p, as_of=D0)
    assert codes(out) == ["KEY_CARE"]


def test_language_and_output_columns() -> None:
    out = next_best_actions(book([("strategic", "Champions")]), as_of=D0, lang="zh")
    assert out.column("next_best_action").to_pylist() == out.column("action_zh").to_pylist()
    assert out.column_names[-len(ACTION_COLUMNS) :] == list(ACTION_COLUMNS)
    assert out.schema.field("due").type == pa.date32()
    again = next_best_actions(out, as_of=D0, lang="zh")
    assert again.equals(out)
    assert action_counts(out) == {"QBR": 1}


def test_tiers_then_actions_end_to_end() -> None:
    customers = pa.table(
        {
            "customer_id": ["a", "b", "c"],
            "clv": [5000.0, 900.0, 10.0],
            "p_alive": [0.2, 0.9, 0.1],
            "tenure_days": [900, 100, 30],
            "abc_class": ["A", "A", "C"],
            "rfm_segment": ["Can't Lose Them", "New", "Lost"],
        }
    )
    # retail@1 (every ABC class A is key), so that two of three customers are key: under
    # the default retail@2 the core is the top fifth, which three customers cannot show
    from corecustomers.segments.presets import preset_mapping

    policy = policy_from_config(preset_mapping("retail_v1"))
    tiered = assign_tiers(customers, policy, as_of=D0)
    out = next_best_actions(tiered, as_of=D0)
    assert tiered.column("tier").to_pylist() == ["key", "key", "ordinary"]
    assert codes(out) == ["RETENTION_CALL", "WELCOME_CALL", "NO_ACTION"]


def test_custom_playbook_from_toml_with_when_conditions() -> None:
    text = """
    [playbook]
    name = "cafe"
    version = "2025.1"
    [[playbook.play]]
    name = "big spenders"
    when = [{ column = "rank_pct(total_spend)", op = "<=", value = 0.5 }]
    action_code = "THANKS"
    action_en = "Thank-you note"
    action_zh = "感谢信"
    channel = "email"
    deadline_days = 3
    [[playbook.play]]
    name = "rest"
    action_code = "NONE"
    action_en = "No action"
    action_zh = "暂不跟进"
    channel = "none"
    """
    config = tomllib.loads("\n".join(line.strip() for line in text.splitlines()))["playbook"]
    custom = playbook_from_config(config)
    assert (custom.name, custom.version) == ("cafe", "2025.1")
    table = pa.table({"customer_id": ["a", "b"], "total_spend": [100.0, 5.0]})
    out = next_best_actions(table, custom, as_of=D0)
    assert codes(out) == ["THANKS", "NONE"]
    assert out.column("due").to_pylist() == [D0 + dt.timedelta(days=3), None]


def test_the_module_docstring_toml_example_is_a_valid_playbook() -> None:
    doc = playbook_module.__doc__ or ""
    block = doc.split(".. code-block:: toml", 1)[1].split("\nExamples\n", 1)[0]
    text = "\n".join(line[4:] for line in block.splitlines())
    custom = playbook_from_config(tomllib.loads(text)["playbook"], policy=DEFAULT_POLICY)
    assert [p.name for p in custom.plays] == ["strategic at risk", "big spenders", "everyone else"]
    assert custom.risk_segments == ("At Risk", "Can't Lose Them")


def test_default_playbook_follows_the_policy_tiers_by_position() -> None:
    assert default_playbook() is DEFAULT_PLAYBOOK
    assert default_playbook(DEFAULT_POLICY) is DEFAULT_PLAYBOOK

    def policy(*codes: str) -> Any:
        tiers: list[dict[str, Any]] = [
            {"code": c, "rules": [{"all": [{"column": "x", "op": ">=", "value": k}]}]}
            for k, c in enumerate(codes[:-1])
        ]
        return policy_from_config(
            {"name": "p", "version": "1", "tier": [*tiers, {"code": codes[-1]}]}
        )

    four = default_playbook(policy("gold", "silver", "bronze", "member"))
    tiers = {p.name: p.tiers for p in four.plays}
    assert tiers["strategic at risk"] == ("gold",)
    assert tiers["key"] == ("silver", "bronze")
    assert tiers["ordinary lost"] == ("member",)
    four.check_tiers(policy("gold", "silver", "bronze", "member"))
    two = default_playbook(policy("vip", "rest"))
    assert not any(p.name.startswith("key") for p in two.plays)
    assert two.plays[-1].catch_all


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"colour": 1}, r"\[playbook\]: unknown key\(s\) colour"),
        ({"play": []}, r"at least one play"),
        ({"play": "x"}, r"key 'play' must be a list"),
        ({"play": [{"name": "x"}]}, r"play 1 \('x'\): key 'action_code' is missing"),
        (
            {"play": [{"name": "x", "action_code": "A", "action_en": "a", "action_zh": "甲",
                       "channel": "fax", "deadline_days": 1}]},
            r"play 1 \('x'\): key 'channel' must be one of visit, call, sms, email, app, none",
        ),
        (
            {"play": [{"name": "x", "action_code": "A", "action_en": "a", "action_zh": "甲",
                       "channel": "call"}]},
            r"key 'deadline_days' is needed for channel 'call'",
        ),
        (
            {"play": [{"name": "x", "action_code": "A", "action_en": "a", "action_zh": "甲",
                       "channel": "call", "deadline_days": 400}]},
            r"key 'deadline_days' must be a whole number from 0 to 366",
        ),
        (
            {"play": [{"name": "x", "action_code": "A", "action_en": "a", "action_zh": "",
                       "channel": "none"}]},
            r"key 'action_zh' must be a non-empty text",
        ),
        (
            {"play": [{"name": "x", "tier": "key", "action_code": "A", "action_en": "a",
                       "action_zh": "甲", "channel": "none"}]},
            r"the last play \('x'\) must match everyone",
        ),
        (
            {"play": [{"name": "x", "action_code": "A", "action_en": "a", "action_zh": "甲",
                       "channel": "none"}] * 2},
            r"play names must be unique",
        ),
        (
            {"play": [{"name": "x", "when": [{"column": "p", "op": "~", "value": 1}],
                       "action_code": "A", "action_en": "a", "action_zh": "甲",
                       "channel": "none"}]},
            r"play 1 \('x'\): key 'when', condition 1 \('p'\): key 'op'",
        ),
        (
            {"play": [{"name": "x", "at_risk": "yes", "action_code": "A", "action_en": "a",
                       "action_zh": "甲", "channel": "none"}]},
            r"key 'at_risk' must be true or false",
        ),
        ({"risk_p_alive": 2}, r"key 'risk_p_alive' must be a probability"),
        ({"risk_segments": 5}, r"risk_segments must be a code or a list"),
    ],
)  # fmt: skip
def test_invalid_playbooks_raise_config_error(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        playbook_from_config(config)


def test_catch_all_before_the_end_and_unknown_tiers_are_rejected() -> None:
    rest = Play("rest", "NONE", "No action", "暂不跟进", "none")
    vip = Play("vip", "CALL", "Call", "电话", "call", 1, tiers=("vip",))
    with pytest.raises(ConfigError, match="play 'rest' matches every customer"):
        Playbook((rest, vip, Play("end", "NONE", "No action", "暂不跟进", "none")))
    with pytest.raises(ConfigError, match=r"tier\(s\) vip are not in tier policy 'retail'"):
        Playbook((vip, rest)).check_tiers(DEFAULT_POLICY)
    with pytest.raises(ConfigError, match="tier\\(s\\) vip"):
        playbook_from_config(
            {"play": [{"name": "vip", "tier": "vip", "action_code": "C", "action_en": "c",
                       "action_zh": "丙", "channel": "call", "deadline_days": 1},
                      {"name": "rest", "action_code": "N", "action_en": "n", "action_zh": "无",
                       "channel": "none"}]},
            policy=DEFAULT_POLICY,
        )  # fmt: skip


def test_tier_plays_need_the_tier_column() -> None:
    with pytest.raises(InputError, match="run assign_tiers first"):
        next_best_actions(pa.table({"customer_id": ["a"]}), as_of=D0)
    with pytest.raises(ConfigError, match="as_of must be a date"):
        next_best_actions(book([("key", "New")]), as_of="2025-01-31")  # type: ignore[arg-type]


@PROPERTY
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["strategic", "key", "ordinary"]),
            st.sampled_from(SEGMENTS),
            st.none() | st.booleans(),
            st.none() | st.sampled_from([0.0, 0.29, 0.3, 0.8]),
        ),
        min_size=1,
        max_size=30,
    ),
    st.randoms(use_true_random=False),
)
def test_exactly_one_action_per_customer_whatever_the_row_order(
    rows: list[tuple[str, str, bool | None, float | None]], rnd: Any
) -> None:
    table = book([(t, s) for t, s, _, _ in rows], alert=[a for *_, a, _ in rows],
                 p_alive=[p for *_, p in rows])  # fmt: skip
    out = next_best_actions(table, as_of=D0)
    assert out.num_rows == table.num_rows
    assert out.column("action_code").null_count == 0
    order = list(range(len(rows)))
    rnd.shuffle(order)
    shuffled = next_best_actions(table.take(order), as_of=D0)
    assert shuffled.equals(out.take(order))


def test_module_examples_run() -> None:
    result = doctest.testmod(playbook_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
