"""The core-customer sections of the report: tiers, migration, early warnings, next-best
actions, recommendations and the capture comparison, in both languages."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from test_report_render import Node, kpis, parse, render, table_rows

from corecustomers.report import render_report
from corecustomers.report._labels import TEXT
from corecustomers.segments.migration import compare_snapshots, migration_series

Inputs = tuple[dict[str, Any], pa.Table, list[dict[str, Any]]]

CORE_SECTIONS = ["tiers", "migration", "alerts", "actions", "recommendations", "capture"]
EVIL = '<script>alert("x")</script>'
EVIL_IMG = "<img src=x onerror=alert(1)>"


def section(page: Node, key: str) -> Node:
    return page.find("section", data_section=key)


def sections(html: str) -> list[str]:
    return [s.attrs["data-section"] or "" for s in parse(html).find_all("section")]


def charts(html: str) -> set[str]:
    return {n.attrs["data-chart"] or "" for n in parse(html).walk() if "data-chart" in n.attrs}


def header(page: Node, key: str) -> list[str]:
    return [th.text() for th in page.find("table", data_table=key).find("thead").find_all("th")]


def footer(page: Node, key: str) -> list[str]:
    return [td.text() for td in page.find("table", data_table=key).find("tfoot").find_all("td")]


def column(customers: pa.Table, name: str) -> list[Any]:
    values: list[Any] = customers.column(name).to_pylist()
    return values


def top_core_ids(customers: pa.Table, n: int = 20) -> list[str]:
    rows = [
        (-score, cid)
        for cid, score, core in zip(
            column(customers, "customer_id"),
            column(customers, "core_score"),
            column(customers, "core"),
            strict=True,
        )
        if core
    ]
    return [cid for _, cid in sorted(rows)[:n]]


# --- presence -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "section_key", "expected_charts"),
    [
        ("tiers", "tiers", {"tiers"}),
        ("migration", "migration", {"migration"}),
        ("migration_series", "migration", {"migration-series"}),
        ("alerts", "alerts", {"alerts-holdout"}),
        ("actions", "actions", {"actions"}),
        ("recommendations", "recommendations", {"recommendations"}),
        ("capture", "capture", {"capture"}),
    ],
)
def test_each_core_section_appears_with_its_key_only(
    full_inputs: Inputs, key: str, section_key: str, expected_charts: set[str]
) -> None:
    summary, customers, quarantine = full_inputs
    for other in (
        "tiers",
        "migration",
        "migration_series",
        "alerts",
        "actions",
        "recommendations",
        "capture",
    ):
        if other != key:
            summary.pop(other)
    html = render((summary, customers, quarantine))
    assert [s for s in sections(html) if s in CORE_SECTIONS] == [section_key]
    assert (
        charts(html)
        & {
            "tiers",
            "migration",
            "migration-series",
            "alerts-holdout",
            "actions",
            "recommendations",
            "capture",
        }
        == expected_charts
    )


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_navigation_links_to_every_core_section(inputs: Callable[[str], Inputs], lang: str) -> None:
    page = parse(render(inputs(lang), lang))
    links = [a.attrs["href"] for a in page.find("nav").find_all("a")]
    for key in CORE_SECTIONS:
        assert f"#{key}" in links
        assert page.find("section", id=key)


# --- tiers --------------------------------------------------------------------------------


def test_tiers_show_size_revenue_and_value_of_each_tier_and_the_policy(
    full_inputs: Inputs,
) -> None:
    summary = full_inputs[0]
    page = parse(render(full_inputs))
    tiers = section(page, "tiers")
    rows = table_rows(page, "tiers")
    table = summary["tiers"]["table"]
    assert [row[0] for row in rows] == ["Strategic", "Key", "Ordinary"]
    assert [row[1] for row in rows] == ["✓", "✓", ""]
    assert [row[2] for row in rows] == [f"{t['customers']:,d}" for t in table]
    columns = header(page, "tiers")
    revenue, value = columns.index("Revenue"), columns.index("Lifetime value")
    assert [row[revenue] for row in rows] == [f"¥{t['revenue']:,.2f}" for t in table]
    assert [row[value] for row in rows] == [f"¥{t['clv']:,.2f}" for t in table]
    assert footer(page, "tiers")[2] == "600"
    cards = kpis(tiers)
    core = sum(t["customers"] for t in table[:2])
    assert cards["Core customers"] == f"{core:,d}"
    assert cards["Tier policy"] == "retail@1"
    assert "retail@1" in tiers.find("p", **{"class": "intro"}).text()
    assert "the Strategic and Key tiers" in tiers.find("p", **{"class": "intro"}).text()
    tips = [t.text() for t in page.find("div", data_chart="tiers").find_all("title")]
    assert any(tip.startswith("Strategic · Lifetime value: ¥") for tip in tips)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_top_core_customers_come_with_their_reason_and_action_in_the_report_language(
    inputs: Callable[[str], Inputs], lang: str
) -> None:
    summary, customers, quarantine = inputs(lang)
    page = parse(render((summary, customers, quarantine), lang))
    rows = table_rows(page, "core-customers")
    expected = top_core_ids(customers)
    assert [row[1] for row in rows] == expected
    by_id = {row["customer_id"]: row for row in customers.to_pylist()}
    other = "zh" if lang == "en" else "en"
    columns = header(page, "core-customers")
    why = columns.index({"en": "Why", "zh": "分级原因"}[lang])
    action = columns.index({"en": "Next-best action", "zh": "下一步行动"}[lang])
    for row in rows:
        customer = by_id[row[1]]
        assert row[why] == customer[f"tier_reason_{lang}"]
        assert customer[f"tier_reason_{other}"] not in row[why]
        assert row[action].startswith(customer[f"action_{lang}"])
        assert customer["due"].isoformat() in row[action]
    assert rows[0][2] in {"Strategic", "Key", "战略客户", "重点客户"}


def test_the_core_customers_note_names_the_ranking_and_why(inputs: Callable[[str], Inputs]) -> None:
    summary, customers, quarantine = inputs("en")
    summary.pop("capture")
    tiers = section(parse(render((summary, customers, quarantine))), "tiers")
    note = tiers.find_all("p", **{"class": "caption"})[-1].text()
    assert note.startswith("Ranked by the core score. The core score uses the combined ranking")
    assert summary["core_score"]["reason"] in note
    page = parse(render((summary, customers, quarantine), "zh"))
    note = section(page, "tiers").find_all("p", **{"class": "caption"})[-1].text()
    assert "核心评分采用组合排序" in note and "70.47%" in note and "因此采用组合排序" in note


def test_tier_labels_follow_a_custom_policy(full_inputs: Inputs) -> None:
    """Four tiers with the policy's own names; an unknown code is shown as it is."""
    summary, customers, quarantine = full_inputs
    names = {"strategic": "platinum", "key": "gold", "ordinary": "basic"}
    tier = pc.cast(customers.column("tier"), pa.string()).to_pylist()
    renamed = [names[t] if i % 50 else "mystery" for i, t in enumerate(tier)]
    customers = customers.set_column(
        customers.column_names.index("tier"), "tier", pa.array(renamed)
    )
    customers = customers.drop_columns(["core", "tier_label_en", "tier_label_zh"])
    summary["tiers"] = {
        "policy_version": "b2b@3",
        "core_tiers": ["platinum", "gold"],
        "table": [
            {"tier": "platinum", "label": "Platinum", "label_zh": "铂金客户", "customers": 30},
            {"tier": "gold", "label": "Gold", "label_zh": "黄金客户", "customers": 100},
            {"tier": "silver", "label": "Silver", "label_zh": "白银客户", "customers": 0},
            {"tier": "basic", "label": "Basic", "label_zh": "普通会员", "customers": 470},
        ],
    }
    for lang, expected in (
        ("en", ["Platinum", "Gold", "Silver", "Basic"]),
        ("zh", ["铂金客户", "黄金客户", "白银客户", "普通会员"]),
    ):
        page = parse(render((summary, customers, quarantine), lang))
        assert [row[0] for row in table_rows(page, "tiers")] == expected
        shown = {row[2] for row in table_rows(page, "core-customers")}
        assert shown <= set(expected[:2])
        legend = page.find("div", data_chart="tiers").text()
        assert all(label in legend for label in expected)
    # Not a core tier by the policy, so the unknown code never reaches the core list; but
    # the actions table counts it under its own name.
    page = parse(render((summary, customers, quarantine)))
    assert "mystery" in header(page, "actions")


# --- migration ----------------------------------------------------------------------------


def test_migration_matrix_rows_sum_to_the_tiers_before_and_columns_to_after(
    full_inputs: Inputs,
) -> None:
    summary, _, _ = full_inputs
    migration = summary["migration"]
    page = parse(render(full_inputs))
    assert header(page, "migration-customers") == [
        "Before \\ after",
        "Strategic",
        "Key",
        "Ordinary",
        "Left",
        "Total",
    ]
    rows = table_rows(page, "migration-customers")
    matrix = migration["matrix"]["customers"]
    for row, counts in zip(rows[:3], matrix, strict=True):
        assert [int(v.replace(",", "")) for v in row[1:4]] == counts
        assert int(row[5].replace(",", "")) == sum(counts) + 1  # one customer left each tier
    assert rows[3][0] == "New"
    new = migration["new"]["by_tier"]
    assert [int(v) for v in rows[3][1:4]] == [new[t] for t in ("strategic", "key", "ordinary")]
    totals = [int(v.replace(",", "")) for v in footer(page, "migration-customers")[1:]]
    after = [sum(r[j] for r in matrix) + new[t] for j, t in enumerate(migration["tiers"])]
    assert totals[:3] == after
    assert totals[-1] == migration["customers"]["both"] + 3 + migration["customers"]["new"]
    # the diagonal (customers who stayed) is emphasised
    table = page.find("table", data_table="migration-customers")
    strong = [td.text() for td in table.find_all("td") if "strong" in (td.attrs["class"] or "")]
    assert strong == [f"{matrix[i][i]:,d}" for i in range(3)]
    values = table_rows(page, "migration-value")
    assert values[0][1].count("→") == 1


def test_migration_shows_core_customers_won_kept_downgraded_and_lost(
    full_inputs: Inputs,
) -> None:
    summary, _, _ = full_inputs
    core = summary["migration"]["core"]
    cards = kpis(section(parse(render(full_inputs)), "migration"))
    assert cards["Won"] == str(core["won"]["customers"])
    assert cards["Kept"] == str(core["kept"]["customers"])
    assert cards["Downgraded"] == str(core["downgraded"]["customers"])
    assert cards["Lost"] == str(core["lost"]["customers"])
    assert cards["Core customers"] == str(core["after"]["customers"])
    assert cards["Revenue at risk"] == f"¥{summary['migration']['revenue_at_risk']:,.2f}"
    listed = table_rows(parse(render(full_inputs)), "migration-customers-list")
    assert {row[0] for row in listed} == {"Won", "Downgraded", "Lost"}


def test_migration_chart_draws_one_ribbon_per_flow(full_inputs: Inputs) -> None:
    summary, _, _ = full_inputs
    migration = summary["migration"]
    chart = parse(render(full_inputs)).find("div", data_chart="migration")
    ribbons = chart.find_all("path")
    matrix = migration["matrix"]["customers"]
    flows = sum(1 for row in matrix for v in row if v > 0)
    flows += sum(1 for v in migration["gone"]["by_tier"].values() if v > 0)
    flows += sum(1 for v in migration["new"]["by_tier"].values() if v > 0)
    assert len(ribbons) == flows
    tips = {p.find("title").text() for p in ribbons}
    assert f"Strategic → Key: {matrix[0][1]} customers" in tips
    colours = {p.attrs["fill"] for p in ribbons}
    assert {"#059669", "#dc2626", "#94a3b8"} <= colours  # up, down, stayed


def test_migration_series_adds_its_chart_and_table(full_inputs: Inputs) -> None:
    summary, customers, quarantine = full_inputs
    html = render((summary, customers, quarantine))
    page = parse(html)
    series = summary["migration_series"]["series"]
    rows = table_rows(page, "migration-series")
    assert [row[0] for row in rows] == series["to"]
    assert [int(row[2]) for row in rows] == series["won"]
    tips = [t.text() for t in page.find("div", data_chart="migration-series").find_all("title")]
    assert "2024-06-30 · Lost: 6" in tips
    summary.pop("migration_series")
    assert "migration-series" not in charts(render((summary, customers, quarantine)))


def test_a_malformed_migration_still_renders_what_it_can(full_inputs: Inputs) -> None:
    summary, customers, quarantine = full_inputs
    summary["migration"] = {
        "tiers": ["strategic", "key", "ordinary"],
        "matrix": {"customers": [[1]]},
    }
    summary["migration_series"] = {"dates": ["2024-01-31"], "series": {}}
    for lang in ("en", "zh"):
        html = render((summary, customers, quarantine), lang)
        assert "migration" in sections(html)
        assert not {"migration", "migration-series"} & charts(html)


def test_the_real_compare_snapshots_output_renders() -> None:
    """The section reads what ``segments.migration`` writes, not only the test fixture."""
    tiers, core = ["strategic", "key", "ordinary"], ["strategic", "key"]
    ids = [f"c{i}" for i in range(12)]
    jan = pa.table(
        {
            "customer_id": ids[:10],
            "tier": ["strategic"] * 3 + ["key"] * 3 + ["ordinary"] * 4,
            "clv": [900.0, 800.0, 700.0, 300.0, 250.0, 200.0, 20.0, 15.0, 10.0, 5.0],
        }
    )
    feb = pa.table(
        {
            "customer_id": ids[1:],
            "tier": [
                *("strategic", "key", "strategic", "key", "ordinary", "key"),
                *("ordinary", "ordinary", "ordinary", "strategic", "key"),
            ],
            "clv": [820.0, 500.0, 400.0, 260.0, 30.0, 90.0, 14.0, 9.0, 4.0, 600.0, 100.0],
        }
    )
    mar = feb.set_column(1, "tier", pa.array(["key"] * 11))
    result = compare_snapshots(
        jan,
        feb,
        tiers=tiers,
        core_tiers=core,
        before_date=dt.date(2024, 1, 31),
        after_date=dt.date(2024, 2, 29),
    )
    series = migration_series(
        [(dt.date(2024, 1, 31), jan), (dt.date(2024, 2, 29), feb), (dt.date(2024, 3, 31), mar)],
        tiers=tiers,
        core_tiers=core,
    )
    customers = pa.table(
        {
            "customer_id": ids[1:],
            "frequency": [1] * 11,
            "monetary_value": [10.0] * 11,
            "total_spend": [20.0] * 11,
            "days_since_last_purchase": [3] * 11,
            "r_score": [3] * 11,
            "f_score": [3] * 11,
            "m_score": [3] * 11,
            "rfm_segment": ["loyal"] * 11,
            "abc_class": ["A"] * 11,
        }
    )
    summary = {"migration": result, "migration_series": series}
    for lang in ("en", "zh"):
        page = parse(render_report(summary, customers, lang=lang))
        rows = table_rows(page, "migration-customers")
        assert [[int(v) for v in row[1:4]] for row in rows[:3]] == result["matrix"]["customers"]
        assert len(table_rows(page, "migration-series")) == 2
        cards = kpis(section(page, "migration"))
        assert cards[{"en": "Lost", "zh": "流失"}[lang]] == str(result["core"]["lost"]["customers"])


# --- early warnings -----------------------------------------------------------------------


def test_alert_list_is_the_core_customers_with_the_most_value_at_stake(
    full_inputs: Inputs,
) -> None:
    _, customers, _ = full_inputs
    page = parse(render(full_inputs))
    rows = table_rows(page, "alerts")
    alerted = [
        (-row["value_at_stake"], row["customer_id"])
        for row in customers.to_pylist()
        if row["alert"] and row["core"]
    ]
    assert len(alerted) > 20
    assert [row[1] for row in rows] == [cid for _, cid in sorted(alerted)[:20]]
    by_id = {row["customer_id"]: row for row in customers.to_pylist()}
    columns = header(page, "alerts")
    assert columns[:4] == ["#", "Customer", "Tier", "Value at stake"]
    why = columns.index("Why the alert")
    for row in rows:
        assert row[why] == by_id[row[1]]["alert_reason_en"]
        assert row[2] in {"Strategic", "Key"}
    title = section(page, "alerts").find_all("h3")[-1].text()
    assert title == "The 20 alerted core customers with the most value at stake"


@pytest.mark.parametrize(
    ("lang", "alerted", "quiet"),
    [
        ("en", "Active in the holdout: alerted", "Active in the holdout: not alerted"),
        ("zh", "留出期活跃率：预警客户", "留出期活跃率：未预警客户"),
    ],
)
def test_alert_holdout_shows_both_activity_rates(
    inputs: Callable[[str], Inputs], lang: str, alerted: str, quiet: str
) -> None:
    page = parse(render(inputs(lang), lang))
    cards = kpis(section(page, "alerts"))
    assert cards[alerted] == "33.2%"
    assert cards[quiet] == "73.0%"
    chart = page.find("div", data_chart="alerts-holdout").text()
    assert "33.2%" in chart and "73.0%" in chart
    assert "33.2%" in section(page, "alerts").find("p", **{"class": "note note-ok"}).text()


def test_without_a_holdout_the_warnings_show_the_list_only(full_inputs: Inputs) -> None:
    summary, customers, quarantine = full_inputs
    del summary["alerts"]["holdout"]
    html = render((summary, customers, quarantine))
    assert "alerts-holdout" not in charts(html)
    assert len(table_rows(parse(html), "alerts")) == 20


def test_no_alerted_core_customer_says_so(full_inputs: Inputs) -> None:
    summary, customers, quarantine = full_inputs
    quiet = pa.array([False] * customers.num_rows)
    customers = customers.set_column(customers.column_names.index("alert"), "alert", quiet)
    alerts = section(parse(render((summary, customers, quarantine))), "alerts")
    assert "No core customer is alerted." in alerts.text()


# --- actions, recommendations, capture ----------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_actions_are_counted_with_label_channel_deadline_and_tier(
    inputs: Callable[[str], Inputs], lang: str
) -> None:
    summary, customers, quarantine = inputs(lang)
    page = parse(render((summary, customers, quarantine), lang))
    rows = table_rows(page, "actions")
    counts = summary["actions"]
    assert [row[1] for row in rows] == sorted(counts, key=lambda c: (-counts[c], c))
    codes, names = column(customers, "action_code"), column(customers, f"action_{lang}")
    labels = dict(zip(codes, names, strict=True))
    for row in rows:
        assert row[0] == labels[row[1]]
        assert int(row[4].replace(",", "")) == counts[row[1]]
        assert sum(int(v.replace(",", "")) for v in row[6:9]) == counts[row[1]]
    visit = next(row for row in rows if row[1] == "QBR")
    assert visit[2:4] == {"en": ["Visit", "30 days"], "zh": ["上门拜访", "30 天"]}[lang]
    assert footer(page, "actions")[4] == "600"


@pytest.mark.parametrize(
    ("lang", "five", "ten"),
    [
        ("en", ("31.9%", "popularity baseline 30.3% (+1.6 points)"), "(−0.7 points)"),
        ("zh", ("31.9%", "热销基准 30.3%（+1.6 个百分点）"), "（−0.7 个百分点）"),
    ],
)
def test_recommendations_are_measured_against_popularity(
    inputs: Callable[[str], Inputs], lang: str, five: tuple[str, str], ten: str
) -> None:
    rec = section(parse(render(inputs(lang), lang)), "recommendations")
    cards = {card.find("div", **{"class": "kpi-label"}).text(): card for card in _cards(rec)}
    label = {"en": "Hit rate at 5", "zh": "前 5 项推荐命中率"}[lang]
    card = cards[label]
    assert card.find("div", **{"class": "kpi-value"}).text() == five[0]
    assert card.find("div", **{"class": "kpi-note"}).text() == five[1]
    assert ten in rec.text()


def _cards(node: Node) -> list[Node]:
    return [n for n in node.walk() if (n.attrs.get("class") or "").split()[:1] == ["kpi"]]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_capture_compares_the_rankings_with_the_best_possible(
    inputs: Callable[[str], Inputs], lang: str
) -> None:
    summary, customers, quarantine = inputs(lang)
    page = parse(render((summary, customers, quarantine), lang))
    rows = table_rows(page, "capture")
    assert [row[1] for row in rows] == ["66.3%", "66.3%", "69.3%", "94.3%"]
    assert rows[0][0] == {"en": "Historic spend", "zh": "历史消费金额"}[lang]
    assert rows[2][0] == {"en": "Combined ranking (used)", "zh": "组合排序（采用）"}[lang]
    assert rows[2][2] == {"en": "+3.0 points", "zh": "+3.0 个百分点"}[lang]
    note = section(page, "capture").find("p", **{"class": "note note-info"}).text()
    if lang == "en":
        assert summary["capture"]["reason"] in note
    else:
        assert "组合排序前 20% 的客户贡献了 70.47% 的收入" in note
        assert "in the time-shifted" not in note


# --- language and escaping ----------------------------------------------------------------


def _english_fragments() -> set[str]:
    """Literal pieces of the English labels that a Chinese report must not contain."""
    chinese = " ".join(zh for _, zh in TEXT.values())
    found = set()
    for english, _ in TEXT.values():
        for piece in re.split(r"\{[^}]*\}", english):
            piece = piece.strip(" .,:;()·—-")
            if len(re.findall(r"[A-Za-z]", piece)) >= 4 and piece not in chinese:
                found.add(piece)
    return found


def test_chinese_core_sections_show_no_english_label(inputs: Callable[[str], Inputs]) -> None:
    page = parse(render(inputs("zh"), "zh"))
    fragments = _english_fragments()
    for key in CORE_SECTIONS:
        node = section(page, key)
        visible = node.text()
        leaked = sorted(f for f in fragments if f in visible)
        assert leaked == [], (key, leaked)
        labels = [
            n.text()
            for n in node.walk()
            if n.tag in ("h2", "h3", "th", "figcaption", "text")
            or (n.attrs.get("class") or "") in ("kpi-label", "kpi-note", "intro", "caption")
        ]
        words = {w for label in labels for w in re.findall(r"[A-Za-z]{3,}", label)}
        assert words <= {"ABC", "CLV", "BTYD", "Gamma", "retail"}, (key, words)


def test_core_sections_escape_reasons_ids_and_labels(full_inputs: Inputs) -> None:
    summary, customers, quarantine = full_inputs
    ids = column(customers, "customer_id")
    first = top_core_ids(customers, 1)[0]
    alerted = next(r["customer_id"] for r in customers.to_pylist() if r["alert"])
    evil_ids = [EVIL if cid == first else cid for cid in ids]
    customers = customers.set_column(0, "customer_id", pa.array(evil_ids))

    def replace(name: str, value: str, where: str) -> pa.Table:
        values = [
            value if cid == where else v
            for cid, v in zip(evil_ids, column(customers, name), strict=True)
        ]
        return customers.set_column(customers.column_names.index(name), name, pa.array(values))

    customers = replace("tier_reason_en", EVIL_IMG, EVIL)
    customers = replace("action_en", EVIL_IMG, EVIL)
    customers = replace("recommended_products", f"{EVIL}|{EVIL_IMG}", EVIL)
    customers = replace("alert_reason_en", EVIL_IMG, alerted)
    summary["tiers"]["table"][0]["label"] = EVIL_IMG
    summary["tiers"]["policy_version"] = EVIL
    summary["migration"]["customers_list"]["won"][0]["customer_id"] = EVIL
    summary["capture"]["reason"] = EVIL
    summary["actions"][EVIL] = 3
    html = render((summary, customers, quarantine))
    page = parse(html)
    assert not {"script", "img"} & {node.tag for node in page.walk()}
    for node in page.walk():
        assert not any(name.startswith("on") for name in node.attrs), node
    assert "<script" not in html.lower()
    top = table_rows(page, "core-customers")[0]
    assert top[1] == EVIL and EVIL_IMG in top
    assert EVIL_IMG in page.find("div", data_chart="tiers").text()
    assert EVIL in section(page, "tiers").text()
    assert any(row[1] == EVIL for row in table_rows(page, "migration-customers-list"))
    assert any(EVIL_IMG in row for row in table_rows(page, "alerts"))
    assert EVIL in section(page, "capture").text()
    assert any(row[1] == EVIL for row in table_rows(page, "actions"))


# --- tolerance ----------------------------------------------------------------------------


def test_core_sections_render_from_the_summary_alone(full_inputs: Inputs) -> None:
    """Customers without the new columns: the sections keep their figures, not the lists."""
    summary, customers, quarantine = full_inputs
    keep = [name for name in customers.column_names if name in _BASE_COLUMNS]
    html = render((summary, customers.select(keep), quarantine))
    page = parse(html)
    assert [s for s in sections(html) if s in CORE_SECTIONS] == CORE_SECTIONS
    for key in ("core-customers", "alerts"):
        assert not page.find_all("table", data_table=key)
    assert [row[0] for row in table_rows(page, "actions")] == [
        row[1] for row in table_rows(page, "actions")
    ]


_BASE_COLUMNS = {
    "customer_id",
    "frequency",
    "monetary_value",
    "total_spend",
    "days_since_last_purchase",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
    "abc_class",
    "clv",
}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_malformed_core_keys_do_not_break_the_report(full_inputs: Inputs, lang: str) -> None:
    summary, customers, quarantine = full_inputs
    summary.update(
        tiers={"table": None, "core_tiers": "strategic"},
        alerts={"holdout": {"alerted_active_rate": "n/a"}},
        actions=[],
        recommendations={"hit_rate_at_x": 0.5, "baseline": None},
        capture={"capture": None},
        core_score=None,
        migration={"matrix": None},
        migration_series=None,
    )
    html = render((summary, customers, quarantine), lang)
    assert [s for s in sections(html) if s in CORE_SECTIONS] == CORE_SECTIONS
    not_available = {"en": "Not available for this run.", "zh": "本次分析无此数据。"}[lang]
    for key in ("tiers", "actions", "capture", "migration"):
        assert not_available in section(parse(html), key).text()


def test_a_long_weekly_series_thins_its_labels(full_inputs: Inputs) -> None:
    summary, customers, quarantine = full_inputs
    weeks = 104
    dates = [(dt.date(2023, 1, 1) + dt.timedelta(weeks=k)).isoformat() for k in range(weeks)]
    steps = weeks - 1
    summary["migration_series"] = {
        "dates": dates,
        "series": {
            "core": [150] * steps,
            **{flow: [k % 7 for k in range(steps)] for flow in ("won", "downgraded", "lost")},
            "kept": [140] * steps,
            "revenue_at_risk": [10.0] * steps,
            "tier_sizes": {
                "strategic": [30] * weeks,
                "key": [120] * weeks,
                "ordinary": [450] * weeks,
            },
        },
    }
    chart = parse(render((summary, customers, quarantine))).find(
        "div", data_chart="migration-series"
    )
    texts = [t.text() for t in chart.find_all("text")]
    shown = [t for t in texts if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t)]
    assert 4 <= len(shown) <= 20 and shown[0] == dates[0]
    assert texts.count("150") == 1  # the axis tick only: no totals over 104 narrow bars
    assert (
        len(table_rows(parse(render((summary, customers, quarantine))), "migration-series"))
        == steps
    )
