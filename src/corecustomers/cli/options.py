"""The settings' command-line options, generated from the table of settings.

A command that reads settings declares a ``flags: SettingFlags = NO_FLAGS`` parameter and
is decorated with :func:`settings_options`: the decorator puts, in place of ``flags``,
one option per row of :data:`corecustomers.settings_table.SETTINGS` whose ``commands``
name the command (same flag, help, type and default on every command), and ``--config``.
``analyze``, ``summarize`` and ``history`` so share their source, column and engine
options instead of each spelling them out; the table says which command takes which.

The command receives what was given as a :class:`SettingFlags` and calls
:meth:`SettingFlags.settings` inside its error handling, so a bad config file or value
is a message with exit code 2.
"""

from __future__ import annotations

import datetime as _dt
import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import typer
from rich.markup import escape

from corecustomers.config import CONFIG_FILE, Settings, load_settings, parse_date
from corecustomers.errors import ConfigError
from corecustomers.settings_table import SETTINGS, Setting

__all__ = [
    "NO_FLAGS",
    "PANELS",
    "ConfigOpt",
    "Debug",
    "Quiet",
    "SettingFlags",
    "SourceArg",
    "flag_date",
    "flag_rows",
    "param_name",
    "settings_options",
]

F = TypeVar("F", bound=Callable[..., Any])

PANELS: Mapping[str, str] = {
    "source": "Source",
    "columns": "Columns",
    "analysis": "Analysis",
    "models": "Analysis",
    "workspace": "Snapshots",
    "source.name": "Snapshots",
}
"""The ``--help`` panel of each section's options (or of one setting's, by its name)."""

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help=escape(f"Config file [default: ./{CONFIG_FILE} when present].")),
]
"""``--config``: every command with settings' options takes it."""


SourceArg = Annotated[
    str,
    typer.Argument(
        help="CSV/TXT, Excel or Parquet file; with --source-url a table name or a SQL query.",
        show_default=False,
    ),
]
"""The source argument of the commands that read one (analyze, summarize, history)."""
Debug = Annotated[bool, typer.Option("--debug", help="Show the traceback of unexpected failures.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the result.")]


def flag_date(value: str | None, name: str) -> _dt.date | None:
    """A date given as option ``name``; None when the option was not given."""
    if value is None:
        return None
    if not value.strip():
        raise ConfigError(f"{name} is empty; give a date such as 2024-12-31 or leave {name} out")
    return parse_date(value, name)


@dataclass(frozen=True)
class SettingFlags:
    """The settings' options given on a command line, and the ``--config`` file."""

    config: Path | None = None
    given: Mapping[str, object] = field(default_factory=dict)
    """Each given option's value by its setting's ``section.key``."""

    def settings(self) -> Settings:
        """The config file's settings (or the defaults) with the given options over them.

        Raises
        ------
        ConfigError
            For a bad config file or a bad value, naming the file, key or option.
        """
        overrides: dict[str, Any] = {}
        columns: dict[str, str] = {}
        for row in SETTINGS:
            value = self.given.get(row.name)
            if value is None or row.flag is None:
                continue
            if row.kind == "date":
                value = flag_date(str(value), row.flag)
            if row.field == "columns":
                columns[row.key or ""] = str(value)
            else:
                overrides[row.field] = value
        return load_settings(self.config).with_overrides(columns=columns, **overrides)


NO_FLAGS = SettingFlags()
"""The placeholder default of a command's ``flags`` parameter (replaced by the options)."""


def flag_rows(command: str) -> tuple[Setting, ...]:
    """The settings that are options of ``command``, in table order."""
    return tuple(row for row in SETTINGS if row.flag and command in row.commands)


def param_name(row: Setting) -> str:
    """The Python parameter name of a setting's option: ``--customer-col`` → customer_col."""
    return (row.flag or "").lstrip("-").replace("-", "_")


def _annotation(row: Setting) -> object:
    kind: object = int | None if row.kind == "int" else str | None
    option = typer.Option(
        row.flag or "",
        help=escape(row.flag_help()),
        min=row.minimum,
        rich_help_panel=PANELS.get(row.name, PANELS.get(row.section)),
        show_default=False,
    )
    return Annotated[kind, option]


def settings_options(command: str) -> Callable[[F], F]:
    """Give the decorated command the options of its settings in place of ``flags``.

    The options are those of :func:`flag_rows` for ``command``, then ``--config``; the
    function is called with ``flags=SettingFlags(config, given)``.
    """
    rows = flag_rows(command)

    def decorate(func: F) -> F:
        signature = inspect.signature(func, eval_str=True)
        params = list(signature.parameters.values())
        at = [p.name for p in params].index("flags")
        added = [
            inspect.Parameter(
                param_name(row),
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=None,
                annotation=_annotation(row),
            )
            for row in rows
        ]
        added.append(
            inspect.Parameter(
                "config",
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=None,
                annotation=ConfigOpt,
            )
        )
        names = [p.name for p in params]
        clash = {p.name for p in added} & set(names)
        if clash:
            raise TypeError(f"{func.__name__} already has parameters {sorted(clash)}")
        params = [*params[:at], *added, *params[at + 1 :]]

        @functools.wraps(func)
        def wrapper(**kwargs: Any) -> Any:
            given = {row.name: kwargs.pop(param_name(row)) for row in rows}
            flags = SettingFlags(config=kwargs.pop("config"), given=given)
            return func(**kwargs, flags=flags)

        wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        wrapper.__annotations__["return"] = signature.return_annotation
        return cast(F, wrapper)

    return decorate
