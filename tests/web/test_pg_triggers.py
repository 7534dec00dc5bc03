"""A worker starting (``migrate``) while another writes does not touch the current triggers.

Every ``migrate`` makes the customer app's triggers again (SQLite drops a table's triggers
when a migration rebuilds it). On PostgreSQL that DDL locks the tables against writes: a
second worker started during a master-data import deadlocked with it. The triggers are
now made only when they are not already the current ones (``customers/pg_triggers.py``).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from corecustomers.web.customers import cells, pg_triggers, scope_copy

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="table locks of CREATE TRIGGER between connections: PostgreSQL "
        "(SQLite's triggers are CREATE TRIGGER IF NOT EXISTS, made again after migrate)",
    ),
]

SETS = {
    "scope copies": [*scope_copy._LEGACY_POSTGRESQL, *scope_copy._POSTGRESQL],
    "dashboard cells": [*cells._LEGACY_POSTGRESQL, *cells._POSTGRESQL],
}


def _other() -> Any:
    import psycopg

    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        password=settings["PASSWORD"] or None,
    )


def test_after_migrate_the_triggers_are_current_and_not_made_again() -> None:
    for name, statements in SETS.items():
        assert pg_triggers.is_current(connection, statements), name
    with CaptureQueriesContext(connection) as queries:
        assert scope_copy.ensure_triggers(connection)
        assert cells.ensure_triggers(connection)
    ddl = [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith(("CREATE", "DROP", "COMMENT"))
    ]
    assert ddl == []


def test_a_missing_trigger_is_made_again() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER customers_cells_stale ON {cells.HISTORY}")
    assert not pg_triggers.is_current(connection, SETS["dashboard cells"])
    assert pg_triggers.is_current(connection, SETS["scope copies"])
    assert cells.ensure_triggers(connection)
    assert pg_triggers.is_current(connection, SETS["dashboard cells"])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgname = 'customers_cells_stale' "
            "AND NOT tgisinternal"
        )
        assert cursor.fetchone() == (2,)  # on the states and on the history again


def test_changed_statements_are_made_again() -> None:
    changed = [*SETS["scope copies"][:-1], SETS["scope copies"][-1] + "\n"]
    try:
        assert not pg_triggers.is_current(connection, changed)
        assert pg_triggers.install(connection, changed)
        assert pg_triggers.is_current(connection, changed)
        assert not pg_triggers.is_current(connection, SETS["scope copies"])
    finally:
        pg_triggers.install(connection, SETS["scope copies"])
    assert pg_triggers.is_current(connection, SETS["scope copies"])


def test_ensuring_the_triggers_does_not_wait_for_a_writer() -> None:
    """Another connection holds write locks on the customers, states and owners (an import
    in its transaction): making sure of the triggers returns at once instead of queueing
    behind it (before: CREATE OR REPLACE TRIGGER waited for the writer's locks)."""
    other = _other()
    outcome: dict[str, Any] = {}
    try:
        other.execute(f"UPDATE {scope_copy.CUSTOMER} SET region = region WHERE false")
        other.execute(f"UPDATE {scope_copy.STATE} SET tier = tier WHERE false")
        other.execute(f"UPDATE {cells.MEMBER} SET role = role WHERE false")

        def ensure() -> None:
            conn = connections.create_connection("default")
            try:
                with conn.cursor() as cursor:
                    cursor.execute("SET lock_timeout = '5s'")
                outcome["scope"] = scope_copy.ensure_triggers(conn)
                outcome["cells"] = cells.ensure_triggers(conn)
            except Exception as error:
                outcome["error"] = error
            finally:
                conn.close()

        worker = threading.Thread(target=ensure)
        worker.start()
        worker.join(timeout=60)
        assert not worker.is_alive()
        assert outcome == {"scope": True, "cells": True}
    finally:
        other.rollback()
        other.close()
