"""The HTML report: sections, languages, escaping, optional parts, offline-ness."""

from __future__ import annotations

import doctest
import re
import string
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import corecustomers.report._render
from corecustomers.errors import ConfigError, InputError
from corecustomers.report import render_report, write_report
from corecustomers.report._labels import TEXT

Inputs = tuple[dict[str, Any], pa.Table, list[dict[str, Any]]]

SECTIONS = [
    "overview",
    "concentration",
    "segments",
    "rfm",
    "abc",
    "top-customers",
    "clv",
    "tiers",
    "migration",
    "alerts",
    "actions",
    "recommendations",
    "models",
    "holdout",
    "capture",
    "data-quality",
    "settings",
]
#: The sections of the core customers, each shown only with its summary key.
CORE_SECTIONS = ("tiers", "migration", "alerts", "actions", "recommendations", "capture")
CORE_CHARTS = {
    "tiers",
    "migration",
    "migration-series",
    "alerts-holdout",
    "actions",
    "recommendations",
    "capture",
}
OPTIONAL = ("clv", "models", "holdout", *CORE_SECTIONS)
#: The summary keys of the core-customer sections (``migration_series`` adds a chart).
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
CHARTS = {
    "lorenz",
    "segments",
    "rf-heatmap",
    "abc",
    "clv",
    "holdout-tracking",
    "holdout-frequency",
    *CORE_CHARTS,
}
HEADINGS = {
    "en": [
        "Headline numbers",
        "Revenue concentration (Pareto)",
        "RFM segments",
        "Recency × Frequency",
        "ABC classification",
        "Top customers",
        "Customer lifetime value",
        "Customer tiers",
        "Tier migration",
        "Early warnings",
        "Next-best actions",
        "Personal recommendations",
        "Fitted models",
        "Holdout validation",
        "Finding the core customers: ranking methods compared",
        "Data quality",
        "Settings used",
    ],
    "zh": [
        "核心指标",
        "收入集中度（帕累托分析）",
        "RFM 客户分层",
        "最近消费（R）× 消费频率（F）",
        "ABC 分类",
        "头部客户",
        "客户生命周期价值（CLV）",
        "客户分级",
        "客户层级迁移",
        "流失预警",
        "下一步行动建议",
        "个性化推荐",
        "模型拟合结果",
        "留出期验证",
        "核心客户识别方法对比",
        "数据质量",
        "分析参数",
    ],
}
VOID = {"meta", "link", "br", "img", "input", "hr", "col", "source", "wbr"}


# --- a small DOM, so the tests talk about elements rather than substrings ---------------


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None]
    children: list[Node] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        return [
            node
            for node in self.walk()
            if (tag is None or node.tag == tag)
            and all(node.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    def find(self, tag: str | None = None, **attrs: str) -> Node:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag}> with {attrs}"
        return found[0]

    def text(self) -> str:
        parts = list(self.texts)
        for child in self.children:
            parts.append(child.text())
        return " ".join(p.strip() for p in parts if p.strip())


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].texts.append(data)


def parse(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def table_rows(page: Node, key: str) -> list[list[str]]:
    table = page.find("table", data_table=key)
    body = table.find("tbody")
    return [[td.text() for td in tr.find_all("td")] for tr in body.find_all("tr")]


def kpis(section: Node) -> dict[str, str]:
    """Headline numbers in ``section``: label -> value."""
    cards = [n for n in section.walk() if (n.attrs.get("class") or "").split()[:1] == ["kpi"]]
    return {
        card.find("div", **{"class": "kpi-label"}).text(): card.find(
            "div", **{"class": "kpi-value"}
        ).text()
        for card in cards
    }


#: The elements that draw data in a chart (a rect counts only with its tooltip: the heat
#: map's colour key is a strip of rects without one); axes, gridlines and text are lines
#: and text elements, and a legend's swatches sit in ``<g class="legend">``.
MARK_TAGS = {"polygon", "path", "rect", "circle", "polyline", "ellipse"}


def data_marks(node: Node) -> int:
    """How many data marks ``node`` holds outside its legends."""
    if node.tag == "g" and "legend" in (node.attrs.get("class") or "").split():
        return 0
    own = node.tag in MARK_TAGS and (
        node.tag != "rect" or any(c.tag == "title" for c in node.children)
    )
    return int(own) + sum(data_marks(child) for child in node.children)


def render(inputs: Inputs, lang: str = "en") -> str:
    summary, customers, quarantine = inputs
    return render_report(summary, customers, lang=lang, quarantine=quarantine)  # type: ignore[arg-type]


# --- sections and languages -------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_section_and_chart_is_present_in_both_languages(
    inputs: Callable[[str], Inputs], lang: str
) -> None:
    page = parse(render(inputs(lang), lang))
    assert page.find("html").attrs["lang"] == {"en": "en", "zh": "zh-CN"}[lang]
    assert [s.attrs["data-section"] for s in page.find_all("section")] == SECTIONS
    assert [h.text() for h in page.find_all("h2")] == HEADINGS[lang]
    charts = [node.attrs["data-chart"] or "" for node in page.walk() if "data-chart" in node.attrs]
    assert sorted(charts) == sorted(CHARTS)
    for node in page.walk():
        if "data-chart" in node.attrs:
            svg = node.find("svg")
            assert svg.attrs["viewbox"] and svg.attrs["role"] == "img"
            marks = data_marks(svg)
            assert marks >= 2, f"chart {node.attrs['data-chart']} has {marks} data marks"


def test_charts_without_data_marks_fail_the_data_mark_count(full_inputs: Inputs) -> None:
    """Negative control: with every data mark removed (axes, gridlines, text and legends
    left), no chart has a data mark, though most still have more than 20 elements."""
    html = render(full_inputs)
    marks = "|".join(sorted(MARK_TAGS))
    stripped = re.sub(rf"<({marks})\b[^>]*?(/>|>.*?</\1>)", "", html, flags=re.S)
    page = parse(stripped)
    charts = [node for node in page.walk() if "data-chart" in node.attrs]
    assert len(charts) == len(CHARTS)
    assert {node.attrs["data-chart"]: data_marks(node) for node in charts} == dict.fromkeys(
        CHARTS, 0
    )
    assert sum(len(list(node.find("svg").walk())) > 20 for node in charts) >= 9


def test_chinese_report_has_no_english_headings_or_labels(inputs: Callable[[str], Inputs]) -> None:
    html = render(inputs("zh"), "zh")
    page = parse(html)
    visible = page.find("body").text()
    for english in HEADINGS["en"] + ["Customers", "Revenue", "Share of revenue", "Total spend"]:
        assert english not in visible
    assert "客户数" in visible and "总收入" in visible and "收入占比" in visible


def test_every_label_exists_in_both_languages_with_the_same_fields() -> None:
    fields = string.Formatter()
    for key, (english, chinese) in TEXT.items():
        assert english.strip() and chinese.strip(), key
        en_fields = {name for _, name, _, _ in fields.parse(english) if name}
        zh_fields = {name for _, name, _, _ in fields.parse(chinese) if name}
        assert en_fields == zh_fields, key


def test_numbers_have_thousands_separators(full_inputs: Inputs) -> None:
    summary, customers, quarantine = full_inputs
    summary.update(customers=1_234_567, revenue=98_765_432.1, rows_read=12_345_678)
    page = parse(render((summary, customers, quarantine)))
    cards = kpis(page.find("section", data_section="overview"))
    assert cards["Customers"] == "1,234,567"
    assert cards["Revenue"] == "¥98,765,432"
    assert cards["Rows read"] == "12,345,678"
    assert cards["Revenue from the top 20%"].endswith("%")


def test_header_names_source_dates_and_when_it_was_generated(full_inputs: Inputs) -> None:
    meta = parse(render(full_inputs)).find("dl", **{"class": "meta"})
    pairs = dict(
        zip(
            [d.text() for d in meta.find_all("dt")],
            [d.text() for d in meta.find_all("dd")],
            strict=True,
        )
    )
    assert pairs == {
        "Source": "data/transactions_2024.csv",
        "As-of date": "2024-06-30",
        "Calibration end": "2023-12-31",
        "Time unit": "Week",
        "Generated": "2024-07-01 08:30 UTC",
    }


@pytest.mark.parametrize(
    ("scheme", "lang", "shown"),
    [
        ("named", "en", "(11 named segments, from Champions to Lost)"),
        ("cn8", "zh", "（八类客户模型）"),
        ("my-scheme", "en", "(scheme: my-scheme)"),
    ],
)
def test_segment_scheme_is_named_in_words(
    full_inputs: Inputs, scheme: str, lang: str, shown: str
) -> None:
    summary, customers, quarantine = full_inputs
    summary["segments"]["scheme"] = scheme
    section = parse(render((summary, customers, quarantine), lang)).find(
        "section", data_section="segments"
    )
    assert shown in section.find("p", **{"class": "intro"}).text()


def test_abc_on_margin_speaks_of_margin(full_inputs: Inputs) -> None:
    summary, customers, quarantine = full_inputs
    summary["abc"]["value"] = "margin"
    page = parse(render((summary, customers, quarantine)))
    section = page.find("section", data_section="abc")
    header = [th.text() for th in page.find("table", data_table="abc").find_all("th")]
    assert header[-2:] == ["Margin", "Share of margin"]
    assert "first 80% of margin" in section.text()
    assert "Margin" in section.find("div", data_chart="abc").text()


def test_top_customers_are_the_twenty_largest_spenders_with_segment_labels(
    full_inputs: Inputs,
) -> None:
    summary, customers, _ = full_inputs
    rows = table_rows(parse(render(full_inputs)), "top-customers")
    spend = customers.column("total_spend").to_pylist()
    ids = customers.column("customer_id").to_pylist()
    expected = [
        cid for _, cid in sorted(zip(spend, ids, strict=True), key=lambda p: (-p[0], p[1]))
    ][:20]
    assert [row[1] for row in rows] == expected
    assert [row[0] for row in rows] == [str(i) for i in range(1, 21)]
    labels = {row["label"] for row in summary["segments"]["table"]}
    assert {row[9] for row in rows} <= labels  # codes shown as the scheme's labels


def test_heat_map_counts_every_scored_customer_once(full_inputs: Inputs) -> None:
    customers = full_inputs[1]
    page = parse(render(full_inputs))
    tips = [t.text() for t in page.find("div", data_chart="rf-heatmap").find_all("title")]
    cells = {
        (int(m["r"]), int(m["f"])): (int((m["n"] or "0").replace(",", "")), m["rest"])
        for t in tips
        if (
            m := re.match(
                r"R (?P<r>\d) · F (?P<f>\d): (?:(?P<n>[\d,]+)|no) customers(?P<rest>.*)", t
            )
        )
    }
    assert len(cells) == 25
    assert sum(n for n, _ in cells.values()) == customers.num_rows
    # A cell has a mean value exactly when one of its customers bought more than once.
    rows = zip(
        customers.column("r_score").to_pylist(),
        customers.column("f_score").to_pylist(),
        customers.column("frequency").to_pylist(),
        strict=True,
    )
    repeat = {(r, f) for r, f, frequency in rows if frequency > 0}
    for key, (n, rest) in cells.items():
        assert ("no repeat orders" in rest) == (key not in repeat and n > 0), key


# --- escaping ---------------------------------------------------------------------------

EVIL = '<script>alert("x")</script>'
EVIL_IMG = "<img src=x onerror=alert(1)>"


def test_user_strings_are_escaped_everywhere(full_inputs: Inputs) -> None:
    summary, customers, quarantine = full_inputs
    ids = customers.column("customer_id").to_pylist()
    spend = customers.column("total_spend").to_pylist()
    ids[spend.index(max(spend))] = EVIL
    customers = customers.set_column(0, "customer_id", pa.array(ids))
    summary["source"] = f'"><svg onload=alert(1)>{EVIL}'
    summary["currency"] = "<b>"
    summary["segments"]["table"][0]["label"] = EVIL_IMG
    summary["segments"]["scheme"] = EVIL
    summary["warnings"][0]["message"] = EVIL
    summary["quarantine_reasons"][EVIL] = 1
    summary["settings"]["note"] = EVIL_IMG
    summary["models"]["transaction"]["params"][EVIL] = 1.0
    quarantine.append(
        {"source_row": EVIL, "reason": EVIL, "message": EVIL_IMG, "raw": {EVIL: EVIL_IMG}}
    )
    html = render((summary, customers, quarantine))
    page = parse(html)
    tags = {node.tag for node in page.walk()}
    assert "script" not in tags and "img" not in tags and "b" not in tags
    for node in page.walk():
        assert not any(name.startswith("on") for name in node.attrs), node
    assert "<script" not in html.lower()
    # The strings are shown, as text: in the top-customers table and in the segments chart.
    assert table_rows(page, "top-customers")[0][1] == EVIL
    assert EVIL_IMG in page.find("div", data_chart="segments").text()
    assert "&lt;script&gt;" in html


# --- optional sections ------------------------------------------------------------------


def _sections(html: str) -> list[str]:
    return [s.attrs["data-section"] or "" for s in parse(html).find_all("section")]


def _charts(html: str) -> set[str]:
    return {n.attrs["data-chart"] or "" for n in parse(html).walk() if "data-chart" in n.attrs}


def test_optional_sections_are_absent_without_their_inputs(minimal_inputs: Inputs) -> None:
    html = render(minimal_inputs)
    assert _sections(html) == [s for s in SECTIONS if s not in OPTIONAL]
    assert _charts(html) == {"lorenz", "segments", "rf-heatmap", "abc"}
    header = [
        th.text() for th in parse(html).find("table", data_table="top-customers").find_all("th")
    ]
    assert "CLV" not in header and "P(active)" not in header


@pytest.mark.parametrize(
    ("key", "section", "charts"),
    [
        ("models", "models", set()),
        ("holdout", "holdout", {"holdout-tracking", "holdout-frequency"}),
        ("clv", "clv", {"clv"}),
    ],
)
def test_each_optional_section_appears_with_its_key_only(
    full_inputs: Inputs, key: str, section: str, charts: set[str]
) -> None:
    summary, customers, quarantine = full_inputs
    keep = {"models", "holdout"} & {key}
    for optional in ("models", "holdout", *CORE_KEYS):
        if optional not in keep:
            summary.pop(optional)
    if key != "clv":
        customers = customers.drop_columns(["clv"])
    html = render((summary, customers, quarantine))
    optional_sections = [s for s in _sections(html) if s in OPTIONAL]
    assert optional_sections == [section]
    assert _charts(html) == {"lorenz", "segments", "rf-heatmap", "abc"} | charts


def test_models_section_shows_parameters_standard_errors_and_log_likelihood(
    full_inputs: Inputs,
) -> None:
    page = parse(render(full_inputs))
    models = page.find("section", data_section="models")
    titles = [h.text() for h in models.find_all("h3")]
    assert titles == [
        "Transaction model · BG/NBD",
        "Spend model · Gamma-Gamma",
        "Model selection · lowest holdout MAE wins",
    ]
    assert table_rows(page, "model-transaction")[0] == ["r", "0.2426", "0.0126"]
    assert "Log-likelihood: -9,582.43" in models.text()
    assert "Converged: yes" in models.text()
    assert "Spend–frequency correlation: 0.113" in models.text()
    selection = table_rows(page, "model-selection")
    assert [(row[0], row[-1]) for row in selection] == [
        ("BG/NBD", "✓"),
        ("MBG/NBD", ""),
        ("Pareto/NBD", ""),
    ]


def test_clv_section_states_its_horizon_discount_and_margin(full_inputs: Inputs) -> None:
    for lang, expected in (
        ("en", "Over the next 12 months, discounted at 10.0% a year, with a margin of 100%."),
        ("zh", "身上。按未来 12 个月计算，年折现率 10.0%，利润率 100%。"),
    ):
        page = parse(render(full_inputs, lang))
        intro = page.find("section", data_section="clv").find("p", **{"class": "intro"})
        assert intro.text().endswith(expected)


def test_holdout_shows_how_much_the_models_top_customers_captured(full_inputs: Inputs) -> None:
    holdout = kpis(parse(render(full_inputs)).find("section", data_section="holdout"))
    assert holdout["Holdout purchases by the model's top 20%"] == "59.7%"
    assert holdout["Total error"] == "-4.1%"


def test_tracking_chart_says_whether_it_is_cumulative(full_inputs: Inputs) -> None:
    summary, customers, quarantine = full_inputs

    def title() -> str:
        html = render((summary, customers, quarantine))
        figure = next(
            f
            for f in parse(html).find_all("figure")
            if f.find_all("div", data_chart="holdout-tracking")
        )
        return figure.find("figcaption").text()

    assert title() == "Cumulative repeat purchases in the holdout"
    # The per-period shape of the input contract: weekly counts that go up and down.
    summary["holdout"]["tracking"] = {
        "period": ["2024-W01", "2024-W02", "2024-W03"],
        "actual": [40.0, 38.0, None],
        "predicted": [39.0, 39.5, 40.1],
    }
    assert title() == "Repeat purchases per week"


def test_partial_holdout_shows_what_it_has(full_inputs: Inputs) -> None:
    summary, customers, quarantine = full_inputs
    summary["holdout"] = {"mae": 0.5}
    html = render((summary, customers, quarantine))
    assert "holdout" in _sections(html)
    assert not {"holdout-tracking", "holdout-frequency"} & _charts(html)


# --- data quality -----------------------------------------------------------------------


def test_quarantine_shows_reasons_with_counts_and_a_few_examples_each(
    full_inputs: Inputs,
) -> None:
    summary, customers, quarantine = full_inputs
    quarantine += [
        {"source_row": 5000 + i, "reason": "non_numeric_amount", "message": "m", "raw": {"a": "b"}}
        for i in range(10)
    ]
    page = parse(render((summary, customers, quarantine)))
    reasons = table_rows(page, "quarantine-reasons")
    assert [(r[0], r[1]) for r in reasons] == [
        ("unparseable_date", "311"),
        ("missing_customer_id", "120"),
        ("non_numeric_amount", "37"),
    ]
    examples = table_rows(page, "quarantine-examples")
    assert sum(1 for r in examples if r[1] == "non_numeric_amount") == 3
    assert table_rows(page, "warnings")[0][:2] == ["duplicate_rows", "58"]


def test_clean_data_says_so(minimal_inputs: Inputs) -> None:
    summary, customers, _ = minimal_inputs
    summary.update(quarantine_reasons={}, warnings=[], rows_quarantined=0)
    quality = parse(render((summary, customers, []))).find("section", data_section="data-quality")
    assert "No rows were quarantined and no warnings were raised." in quality.text()


# --- offline, deterministic, robust -----------------------------------------------------

REMOTE = re.compile(r"""(?:src|href|xlink:href|action)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_references_nothing_on_the_network(
    inputs: Callable[[str], Inputs], lang: str
) -> None:
    html = render(inputs(lang), lang)
    assert not REMOTE.search(html)
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"url\(|@import", html, re.I)
    tags = {node.tag for node in parse(html).walk()}
    assert not tags & {"script", "link", "iframe", "object", "embed", "img"}
    csp = parse(html).find("meta", http_equiv="Content-Security-Policy").attrs["content"] or ""
    assert "default-src 'none'" in csp


def test_rendering_is_deterministic(full_inputs: Inputs) -> None:
    assert render(full_inputs) == render(full_inputs)


def test_lorenz_curve_may_come_in_either_orientation(full_inputs: Inputs) -> None:
    summary, customers, quarantine = full_inputs
    ascending = summary["concentration"]["lorenz"]
    before = render((summary, customers, quarantine))
    # The same curve read from the top: the largest spenders first, above the diagonal.
    summary["concentration"]["lorenz"] = [[1 - x, 1 - y] for x, y in reversed(ascending)]
    after = render((summary, customers, quarantine))
    assert _chart_markup(before, "lorenz") == _chart_markup(after, "lorenz")


def _chart_markup(html: str, key: str) -> str:
    match = re.search(rf'<div class="chart" data-chart="{key}">(.*?)</div>', html, re.S)
    assert match
    return match.group(1)


def test_an_empty_analysis_still_renders(minimal_inputs: Inputs) -> None:
    summary, customers, _ = minimal_inputs
    empty = customers.slice(0, 0)
    summary.update(customers=0, revenue=0.0)
    summary["concentration"] = {"top_20pct_share": None, "gini": None, "lorenz": None}
    summary["segments"]["table"] = []
    summary["abc"]["table"] = []
    for lang in ("en", "zh"):
        html = render_report(summary, empty, lang=lang)
        assert _sections(html)[:2] == ["overview", "concentration"]
        assert "lorenz" in _charts(html) and "rf-heatmap" in _charts(html)


def test_only_the_required_summary_keys_are_needed(minimal_inputs: Inputs) -> None:
    _, customers, _ = minimal_inputs
    html = render_report({}, customers)
    assert _sections(html) == [s for s in SECTIONS if s not in (*OPTIONAL, "settings")]


def test_a_missing_column_is_an_input_error_naming_it(full_inputs: Inputs) -> None:
    summary, customers, _ = full_inputs
    with pytest.raises(InputError, match="r_score"):
        render_report(summary, customers.drop_columns(["r_score"]))


def test_an_unknown_language_is_a_config_error(full_inputs: Inputs) -> None:
    summary, customers, _ = full_inputs
    with pytest.raises(ConfigError, match="'fr'"):
        render_report(summary, customers, lang="fr")  # type: ignore[arg-type]


def test_write_report_writes_the_rendered_document_as_utf8(
    full_inputs: Inputs, tmp_path: Path
) -> None:
    summary, customers, quarantine = full_inputs
    target = tmp_path / "out" / "report.html"
    written = write_report(target, summary, customers, lang="zh", quarantine=quarantine)
    assert written == target
    assert target.read_bytes().decode("utf-8") == render(full_inputs, "zh")
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]


def test_docstring_examples_run() -> None:
    result = doctest.testmod(corecustomers.report._render, raise_on_error=False)
    assert result.attempted > 0 and result.failed == 0


def test_importing_the_report_does_nothing_heavy() -> None:
    """No plotting library, no template environment at import (STYLE.md: nothing runs)."""
    code = (
        "import sys, corecustomers.report as r; "
        "print(sorted(m for m in ('matplotlib', 'matplotlib.pyplot') if m in sys.modules), "
        "r._render._environment.cache_info().currsize)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["[]", "0"]
