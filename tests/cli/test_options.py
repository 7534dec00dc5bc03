"""The settings' options come from the table: the same on every command that takes them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import typer.main

from corecustomers.cli import app
from corecustomers.cli.options import NO_FLAGS, SettingFlags, flag_rows, settings_options
from corecustomers.config import Settings
from corecustomers.errors import ConfigError
from corecustomers.settings_table import CUT, RUN, SETTINGS, STORE, Setting

SHARED = ("analyze", "summarize", "history")
FLAGGED = [row for row in SETTINGS if row.flag]


def _options(name: str) -> dict[str, Any]:
    """The command's options by flag (Typer's own click types: compared by their fields)."""
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    return {
        opt: param
        for param in command.params
        if param.param_type_name == "option"
        for opt in param.opts
    }


def _same(a: Any, b: Any) -> bool:
    fields = ("opts", "help", "default", "required", "min", "rich_help_panel", "show_default")
    kinds = (a.type_descriptor.annotation, b.type_descriptor.annotation)
    return kinds[0] == kinds[1] and all(getattr(a, f) == getattr(b, f) for f in fields)


def test_analyze_summarize_and_history_share_their_source_and_engine_options() -> None:
    shared = [row.flag for row in SETTINGS if row.flag and row.commands >= RUN]
    assert {
        "--customer-col",
        "--date-col",
        "--amount-col",
        "--order-col",
        "--source-url",
        "--delimiter",
        "--encoding",
        "--header-row",
        "--time-unit",
        "--engine",
        "--memory-limit",
        "--temp-directory",
    } <= set(shared)
    first = _options(SHARED[0])
    for name in SHARED[1:]:
        other = _options(name)
        for flag in [*shared, "--config"]:
            assert flag in other, f"{name} lacks {flag}"
            assert _same(first[flag], other[flag]), f"{name} {flag} differs from analyze's"


@pytest.mark.parametrize("command", ["analyze", "summarize", "history", "compare", "override"])
def test_each_command_takes_exactly_the_table_options_it_is_listed_for(command: str) -> None:
    options = _options(command)
    expected = {row.flag for row in FLAGGED if command in row.commands}
    settings_flags = {row.flag for row in FLAGGED}
    assert {o for o in options if o in settings_flags} == expected
    assert "--config" in options
    for row in FLAGGED:
        if row.flag in options:
            assert options[row.flag].help is not None
            assert row.help in options[row.flag].help.replace("\\[", "[")


def test_the_groups_say_who_takes_what() -> None:
    assert CUT < RUN and {"compare", "override"} < STORE
    assert {row.flag for row in FLAGGED if row.commands == CUT} == {"--as-of", "--calibration-end"}


def _given(row: Setting) -> Any:
    value = row.example_value()
    return value.isoformat() if isinstance(value, dt.date) else value


@pytest.mark.parametrize("row", FLAGGED, ids=lambda r: r.flag or "")
def test_each_flag_sets_its_setting(row: Setting) -> None:
    given = {row.name: _given(row)}
    if row.name == "analysis.calibration_end":
        given["analysis.as_of"] = "2024-12-31"
    got = SettingFlags(given=given).settings()
    value = getattr(got, row.field)
    if row.field == "columns":
        value = value[row.key]
    assert value == row.example_value()
    assert got != Settings()


def test_a_flag_beats_the_file_and_the_file_beats_the_default(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[analysis]\ntime_unit = "month"\nengine = "spark"\n', encoding="utf-8")
    got = SettingFlags(config=cfg, given={"analysis.time_unit": "day"}).settings()
    assert (got.time_unit, got.engine, got.lang) == ("day", "spark", "en")


def test_an_empty_date_flag_is_named() -> None:
    with pytest.raises(ConfigError, match="--as-of is empty"):
        SettingFlags(given={"analysis.as_of": " "}).settings()


def test_the_decorator_refuses_a_parameter_it_would_add() -> None:
    def clash(source: str, customer_col: str | None = None, flags: SettingFlags = NO_FLAGS) -> None:
        """A command that spells out an option of the table itself."""

    with pytest.raises(TypeError, match="customer_col"):
        settings_options("analyze")(clash)


def test_flag_rows_follow_the_table() -> None:
    assert [row.flag for row in flag_rows("compare")] == ["--source-name", "--workspace"]
