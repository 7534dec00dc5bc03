"""Settings: one TOML file per workspace (``corecustomers.toml``), every setting a flag too.

Precedence: command-line flag > config file > built-in default. ``load_settings`` reads
and validates the file; :func:`init_config_text` is the commented file ``corecustomers
init`` writes.
"""

from __future__ import annotations

import datetime as _dt
import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from corecustomers.errors import ConfigError
from corecustomers.units import LANGS, TIME_UNITS, Lang, TimeUnit

__all__ = ["CONFIG_FILE", "Settings", "init_config_text", "load_settings"]

CONFIG_FILE = "corecustomers.toml"

_SECTIONS = {
    "source": {
        "delimiter",
        "encoding",
        "header",
        "header_row",
        "sheet",
        "source_url",
        "name",
        "decimal",
        "placeholder_ids",
    },
    "columns": {
        "customer_id",
        "timestamp",
        "amount",
        "order_id",
        "quantity",
        "product",
        "category",
        "channel",
        "store",
        "margin",
        "referred_by",
    },
    "analysis": {
        "as_of",
        "calibration_end",
        "time_unit",
        "timezone",
        "currency",
        "lang",
        "max_bad_share",
        "engine",
        "memory_limit",
        "temp_directory",
    },
    "rfm": {"bins", "scheme", "threshold", "monetary", "schemes"},
    "abc": {"a", "b", "value"},
    "models": {"model", "horizon_months", "annual_discount_rate", "margin", "penalizer"},
    "workspace": {"path", "url"},
    "tiers": None,  # free-form: validated by corecustomers.segments.policy
    "playbook": None,  # free-form: validated by corecustomers.segments.playbook
    "alerts": None,  # free-form: validated by corecustomers.insights.alerts
}


@dataclass(frozen=True)
class Settings:
    """Every setting of an analysis, with its default."""

    # [source]
    delimiter: str | None = None
    encoding: str | None = None
    header: bool | None = None
    sheet: str | None = None
    source_url: str | None = None
    #: Excel: the 1-based row holding the headers (default: the first non-blank row).
    header_row: int | None = None
    #: The history the snapshots belong to; default: the file name without a date stamp.
    source_name: str | None = None
    #: The decimal mark of text amounts, "." or ","; default: detected from the column.
    decimal: str | None = None
    #: Customer ids that mean "no customer"; None for the built-in list
    #: (corecustomers.data.validation.PLACEHOLDER_IDS), () to quarantine none.
    placeholder_ids: tuple[str, ...] | None = None
    # [columns]
    columns: Mapping[str, str] = field(default_factory=dict)
    # [analysis]
    as_of: _dt.date | None = None
    calibration_end: _dt.date | None = None
    time_unit: TimeUnit = "week"
    timezone: str = "UTC"
    currency: str = ""
    lang: Lang = "en"
    max_bad_share: float = 0.20
    engine: Literal["duckdb", "spark"] = "duckdb"
    #: DuckDB's memory cap, e.g. "4GB"; past it DuckDB spills to ``temp_directory``.
    #: None: DuckDB's default (80 % of the machine's memory).
    memory_limit: str | None = None
    #: Where DuckDB spills when it reaches ``memory_limit``; None: its default, a
    #: ``.tmp`` folder in the working directory.
    temp_directory: str | None = None
    # [rfm]
    rfm_bins: int = 5
    rfm_scheme: str = "named"
    rfm_threshold: Literal["mean", "median"] = "mean"
    rfm_monetary: Literal["total", "mean"] = "total"
    rfm_schemes: Mapping[str, Any] = field(default_factory=dict)
    # [abc]
    abc_a: float = 0.80
    abc_b: float = 0.95
    abc_value: Literal["revenue", "margin"] = "revenue"
    # [models]
    model: str = "auto"
    horizon_months: int = 12
    annual_discount_rate: float = 0.10
    margin: float = 1.0
    penalizer: float = 0.0
    # [workspace]: where snapshots and overrides live: the folder that holds
    # .corecustomers/workspace.duckdb, a .duckdb file, or a database URL
    workspace: str = "."
    # [tiers], [playbook], [alerts]: passed as tables to their modules
    tiers: Mapping[str, Any] = field(default_factory=dict)
    playbook: Mapping[str, Any] = field(default_factory=dict)
    alerts: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_types(self)
        _check_choice("time_unit", self.time_unit, TIME_UNITS)
        _check_choice("lang", self.lang, LANGS)
        _check_choice("engine", self.engine, ("duckdb", "spark"))
        if self.memory_limit is not None and not _MEMORY.match(self.memory_limit):
            raise ConfigError(
                f'analysis.memory_limit must be an amount such as "4GB" or "512MB"; '
                f"got {self.memory_limit!r}"
            )
        if self.temp_directory is not None and not self.temp_directory.strip():
            raise ConfigError("analysis.temp_directory is empty; give a folder, or leave it out")
        _check_choice("rfm.threshold", self.rfm_threshold, ("mean", "median"))
        _check_choice("rfm.monetary", self.rfm_monetary, ("total", "mean"))
        _check_choice("abc.value", self.abc_value, ("revenue", "margin"))
        if self.decimal is not None:
            _check_choice("source.decimal", self.decimal, (".", ","))
        if self.source_name is not None and not self.source_name.strip():
            raise ConfigError("source name is empty; give a name such as sales, or leave it out")
        if not 0.0 <= self.max_bad_share <= 1.0:
            raise ConfigError(
                f"max_bad_share must be between 0 and 1 (a share), got {self.max_bad_share}"
            )
        if not 3 <= self.rfm_bins <= 10:
            raise ConfigError(f"rfm.bins must be between 3 and 10, got {self.rfm_bins}")
        if not 0.0 < self.abc_a < self.abc_b <= 1.0:
            raise ConfigError(
                f"abc thresholds must satisfy 0 < a < b <= 1, got a={self.abc_a}, b={self.abc_b}"
            )
        _check_choice("models.model", self.model, ("auto", "none", "bgnbd", "pnbd", "mbgnbd"))
        if not 1 <= self.horizon_months <= 600:
            raise ConfigError(f"models.horizon_months must be 1..600, got {self.horizon_months}")
        if not 0.0 <= self.annual_discount_rate < 1.0:
            raise ConfigError(
                "models.annual_discount_rate is a yearly rate such as 0.10; "
                f"got {self.annual_discount_rate}"
            )
        if not 0.0 < self.margin <= 1.0:
            raise ConfigError(f"models.margin is a share of spend in (0, 1]; got {self.margin}")
        if self.penalizer < 0:
            raise ConfigError(f"models.penalizer must be >= 0, got {self.penalizer}")
        if (
            self.as_of is not None
            and self.calibration_end is not None
            and self.calibration_end >= self.as_of
        ):
            raise ConfigError(
                f"calibration_end ({self.calibration_end}) must be before as_of ({self.as_of})"
            )

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given (non-None) values replaced, e.g. from CLI flags."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if "columns" in given:
            given["columns"] = {**self.columns, **{k: v for k, v in given["columns"].items() if v}}
        return replace(self, **given)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings for summary.json."""
        out = asdict(self)
        for key in ("as_of", "calibration_end"):
            if out[key] is not None:
                out[key] = out[key].isoformat()
        out["columns"] = dict(self.columns)
        out.pop("rfm_schemes", None)
        if "://" in self.workspace:
            out["workspace"] = _redact(self.workspace)
        if self.source_url:
            out["source_url"] = _redact(self.source_url)
        return out


def _redact(url: str) -> str:
    from corecustomers.data.connect import redact_url as redact

    return redact(url)


#: A memory amount DuckDB reads: a number and a unit (B, KB, MB, GB, TB, or KiB ... TiB).
_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*([KMGT]i?)?B\s*$", re.IGNORECASE)

# Settings whose values must be numbers, with the name the user writes them under.
_NUMBERS: dict[str, tuple[str, type]] = {
    "max_bad_share": ("analysis.max_bad_share", float),
    "rfm_bins": ("rfm.bins", int),
    "abc_a": ("abc.a", float),
    "abc_b": ("abc.b", float),
    "horizon_months": ("models.horizon_months", int),
    "annual_discount_rate": ("models.annual_discount_rate", float),
    "margin": ("models.margin", float),
    "penalizer": ("models.penalizer", float),
    "header_row": ("source.header_row", int),
}
_TEXTS: dict[str, str] = {
    "delimiter": "source.delimiter",
    "encoding": "source.encoding",
    "sheet": "source.sheet",
    "source_name": "source.name",
    "decimal": "source.decimal",
    "time_unit": "analysis.time_unit",
    "timezone": "analysis.timezone",
    "currency": "analysis.currency",
    "lang": "analysis.lang",
    "engine": "analysis.engine",
    "memory_limit": "analysis.memory_limit",
    "temp_directory": "analysis.temp_directory",
    "model": "models.model",
    "workspace": "workspace.path",
}


def _check_types(settings: Settings) -> None:
    """A ConfigError naming the setting when a value has the wrong type (e.g. "lots")."""
    for attr, (name, kind) in _NUMBERS.items():
        value = getattr(settings, attr)
        if attr == "header_row" and value is None:
            continue
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if kind is int:
            ok = ok and float(value).is_integer()
        if not ok:
            what = "a whole number" if kind is int else "a number"
            raise ConfigError(f"{name} must be {what}; got {value!r}")
        if kind is int and not isinstance(value, int):
            object.__setattr__(settings, attr, int(value))
    if settings.header_row is not None and settings.header_row < 1:
        raise ConfigError(f"source.header_row is a 1-based row number; got {settings.header_row}")
    for attr, name in _TEXTS.items():
        value = getattr(settings, attr)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{name} must be text in quotes; got {value!r}")
    ids = settings.placeholder_ids
    if ids is not None and (not isinstance(ids, tuple) or not all(isinstance(v, str) for v in ids)):
        raise ConfigError(
            f'source.placeholder_ids must be a list of texts such as ["NULL", "无"]; got {ids!r}'
        )


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def parse_date(value: object, name: str) -> _dt.date | None:
    """A date from a TOML date, ``YYYY-MM-DD`` or ``YYYYMMDD``; None for empty."""
    if value is None or value == "":
        return None
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d"):
        try:
            return _dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ConfigError(f"{name} {value!r} is not a date; write it as YYYY-MM-DD")


def load_settings(path: Path | None = None) -> Settings:
    """Read ``corecustomers.toml`` (or ``path``); defaults when there is no file.

    Raises
    ------
    ConfigError
        For a syntax error, an unknown section or key, or an invalid value; the message
        names the file and the key.
    """
    if path is None:
        candidate = Path.cwd() / CONFIG_FILE
        if not candidate.exists():
            return Settings()
        path = candidate
    if not path.exists():
        raise ConfigError(
            f"config file {path} does not exist; create one with `corecustomers init`"
        )
    if path.is_dir():
        raise ConfigError(f"config file {path} is a folder; give the path of a .toml file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte {exc.start} cannot be read); "
            "save it as UTF-8"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror or exc}") from exc
    try:
        return settings_from_mapping(data)
    except ConfigError as exc:
        raise ConfigError(f"config file {path}: {exc}") from exc


def settings_from_mapping(data: Mapping[str, Any]) -> Settings:
    """Settings from the parsed TOML structure."""
    for section, body in data.items():
        if section not in _SECTIONS:
            raise ConfigError(
                f"unknown section [{section}]; known: {', '.join('[' + s + ']' for s in _SECTIONS)}"
            )
        if not isinstance(body, Mapping):
            raise ConfigError(f"[{section}] must be a table of settings")
        known = _SECTIONS[section]
        unknown = set() if known is None else set(body) - known
        if unknown:
            raise ConfigError(
                f"unknown key(s) {', '.join(sorted(unknown))} in [{section}]; "
                f"known: {', '.join(sorted(known or ()))}"
            )
    src = data.get("source", {})
    ana = data.get("analysis", {})
    rfm = data.get("rfm", {})
    abc = data.get("abc", {})
    kwargs: dict[str, Any] = {
        "delimiter": src.get("delimiter") or None,
        "encoding": src.get("encoding") or None,
        "header": src.get("header"),
        "sheet": (str(src["sheet"]) if src.get("sheet") not in (None, "") else None),
        "source_url": src.get("source_url") or None,
        "header_row": src.get("header_row"),
        "source_name": src.get("name"),
        "decimal": src.get("decimal") or None,
        "placeholder_ids": (
            tuple(src["placeholder_ids"])
            if isinstance(src.get("placeholder_ids"), list)
            else src.get("placeholder_ids")
        ),
        "columns": {k: str(v) for k, v in data.get("columns", {}).items() if v not in ("", None)},
        "as_of": parse_date(ana.get("as_of"), "as_of"),
        "calibration_end": parse_date(ana.get("calibration_end"), "calibration_end"),
    }
    for key in (
        "time_unit",
        "timezone",
        "currency",
        "lang",
        "max_bad_share",
        "engine",
        "memory_limit",
        "temp_directory",
    ):
        if key in ana:
            kwargs[key] = ana[key]
    for key in ("bins", "scheme", "threshold", "monetary", "schemes"):
        if key in rfm:
            kwargs[f"rfm_{key}"] = rfm[key]
    for key in ("a", "b", "value"):
        if key in abc:
            kwargs[f"abc_{key}"] = abc[key]
    kwargs.update(data.get("models", {}))
    ws = data.get("workspace", {})
    if ws.get("url") or ws.get("path"):
        kwargs["workspace"] = str(ws.get("url") or ws.get("path"))
    for section in ("tiers", "playbook", "alerts"):
        if section in data:
            kwargs[section] = dict(data[section])
    unknown = set(kwargs) - {f.name for f in fields(Settings)}
    if unknown:  # the key checks above let only the keys of Settings through
        raise ConfigError(f"unknown setting(s) {', '.join(sorted(unknown))} in the config file")
    try:
        return Settings(**kwargs)
    except TypeError as exc:  # pragma: no cover - guarded by the key checks above
        raise ConfigError(str(exc)) from exc


def init_config_text() -> str:
    """The commented ``corecustomers.toml`` that ``corecustomers init`` writes."""
    import json
    import textwrap

    from corecustomers.data.validation import PLACEHOLDER_IDS

    listed = "placeholder_ids = " + json.dumps(list(PLACEHOLDER_IDS), ensure_ascii=False)
    lines = textwrap.wrap(listed, width=86, subsequent_indent="  ", break_on_hyphens=False)
    return _TEMPLATE.replace("@PLACEHOLDER_IDS@", "\n".join("# " + line for line in lines))


_TEMPLATE = """\
# corecustomers.toml — settings for `corecustomers analyze` in this folder.
# Every setting is optional; a command-line flag overrides the value here.

[source]
# delimiter = ","          # detected when empty (comma, semicolon, tab, pipe, whitespace)
# encoding = "utf-8"       # detected: utf-8, utf-8 with BOM, gb18030 (GBK)
# header = true            # detected for CSV; Excel sheets are read with a header row
# header_row = 3           # Excel: the row holding the headers, when titles sit above them
# sheet = "Sheet1"         # Excel: sheet name or 1-based number
# source_url = "postgresql://user@localhost:5432/shop"   # read a table or query there
# name = "sales"           # the history this source's snapshots continue; default: the
#                          # file name without a date stamp (sales-2024-06-01.csv → sales)
# decimal = ","            # decimal mark of amounts: "." (1,234.56) or "," (1.234,56);
#                          # detected when every amount of the column reads one way only
# Customer ids that mean "no customer" (quarantined as missing_customer_id), compared
# without case and surrounding spaces; [] quarantines only empty ids. The default list:
@PLACEHOLDER_IDS@

[columns]
# Which source column holds each field: a header or a 1-based position.
# Detected from common English and Chinese headers when not given
# (customer / 客户编号 / 会员号, date / 交易日期 / 下单时间, amount / 金额 / 实付金额 ...).
# customer_id = "会员号"
# timestamp = "下单时间"
# amount = "实付金额"
# order_id = "订单号"       # duplicates of an order are quarantined (first copy kept)
# product = "商品"
# category = "品类"
# channel = "渠道"
# store = "门店"
# quantity = "数量"
# margin = "毛利"           # used for ABC classes when [abc] value = "margin"

[analysis]
# as_of = 2024-12-31         # default: the last valid transaction date
# calibration_end = 2024-06-30   # split calibration / holdout for model checks
time_unit = "week"           # day | week (days/7) | month (days/30.4375)
timezone = "UTC"             # business time zone as a UTC offset, e.g. "+08:00"
currency = ""                # shown in the report, e.g. "¥" or "$"
lang = "en"                  # en | zh — report and segment labels
max_bad_share = 0.20         # stop when more than this share of rows is quarantined
engine = "duckdb"            # duckdb | spark
# memory_limit = "4GB"       # DuckDB's memory cap (default: 80 % of the machine's);
#                            # past it, it spills to temp_directory
# temp_directory = "/var/tmp/corecustomers"   # where DuckDB spills (default: .tmp in
#                            # the working directory)

[rfm]
bins = 5                     # scores 1..bins per dimension
scheme = "named"             # named (11 English segments) | cn8 (八类客户) | a scheme below
threshold = "mean"           # cn8: high/low against the mean or the median
monetary = "total"           # M from total spend or mean spend per purchase

# A scheme of your own: rules are tried in order, the first match wins; ranges are
# inclusive score ranges, a missing dimension matches any score. End with a catch-all.
# [rfm.schemes.vip]
# segments = [
#   { name = "VIP", label_zh = "贵宾", r = [4, 5], f = [4, 5], m = [4, 5] },
#   { name = "Active", label_zh = "活跃", r = [3, 5] },
#   { name = "Others", label_zh = "其他" },
# ]

[models]
model = "auto"               # auto (holdout, else BIC) | bgnbd | pnbd | mbgnbd | none
horizon_months = 12          # CLV horizon
annual_discount_rate = 0.10  # discounted monthly: (1 + rate)^(1/12) - 1
margin = 1.0                 # share of spend that is profit
penalizer = 0.0              # L2 penalty on the model parameters

[abc]
a = 0.80                     # class A: customers bringing the first 80 % of revenue
b = 0.95                     # class B: up to 95 %; C: the rest
value = "revenue"            # revenue | margin (needs a margin column)
"""
