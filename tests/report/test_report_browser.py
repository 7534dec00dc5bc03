"""The report in a real browser: headless Chromium draws every chart, offline.

Each ``[data-chart]`` element must be visible, of a useful size, and its screenshot must
contain ink: enough pixels that differ from the background. A negative control empties one
chart's SVG and shows that this check then fails.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

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
MIN_WIDTH, MIN_HEIGHT = 240, 120
#: Share of a chart's pixels that must differ from its background.
MIN_INK = 0.01

Inputs = tuple[dict[str, Any], pa.Table, list[dict[str, Any]]]


# --- a tiny PNG decoder (8-bit RGB/RGBA, not interlaced: what Chromium writes) ----------


def _chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        yield data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length


def png_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` from a PNG's header."""
    kind, body = next(_chunks(data))
    assert kind == b"IHDR"
    width, height = struct.unpack(">II", body[:8])
    return width, height


def decode_png(data: bytes) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """Pixels of a PNG as an ``(height, width, channels)`` uint8 array.

    Rows filtered with None, Sub or Up are undone with NumPy; Average and Paeth depend on
    the byte to the left, so they are undone byte by byte on a ``bytearray``.
    """
    header, idat = b"", bytearray()
    for kind, body in _chunks(data):
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, "unsupported PNG flavour"
    channels = 3 if colour == 2 else 4
    stride = width * channels
    raw = zlib.decompress(bytes(idat))
    rows: list[bytes] = []
    previous = bytes(stride)
    for y in range(height):
        start = y * (stride + 1) + 1
        kind, line = raw[start - 1], raw[start : start + stride]
        if kind == 0:
            current = line
        elif kind == 1:  # Sub: a running sum along the row, per channel
            pixels = np.frombuffer(line, dtype=np.uint8).reshape(width, channels)
            current = (np.cumsum(pixels, axis=0, dtype=np.int64) & 0xFF).astype(np.uint8).tobytes()
        elif kind == 2:  # Up
            up = np.frombuffer(previous, dtype=np.uint8)
            current = (np.frombuffer(line, dtype=np.uint8) + up).tobytes()  # wraps mod 256
        else:
            row = bytearray(line)
            for i in range(stride):
                left = row[i - channels] if i >= channels else 0
                up_ = previous[i]
                if kind == 3:
                    row[i] = (row[i] + ((left + up_) >> 1)) & 0xFF
                    continue
                up_left = previous[i - channels] if i >= channels else 0
                p = left + up_ - up_left
                da, db, dc = abs(p - left), abs(p - up_), abs(p - up_left)
                guess = left if da <= db and da <= dc else up_ if db <= dc else up_left
                row[i] = (row[i] + guess) & 0xFF
            current = bytes(row)
        rows.append(current)
        previous = current
    return np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(height, width, channels)


def ink(png: bytes) -> float:
    """Share of pixels that differ clearly from the most common colour (the background)."""
    rgb = decode_png(png)[:, :, :3].reshape(-1, 3).astype(np.int16)
    background = Counter(map(tuple, rgb[:: max(1, len(rgb) // 5000)].tolist())).most_common(1)[0][0]
    differs = np.abs(rgb - np.asarray(background, dtype=np.int16)).max(axis=1) > 24
    return float(differs.mean())


def assert_chart_drawn(element: Any, name: str) -> bytes:
    """The check under test: visible, large enough, and with ink in its screenshot."""
    assert element.is_visible(), f"chart {name} is not visible"
    box = element.bounding_box()
    assert box and box["width"] >= MIN_WIDTH and box["height"] >= MIN_HEIGHT, (name, box)
    png: bytes = element.screenshot()
    share = ink(png)
    assert share >= MIN_INK, f"chart {name} looks blank: {share:.4f} of its pixels have ink"
    return png


# --- the browser ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
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


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_chart_is_drawn_in_chromium(
    tab: Tab, inputs: Any, tmp_path: Path, lang: Lang
) -> None:
    page = tab.page
    summary, customers, quarantine = inputs(lang)
    report = write_report(
        tmp_path / f"report-{lang}.html", summary, customers, lang=lang, quarantine=quarantine
    )
    page.goto(report.resolve().as_uri())
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.lang") == {"en": "en", "zh": "zh-CN"}[lang]
    charts = page.locator("[data-chart]")
    names = [charts.nth(i).get_attribute("data-chart") for i in range(charts.count())]
    assert sorted(names) == sorted(CHARTS)
    for i, name in enumerate(names):
        png = assert_chart_drawn(charts.nth(i), name)
        (tmp_path / f"chart-{lang}-{name}.png").write_bytes(png)
    full = tmp_path / f"report-{lang}.png"
    page.screenshot(path=str(full), full_page=True)
    width, height = png_size(full.read_bytes())
    assert width == 1366 and height > 3000
    # Nothing asked for the network, and the page raised no error (a CSP violation would).
    assert tab.remote_requests == []
    assert tab.problems == []


def test_a_blank_chart_fails_the_check(tab: Tab, full_inputs: Inputs, tmp_path: Path) -> None:
    """Negative control: with the Lorenz chart's SVG emptied, the same check must fail."""
    page = tab.page
    summary, customers, quarantine = full_inputs
    report = write_report(tmp_path / "report.html", summary, customers, quarantine=quarantine)
    html = report.read_text(encoding="utf-8")
    emptied, count = re.subn(
        r'(<div class="chart" data-chart="lorenz"><svg[^>]*>).*?(</svg>)', r"\1\2", html, flags=re.S
    )
    assert count == 1
    report.write_text(emptied, encoding="utf-8")
    page.goto(report.resolve().as_uri())
    blank = page.locator('[data-chart="lorenz"]')
    assert blank.is_visible()  # still laid out at full size: only the ink check can catch it
    with pytest.raises(AssertionError, match="looks blank"):
        assert_chart_drawn(blank, "lorenz")
    assert_chart_drawn(page.locator('[data-chart="segments"]'), "segments")


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
