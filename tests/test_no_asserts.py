"""No ``assert`` as control flow in the library (issue 8, item 8).

``python -O`` strips ``assert`` statements, so a condition the code relies on is checked
with ``if ... raise`` (a :mod:`corecustomers.errors` class when the user can act on it,
``RuntimeError`` or ``ValueError`` for a broken internal promise). The test reads every
module of ``src/corecustomers``, ``web/`` and its migrations included (web's six asserts
became checks in session 6; the migrations have none), and fails on an ``assert``
statement that is not in :data:`KNOWN`.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "corecustomers"

KNOWN: dict[str, str] = {}
"""Files whose asserts are left for now, with the reason; a file in it without an
assert fails, so the list shrinks as they are fixed."""


def _asserts() -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(SRC).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        lines = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]
        if lines:
            found[name] = sorted(lines)
    return found


def test_no_assert_statements_in_the_library() -> None:
    unexpected = {name: lines for name, lines in _asserts().items() if name not in KNOWN}
    assert not unexpected, f"assert statements (use if ... raise): {unexpected}"


def test_every_known_file_still_has_an_assert() -> None:
    stale = sorted(set(KNOWN) - set(_asserts()))
    assert not stale, f"no assert left: remove from KNOWN: {stale}"
