"""Segment schemes: every customer in exactly one segment, for every scheme and bin count."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from corecustomers.errors import ConfigError, InputError
from corecustomers.segments import (
    CN8,
    NAMED,
    Scheme,
    SegmentRule,
    assign_segments,
    get_scheme,
    rescale_scores,
    scheme_from_config,
)

PROPERTY = settings(max_examples=60, deadline=None, derandomize=True, database=None)


def score_grid(bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    axis = np.arange(1, bins + 1)
    r, f, m = np.meshgrid(axis, axis, axis, indexing="ij")
    return r.ravel(), f.ravel(), m.ravel()


# ---------------------------------------------------------------- the "named" scheme


def test_named_rules_cover_every_5_point_combination_exactly_once() -> None:
    for r, f in itertools.product(range(1, 6), repeat=2):
        matching = [
            rule.code
            for rule in NAMED.segments
            if rule.matches(np.array([r]), np.array([f]), np.array([3]))[0]
        ]
        assert len(matching) == 1, (r, f, matching)


@pytest.mark.parametrize("bins", range(3, 11))
def test_every_score_combination_maps_to_exactly_one_named_segment(bins: int) -> None:
    r, f, m = score_grid(bins)
    codes, labels = assign_segments(r, f, m, bins=bins)
    assert len(codes) == len(labels) == bins**3
    assert set(codes.tolist()) <= set(NAMED.codes)
    rg = rescale_scores(r, bins=bins)
    fg = rescale_scores(f, bins=bins, frequency=True)
    hits = np.sum([rule.matches(rg, fg, m) for rule in NAMED.segments], axis=0)
    assert (hits == 1).all()


@pytest.mark.parametrize("bins", range(3, 11))
def test_new_and_promising_are_exactly_the_recent_one_time_buyers(bins: int) -> None:
    r, f, m = score_grid(bins)
    codes, _ = assign_segments(r, f, m, bins=bins)
    one_time_segments = np.isin(codes, ["New", "Promising"])
    assert (f[one_time_segments] == 1).all()
    assert not np.isin(codes[f == 1], ["Champions", "Loyal", "At Risk", "Can't Lose Them"]).any()


@pytest.mark.parametrize(
    ("r", "f", "code", "label_zh"),
    [
        (5, 5, "Champions", "冠军客户"),
        (5, 4, "Champions", "冠军客户"),
        (4, 5, "Loyal", "忠诚客户"),
        (3, 4, "Loyal", "忠诚客户"),
        (5, 2, "Potential Loyalist", "潜力客户"),
        (4, 3, "Potential Loyalist", "潜力客户"),
        (5, 1, "New", "新客户"),
        (4, 1, "Promising", "有望客户"),
        (3, 3, "Need Attention", "需关注客户"),
        (3, 2, "About to Sleep", "即将沉睡客户"),
        (3, 1, "About to Sleep", "即将沉睡客户"),
        (2, 4, "At Risk", "风险客户"),
        (1, 3, "At Risk", "风险客户"),
        (1, 5, "Can't Lose Them", "不能失去的客户"),
        (2, 5, "Can't Lose Them", "不能失去的客户"),
        (2, 2, "Hibernating", "沉睡客户"),
        (2, 1, "Hibernating", "沉睡客户"),
        (1, 2, "Lost", "流失客户"),
        (1, 1, "Lost", "流失客户"),
    ],
)
def test_named_rule_table_on_5_bins(r: int, f: int, code: str, label_zh: str) -> None:
    for m in (1, 5):  # M does not enter the named scheme
        codes, labels = assign_segments([r], [f], [m], lang="zh")
        assert codes.tolist() == [code]
        assert labels.tolist() == [label_zh]


def test_named_scheme_lists_the_eleven_segments_in_order() -> None:
    assert NAMED.codes == (
        "Champions",
        "Loyal",
        "Potential Loyalist",
        "New",
        "Promising",
        "Need Attention",
        "About to Sleep",
        "At Risk",
        "Can't Lose Them",
        "Hibernating",
        "Lost",
    )
    assert NAMED.labels("en") == NAMED.codes
    assert NAMED.labels("zh-CN") == NAMED.labels("zh")


def test_three_bins_cannot_tell_promising_or_hibernating_apart() -> None:
    r, f, m = score_grid(3)
    codes, _ = assign_segments(r, f, m, bins=3)
    assert set(NAMED.codes) - set(codes.tolist()) == {"Promising", "Hibernating"}


@pytest.mark.parametrize("bins", range(5, 11))
def test_five_or_more_bins_reach_every_named_segment(bins: int) -> None:
    r, f, m = score_grid(bins)
    codes, _ = assign_segments(r, f, m, bins=bins)
    assert set(codes.tolist()) == set(NAMED.codes)


# ---------------------------------------------------------------- rescaling


@pytest.mark.parametrize("bins", range(3, 11))
def test_rescaling_keeps_order_ends_and_symmetry(bins: int) -> None:
    s = np.arange(1, bins + 1)
    g = rescale_scores(s, bins=bins)
    assert g[0] == 1
    assert g[-1] == 5
    assert (np.diff(g) >= 0).all()
    np.testing.assert_array_equal(g[::-1], 6 - g)
    gf = rescale_scores(s, bins=bins, frequency=True)
    assert gf[0] == 1
    assert (gf[1:] >= 2).all()
    assert gf[-1] == 5
    assert (np.diff(gf) >= 0).all()


@pytest.mark.parametrize("bins", range(5, 11))
def test_rescaling_reaches_every_grade_from_five_bins_up(bins: int) -> None:
    s = np.arange(1, bins + 1)
    assert set(rescale_scores(s, bins=bins).tolist()) == {1, 2, 3, 4, 5}
    assert set(rescale_scores(s, bins=bins, frequency=True).tolist()) == {1, 2, 3, 4, 5}


@pytest.mark.parametrize("bins", range(3, 11))
def test_rescaling_to_its_own_scale_is_the_identity(bins: int) -> None:
    s = np.arange(1, bins + 1)
    np.testing.assert_array_equal(rescale_scores(s, bins=bins, scale=bins), s)
    np.testing.assert_array_equal(rescale_scores(s, bins=bins, scale=bins, frequency=True), s)


def test_rescaling_rejects_scores_outside_the_bins() -> None:
    with pytest.raises(InputError, match="whole numbers from 1 to 5"):
        rescale_scores([0, 3], bins=5)
    with pytest.raises(InputError, match="whole numbers from 1 to 5"):
        rescale_scores([2.5], bins=5)
    with pytest.raises(ConfigError, match="scale"):
        rescale_scores([1], bins=5, scale=11)


# ---------------------------------------------------------------- the "cn8" scheme

CN8_EXPECTED = {
    # (R high, F high, M high): (code, Chinese label)
    (True, True, True): ("Important value", "重要价值客户"),
    (True, False, True): ("Important development", "重要发展客户"),
    (False, True, True): ("Important retention", "重要保持客户"),
    (False, False, True): ("Important win-back", "重要挽留客户"),
    (True, True, False): ("General value", "一般价值客户"),
    (True, False, False): ("General development", "一般发展客户"),
    (False, True, False): ("General retention", "一般保持客户"),
    (False, False, False): ("General win-back", "一般挽留客户"),
}


def cn8(days: Any, freq: Any, money: Any, **kwargs: Any) -> tuple[list[str], list[str]]:
    n = len(days)
    codes, labels = assign_segments(
        [3] * n,
        [3] * n,
        [3] * n,
        scheme="cn8",
        days_since_last_purchase=days,
        frequency=freq,
        monetary=money,
        **kwargs,
    )
    return codes.tolist(), labels.tolist()


def test_cn8_names_all_eight_combinations_in_both_languages() -> None:
    combos = list(CN8_EXPECTED)
    assert len(set(combos)) == 8
    # Two customers per combination: one at the good extreme, one at the bad, so the
    # mean sits in the middle of every dimension.
    days = [1 if r else 100 for r, _, _ in combos] + [100 if r else 1 for r, _, _ in combos]
    freq = [9 if f else 0 for _, f, _ in combos] + [0 if f else 9 for _, f, _ in combos]
    money = [500.0 if m else 5.0 for *_, m in combos] + [5.0 if m else 500.0 for *_, m in combos]
    codes, labels_zh = cn8(days, freq, money, lang="zh")
    en_codes, labels_en = cn8(days, freq, money, lang="en")
    assert codes == en_codes
    assert labels_en == codes
    for i, combo in enumerate(combos):
        assert (codes[i], labels_zh[i]) == CN8_EXPECTED[combo]
    assert set(codes) == set(CN8.codes)


def test_cn8_order_and_english_labels() -> None:
    assert CN8.codes == (
        "Important value",
        "Important development",
        "Important retention",
        "Important win-back",
        "General value",
        "General development",
        "General retention",
        "General win-back",
    )


def test_cn8_high_means_strictly_better_than_the_mean() -> None:
    # Means: 20 days, 2 repeat purchases, 20.0 spend. The middle customer sits exactly on
    # every mean and is therefore low on all three.
    codes, _ = cn8([10, 20, 30], [0, 2, 4], [10.0, 20.0, 30.0])
    assert codes == ["General development", "General win-back", "Important retention"]
    # one day fewer than the mean is high recency; one purchase more is high frequency
    codes, _ = cn8([19, 20, 21], [3, 2, 1], [21.0, 20.0, 19.0])
    assert codes[0] == "Important value"


def test_cn8_fewer_days_than_the_threshold_is_high_recency() -> None:
    codes, _ = cn8([1, 2, 3, 100], [1, 1, 1, 1], [10.0, 10.0, 10.0, 10.0])
    # mean days 26.5: the first three are recent (high R); F and M all equal: low
    assert codes == ["General development"] * 3 + ["General win-back"]


def test_cn8_everyone_alike_is_low_on_every_dimension() -> None:
    codes, _ = cn8([0.1] * 10, [1] * 10, [0.1] * 10)
    assert codes == ["General win-back"] * 10


def test_cn8_median_differs_from_mean_on_skewed_spend() -> None:
    days = [5, 5, 5, 5, 5]
    freq = [0, 0, 0, 0, 0]
    money = [1.0, 2.0, 3.0, 4.0, 100.0]  # mean 22, median 3
    by_mean, _ = cn8(days, freq, money, threshold="mean")
    by_median, _ = cn8(days, freq, money, threshold="median")
    assert [c.startswith("Important") for c in by_mean] == [False] * 4 + [True]
    assert [c.startswith("Important") for c in by_median] == [False, False, False, True, True]


def test_cn8_compares_the_scores_when_no_raw_values_are_given() -> None:
    codes, _ = assign_segments([5, 1, 3], [5, 1, 3], [5, 1, 3], scheme="cn8")
    # mean score 3 on each dimension: 5 is high, 1 and 3 (at the mean) are low
    assert codes.tolist() == ["Important value", "General win-back", "General win-back"]


def test_cn8_needs_all_three_raw_values_or_none() -> None:
    with pytest.raises(InputError, match="all of days_since_last_purchase, frequency and"):
        assign_segments([1], [1], [1], scheme="cn8", frequency=[0])


def test_cn8_rejects_an_unknown_threshold() -> None:
    with pytest.raises(ConfigError, match='"mean" or "median"'):
        assign_segments([1], [1], [1], scheme="cn8", threshold="mode")  # type: ignore[arg-type]


def test_cn8_raw_values_must_match_the_scores_in_length() -> None:
    with pytest.raises(InputError, match="one value per customer"):
        cn8([1, 2], [0, 1, 2], [1.0, 2.0])


# ---------------------------------------------------------------- assign_segments


def test_empty_input_gives_empty_segments() -> None:
    for scheme in ("named", "cn8"):
        codes, labels = assign_segments([], [], [], scheme=scheme)
        assert codes.tolist() == labels.tolist() == []


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"scheme": "fancy"}, ConfigError, "unknown segment scheme 'fancy'"),
        ({"lang": "fr"}, ConfigError, 'lang must be "en" or "zh"'),
        ({"bins": 12}, ConfigError, "bins must be from 3 to 10"),
    ],
)
def test_bad_settings_are_config_errors(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        assign_segments([1], [1], [1], **kwargs)


@pytest.mark.parametrize(
    ("r", "f", "m", "message"),
    [
        ([6], [1], [1], "column 'r'.*whole numbers from 1 to 5"),
        ([1], [0], [1], "column 'f'.*whole numbers from 1 to 5"),
        ([1], [1], [2.5], "column 'm'.*whole numbers from 1 to 5"),
        ([1, 2], [1], [1], "one value per customer"),
    ],
)
def test_bad_scores_are_input_errors(r: Any, f: Any, m: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        assign_segments(r, f, m)


def test_codes_are_the_same_in_every_language() -> None:
    r, f, m = score_grid(5)
    en = assign_segments(r, f, m, lang="en")
    zh = assign_segments(r, f, m, lang="zh")
    np.testing.assert_array_equal(en.codes, zh.codes)
    assert not np.array_equal(en.labels, zh.labels)


def test_get_scheme_resolves_names_objects_and_tables() -> None:
    assert get_scheme("named") is NAMED
    assert get_scheme("cn8") is CN8
    assert get_scheme(NAMED) is NAMED
    table = {"name": "mine", "segments": [{"name": "All"}]}
    assert get_scheme(table).codes == ("All",)


# ---------------------------------------------------------------- user-defined schemes

VIP = {
    "name": "mine",
    "segments": [
        {"name": "VIP", "label_zh": "贵宾", "r": [4, 5], "f": [4, 5], "m": [1, 5]},
        {"name": "Active", "label_zh": "活跃", "r": [3, 5]},
        {"name": "Others", "label_zh": "其他"},
    ],
}


def test_a_user_scheme_is_first_match_with_inclusive_ranges() -> None:
    codes, _ = assign_segments([5, 4, 3, 5, 1], [5, 4, 5, 3, 5], [1, 1, 1, 1, 5], scheme=VIP)
    assert codes.tolist() == ["VIP", "VIP", "Active", "Active", "Others"]
    _, zh = assign_segments([5, 1], [5, 1], [1, 1], scheme=VIP, lang="zh")
    assert zh.tolist() == ["贵宾", "其他"]


def test_the_service_shape_of_a_config_scheme_is_accepted() -> None:
    # corecustomers.toml [rfm.schemes.vip] segments = [...] arrives as {"name", "segments"}
    body = {"segments": VIP["segments"]}
    scheme = get_scheme({"name": "vip", **body})
    assert scheme.codes == ("VIP", "Active", "Others")


def test_a_user_scheme_without_catch_all_must_cover_every_combination() -> None:
    config = {
        "name": "split",
        "segments": [
            {"name": "Recent", "r": [3, 5]},
            {"name": "Old frequent", "r": [1, 2], "f": [3, 5]},
            {"name": "Old rare", "r": [1, 2], "f": [1, 2], "m": [2, 5]},
        ],
    }
    with pytest.raises(ConfigError, match=r"R=1, F=1, M=1 and 3 more") as err:
        scheme_from_config(config)
    assert "catch-all" in str(err.value)
    config["segments"][2]["m"] = [1, 5]  # type: ignore[index]
    assert scheme_from_config(config).codes == ("Recent", "Old frequent", "Old rare")


def test_the_uncovered_combination_is_named_exactly() -> None:
    config = {
        "name": "hole",
        "segments": [
            {"name": "Low R", "r": [1, 2]},
            {"name": "High R", "r": [4, 5]},
            {"name": "Mid R, not F=3", "r": 3, "f": [1, 2]},
            {"name": "Mid R, F=4+", "r": 3, "f": [4, 5]},
            {"name": "Mid R, F=3, low M", "r": 3, "f": 3, "m": [1, 4]},
        ],
    }
    with pytest.raises(ConfigError, match=r"R=3, F=3, M=5 in no segment"):
        scheme_from_config(config)


def test_a_user_scheme_with_a_scale_is_rescaled_to_other_bins() -> None:
    config = {"name": "five", "scale": 5, "segments": [{"name": "Top", "r": 5}, {"name": "Rest"}]}
    for bins in range(3, 11):
        codes, _ = assign_segments([bins, 1], [1, 1], [1, 1], bins=bins, scheme=config)
        assert codes.tolist() == ["Top", "Rest"]


def test_a_user_scheme_on_other_bins_defaults_its_scale_to_them() -> None:
    config = {"name": "ten", "segments": [{"name": "Top", "r": [9, 10]}, {"name": "Rest"}]}
    assert scheme_from_config(config, bins=10).scale == 10
    codes, _ = assign_segments([9, 8], [1, 1], [1, 1], bins=10, scheme=config)
    assert codes.tolist() == ["Top", "Rest"]
    with pytest.raises(ConfigError, match=r"r = \[9, 10\] must have 1 <= low <= high <= 5"):
        scheme_from_config(config, bins=5)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ([1, 2], "must be a table with the keys name and segments"),
        ({"segments": [{"name": "A"}]}, "needs a name"),
        ({"name": "  ", "segments": [{"name": "A"}]}, "needs a name"),
        ({"name": "named", "segments": [{"name": "A"}]}, "are built in"),
        (
            {"name": "x", "segments": [{"name": "A"}], "colour": "red"},
            r"unknown key\(s\) \['colour'\]",
        ),
        ({"name": "x"}, "segments must be a non-empty list"),
        ({"name": "x", "segments": []}, "segments must be a non-empty list"),
        ({"name": "x", "segments": "A"}, "segments must be a non-empty list"),
        ({"name": "x", "segments": [["A"]]}, "segments must be a non-empty list"),
        ({"name": "x", "segments": [{"label_zh": "甲"}]}, "segment #1 needs a name"),
        ({"name": "x", "segments": [{"name": "A", "rr": [1, 2]}]}, r"segment #1 \('A'\): unknown"),
        ({"name": "x", "segments": [{"name": "A", "r": "4-5"}]}, "r must be a score or"),
        ({"name": "x", "segments": [{"name": "A", "r": [4]}]}, "r must be a score or"),
        ({"name": "x", "segments": [{"name": "A", "r": [1, 2, 3]}]}, "r must be a score or"),
        ({"name": "x", "segments": [{"name": "A", "f": [1.0, 2.0]}]}, "f must be a score or"),
        ({"name": "x", "segments": [{"name": "A", "m": [True, 2]}]}, "m must be a score or"),
        ({"name": "x", "segments": [{"name": "A", "r": [4, 2]}]}, r"r = \[4, 2\] must have"),
        ({"name": "x", "segments": [{"name": "A", "r": [0, 5]}]}, r"r = \[0, 5\] must have"),
        ({"name": "x", "segments": [{"name": "A", "r": [1, 6]}]}, r"r = \[1, 6\] must have"),
        ({"name": "x", "segments": [{"name": "A", "label_zh": 3}]}, "label_zh must be a non-empty"),
        (
            {"name": "x", "segments": [{"name": "A", "label_en": ""}]},
            "label_en must be a non-empty",
        ),
        ({"name": "x", "segments": [{"name": "A"}, {"name": "A"}]}, r"repeated: \['A'\]"),
        ({"name": "x", "scale": 2, "segments": [{"name": "A"}]}, "scale must be from 3 to 10"),
        ({"name": "x", "scale": "5", "segments": [{"name": "A"}]}, "scale must be a whole number"),
        (
            {"name": "x", "segments": [{"name": "All"}, {"name": "VIP", "r": 5}]},
            "segment 'VIP' can never match",
        ),
        (
            {
                "name": "x",
                "segments": [{"name": "A", "r": [3, 5]}, {"name": "B", "r": 4}, {"name": "C"}],
            },
            "segment 'B' can never match",
        ),
    ],
)
def test_invalid_user_schemes_are_config_errors_saying_what_is_wrong(
    config: Any, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        scheme_from_config(config)


def test_scheme_errors_name_the_scheme() -> None:
    with pytest.raises(ConfigError, match="segment scheme 'mine', segment #2"):
        scheme_from_config({"name": "mine", "segments": [{"name": "A"}, {"name": "B", "q": 1}]})


def test_a_scheme_built_in_code_is_checked_too() -> None:
    with pytest.raises(ConfigError, match="can never match"):
        Scheme("direct", (SegmentRule("All"), SegmentRule("Never", r=(1, 1))))
    with pytest.raises(ConfigError, match="has no segments"):
        Scheme("empty", ())


@st.composite
def user_schemes(draw: st.DrawFn) -> dict[str, Any]:
    def bounds() -> st.SearchStrategy[list[int] | None]:
        pair = st.tuples(st.integers(1, 5), st.integers(1, 5)).map(sorted)
        return st.one_of(st.none(), pair)

    rules = draw(st.lists(st.tuples(bounds(), bounds(), bounds()), min_size=1, max_size=6))
    segments: list[dict[str, Any]] = []
    for i, (r, f, m) in enumerate(rules):
        segment: dict[str, Any] = {"name": f"S{i}"}
        for key, value in (("r", r), ("f", f), ("m", m)):
            if value is not None:
                segment[key] = value
        segments.append(segment)
    segments.append({"name": "Rest"})
    return {"name": "drawn", "segments": segments}


@PROPERTY
@given(user_schemes(), st.integers(3, 10))
def test_every_customer_gets_the_first_segment_that_matches(
    config: dict[str, Any], bins: int
) -> None:
    try:
        scheme = scheme_from_config(config)
    except ConfigError as exc:
        assume("can never match" not in str(exc))
        raise
    r, f, m = score_grid(bins)
    codes, _ = assign_segments(r, f, m, scheme=scheme, bins=bins)
    rg = rescale_scores(r, bins=bins, scale=scheme.scale)
    fg = rescale_scores(f, bins=bins, scale=scheme.scale, frequency=True)
    mg = rescale_scores(m, bins=bins, scale=scheme.scale)
    hits = np.array([rule.matches(rg, fg, mg) for rule in scheme.segments])
    first = hits.argmax(axis=0)
    assert hits.any(axis=0).all()
    np.testing.assert_array_equal(codes, np.array(scheme.codes)[first])
