"""What the browser tests measure on a chart, and the PNG decoder they measure with.

* **Data ink**: every element of a chart but its data marks is hidden (axes, gridlines,
  text, legends and the heat map's colour key), and the share of the screenshot's pixels
  that differ from the background is measured. A chart without data marks has none.
* **Glyphs**: every character of a chart's text is drawn in the font the chart uses and
  compared with the box a browser draws for a character that no installed font has. A
  label whose font is missing draws exactly that box, which would still count as ink.
"""

from __future__ import annotations

import struct
import zlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np

MIN_WIDTH, MIN_HEIGHT = 240, 120
#: Share of a chart's pixels that its data marks alone must paint. The sparest real chart
#: (the three lines and the dots of a tracking plot) paints 0.015; without its data marks
#: every chart paints 0, while its axes, gridlines and text alone paint 0.01 to 0.05.
MIN_DATA_INK = 0.005
#: The data marks: what a chart draws from the numbers (issue 15's list).
MARKS = "polygon, path, rect, circle, polyline, ellipse"
#: A code point that no font has (unassigned): browsers draw the "missing glyph" box.
NO_GLYPH = "\u0378"

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


# --- in the page ------------------------------------------------------------------------

#: ``is_data(el)``: a data mark, not part of a legend; a rect only with a tooltip, which
#: every bar and cell has and the heat map's colour key (a strip of rects) has not.
_IS_DATA = f"""
const isData = (el) => el.matches({MARKS!r}) && !el.closest('.legend')
    && !(el.matches('rect') && !el.querySelector(':scope > title'));
"""

#: Show only the data marks of the chart ``el`` (hide the rest with inline styles).
SHOW_DATA_ONLY = f"""(chart) => {{
  {_IS_DATA}
  let shown = 0;
  for (const el of chart.querySelectorAll('*')) {{
    const data = isData(el);
    el.style.setProperty('visibility', data ? 'visible' : 'hidden', 'important');
    shown += data ? 1 : 0;
  }}
  return shown;
}}"""

#: Undo :data:`SHOW_DATA_ONLY`.
SHOW_ALL = """(chart) => {
  for (const el of chart.querySelectorAll('*')) el.style.removeProperty('visibility');
}"""

#: Remove the data marks of the chart ``el`` and nothing else; returns how many.
STRIP_DATA = f"""(chart) => {{
  {_IS_DATA}
  const marks = [...chart.querySelectorAll('*')].filter(isData);
  marks.forEach((el) => el.remove());
  return marks.length;
}}"""

#: The characters of the chart's text that draw the same pixels as a character no font
#: has, each drawn at 40 px in the font its ``<text>`` element uses, on a canvas.
MISSING_GLYPHS = f"""(chart) => {{
  const canvas = document.createElement('canvas');
  canvas.width = 96; canvas.height = 64;
  const ctx = canvas.getContext('2d', {{ willReadFrequently: true }});
  const draw = (ch, font) => {{
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.font = font;
    ctx.textBaseline = 'middle';
    ctx.fillStyle = '#000';
    ctx.fillText(ch, 8, 32);
    return ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  }};
  const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
  const missing = new Set();
  const checked = new Set();
  for (const text of chart.querySelectorAll('text')) {{
    const style = getComputedStyle(text);
    const font = `${{style.fontWeight}} 40px ${{style.fontFamily}}`;
    const box = draw({NO_GLYPH!r}, font);
    for (const ch of new Set(text.textContent)) {{
      if (/\\s/.test(ch)) continue;
      checked.add(ch);
      if (same(draw(ch, font), box)) missing.add(ch);
    }}
  }}
  return {{ checked: [...checked], missing: [...missing] }};
}}"""


def data_ink(element: Any) -> float:
    """The share of the chart's pixels painted by its data marks alone."""
    element.evaluate(SHOW_DATA_ONLY)
    try:
        return ink(element.screenshot())
    finally:
        element.evaluate(SHOW_ALL)


def assert_chart_drawn(element: Any, name: str) -> list[str]:
    """The check under test: visible, large enough, data marks that paint, real glyphs.

    Returns the characters whose glyphs were checked.
    """
    assert element.is_visible(), f"chart {name} is not visible"
    box = element.bounding_box()
    assert box and box["width"] >= MIN_WIDTH and box["height"] >= MIN_HEIGHT, (name, box)
    share = data_ink(element)
    assert share >= MIN_DATA_INK, (
        f"chart {name} shows no data: its data marks paint {share:.4f} of its pixels"
    )
    glyphs = element.evaluate(MISSING_GLYPHS)
    assert glyphs["checked"], f"chart {name} has no text"
    assert glyphs["missing"] == [], f"chart {name} draws boxes for {glyphs['missing']}"
    checked: list[str] = glyphs["checked"]
    return checked
