"""The report in a real browser: headless Chromium draws every chart, offline.

Each ``[data-chart]`` element must be visible and of a useful size; its data marks alone
(axes, gridlines, text and legends hidden) must paint part of it; and every character of
its text must draw a real glyph, not the box of a missing font (see ``browser.py``).
Negative controls strip the data marks of every chart, or add a character that no font
has, and show that the check then fails. The charts are checked on the fixture's reports
(all fourteen charts, English and Chinese) and on reports of real ``analyze`` runs.
"""

from __future__ import annotations

import io
import os
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from analyses import Analysis
from browser import (
    MISSING_GLYPHS,
    NO_GLYPH,
    STRIP_DATA,
    assert_chart_drawn,
    decode_png,
    ink,
    png_size,
)

from corecustomers.report import write_report
from corecustomers.report._labels import Lang

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHARTS = {
    "lorenz",
    "segments",
    "rf-heatmap",
    "abc",
    "clv",
    "holdout-tracking",
    "holdout-frequency",
    # the core customers: tiers, migration (and its series), warnings, actions, capture
    "tiers",
    "migration",
    "migration-series",
    "alerts-holdout",
    "actions",
    "recommendations",
    "capture",
}
#: The charts of the real runs: CDNOW has no products (no recommendations); the demo has
#: no calibration end (no holdout, alert check or capture) and one snapshot (no migration).
#: The calibration charts: in a real run with a holdout only (they read alerts.evaluation).
CALIBRATION_CHARTS = {"calibration-risk", "calibration-p-alive", "calibration-purchases"}
REAL_CHARTS = {
    "cdnow-en": CHARTS - {"recommendations"} | CALIBRATION_CHARTS,
    "cdnow-zh": CHARTS - {"recommendations"} | CALIBRATION_CHARTS,
    "demo": {
        "lorenz",
        "segments",
        "rf-heatmap",
        "abc",
        "clv",
        "tiers",
        "actions",
        "recommendations",
    },
}
#: The frame of a chart alone (axes, gridlines, text) paints at least this share of it:
#: what the old check, "1 % of the pixels differ from the background", asked for.
FRAME_INK = 0.01
#: An assigned character that no installed font draws (Egyptian hieroglyph A001).
UNDRAWN = "\U00013000"

Inputs = tuple[dict[str, Any], pa.Table, list[dict[str, Any]]]


def _cjk(chars: list[str]) -> list[str]:
    return [ch for ch in chars if unicodedata.east_asian_width(ch) == "W"]


# --- the browser ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):  # .ci/run installs it: missing there is a failure
            pytest.fail(f"needs Chromium at {CHROMIUM}", pytrace=False)
        pytest.skip(f"needs Chromium at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Tab:
    """A page that may load ``file:`` URLs only, with what it tried and what went wrong."""

    page: Any
    remote_requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def open(self, report: Path) -> list[str]:
        """Load ``report``; the names of its charts, in page order."""
        self.page.goto(report.resolve().as_uri())
        self.page.wait_for_load_state("load")
        charts = self.page.locator("[data-chart]")
        return [charts.nth(i).get_attribute("data-chart") for i in range(charts.count())]

    def chart(self, name: str) -> Any:
        return self.page.locator(f'[data-chart="{name}"]')


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    tab = Tab(context.new_page())

    def route(route: Any) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            tab.remote_requests.append(route.request.url)
            route.abort()

    def console(message: Any) -> None:
        if message.type in ("error", "warning"):
            tab.problems.append(message.text)

    context.route("**/*", route)
    tab.page.on("console", console)
    tab.page.on("pageerror", lambda error: tab.problems.append(str(error)))
    try:
        yield tab
    finally:
        context.close()


def _fixture_report(inputs: Callable[[str], Inputs], tmp_path: Path, lang: Lang) -> Path:
    summary, customers, quarantine = inputs(lang)
    return write_report(
        tmp_path / f"report-{lang}.html", summary, customers, lang=lang, quarantine=quarantine
    )


# --- the charts are drawn ---------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_chart_is_drawn_in_chromium(
    tab: Tab, inputs: Callable[[str], Inputs], tmp_path: Path, lang: Lang
) -> None:
    names = tab.open(_fixture_report(inputs, tmp_path, lang))
    assert tab.page.evaluate("document.documentElement.lang") == {"en": "en", "zh": "zh-CN"}[lang]
    assert sorted(names) == sorted(CHARTS)
    checked = [ch for name in names for ch in assert_chart_drawn(tab.chart(name), name)]
    assert any(ch.isascii() and ch.isalpha() for ch in checked)  # Latin glyphs were checked
    if lang == "zh":
        assert len(set(_cjk(checked))) > 50  # and Chinese ones
    full = tmp_path / f"report-{lang}.png"
    tab.page.screenshot(path=str(full), full_page=True)
    width, height = png_size(full.read_bytes())
    assert width == 1366 and height > 3000
    # Nothing asked for the network, and the page raised no error (a CSP violation would).
    assert tab.remote_requests == []
    assert tab.problems == []


@pytest.mark.parametrize("kind", sorted(REAL_CHARTS))
def test_charts_of_real_analyses_are_drawn(
    tab: Tab, real_analysis: Callable[[str], Analysis], kind: str
) -> None:
    """The reports that ``analyze`` wrote: CDNOW with a calibration end (English and
    Chinese) and the demo data set."""
    names = tab.open(real_analysis(kind).report)
    assert sorted(names) == sorted(REAL_CHARTS[kind])
    checked = [ch for name in names for ch in assert_chart_drawn(tab.chart(name), name)]
    if kind == "cdnow-zh":
        assert len(set(_cjk(checked))) > 50
    assert tab.remote_requests == []
    assert tab.problems == []


# --- negative controls ------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_charts_without_their_data_marks_fail_the_check(
    tab: Tab, inputs: Callable[[str], Inputs], tmp_path: Path, lang: Lang
) -> None:
    """With only the data marks removed, every chart fails, though its frame still has
    enough ink to have passed the old "1 % of the pixels" check."""
    names = tab.open(_fixture_report(inputs, tmp_path, lang))
    assert sorted(names) == sorted(CHARTS)
    for name in names:
        chart = tab.chart(name)
        assert chart.evaluate(STRIP_DATA) > 0, name
        assert chart.is_visible()  # still laid out at full size
        assert ink(chart.screenshot()) >= FRAME_INK, name  # axes, gridlines and text remain
        with pytest.raises(AssertionError, match="shows no data"):
            assert_chart_drawn(chart, name)


def test_a_character_without_a_font_fails_the_check(
    tab: Tab, inputs: Callable[[str], Inputs], tmp_path: Path
) -> None:
    """A label that draws the missing-glyph box is caught, though the box has ink."""
    tab.open(_fixture_report(inputs, tmp_path, "zh"))
    chart = tab.chart("segments")
    assert_chart_drawn(chart, "segments")
    label = chart.locator("text").first
    label.evaluate(f"(el) => {{ el.textContent = '客户 {UNDRAWN}'; }}")
    assert ink(label.screenshot()) > 0  # the box paints pixels: ink alone would pass it
    with pytest.raises(AssertionError, match="draws boxes"):
        assert_chart_drawn(chart, "segments")
    # the reference box is what any character without a font draws
    found = chart.evaluate(MISSING_GLYPHS)
    assert found["missing"] == [UNDRAWN]
    assert NO_GLYPH != UNDRAWN


def test_png_decoder_agrees_with_matplotlib(tab: Tab) -> None:
    """The decoder the checks rely on reads Chromium's PNGs as an independent reader does."""
    page = tab.page
    image = pytest.importorskip("matplotlib.image")
    page.set_content(
        '<div style="width:300px;height:120px;background:linear-gradient(90deg,#fff,#1e3a8a)">'
        "<b>核心客户 80/20</b></div>"
    )
    png = page.locator("div").screenshot()
    ours = decode_png(png)
    reference = np.rint(image.imread(io.BytesIO(png), format="png") * 255).astype(np.uint8)
    assert ours.shape == reference.shape
    assert np.array_equal(ours, reference)


def test_a_remote_reference_would_be_caught(tab: Tab, full_inputs: Inputs, tmp_path: Path) -> None:
    """Negative control for the offline check: the CSP blocks it and the tab reports it."""
    summary, customers, quarantine = full_inputs
    report = write_report(tmp_path / "report.html", summary, customers, quarantine=quarantine)
    html = report.read_text(encoding="utf-8")
    report.write_text(
        html.replace("</main>", '<img src="http://192.0.2.1/pixel.png" alt=""></main>'),
        encoding="utf-8",
    )
    tab.page.goto(report.resolve().as_uri())
    assert any("192.0.2.1" in line for line in tab.problems + tab.remote_requests)
