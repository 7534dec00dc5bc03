"""The segments package: runnable docstring examples, public surface, clean imports."""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect
from pathlib import Path

import pytest

import corecustomers.segments

MODULES = [
    "",
    ".rfm",
    ".schemes",
    ".abc",
    ".tables",
    ".migration",
    ".conditions",
    ".policy",
    ".overrides",
    ".tiers",
    ".playbook",
]
PACKAGE_DIR = Path(corecustomers.segments.__file__).parent

# Segments are pure NumPy / pyarrow: no dataframes, plots, engines or upper layers.
FORBIDDEN = (
    "pandas",
    "polars",
    "matplotlib",
    "ibis",
    "duckdb",
    "pyspark",
    "corecustomers.data",
    "corecustomers.models",
    "corecustomers.service",
    "corecustomers.report",
    "corecustomers.cli",
    "corecustomers.web",
    "corecustomers.store",
    "corecustomers.insights",
)


@pytest.mark.parametrize("suffix", MODULES)
def test_docstring_examples_run(suffix: str) -> None:
    module = importlib.import_module("corecustomers.segments" + suffix)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, raise_on_error=False)
    assert result.attempted > 0
    assert result.failed == 0


def test_public_surface_is_exported_and_documented() -> None:
    for name in corecustomers.segments.__all__:
        obj = getattr(corecustomers.segments, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert obj.__doc__, name


@pytest.mark.parametrize("path", sorted(PACKAGE_DIR.glob("*.py")), ids=lambda p: p.name)
def test_no_forbidden_imports(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.append(node.module)
    bad = [m for m in imported if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert not bad
