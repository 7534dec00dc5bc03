"""No module imports another module's ``_private`` names (issue 8, item 8).

The rule, checked on the import statements of every module of ``src/corecustomers``:

* a name with a leading underscore (``_redact``, ``_OP_EN``) may not be imported from
  another module at all: what other modules use is public (no underscore, and listed in
  the module's ``__all__``);
* a private *module* (``report/_svg.py``, ``data/_sampling.py``) may be imported only from
  inside its own package (``corecustomers.report.x`` may import ``corecustomers.report._svg``;
  ``corecustomers.insights.x`` may not import ``corecustomers.data._sampling``).

Every module is checked, the Django service in ``web/`` included (it was left out until
its last private imports became public names); a breach left on purpose goes into
:data:`KNOWN` with its reason, never a package into an exclusion list.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "corecustomers"

KNOWN: dict[str, str] = {}
"""Breaches left on purpose, each with its reason; an entry that no longer occurs fails."""


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _module_name(path: Path, src: Path = SRC) -> str:
    parts = path.relative_to(src).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str, src: Path) -> bool:
    path = src.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def breaches(path: Path, src: Path = SRC) -> list[str]:
    """The private imports of the module at ``path`` (under ``src``) that break the rule."""
    module = _module_name(path, src)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[str] = []

    def inside(private_module: str) -> bool:
        parent = private_module.rpartition(".")[0]
        return package == parent or package.startswith(parent + ".")

    def check_module(dotted: str) -> None:
        parts = dotted.split(".")
        for i, part in enumerate(parts):
            if _private(part) and not inside(".".join(parts[: i + 1])):
                found.append(f"{module} imports {'.'.join(parts[: i + 1])}")
                return

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "corecustomers":
                    check_module(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            if source.split(".")[0] != "corecustomers":
                continue
            check_module(source)
            for alias in node.names:
                if not _private(alias.name):
                    continue
                target = f"{source}.{alias.name}"
                if not _is_module(target, src) or not inside(target):
                    found.append(f"{module} imports {target}")
    return found


def _checked_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_package_is_checked_the_web_service_included() -> None:
    modules = {_module_name(path) for path in _checked_files()}
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert {m.split(".")[1] for m in modules if m.count(".") >= 1} >= packages
    assert "corecustomers.web.privacy.stores" in modules and "corecustomers.web.api" in modules


def test_no_module_imports_another_modules_private_names() -> None:
    found = [b for path in _checked_files() for b in breaches(path)]
    unexpected = sorted(set(found) - set(KNOWN))
    assert not unexpected, "private names imported across modules:\n" + "\n".join(unexpected)


def test_every_known_breach_still_occurs() -> None:
    found = {b for path in _checked_files() for b in breaches(path)}
    stale = sorted(set(KNOWN) - found)
    assert not stale, "fixed: remove from KNOWN:\n" + "\n".join(stale)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "from corecustomers.data.connect import _redact\n",
            ["imports corecustomers.data.connect._redact"],
        ),
        (
            "from corecustomers.report._charts import _legend\n",
            [
                "imports corecustomers.report._charts",
                "imports corecustomers.report._charts._legend",
            ],
        ),
        (
            "from corecustomers.insights.alerts import _ids\n",
            ["imports corecustomers.insights.alerts._ids"],
        ),
        ("from corecustomers.data._time import days_per\n", ["imports corecustomers.data._time"]),
        ("import corecustomers.data._time\n", ["imports corecustomers.data._time"]),
        ("from corecustomers.insights import _frames\n", []),
        ("from ._frames import RiskFrame\n", []),
        ("from corecustomers.insights._frames import RiskFrame\n", []),
        ("from corecustomers.insights.alerts import early_warnings\n", []),
    ],
)
def test_the_rule_on_examples(tmp_path: Path, source: str, expected: list[str]) -> None:
    """The check itself: written as if it were ``corecustomers/insights/example.py``."""
    fake_src = tmp_path / "src"
    package = fake_src / "corecustomers" / "insights"
    package.mkdir(parents=True)
    for name in ("__init__.py", "_frames.py", "alerts.py", "example.py"):
        (package / name).write_text("", encoding="utf-8")
    data = fake_src / "corecustomers" / "data"
    data.mkdir()
    for name in ("__init__.py", "_time.py", "connect.py"):
        (data / name).write_text("", encoding="utf-8")
    report = fake_src / "corecustomers" / "report"
    report.mkdir()
    for name in ("__init__.py", "_charts.py"):
        (report / name).write_text("", encoding="utf-8")
    (package / "example.py").write_text(source, encoding="utf-8")
    got = breaches(package / "example.py", fake_src)
    assert got == [f"corecustomers.insights.example {e}" for e in expected]
