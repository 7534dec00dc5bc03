"""The plain objects the report template receives.

A report is a header and a list of :class:`Section`; a section holds blocks laid out on a
two-column grid (a block marked ``wide`` spans both columns). Every string here is plain
text, already formatted and translated; the template escapes it. Only chart ``<svg>``
markup, built by the escaping builder in ``_svg``, is :class:`~markupsafe.Markup`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from corecustomers.report._charts import Chart

#: How a column is aligned and styled: text left, numbers right, ids (wrapping) and codes
#: (not wrapping) in a monospaced font, badges and scores centred, prose (sentences such as
#: reasons and actions) left in a wider, wrapping column.
ColumnKind = Literal["text", "num", "id", "code", "badge", "score", "prose"]
#: Badge colours the stylesheet knows; anything else is ``"neutral"``.
Tone = Literal["a", "b", "c", "neutral", ""]


@dataclass(frozen=True)
class Kpi:
    """A headline number with its label and an optional note underneath."""

    label: str
    value: str
    note: str = ""
    emphasis: bool = False


@dataclass(frozen=True)
class Cell:
    """A table cell; a non-empty ``tone`` shows it as a coloured badge, ``strong`` in bold,
    and ``sub`` as a smaller second line (a channel and a due date under an action)."""

    text: str
    tone: Tone = ""
    strong: bool = False
    sub: str = ""


@dataclass(frozen=True)
class Column:
    """A table column header and how its cells are aligned."""

    label: str
    kind: ColumnKind = "text"


@dataclass(frozen=True)
class Table:
    """A table block, optionally titled, with an optional totals row."""

    kind: ClassVar[str] = "table"
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    title: str = ""
    footer: tuple[Cell, ...] = ()
    note: str = ""
    wide: bool = True
    collapsible: bool = False
    key: str = ""


@dataclass(frozen=True)
class Kpis:
    """A group of headline numbers, as cards (``layout="cards"``) or a stacked list."""

    kind: ClassVar[str] = "kpis"
    items: tuple[Kpi, ...]
    layout: Literal["cards", "list"] = "cards"
    title: str = ""
    wide: bool = True


@dataclass(frozen=True)
class Note:
    """A sentence in a box: ``tone="ok"`` for good news, ``"info"`` otherwise."""

    kind: ClassVar[str] = "note"
    text: str
    tone: Literal["ok", "info"] = "info"
    wide: bool = True


Block = Chart | Table | Kpis | Note


@dataclass(frozen=True)
class Section:
    """One titled part of the report; ``key`` is its anchor and ``data-section`` value."""

    key: str
    title: str
    intro: str = ""
    blocks: tuple[Block, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Report:
    """Everything the template needs for one report."""

    html_lang: str
    page_title: str
    title: str
    subtitle: str
    meta: tuple[tuple[str, str], ...]
    sections: tuple[Section, ...]
    contents_label: str
    footer: str
