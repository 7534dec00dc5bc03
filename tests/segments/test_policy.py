"""Tier policies: parsing and validation, presets, bands, ranks and condition evaluation."""

from __future__ import annotations

import doctest
import re
import tomllib
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import corecustomers.segments.policy as policy_module
import corecustomers.segments.presets as presets_module
from corecustomers.errors import ConfigError
from corecustomers.segments.policy import (
    DEFAULT_POLICY,
    PRESET_NAMES,
    Condition,
    CustomerColumns,
    TierPolicy,
    condition_from_config,
    evaluate_condition,
    get_preset,
    policy_from_config,
    preset_config,
    rank_pct,
)
from corecustomers.segments.presets import preset_text

PROPERTY = settings(max_examples=60, deadline=None, derandomize=True, database=None)


def simple(**extra: Any) -> dict[str, Any]:
    """A valid two-tier policy mapping; ``extra`` overrides top-level keys."""
    body: dict[str, Any] = {
        "name": "simple",
        "version": "1",
        "tier": [
            {
                "code": "top",
                "label_en": "Top",
                "label_zh": "顶级",
                "rules": [{"all": [{"column": "score", "op": ">=", "value": 0.9}]}],
            },
            {"code": "rest", "label_en": "Rest", "label_zh": "其他"},
        ],
    }
    body.update(extra)
    return body


# ---------------------------------------------------------------------------- default and presets


def test_default_policy_is_retail_with_three_bilingual_tiers() -> None:
    assert policy_from_config(None) is DEFAULT_POLICY
    assert policy_from_config({}) is DEFAULT_POLICY
    assert DEFAULT_POLICY.codes == ("strategic", "key", "ordinary")
    assert [t.label_zh for t in DEFAULT_POLICY.tiers] == ["战略客户", "重点客户", "普通客户"]
    assert [t.label_en for t in DEFAULT_POLICY.tiers] == ["Strategic", "Key", "Ordinary"]
    assert DEFAULT_POLICY.policy_version == "retail@2"
    assert DEFAULT_POLICY.requires == ()
    assert DEFAULT_POLICY.band == 0.1 and DEFAULT_POLICY.grace("strategic") == (1, 0)


def test_default_core_is_the_pareto_head_by_core_score() -> None:
    """retail@2: strategic the top 5 % (left below 6 %), key the top 20 % (left below
    22 %) by core_score, falling back to the CLV rank; nothing else makes a core customer."""
    lines = []
    for tier in DEFAULT_POLICY.tiers[:-1]:
        assert len(tier.rules) == 1 and len(tier.rules[0].conditions) == 1
        cond = tier.rules[0].conditions[0]
        lines.append((cond.column, cond.op, cond.value, cond.stay_value(DEFAULT_POLICY.band)))
        assert cond.fallback is not None and cond.fallback.column == "rank_pct(clv)"
    assert lines == [
        ("rank_pct(core_score)", "<=", 0.05, 0.06),
        ("rank_pct(core_score)", "<=", 0.2, 0.22),
    ]


def test_the_previous_default_is_kept_as_retail_v1_and_pinning_it_says_what_changed() -> None:
    old = get_preset("retail_v1")
    assert old.policy_version == "retail_v1@1"
    assert [r.name for r in old.tier("key").rules] == ["high predicted value", "ABC class A"]
    with pytest.raises(ConfigError, match=r"version '1' is retired: retail@2 .*retail_v1"):
        policy_from_config({"preset": "retail", "version": "1"})
    with pytest.raises(ConfigError, match=r"retired"):
        policy_from_config({"preset": "retail", "version": 1})
    # a local change of the new default keeps working, marked with its fingerprint
    assert policy_from_config({"preset": "retail", "band": 0.2}).policy_version.startswith(
        "retail@2+"
    )


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_every_preset_builds_round_trips_and_matches_its_toml(name: str) -> None:
    policy = get_preset(name)
    assert policy.name == name
    assert policy.codes == ("strategic", "key", "ordinary")
    assert policy_from_config(policy.to_config()) == policy
    assert tomllib.loads(preset_text(name))["tiers"] == preset_config(name)
    assert policy_from_config({"preset": name}) == policy


@pytest.mark.parametrize(
    ("name", "needs"),
    [
        ("retail", ()),
        ("catering", ()),
        ("finance", ("balance",)),
        ("b2b", ("contract_value",)),
        ("utilities", ("consumption", "on_time_rate")),
    ],
)
def test_presets_declare_and_check_the_user_columns_they_need(
    name: str, needs: tuple[str, ...]
) -> None:
    policy = get_preset(name)
    assert policy.requires == needs
    base = ["customer_id", "clv", "p_alive", "abc_class", "tenure_days"]
    policy.check_columns([*base, *needs])
    for column in needs:
        with pytest.raises(ConfigError, match=rf"needs the column\(s\) .*{column}"):
            policy.check_columns(base)
        with pytest.raises(ConfigError, match=column):
            policy_from_config({"preset": name}, columns=base)
    for column in needs:
        assert column in preset_text(name)
        assert column in (presets_module.__doc__ or "")


def test_preset_copies_are_independent() -> None:
    first = preset_config("retail")
    first["tier"].clear()
    assert preset_config("retail")["tier"]


def test_changing_a_preset_without_a_version_marks_the_version() -> None:
    tweaked = policy_from_config({"preset": "retail", "band": 0.3})
    assert tweaked.band == 0.3
    assert re.fullmatch(r"2\+[0-9a-f]{8}", tweaked.version)
    assert tweaked.version.endswith(tweaked.fingerprint)
    renamed = policy_from_config({"preset": "retail", "name": "shop"})
    assert renamed.policy_version == "shop@2"
    versioned = policy_from_config({"preset": "retail", "band": 0.3, "version": "3"})
    assert versioned.version == "3"


def test_fingerprint_ignores_names_and_sees_thresholds() -> None:
    a = policy_from_config(simple())
    assert policy_from_config(simple(name="other", version="9")).fingerprint == a.fingerprint
    changed = simple()
    changed["tier"][0]["rules"][0]["all"][0]["value"] = 0.8
    assert policy_from_config(changed).fingerprint != a.fingerprint


def test_the_module_docstring_toml_example_is_a_valid_policy() -> None:
    doc = policy_module.__doc__ or ""
    block = doc.split(".. code-block:: toml", 1)[1].split("\nA condition may", 1)[0]
    text = "\n".join(line[4:] for line in block.splitlines())
    config = dict(tomllib.loads(text)["tiers"])
    config.pop("preset")
    policy = policy_from_config(config)
    assert policy.codes == ("strategic", "ordinary")
    assert policy.tiers[0].rules[0].conditions[1].fallback is not None
    assert policy.tiers[0].grace_days == 90


# ---------------------------------------------------------------------------- validation


def _bad(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    body = simple()
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


COND = ("tier", 0, "rules", 0, "all", 0)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (simple(colour="red"), r"\[tiers\]: unknown key\(s\) colour"),
        (simple(version=1), r"key 'version' must be a non-empty text"),
        (simple(name=""), r"key 'name' must be a non-empty text"),
        (simple(band=1.5), r"key 'band' must be a number from 0"),
        (simple(grace_runs=-1), r"key 'grace_runs' must be a whole number"),
        (simple(grace_runs=1, grace_days=30), r"either 'grace_runs' or 'grace_days'"),
        (simple(requires="balance"), r"key 'requires' must be a list"),
        (simple(preset="bakery"), r"unknown preset 'bakery'"),
        (_bad(("tier",), [{"code": "only"}]), r"at least two tiers"),
        (_bad(("tier", 1, "code"), "top"), r"tier codes must be unique; repeated: \['top'\]"),
        (
            _bad(("tier", 1, "rules"), [{"all": [{"column": "x", "op": ">", "value": 1}]}]),
            r"last tier \('rest'\) is the catch-all",
        ),
        (_bad(("tier", 0, "rules"), []), r"tier 'top' has no rules"),
        (_bad(("tier", 0, "code"), KeyError), r"tier 1: key 'code' is missing"),
        (_bad(("tier", 0, "shade"), "x"), r"tier 1 \('top'\): unknown key\(s\) shade"),
        (_bad(("tier", 0, "rules", 0, "all"), []), r"rule 1 \('rule 1'\): rule 'rule 1' has no"),
        (_bad(("tier", 0, "rules", 0, "any"), []), r"exactly one of the keys 'all' or 'any'"),
        (_bad((*COND, "op"), "=>"), r"condition 1 \('score'\): key 'op' must be one of"),
        (_bad((*COND, "value"), "high"), r"key 'value' must be a number for op '>='"),
        (_bad((*COND, "value"), True), r"key 'value' must be a number"),
        (_bad((*COND, "column"), KeyError), r"condition 1: key 'column' is missing"),
        (_bad((*COND, "exit"), 0.95), r"'exit' \(0.95\) must not be above 'value'"),
        (_bad((*COND, "colour"), 1), r"condition 1 \('score'\): unknown key\(s\) colour"),
        (_bad((*COND, "format"), "euros"), r"key 'format' must be one of"),
    ],
)
def test_invalid_policies_raise_config_error_naming_the_key(
    body: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        policy_from_config(body)


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"column": "rank_pct(clv)", "op": "<=", "value": 5}, r"share from 0 to 1"),
        ({"column": "abc_class", "op": "in", "value": []}, r"non-empty list"),
        ({"column": "abc_class", "op": "in", "value": ["A", 1]}, r"\(one kind\)"),
        ({"column": "abc_class", "op": "in", "value": "A"}, r"non-empty list"),
        ({"column": "abc_class", "op": "==", "value": "A", "exit": "B"}, r"'exit' needs"),
        ({"column": "abc_class", "op": "in", "value": ["A"], "exit": ["B"]}, r"include every"),
        ({"column": "abc_class", "op": "not in", "value": ["C"], "exit": ["B"]}, r"part of"),
        ({"column": "abc_class", "op": "in", "value": ["A"], "band": 0.1}, r"'band' applies"),
        ({"column": "x", "op": "<=", "value": 5, "exit": 4}, r"must not be below"),
        ({"column": "x", "op": ">=", "value": 5, "exit": 4, "band": 0.1}, r"either 'exit'"),
        (
            {
                "column": "x",
                "op": ">=",
                "value": 5,
                "fallback": {"column": "y", "op": ">=", "value": 1, "fallback": "z"},
            },
            r"here \('x'\): a fallback cannot have its own fallback",
        ),
        ({"column": "x", "op": ">=", "value": float("inf")}, r"must be a number"),
    ],
)
def test_invalid_conditions_raise_config_error(condition: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        condition_from_config(condition, where="here")


def test_errors_name_tier_rule_and_condition() -> None:
    body = simple()
    body["tier"][0]["rules"][0]["name"] = "big"
    body["tier"][0]["rules"][0]["all"].append({"column": "p", "op": "~", "value": 1})
    with pytest.raises(ConfigError) as info:
        policy_from_config(body)
    assert str(info.value).startswith(
        "[tiers] tier 1 ('top'), rule 1 ('big'), condition 2 ('p'): key 'op'"
    )


def test_policy_objects_validate_without_the_parser() -> None:
    with pytest.raises(ConfigError, match="at least two tiers"):
        TierPolicy("p", "1", ())
    with pytest.raises(ConfigError, match="key 'op'"):
        Condition("x", "=", 1)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="is not a tier of policy 'retail'"):
        DEFAULT_POLICY.index("gold")


# ---------------------------------------------------------------------------- demotion lines


@pytest.mark.parametrize(
    ("condition", "band", "line"),
    [
        ({"column": "rank_pct(clv)", "op": "<=", "value": 0.05}, 0.2, 0.06),
        ({"column": "rank_pct(clv)", "op": "<=", "value": 0.05}, 0.4, 0.07),
        ({"column": "rank_pct(clv)", "op": "<=", "value": 0.9}, 0.2, 1.0),
        ({"column": "p_alive", "op": ">=", "value": 0.5}, 0.2, 0.4),
        ({"column": "p_alive", "op": ">", "value": 0.5}, 0.0, 0.5),
        ({"column": "tenure_days", "op": ">=", "value": 730}, 0.2, 584.0),
        ({"column": "margin", "op": ">=", "value": -100}, 0.1, -110.0),
        ({"column": "p_alive", "op": ">=", "value": 0.5, "band": 0.1}, 0.4, 0.45),
        ({"column": "p_alive", "op": ">=", "value": 0.5, "exit": 0.3}, 0.0, 0.3),
        ({"column": "abc_class", "op": "in", "value": ["A"], "exit": ["A", "B"]}, 0.2, ("A", "B")),
        ({"column": "abc_class", "op": "==", "value": "A"}, 0.2, "A"),
    ],
)
def test_demotion_line_from_exit_or_band(
    condition: dict[str, Any], band: float, line: object
) -> None:
    assert condition_from_config(condition).stay_value(band) == line


# ---------------------------------------------------------------------------- rank_pct


def test_rank_pct_midranks_ties_and_missing() -> None:
    ranks = rank_pct([100.0, 50.0, 50.0, 10.0, np.nan, np.inf])
    np.testing.assert_allclose(ranks[:4], [0.125, 0.5, 0.5, 0.875])
    assert np.isnan(ranks[4:]).all()
    assert rank_pct([]).shape == (0,)
    assert np.isnan(rank_pct([np.nan])).all()
    np.testing.assert_allclose(rank_pct([3.0, 1.0], ascending=True), [0.75, 0.25])


def test_top_share_selects_exactly_that_share_of_distinct_values() -> None:
    values = np.arange(1000, dtype=float)
    ranks = rank_pct(values)
    for share in (0.01, 0.05, 0.2, 0.5):
        assert (ranks <= share).sum() == (ranks < share).sum() == round(share * 1000)


@PROPERTY
@given(
    st.lists(st.integers(-5, 5) | st.just(None), min_size=1, max_size=40),
    st.randoms(use_true_random=False),
)
def test_rank_pct_is_order_free_tie_aware_and_monotone(values: list[int | None], rnd: Any) -> None:
    x = np.array([np.nan if v is None else float(v) for v in values])
    ranks = rank_pct(x)
    order = list(range(len(x)))
    rnd.shuffle(order)
    np.testing.assert_array_equal(rank_pct(x[order]), ranks[order])
    ok = ~np.isnan(x)
    for i in np.flatnonzero(ok):
        for j in np.flatnonzero(ok):
            if x[i] == x[j]:
                assert ranks[i] == ranks[j]
            elif x[i] > x[j]:
                assert ranks[i] < ranks[j]
    assert ((ranks[ok] > 0) & (ranks[ok] < 1)).all()
    assert np.isnan(ranks[~ok]).all()


# ---------------------------------------------------------------------------- evaluation


def test_conditions_on_numbers_texts_flags_and_missing_values() -> None:
    table = pa.table(
        {
            "n": pa.array([1, 2, None, 4], pa.int64()),
            "cls": pa.array(["A", None, "B", "C"]).dictionary_encode(),
            "alert": pa.array([True, False, None, True]),
            "empty": pa.array([None, None, None, None], pa.float64()),
        }
    )
    cols = CustomerColumns(table)

    def enter(body: dict[str, Any]) -> list[bool]:
        return evaluate_condition(condition_from_config(body), cols).enter.tolist()

    assert enter({"column": "n", "op": ">=", "value": 2}) == [False, True, False, True]
    assert enter({"column": "n", "op": "in", "value": [1, 4]}) == [True, False, False, True]
    assert enter({"column": "cls", "op": "not in", "value": ["A"]}) == [False, False, True, True]
    assert enter({"column": "cls", "op": "==", "value": "C"}) == [False, False, False, True]
    assert enter({"column": "alert", "op": "==", "value": True}) == [True, False, False, True]
    assert enter({"column": "alert", "op": "==", "value": False}) == [False, True, False, False]
    assert enter({"column": "rank_pct(n)", "op": "<=", "value": 0.2}) == [False] * 3 + [True]
    assert enter({"column": "rank_pct(-n)", "op": "<=", "value": 0.2}) == [True] + [False] * 3
    assert enter({"column": "absent", "op": ">=", "value": 0}) == [False] * 4
    # an all-missing column counts as absent, so its fallback is used
    fallback = {"column": "empty", "op": ">=", "value": 2, "fallback": "n"}
    res = evaluate_condition(condition_from_config(fallback), cols)
    assert res.fallback_used and res.enter.tolist() == [False, True, False, True]


def test_condition_on_the_wrong_column_type_is_a_config_error() -> None:
    cols = CustomerColumns(pa.table({"cls": ["A", "B"], "n": [1.0, 2.0]}))
    with pytest.raises(ConfigError, match=r"needs a number column, but 'cls' holds text"):
        evaluate_condition(condition_from_config({"column": "cls", "op": ">=", "value": 1}), cols)
    with pytest.raises(ConfigError, match=r"needs a text column, but 'n' holds number"):
        evaluate_condition(condition_from_config({"column": "n", "op": "==", "value": "A"}), cols)
    with pytest.raises(ConfigError, match=r"rank_pct\(cls\)"):
        cond = condition_from_config({"column": "rank_pct(cls)", "op": "<=", "value": 0.1})
        evaluate_condition(cond, cols)


def test_demotion_line_holds_everyone_over_the_promotion_line() -> None:
    table = pa.table({"p": np.linspace(0, 1, 101)})
    cond = condition_from_config({"column": "p", "op": ">=", "value": 0.5})
    res = evaluate_condition(cond, CustomerColumns(table), band=0.2)
    assert (res.stay >= res.enter).all()
    assert res.enter.sum() == 51 and res.stay.sum() == 61


def test_module_examples_run() -> None:
    for module in (policy_module, presets_module):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0 and result.failed == 0
