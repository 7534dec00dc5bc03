"""Make a set of PostgreSQL triggers only when they are not already the current ones.

Every ``migrate`` makes the customer app's triggers again (:mod:`.scope_copy`,
:mod:`.cells`; SQLite needs that, see there). On PostgreSQL, ``CREATE OR REPLACE TRIGGER``
and ``DROP TRIGGER`` lock their tables against writes, several tables in one
transaction: a worker starting (it runs ``migrate``) while another worker imports a file
deadlocked with the import ("deadlock detected"). So the statements carry a fingerprint,
kept as the comment of their first function, and they run only when it differs or a
trigger is missing. Reading the catalogue locks no table.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from django.db import transaction

__all__ = ["fingerprint", "install", "is_current"]

_TRIGGER = re.compile(r"CREATE\s+OR\s+REPLACE\s+TRIGGER\s+(\w+)", re.IGNORECASE)
_FUNCTION = re.compile(r"CREATE\s+OR\s+REPLACE\s+FUNCTION\s+(\w+)\s*\(", re.IGNORECASE)


def fingerprint(statements: list[str]) -> str:
    """The comment that marks the statements' objects as made (a hash of their text)."""
    digest = hashlib.sha256("\n;\n".join(statements).encode()).hexdigest()
    return f"corecustomers triggers {digest}"


def is_current(conn: Any, statements: list[str]) -> bool:
    """Whether every trigger the statements make exists and carries their fingerprint."""
    text = "\n".join(statements)
    triggers = _TRIGGER.findall(text)
    functions = _FUNCTION.findall(text)
    if not functions:
        return False
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgname = ANY(%s)",
            [sorted(set(triggers))],
        )
        (made,) = cursor.fetchone()
        cursor.execute(
            "SELECT obj_description(p.oid, 'pg_proc') FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE p.proname = %s AND n.nspname = ANY(current_schemas(false))",
            [functions[0]],
        )
        comments = [row[0] for row in cursor.fetchall()]
    return made == len(triggers) and comments == [fingerprint(statements)]


def install(conn: Any, statements: list[str]) -> bool:
    """Run ``statements`` in one transaction unless their objects are current; whether run.

    The first function the statements make is marked with their fingerprint in the same
    transaction, so a half-made set is never taken for current.
    """
    if is_current(conn, statements):
        return False
    first = _FUNCTION.findall("\n".join(statements))[0]
    with transaction.atomic(using=conn.alias), conn.cursor() as cursor:  # never without them
        for statement in statements:
            cursor.execute(statement)
        cursor.execute(f"COMMENT ON FUNCTION {first}() IS '{fingerprint(statements)}'")
    return True
