"""The table of settings is the one list: the template, the loader and Settings agree with it."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from corecustomers.config import Settings, init_config_text, load_settings, settings_from_mapping
from corecustomers.errors import ConfigError
from corecustomers.insights.alert_settings import AlertSettings
from corecustomers.segments.playbook import playbook_from_config
from corecustomers.segments.policy import policy_from_config
from corecustomers.segments.schemes import scheme_from_config
from corecustomers.settings_table import SECTIONS, SETTINGS, Setting, section_keys, template_text

KEYED = [row for row in SETTINGS if row.key is not None]


def _blocks(text: str) -> dict[str, str]:
    """The template's text under each ``[section]`` header, up to the next one."""
    parts = re.split(r"^\[([a-z_]+)\]$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def _converted(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def test_the_template_lists_every_section_and_key_of_the_table() -> None:
    blocks = _blocks(init_config_text())
    assert list(blocks) == list(SECTIONS)  # every section, in the table's order
    for section in ("workspace", "tiers", "playbook", "alerts"):
        assert section in blocks
    for row in KEYED:
        pattern = (
            rf"^(# )?{row.key} = " if row.kind != "table" else rf"^# \[{row.section}\.{row.key}\."
        )
        assert re.search(pattern, blocks[row.section], flags=re.M), row.name
        assert row.help.split(" ")[0] in blocks[row.section], row.name
    analysis = blocks["analysis"]
    assert re.search(r"^# memory_limit = ", analysis, flags=re.M)
    assert re.search(r"^# temp_directory = ", analysis, flags=re.M)


def test_the_template_parses_back_to_the_defaults() -> None:
    text = init_config_text()
    assert settings_from_mapping(tomllib.loads(text)) == Settings()


def test_the_table_defaults_are_the_settings_defaults() -> None:
    default = Settings()
    fields = {f.name for f in dataclasses.fields(Settings)}
    assert {row.field for row in SETTINGS} == fields  # every field has a row, no row is spare
    for row in SETTINGS:
        value = getattr(default, row.field)
        if row.field == "columns":
            assert row.default is None and row.key not in value, row.name
        elif row.field == "workspace" and row.key == "url":
            assert row.default is None  # url overrides path when set
        else:
            assert value == row.default, row.name


def test_every_example_is_read_into_its_setting(tmp_path: Path) -> None:
    """The template with every example written in, read back: each example arrives."""
    path = tmp_path / "examples.toml"
    path.write_text(template_text(examples=True), encoding="utf-8")
    got = load_settings(path)
    for row in KEYED:
        value = getattr(got, row.field)
        if row.field == "columns":
            assert value[row.key] == row.example_value(), row.name
        elif row.name == "workspace.path":
            assert value == setting_example("workspace", "url")  # the url wins over the path
        elif row.kind == "table":
            assert value == tomllib.loads(str(row.example))["rfm"]["schemes"], row.name
        else:
            assert value == _converted(row.example_value()), row.name
            assert value != row.default, f"{row.name}: the example should differ from the default"


def setting_example(section: str, key: str) -> Any:
    return next(r.example_value() for r in SETTINGS if r.section == section and r.key == key)


def test_the_free_form_examples_pass_their_own_checks() -> None:
    data = tomllib.loads(template_text(examples=True))
    policy = policy_from_config(data["tiers"])
    assert policy.codes
    assert playbook_from_config(data["playbook"], policy=policy).plays[0].name == "everyone"
    assert AlertSettings.from_config(data["alerts"]) == AlertSettings()
    name = data["rfm"]["scheme"]  # the scheme example names the schemes example
    scheme = scheme_from_config({"name": name, **data["rfm"]["schemes"][name]}, bins=5)
    assert scheme.labels()[0] == "VIP"


@pytest.mark.parametrize("row", KEYED, ids=lambda r: r.name)
def test_each_key_the_table_lists_is_read(row: Setting) -> None:
    """Set alone, each key changes its setting: the loader reads every key of the table."""
    if row.kind == "table":
        body = tomllib.loads(str(row.example))[row.section]
        data: dict[str, Any] = {row.section: body}
    else:
        data = {row.section: {row.key: row.example_value()}}
    if row.name == "analysis.calibration_end":
        data["analysis"]["as_of"] = setting_example("analysis", "as_of")
    got = settings_from_mapping(data)
    assert got != Settings(), row.name


def test_the_loader_accepts_no_key_that_is_not_in_the_table() -> None:
    """Every name of the table and of Settings, tried in every section: only the table's pass."""
    names = {row.key for row in KEYED if row.key} | {f.name for f in dataclasses.fields(Settings)}
    for section in SECTIONS:
        known = section_keys(section)
        if known is None:
            continue
        for name in sorted(names - set(known)):
            with pytest.raises(ConfigError, match=rf"unknown key\(s\) {name} in \[{section}\]"):
                settings_from_mapping({section: {name: "x"}})


def test_an_unknown_key_names_the_file_section_and_key_and_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[rfm]\nbin = 4\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert message.startswith(f"config file {path}: unknown key(s) bin in [rfm]")
    assert "did you mean bins?" in message and "Known in [rfm]: bins, scheme" in message


def test_a_key_in_the_wrong_section_says_where_it_belongs() -> None:
    with pytest.raises(ConfigError, match=r"time_unit belongs in \[analysis\]: move it there"):
        settings_from_mapping({"models": {"time_unit": "day"}})


def test_an_unknown_section_is_named_with_the_known_ones() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown section \[analysys\]; did you mean \[analysis\]"
    ):
        settings_from_mapping({"analysys": {}})


def test_free_form_sections_take_any_key_here() -> None:
    """[tiers], [playbook] and [alerts] are checked by the modules that read them."""
    got = settings_from_mapping({"alerts": {"anything": 1}})
    assert got.alerts == {"anything": 1}
    with pytest.raises(ConfigError, match=r"unknown key\(s\) anything in \[alerts\]"):
        AlertSettings.from_config(got.alerts)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"analysis": {"lang": "fr"}}, "analysis.lang must be one of en, zh; got 'fr'"),
        ({"models": {"model": "x"}}, "models.model must be one of auto, none"),
        ({"source": {"header": "yes"}}, "source.header must be true or false"),
        ({"columns": {"amount": 1.5}}, "columns.amount must be a header in quotes or a column"),
        ({"rfm": {"scheme": 3}}, "rfm.scheme must be text in quotes"),
    ],
)
def test_kinds_and_choices_come_from_the_table(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        settings_from_mapping(data)


def test_numbers_as_positions_are_read_as_text() -> None:
    got = settings_from_mapping({"source": {"sheet": 2}, "columns": {"customer_id": 1}})
    assert (got.sheet, got.columns["customer_id"]) == ("2", "1")


def test_blank_values_mean_not_set() -> None:
    blank = {"source": {"delimiter": "", "sheet": ""}, "analysis": {"as_of": ""}}
    assert settings_from_mapping({**blank, "workspace": {"path": ""}}) == Settings()


def test_the_columns_section_lists_every_field_the_mapping_knows() -> None:
    from corecustomers.data.mapping import FIELDS, REQUIRED_FIELDS

    assert set(section_keys("columns") or ()) == set(FIELDS)
    detected = {row.key for row in KEYED if row.section == "columns" and row.shown == "detected"}
    assert detected == set(REQUIRED_FIELDS)


def test_docstring_examples_run() -> None:
    import doctest

    import corecustomers.settings_table as table

    result = doctest.testmod(table, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
