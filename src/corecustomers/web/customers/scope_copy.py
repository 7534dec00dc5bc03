"""The customer's region and team copied onto its analysis state, kept by the database.

A manager's scope is a condition on the customer (``team IN … OR region IN …``), so every
dashboard aggregate and list count over it used to join the customers table: with 1M
customers each such query scanned both tables (0.4-0.8 s, four of them per dashboard).
``CustomerState.scope_region`` and ``scope_team`` hold the same two values, so that those
queries read one partial, covering index of the state instead (the index-only scan of a
100k-customer scope). They are *copies*: the customer row stays the one source of truth,
and database triggers keep the copies equal to it whatever writes them -- the ORM, a bulk
``update()``, the import's ``INSERT … SELECT`` or raw SQL:

* a state row inserted or updated takes its customer's values (PostgreSQL: a ``BEFORE``
  trigger sets them; SQLite: an ``AFTER`` trigger corrects them when they differ), so a
  value the application writes into the copies is overwritten;
* a customer whose region or team changes (or who is inserted after its state, possible
  with PostgreSQL's deferred foreign keys) updates its state's copies.

On PostgreSQL the customer's triggers run **once per statement**, over the statement's
transition tables (the rows before and after): a bulk change of the region of a million
customers is one joined ``UPDATE`` of their states, not a million single-row ones (which
took 115 µs a row at 100k customers, many minutes at 1M). The state's own ``BEFORE``
trigger is skipped for that ``UPDATE`` (``pg_trigger_depth() = 0`` in its ``WHEN``): the
values it writes are the customer's own. SQLite has row triggers only; each is a
primary-key lookup there.

The triggers are made by migration ``0004`` and made again after every ``migrate``
(:func:`ensure_triggers`, idempotent), because SQLite drops a table's triggers when a
later migration rebuilds the table.
"""

from __future__ import annotations

from typing import Any

from corecustomers.web.customers import pg_triggers

__all__ = ["ANY_SCOPE_CHANGED", "backfill", "drop_triggers", "ensure_triggers"]

STATE = "customers_customerstate"
CUSTOMER = "customers_customer"

#: Whether an ``UPDATE`` statement changed the region or team of any customer (its
#: transition tables: the rows before and after). An aggregate over the whole join, not
#: ``EXISTS``: planned for one row, ``EXISTS`` joined the two tables in a nested loop,
#: which never ends when no row changed (a bulk change of names: 100k customers ran for
#: over 12 minutes); the aggregate is one hash join.
ANY_SCOPE_CHANGED = (
    "SELECT COALESCE(bool_or(o.region IS DISTINCT FROM n.region "
    "OR o.team_id IS DISTINCT FROM n.team_id), FALSE) "
    "FROM after_rows n JOIN before_rows o ON o.id = n.id"
)

#: Triggers of earlier versions, dropped before the current ones are made: the row-level
#: trigger on a customer's region or team, replaced by a statement-level one.
_LEGACY_POSTGRESQL = [
    f"DROP TRIGGER IF EXISTS customers_customer_scope_changed ON {CUSTOMER}",
    "DROP FUNCTION IF EXISTS customers_customer_scope_changed()",
]

_POSTGRESQL = [
    f"""
    CREATE OR REPLACE FUNCTION customers_state_scope_copy() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        SELECT c.region, c.team_id INTO NEW.scope_region, NEW.scope_team
          FROM {CUSTOMER} c WHERE c.id = NEW.customer_id;
        NEW.scope_region := COALESCE(NEW.scope_region, '');
        RETURN NEW;
    END $$
    """,
    # Every write by the application or by hand; not the writes of the customer triggers
    # below (trigger depth 1), which copy the customer's own values already.
    f"""
    CREATE OR REPLACE TRIGGER customers_state_scope_copy
    BEFORE INSERT OR UPDATE ON {STATE}
    FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION customers_state_scope_copy()
    """,
    # Changed customers, once per statement. (A trigger with transition tables cannot name
    # columns, so it fires on every UPDATE of a customer and finds the changed rows itself;
    # when there are none it writes nothing, so that the dashboard cells stay fresh.)
    f"""
    CREATE OR REPLACE FUNCTION customers_customer_scope_updated() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF ({ANY_SCOPE_CHANGED}) THEN
            UPDATE {STATE} s SET scope_region = n.region, scope_team = n.team_id
              FROM after_rows n
             WHERE s.customer_id = n.id
               AND (s.scope_region IS DISTINCT FROM n.region
                    OR s.scope_team IS DISTINCT FROM n.team_id);
        END IF;
        RETURN NULL;
    END $$
    """,
    f"""
    CREATE OR REPLACE TRIGGER customers_customer_scope_updated
    AFTER UPDATE ON {CUSTOMER} REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
    FOR EACH STATEMENT EXECUTE FUNCTION customers_customer_scope_updated()
    """,
    # Inserted customers, once per statement (the import inserts up to 50k per statement,
    # and almost never has a state for them yet).
    f"""
    CREATE OR REPLACE FUNCTION customers_customer_scope_inserted() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE {STATE} s SET scope_region = i.region, scope_team = i.team_id
          FROM inserted i
         WHERE s.customer_id = i.id
           AND (s.scope_region IS DISTINCT FROM i.region
                OR s.scope_team IS DISTINCT FROM i.team_id);
        RETURN NULL;
    END $$
    """,
    f"""
    CREATE OR REPLACE TRIGGER customers_customer_scope_inserted
    AFTER INSERT ON {CUSTOMER} REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION customers_customer_scope_inserted()
    """,
]

_REGION_OF = f"COALESCE((SELECT region FROM {CUSTOMER} WHERE id = NEW.customer_id), '')"
_TEAM_OF = f"(SELECT team_id FROM {CUSTOMER} WHERE id = NEW.customer_id)"
_STATE_DIFFERS = f"NEW.scope_region IS NOT {_REGION_OF} OR NEW.scope_team IS NOT {_TEAM_OF}"
_SET_FROM_CUSTOMER = (
    f"UPDATE {STATE} SET scope_region = {_REGION_OF}, scope_team = {_TEAM_OF} "
    "WHERE customer_id = NEW.customer_id;"
)

_SQLITE = [
    f"""
    CREATE TRIGGER IF NOT EXISTS customers_state_scope_insert AFTER INSERT ON {STATE}
    WHEN {_STATE_DIFFERS}
    BEGIN {_SET_FROM_CUSTOMER} END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS customers_state_scope_update
    AFTER UPDATE OF scope_region, scope_team ON {STATE}
    WHEN {_STATE_DIFFERS}
    BEGIN {_SET_FROM_CUSTOMER} END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS customers_customer_scope_update
    AFTER UPDATE OF region, team_id ON {CUSTOMER}
    WHEN OLD.region IS NOT NEW.region OR OLD.team_id IS NOT NEW.team_id
    BEGIN
        UPDATE {STATE} SET scope_region = NEW.region, scope_team = NEW.team_id
         WHERE customer_id = NEW.id;
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS customers_customer_scope_insert AFTER INSERT ON {CUSTOMER}
    WHEN NEW.region <> '' OR NEW.team_id IS NOT NULL
    BEGIN
        UPDATE {STATE} SET scope_region = NEW.region, scope_team = NEW.team_id
         WHERE customer_id = NEW.id;
    END
    """,
]

_DROP_POSTGRESQL = [
    *_LEGACY_POSTGRESQL,
    f"DROP TRIGGER IF EXISTS customers_state_scope_copy ON {STATE}",
    f"DROP TRIGGER IF EXISTS customers_customer_scope_updated ON {CUSTOMER}",
    f"DROP TRIGGER IF EXISTS customers_customer_scope_inserted ON {CUSTOMER}",
    "DROP FUNCTION IF EXISTS customers_state_scope_copy()",
    "DROP FUNCTION IF EXISTS customers_customer_scope_updated()",
    "DROP FUNCTION IF EXISTS customers_customer_scope_inserted()",
]

_DROP_SQLITE = [
    "DROP TRIGGER IF EXISTS customers_state_scope_insert",
    "DROP TRIGGER IF EXISTS customers_state_scope_update",
    "DROP TRIGGER IF EXISTS customers_customer_scope_update",
    "DROP TRIGGER IF EXISTS customers_customer_scope_insert",
]


def _execute(connection: Any, statements: list[str]) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def ensure_triggers(connection: Any) -> bool:
    """Create the triggers if the state table has the copies; whether it has them."""
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        if STATE not in tables or CUSTOMER not in tables:
            return False
        columns = {c.name for c in connection.introspection.get_table_description(cursor, STATE)}
    if "scope_region" not in columns:
        return False  # before migration 0004
    if connection.vendor == "postgresql":
        pg_triggers.install(connection, [*_LEGACY_POSTGRESQL, *_POSTGRESQL])
    elif connection.vendor == "sqlite":
        _execute(connection, _SQLITE)
    else:  # pragma: no cover - the service runs on SQLite and PostgreSQL only
        raise NotImplementedError(f"no scope triggers for {connection.vendor}")
    return True


def drop_triggers(connection: Any) -> None:
    _execute(connection, _DROP_POSTGRESQL if connection.vendor == "postgresql" else _DROP_SQLITE)


def backfill(connection: Any) -> None:
    """Set every state's copies from its customer (once, when the columns are added)."""
    if connection.vendor == "postgresql":
        sql = (
            f"UPDATE {STATE} s SET scope_region = c.region, scope_team = c.team_id "
            f"FROM {CUSTOMER} c WHERE c.id = s.customer_id "
            "AND (s.scope_region IS DISTINCT FROM c.region "
            "OR s.scope_team IS DISTINCT FROM c.team_id)"
        )
    else:
        region = f"(SELECT region FROM {CUSTOMER} c WHERE c.id = {STATE}.customer_id)"
        team = f"(SELECT team_id FROM {CUSTOMER} c WHERE c.id = {STATE}.customer_id)"
        sql = (
            f"UPDATE {STATE} SET scope_region = COALESCE({region}, ''), scope_team = {team} "
            f"WHERE scope_region IS NOT COALESCE({region}, '') OR scope_team IS NOT {team}"
        )
    _execute(connection, [sql])
