"""The one table of settings: section, key, kind, default, help, command-line flag.

Everything that lists settings is generated from :data:`SETTINGS`:

* the commented ``corecustomers.toml`` that ``corecustomers init`` writes
  (:func:`template_text`);
* the check of the file's sections and keys, and the types and choices of their values
  (:mod:`corecustomers.config`);
* the command-line options of ``analyze``, ``summarize``, ``history``, ``compare`` and
  ``override`` (:mod:`corecustomers.cli.options`): a setting with a ``flag`` is an
  option of each command in its ``commands``, with the same help everywhere.

A row's ``help`` is one phrase, written once: it is the comment beside the key in the
template and the option's help (both followed by the default). Like
:mod:`corecustomers.units`, this module sits outside the layers and imports nothing from
them when it is imported (the template's list of placeholder ids is read from
:mod:`corecustomers.data.validation` when the template is written).

Examples
--------
>>> row = setting("analysis", "time_unit")
>>> row.flag, row.default, row.field
('--time-unit', 'week', 'time_unit')
>>> print(template_text().splitlines()[0])
# corecustomers.toml: settings for `corecustomers analyze` in this folder.
"""

from __future__ import annotations

import datetime as _dt
import json
import textwrap
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from corecustomers.units import LANGS, TIME_UNITS

__all__ = [
    "CUT",
    "RUN",
    "SECTIONS",
    "SETTINGS",
    "STORE",
    "Kind",
    "Section",
    "Setting",
    "section_keys",
    "setting",
    "template_text",
    "toml_value",
]

Kind = Literal["text", "int", "float", "bool", "date", "texts", "table"]
"""What a value is: ``texts`` is a list of texts, ``table`` a TOML table of its own."""

RUN: Final = frozenset({"analyze", "summarize", "history"})
"""The commands that read a source: they share the source, column and engine flags."""
CUT: Final = frozenset({"analyze", "summarize"})
"""The commands that analyse at one date (``--as-of``, ``--calibration-end``)."""
STORE: Final = frozenset({"analyze", "history", "compare", "override"})
"""The commands that use the workspace's snapshots."""


@dataclass(frozen=True)
class Section:
    """A ``[section]`` of the file: its comment, and whether its keys are free-form."""

    name: str
    help: str = ""
    free_form: bool = False
    """The keys are checked by the module that reads the table (``[tiers]`` ...)."""


@dataclass(frozen=True)
class Setting:
    """One setting: where it is in the file, what it holds, and its flag if it has one."""

    section: str
    key: str | None
    """``None`` for a free-form section's whole table."""
    kind: Kind
    default: object
    """The built-in default (what :class:`corecustomers.config.Settings` holds)."""
    help: str
    example: object = None
    """A valid value other than the default, shown commented out in the template; a
    callable is called when the template is written."""
    flag: str | None = None
    commands: frozenset[str] = frozenset()
    """The commands that take ``flag``."""
    choices: tuple[str, ...] = ()
    attr: str | None = None
    """The :class:`~corecustomers.config.Settings` field; default: the key."""
    shown: str | None = None
    """How the default reads in the help (``detected``), when not its value."""
    blank_is_unset: bool = False
    """An empty text in the file means "not set" rather than an empty value."""
    minimum: int | None = None
    """For ``int`` flags: the smallest value the option accepts."""
    number_as_text: bool = False
    """A whole number in the file is read as its text (a sheet or column position)."""

    @property
    def name(self) -> str:
        """``section.key`` (``[tiers]`` for a free-form table), as messages name it."""
        return f"[{self.section}]" if self.key is None else f"{self.section}.{self.key}"

    @property
    def field(self) -> str:
        """The :class:`~corecustomers.config.Settings` field the value goes to."""
        return self.attr or self.key or self.section

    def default_text(self) -> str:
        """The default as the help shows it: ``week``, ``0.2``, ``detected``."""
        if self.shown is not None:
            return self.shown
        if isinstance(self.default, str):
            return self.default or '""'
        return toml_value(self.default)

    def flag_help(self) -> str:
        """The option's help: the row's help and its default."""
        return f"{self.help} [default: {self.default_text()}]."

    def example_value(self) -> object:
        """The example, called if it is computed."""
        return self.example() if callable(self.example) else self.example


def _placeholder_ids() -> list[str]:
    from corecustomers.data.validation import PLACEHOLDER_IDS

    return list(PLACEHOLDER_IDS)


SECTIONS: Final[Mapping[str, Section]] = {
    s.name: s
    for s in (
        Section("source", "Where the transactions come from and how to read them."),
        Section(
            "columns",
            "Which source column holds each field: a header or a 1-based position. The "
            "customer id, date and amount are detected from common English and Chinese "
            "headers when not given (customer / 客户编号 / 会员号, date / 交易日期 / 下单时间, "
            "amount / 金额 / 实付金额 ...); the other fields are used when given.",
        ),
        Section("analysis", "The analysis date, units, language and engine."),
        Section("rfm", "RFM scores and segments."),
        Section("models", "The transaction and spend models and the lifetime value."),
        Section("abc", "ABC classes (Pareto)."),
        Section("workspace", "Where snapshots and overrides live."),
        Section(
            "tiers",
            "Who is core: a preset (retail, the default; retail_v1, catering, finance, b2b, "
            "utilities) or a policy of your own (see corecustomers.segments.policy).",
            free_form=True,
        ),
        Section(
            "playbook",
            "The next-best action per customer: plays tried in order, the first match wins "
            "(see corecustomers.segments.playbook); without plays the default ones are kept.",
            free_form=True,
        ),
        Section(
            "alerts",
            "Early warnings for core customers (see corecustomers.insights.alert_settings).",
            free_form=True,
        ),
    )
}
"""Every section, in the template's order."""

_SCHEMES_EXAMPLE = """\
[rfm.schemes.vip]
segments = [
  { name = "VIP", label_zh = "贵宾", r = [4, 5], f = [4, 5], m = [4, 5] },
  { name = "Active", label_zh = "活跃", r = [3, 5] },
  { name = "Others", label_zh = "其他" },
]"""

_TIERS_EXAMPLE = 'preset = "retail"'

_PLAYBOOK_EXAMPLE = """\
risk_p_alive = 0.3
[[playbook.play]]
name = "everyone"
action_code = "HELLO"
action_en = "Say hello"
action_zh = "问候"
channel = "email"
deadline_days = 30"""

_ALERTS_EXAMPLE = """\
risk_window_days = 90
max_share_of_core = 0.10
risk_score = "auto"
min_idle_days = 14
min_overdue_ratio = 1.0"""


def _col(key: str, help: str, example: str, flag: str | None = None) -> Setting:
    required = key in ("customer_id", "timestamp", "amount")
    return Setting(
        "columns",
        key,
        "text",
        None,
        help,
        example,
        flag=flag,
        commands=RUN if flag else frozenset(),
        attr="columns",
        shown="detected" if required else "not used",
        blank_is_unset=True,
        number_as_text=True,
    )


SETTINGS: Final[tuple[Setting, ...]] = (
    # [source]
    Setting(
        "source",
        "delimiter",
        "text",
        None,
        "CSV delimiter: comma, semicolon, tab, pipe or whitespace",
        ",",
        "--delimiter",
        RUN,
        shown="detected",
        blank_is_unset=True,
    ),
    Setting(
        "source",
        "encoding",
        "text",
        None,
        "utf-8 | gb18030 (GBK); a BOM is read too",
        "utf-8",
        "--encoding",
        RUN,
        shown="detected",
        blank_is_unset=True,
    ),
    Setting(
        "source",
        "header",
        "bool",
        None,
        "CSV: whether the first row holds the headers; Excel sheets are read with a header row",
        True,
        shown="detected",
    ),
    Setting(
        "source",
        "header_row",
        "int",
        None,
        "Excel: the 1-based row that holds the headers, when titles sit above them",
        3,
        "--header-row",
        RUN,
        shown="the first non-blank row",
        minimum=1,
    ),
    Setting(
        "source",
        "sheet",
        "text",
        None,
        "Excel: sheet name or 1-based number",
        "Sheet1",
        shown="the first sheet",
        blank_is_unset=True,
        number_as_text=True,
    ),
    Setting(
        "source",
        "source_url",
        "text",
        None,
        "Database URL to read a table or query from, "
        "e.g. postgresql://user@host/db or duckdb:///f.db",
        "postgresql://user@localhost:5432/shop",
        "--source-url",
        RUN,
        shown="read a file",
        blank_is_unset=True,
    ),
    Setting(
        "source",
        "name",
        "text",
        None,
        "Name of the history the snapshots belong to",
        "sales",
        "--source-name",
        STORE,
        attr="source_name",
        shown="the file name without a date stamp: sales-2024-06-01.csv gives sales",
    ),
    Setting(
        "source",
        "decimal",
        "text",
        None,
        'Decimal mark of text amounts: "." (1,234.56) or "," (1.234,56)',
        ",",
        choices=(".", ","),
        shown="detected when every amount of the column reads one way only",
        blank_is_unset=True,
    ),
    Setting(
        "source",
        "placeholder_ids",
        "texts",
        None,
        'Customer ids that mean "no customer" '
        "(quarantined as missing_customer_id), compared without case and surrounding "
        "spaces; [] quarantines only empty ids",
        _placeholder_ids,
        shown="the list shown",
    ),
    # [columns]
    _col(
        "customer_id", "Customer id column (header or 1-based position)", "会员号", "--customer-col"
    ),
    _col("timestamp", "Date/time column (header or position)", "下单时间", "--date-col"),
    _col("amount", "Amount column (header or position)", "实付金额", "--amount-col"),
    _col(
        "order_id",
        "Order id column; repeated orders are quarantined (first copy kept)",
        "订单号",
        "--order-col",
    ),
    _col("quantity", "Quantity column", "数量"),
    _col("product", "Product column (recommendations, adopters)", "商品"),
    _col("category", "Category column", "品类"),
    _col("channel", "Channel column", "渠道"),
    _col("store", "Store column", "门店"),
    _col("margin", 'Margin column, for ABC classes when [abc] value = "margin"', "毛利"),
    _col("referred_by", "Referring customer's id column (influence)", "推荐人"),
    # [analysis]
    Setting(
        "analysis",
        "as_of",
        "date",
        None,
        "Analysis date, YYYY-MM-DD",
        _dt.date(2024, 12, 31),
        "--as-of",
        CUT,
        shown="the last valid transaction date",
        blank_is_unset=True,
    ),
    Setting(
        "analysis",
        "calibration_end",
        "date",
        None,
        "End of the calibration period, YYYY-MM-DD (a holdout after it checks the models)",
        _dt.date(2024, 6, 30),
        "--calibration-end",
        CUT,
        shown="no holdout",
        blank_is_unset=True,
    ),
    Setting(
        "analysis",
        "time_unit",
        "text",
        "week",
        "day | week (7 days) | month (30.4375 days)",
        "day",
        "--time-unit",
        RUN,
        choices=TIME_UNITS,
    ),
    Setting(
        "analysis",
        "timezone",
        "text",
        "UTC",
        'Business time zone as a UTC offset, e.g. "+08:00"',
        "+08:00",
    ),
    Setting(
        "analysis",
        "currency",
        "text",
        "",
        'Shown in the report, e.g. "¥" or "$"',
        "¥",
        shown="none",
    ),
    Setting(
        "analysis",
        "lang",
        "text",
        "en",
        "en | zh: report and segment labels",
        "zh",
        "--lang",
        frozenset({"analyze"}),
        choices=LANGS,
    ),
    Setting(
        "analysis",
        "max_bad_share",
        "float",
        0.20,
        "Stop when more than this share of rows is quarantined",
        0.05,
    ),
    Setting(
        "analysis",
        "engine",
        "text",
        "duckdb",
        "duckdb | spark",
        "spark",
        "--engine",
        RUN,
        choices=("duckdb", "spark"),
    ),
    Setting(
        "analysis",
        "memory_limit",
        "text",
        None,
        "DuckDB's memory cap, e.g. 4GB; past it, it spills to the temp directory",
        "4GB",
        "--memory-limit",
        RUN,
        shown="80 % of the machine's memory",
    ),
    Setting(
        "analysis",
        "temp_directory",
        "text",
        None,
        "Folder DuckDB spills to past the memory limit",
        "/var/tmp/corecustomers",
        "--temp-directory",
        RUN,
        shown=".tmp in the working directory",
    ),
    Setting(
        "analysis",
        "jobs",
        "int",
        0,
        "Processes a history analyses its dates on (1: one date after another)",
        2,
        "--jobs",
        frozenset({"history"}),
        shown="one per CPU, at most 4",
        minimum=0,
    ),
    # [rfm]
    Setting("rfm", "bins", "int", 5, "Scores 1..bins per dimension (3 to 10)", 4, attr="rfm_bins"),
    Setting(
        "rfm",
        "scheme",
        "text",
        "named",
        "named (11 English segments) | cn8 (八类客户) | a scheme of your own from [rfm.schemes]",
        "vip",
        attr="rfm_scheme",
    ),
    Setting(
        "rfm",
        "threshold",
        "text",
        "mean",
        "cn8: high/low against the mean or the median",
        "median",
        choices=("mean", "median"),
        attr="rfm_threshold",
    ),
    Setting(
        "rfm",
        "monetary",
        "text",
        "total",
        "M from total spend or mean spend per purchase",
        "mean",
        choices=("total", "mean"),
        attr="rfm_monetary",
    ),
    Setting(
        "rfm",
        "schemes",
        "table",
        {},
        "Schemes of your own: rules are tried in order, the "
        "first match wins; ranges are inclusive score ranges, a missing dimension matches "
        "any score; end with a catch-all",
        _SCHEMES_EXAMPLE,
        attr="rfm_schemes",
        shown="none",
    ),
    # [models]
    Setting(
        "models",
        "model",
        "text",
        "auto",
        "Transaction model: auto (holdout, else BIC) | bgnbd | pnbd | mbgnbd | none",
        "bgnbd",
        "--model",
        frozenset({"analyze"}),
        choices=("auto", "none", "bgnbd", "pnbd", "mbgnbd"),
    ),
    Setting("models", "horizon_months", "int", 12, "CLV horizon in months (1 to 600)", 24),
    Setting(
        "models",
        "annual_discount_rate",
        "float",
        0.10,
        "Discounted monthly: (1 + rate)^(1/12) - 1",
        0.08,
    ),
    Setting("models", "margin", "float", 1.0, "Share of spend that is profit", 0.3),
    Setting("models", "penalizer", "float", 0.0, "L2 penalty on the model parameters", 0.001),
    # [abc]
    Setting(
        "abc",
        "a",
        "float",
        0.80,
        "Class A: the customers bringing the first 80 % of revenue",
        0.7,
        attr="abc_a",
    ),
    Setting("abc", "b", "float", 0.95, "Class B: up to 95 %; C: the rest", 0.9, attr="abc_b"),
    Setting(
        "abc",
        "value",
        "text",
        "revenue",
        "revenue | margin (needs a margin column)",
        "margin",
        choices=("revenue", "margin"),
        attr="abc_value",
    ),
    # [workspace]
    Setting(
        "workspace",
        "path",
        "text",
        ".",
        "Where snapshots and overrides live: a folder "
        "(holding .corecustomers/), a .duckdb file or a database URL",
        "shop.duckdb",
        "--workspace",
        STORE,
        attr="workspace",
        shown="current folder",
        blank_is_unset=True,
    ),
    Setting(
        "workspace",
        "url",
        "text",
        None,
        "A database URL for the workspace; wins over path",
        "postgresql://user@localhost:5432/corecustomers",
        attr="workspace",
        shown="path",
        blank_is_unset=True,
    ),
    # free-form tables, checked by the modules that read them
    Setting("tiers", None, "table", {}, "", _TIERS_EXAMPLE, shown="retail"),
    Setting("playbook", None, "table", {}, "", _PLAYBOOK_EXAMPLE, shown="the default plays"),
    Setting("alerts", None, "table", {}, "", _ALERTS_EXAMPLE, shown="the values shown"),
)
"""Every setting, in the template's order within each section."""


def setting(section: str, key: str | None) -> Setting:
    """The row of ``[section] key``; KeyError when there is none."""
    for row in SETTINGS:
        if row.section == section and row.key == key:
            return row
    raise KeyError(f"{section}.{key}")


def section_keys(section: str) -> tuple[str, ...] | None:
    """The keys of ``[section]`` in table order; None for a free-form section."""
    if SECTIONS[section].free_form:
        return None
    return tuple(row.key for row in SETTINGS if row.section == section and row.key)


def toml_value(value: object) -> str:
    """``value`` written as TOML (text, number, boolean, date or list of texts)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


_WIDTH = 90
_COMMENT_AT = 29


def template_text(*, examples: bool = False) -> str:
    """The commented ``corecustomers.toml`` that ``corecustomers init`` writes.

    Every section and key of :data:`SETTINGS` is listed with its help and default: a
    key with a default is written with it, a key without one is commented out with its
    example. With ``examples=True`` every key is written with its example instead (the
    tests read that file back to check each example).
    """
    out = [
        "# corecustomers.toml: settings for `corecustomers analyze` in this folder.",
        "# Every setting is optional; a command-line flag overrides the value here.",
    ]
    for section in SECTIONS.values():
        out.append("")
        out.append(f"[{section.name}]")
        out.extend(_comment(section.help))
        for row in SETTINGS:
            if row.section == section.name:
                out.extend(_row_lines(row, examples=examples))
    return "\n".join(out) + "\n"


def _comment(text: str, indent: str = "") -> list[str]:
    if not text:
        return []
    width = _WIDTH - len(indent) - 2
    return [f"{indent}# {line}" for line in textwrap.wrap(text, width, break_on_hyphens=False)]


def _row_lines(row: Setting, *, examples: bool) -> list[str]:
    if row.kind == "table":  # a block of TOML: its help above, the example commented out
        block = str(row.example_value()).splitlines()
        lines = _comment(f"{row.help} (default: {row.default_text()})" if row.help else "")
        if examples:
            return [*lines, *block]
        return [*lines, *(f"# {line}" for line in block)]
    commented = row.default is None and not examples
    value = row.example_value() if commented or examples else row.default
    left = f"{row.key} = {toml_value(value)}"
    # a key written with its default shows it; one commented out says what applies
    note = row.help if value == row.default else f"{row.help} (default: {row.default_text()})"
    if commented:
        left = "# " + left
    if row.kind == "texts" and isinstance(value, list | tuple):
        return [*_comment(note), *_list_lines(row.key or "", value, commented)]
    if _columns(left) >= _COMMENT_AT - 1:
        return [*_comment(note), left]
    width = _WIDTH - _COMMENT_AT - 2
    wrapped = textwrap.wrap(note, width, break_on_hyphens=False)
    pad = " " * (_COMMENT_AT - 1 - _columns(left))
    lines = [f"{left}{pad} # {wrapped[0]}"]
    lines += [f"{'#'.ljust(_COMMENT_AT - 1)} # {more}" for more in wrapped[1:]]
    return lines


def _columns(text: str) -> int:
    """How many terminal columns ``text`` takes (a Chinese character takes two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _list_lines(key: str, values: list[object] | tuple[object, ...], commented: bool) -> list[str]:
    """``key = [...]`` over as many lines as it needs, each commented out if asked."""
    prefix = "# " if commented else ""
    lines, line = [f"{prefix}{key} = ["], ""
    for item in (toml_value(v) + "," for v in values):
        if line and len(prefix) + 2 + len(line) + 1 + len(item) > _WIDTH:
            lines.append(f"{prefix}  {line}")
            line = ""
        line = f"{line} {item}" if line else item
    if line:
        lines.append(f"{prefix}  {line}")
    return [*lines, f"{prefix}]"]
