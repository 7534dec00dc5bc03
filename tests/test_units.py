"""The shared units are defined once, in :mod:`corecustomers.units` (issue 8, item 8)."""

from __future__ import annotations

import ast
import doctest
from pathlib import Path
from typing import get_args

import pytest

import corecustomers.units as units
from corecustomers.config import Settings
from corecustomers.errors import ConfigError
from corecustomers.models.clv import units_per_month

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "corecustomers"

SHARED = {"TimeUnit", "Lang", "Period", "DAYS_PER_UNIT", "DAYS_IN_WEEK", "DAYS_IN_MEAN_MONTH"}
"""Names that only corecustomers.units may define."""

KNOWN_COPIES: dict[str, str] = {
    # segments.schemes.Lang also accepts "zh-CN" (a wider type for scheme labels), and
    # segments/ was being changed by other sessions when the shared module was made.
    "corecustomers.segments.schemes defines Lang": "a wider Lang, segments/ not this change's",
}
"""Definitions left on purpose, each with its reason; a stale entry fails."""


def _definitions() -> set[str]:
    found: set[str] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "units.py":
            continue
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = list(node.targets)
            elif isinstance(node, ast.AnnAssign):
                targets = [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id in SHARED:
                    found.add(f"{module} defines {target.id}")
    return found


def test_the_shared_types_and_unit_lengths_are_defined_once() -> None:
    unexpected = sorted(_definitions() - set(KNOWN_COPIES))
    assert not unexpected, "define these in corecustomers.units instead:\n" + "\n".join(unexpected)


def test_every_known_copy_still_exists() -> None:
    stale = sorted(set(KNOWN_COPIES) - _definitions())
    assert not stale, "gone: remove from KNOWN_COPIES:\n" + "\n".join(stale)


def test_units_imports_nothing_from_the_layers() -> None:
    """Importable from every layer: it may import only corecustomers.errors."""
    tree = ast.parse((PACKAGE / "units.py").read_text(encoding="utf-8"))
    ours = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("corecustomers")
    }
    plain = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name.startswith("corecustomers")
    ]
    assert ours <= {"corecustomers.errors"} and not plain


@pytest.mark.parametrize(("unit", "days"), [("day", 1.0), ("week", 7.0), ("month", 30.4375)])
def test_unit_lengths(unit: str, days: float) -> None:
    assert units.days_per(unit) == days
    assert units_per_month(unit) == pytest.approx(30.4375 / days, rel=1e-15)


def test_the_model_year_is_twelve_mean_months() -> None:
    assert units_per_month("year") * 12 == pytest.approx(1.0, rel=1e-15)
    assert units.DAYS_IN_MEAN_MONTH * 12 == units.DAYS_IN_MEAN_YEAR == 365.25


def test_an_unknown_unit_is_a_config_error_naming_the_choices() -> None:
    with pytest.raises(ConfigError, match="'day', 'week', 'month', got 'fortnight'"):
        units.days_per("fortnight")


def test_settings_accept_exactly_the_shared_units_and_languages() -> None:
    assert units.TIME_UNITS == get_args(units.TimeUnit) == ("day", "week", "month")
    for unit in units.TIME_UNITS:
        assert Settings(time_unit=unit).time_unit == unit
    for lang in units.LANGS:
        assert Settings(lang=lang).lang == lang
    with pytest.raises(ConfigError, match="time_unit"):
        Settings(time_unit="year")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="lang"):
        Settings(lang="fr")  # type: ignore[arg-type]


def test_docstring_examples_run() -> None:
    result = doctest.testmod(units, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
