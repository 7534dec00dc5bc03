"""Settings: one TOML file per workspace (``corecustomers.toml``); the common ones are flags too.

Precedence: command-line flag > config file > built-in default. Which sections and keys
exist, their kinds, choices, defaults, help and flags are one table,
:data:`corecustomers.settings_table.SETTINGS`: ``load_settings`` checks the file against
it, :class:`Settings` checks the types and choices with it, and :func:`init_config_text`
(the commented file ``corecustomers init`` writes) is generated from it.
"""

from __future__ import annotations

import datetime as _dt
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from corecustomers.errors import ConfigError
from corecustomers.settings_table import SECTIONS, SETTINGS, Setting, section_keys, template_text
from corecustomers.units import Lang, TimeUnit

__all__ = ["CONFIG_FILE", "Settings", "init_config_text", "load_settings"]

CONFIG_FILE = "corecustomers.toml"


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
    #: Processes ``history`` analyses its dates on; 0: one per CPU, at most 4.
    jobs: int = 0
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
        if self.memory_limit is not None and not _MEMORY.match(self.memory_limit):
            raise ConfigError(
                f'analysis.memory_limit must be an amount such as "4GB" or "512MB"; '
                f"got {self.memory_limit!r}"
            )
        if self.temp_directory is not None and not self.temp_directory.strip():
            raise ConfigError("analysis.temp_directory is empty; give a folder, or leave it out")
        if self.jobs < 0:
            raise ConfigError(
                f"analysis.jobs must be 0 (one per CPU) or a number of processes; got {self.jobs}"
            )
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

_KIND_WORDS = {"int": "a whole number", "float": "a number", "bool": "true or false"}


def _check_types(settings: Settings) -> None:
    """A ConfigError naming the setting when a value has the wrong type or is not a choice.

    Driven by the table: each row's kind (``rfm.bins`` a whole number, ``analysis.lang``
    text) and choices (``analysis.lang`` one of en, zh).
    """
    for row in SETTINGS:
        if row.attr == "columns" or row.kind in ("table", "date"):
            continue  # columns are texts by construction; dates are parsed to dates
        value = getattr(settings, row.field)
        if value is None and row.default is None:
            continue
        if row.kind in ("int", "float"):
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if row.kind == "int":
                ok = ok and float(value).is_integer()
            if not ok:
                raise ConfigError(f"{row.name} must be {_KIND_WORDS[row.kind]}; got {value!r}")
            if row.kind == "int" and not isinstance(value, int):
                object.__setattr__(settings, row.field, int(value))
        elif row.kind == "bool" and not isinstance(value, bool):
            raise ConfigError(f"{row.name} must be true or false; got {value!r}")
        elif row.kind == "text" and not isinstance(value, str):
            raise ConfigError(f"{row.name} must be text in quotes; got {value!r}")
        elif row.kind == "texts" and (
            not isinstance(value, tuple) or not all(isinstance(v, str) for v in value)
        ):
            raise ConfigError(
                f'{row.name} must be a list of texts such as ["NULL", "无"]; got {value!r}'
            )
        if row.choices and value not in row.choices:
            raise ConfigError(f"{row.name} must be one of {', '.join(row.choices)}; got {value!r}")
    if settings.header_row is not None and settings.header_row < 1:
        raise ConfigError(f"source.header_row is a 1-based row number; got {settings.header_row}")


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
    """Settings from the parsed TOML structure, checked against the table of settings."""
    _check_keys(data)
    kwargs: dict[str, Any] = {}
    columns: dict[str, str] = {}
    for row in SETTINGS:
        body = data.get(row.section)
        if body is None:
            continue
        if row.key is None:  # a free-form table, checked by the module that reads it
            kwargs[row.field] = dict(body)
            continue
        if row.key not in body:
            continue
        value = _value(row, body[row.key])
        if row.field == "columns":
            if value is not None:
                columns[row.key] = value
        elif value is not None or not row.blank_is_unset:
            kwargs[row.field] = value
    if columns:
        kwargs["columns"] = columns
    return Settings(**kwargs)


def _value(row: Setting, value: Any) -> Any:
    """A file's value as the Settings field holds it (None: "not set")."""
    if row.blank_is_unset and value == "":
        return None
    if row.number_as_text and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if row.kind == "date":
        return parse_date(value, row.key or row.name)
    if row.kind == "texts" and isinstance(value, list):
        return tuple(value)
    if row.kind == "table" and isinstance(value, Mapping):
        return dict(value)
    if row.field == "columns" and not isinstance(value, str):
        raise ConfigError(
            f"{row.name} must be a header in quotes or a column number; got {value!r}"
        )
    return value


def _check_keys(data: Mapping[str, Any]) -> None:
    """Every section and key is one of the table's; the message says what to do if not."""
    for section, body in data.items():
        if section not in SECTIONS:
            hint = _closest(section, SECTIONS)
            raise ConfigError(
                f"unknown section [{section}]"
                + (f"; did you mean [{hint}]?" if hint else "")
                + f" Known: {', '.join('[' + s + ']' for s in SECTIONS)}. Rename or remove it."
            )
        if not isinstance(body, Mapping):
            raise ConfigError(f"[{section}] must be a table of settings, not a single value")
        known = section_keys(section)
        if known is None:
            continue
        unknown = sorted(set(body) - set(known))
        if not unknown:
            continue
        key = unknown[0]
        elsewhere = [r.section for r in SETTINGS if r.key == key and r.section != section]
        if elsewhere:
            hint = f"; {key} belongs in [{elsewhere[0]}]: move it there"
        elif (close := _closest(key, known)) is not None:
            hint = f"; did you mean {close}? Correct the spelling or remove it"
        else:
            hint = "; remove it or correct its name"
        raise ConfigError(
            f"unknown key(s) {', '.join(unknown)} in [{section}]{hint}. "
            f"Known in [{section}]: {', '.join(known)} (`corecustomers init --path FILE` "
            "writes every setting with its help)"
        )


def _closest(word: str, choices: Iterable[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.7)
    return found[0] if found else None


def init_config_text() -> str:
    """The commented ``corecustomers.toml`` that ``corecustomers init`` writes.

    Generated from the table of settings (:func:`corecustomers.settings_table.template_text`):
    every section and key with its help, the ones with a default set to it.
    """
    return template_text()
