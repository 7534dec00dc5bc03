"""The dashboard's aggregates, computed once per analysis and kept true by the database.

The management dashboard of the whole base (administrators, analysts) or of a manager's
teams and regions sums the latest analysis' states per tier and previous tier. With 1M
customers that is a pass over 1M index entries and an anti-join with every owner on each
request. Instead the sums are kept in two small tables:

* :class:`~corecustomers.web.customers.models.DashboardCell` -- per run, the customer's
  region and team (the state's copies ``scope_region`` / ``scope_team``), tier and previous
  tier: customers, revenue, CLV, open alerts, value at stake, and how many have an owner;
* :class:`~corecustomers.web.customers.models.TrendCell` -- per snapshot date, region,
  team and tier: the history points (the core customers per analysis of a part of the
  base).

A dashboard whose scope is a union of (region, team) cells -- everything, or a manager's
``region IN R OR team IN T`` -- reads a few hundred rows instead of the states. Any
other scope (an account manager's own customers) is computed from the states as before.

**How they stay true** (database triggers, so that every writer is covered -- the ORM, a
bulk ``update()``, the import's ``INSERT … SELECT``, raw SQL):

* an owner added, removed or moved (``AccountMember`` with role ``owner``) adds or takes
  one from its customer's cell at once (the coverage, "core customers with no owner");
* any other change that moves the sums -- a state written (the import, the scope copies
  when a customer changes region or team, an erasure), a history point written, a
  customer's region or team changed -- marks the cells *stale* in
  :class:`~corecustomers.web.customers.models.DashboardCellStatus`. The import rebuilds
  them at its end (one grouped pass); a dashboard that finds them stale rebuilds them
  first, or, when a writer is busy, computes from the states as before.

On PostgreSQL these triggers run **once per statement** over its transition tables (the
rows before and after), so that a bulk change -- the owners of a whole book assigned or
handed over, the regions of many customers changed -- costs one grouped ``UPDATE`` of the
cells. Row triggers updated one cell per owner, and every update left a row version that
the next one had to pass within the same transaction: 0.2 ms an owner for the first 2,000
owners at 100k customers, 0.6 ms after 6,000, and so on (quadratic). SQLite has row
triggers only (without row versions); each finds its cell through the cell index.

Tier overrides do not move the dashboard (it counts the analysis' tiers; an override
reaches them through the next ``analyze``), nor do alerts worked on in the account
team's day: the open alerts are the states' ``alert``.

**Concurrent writers on PostgreSQL**: every trigger locks the status row (``FOR
UPDATE``) before it changes anything, and a rebuild takes the same lock before it reads,
so a rebuild either sees a writer's committed rows or waits for it, and a writer's
``stale`` is never overwritten by a rebuild that did not see its rows. On SQLite one
writer at a time holds the database.
"""

from __future__ import annotations

from typing import Any

from django.db import OperationalError, connection, transaction
from django.db.models import Q

from corecustomers.web.access import reaches_everything
from corecustomers.web.customers import pg_triggers
from corecustomers.web.customers.scope_copy import ANY_SCOPE_CHANGED

__all__ = [
    "cell_scope",
    "drop_triggers",
    "ensure_fresh",
    "ensure_triggers",
    "is_stale",
    "rebuild",
]

STATE = "customers_customerstate"
HISTORY = "customers_customerhistory"
CUSTOMER = "customers_customer"
MEMBER = "customers_accountmember"
CELL = "customers_dashboardcell"
TREND = "customers_trendcell"
STATUS = "customers_dashboardcellstatus"

_CELL_KEYS = ("run_id", "scope_region", "scope_team", "tier", "previous_tier")


def _cell_of(customer: str) -> str:
    """The condition on ``CELL`` (SQLite) that selects the cell of the state of
    ``customer``: the state by its key, then its cell through the index ``cell_run_tier``."""
    return (
        f"id IN (SELECT c.id FROM {STATE} s JOIN {CELL} c ON c.run_id = s.run_id "
        "AND c.tier = s.tier AND c.previous_tier = s.previous_tier "
        "AND c.scope_region = s.scope_region AND c.scope_team IS s.scope_team "
        f"WHERE s.customer_id = {customer})"
    )


def _owners_moved(rows: str) -> str:
    """PostgreSQL: add to each cell the owners of ``rows`` (``customer_id, k`` with ``k``
    +1 for an owner added and -1 for one removed) whose states are in it."""
    return f"""
        UPDATE {CELL} c SET owned = c.owned + d.k
          FROM (SELECT s.run_id, s.scope_region, s.scope_team, s.tier, s.previous_tier,
                       SUM(m.k) AS k
                  FROM ({rows}) m JOIN {STATE} s ON s.customer_id = m.customer_id
                 GROUP BY s.run_id, s.scope_region, s.scope_team, s.tier, s.previous_tier
                HAVING SUM(m.k) <> 0) d
         WHERE c.run_id = d.run_id AND c.scope_region = d.scope_region
           AND c.scope_team IS NOT DISTINCT FROM d.scope_team AND c.tier = d.tier
           AND c.previous_tier = d.previous_tier;
    """


#: The owners of a statement's transition tables, +1 added and -1 removed.
_ADDED = "SELECT customer_id, 1 AS k FROM added WHERE role = 'owner'"
_REMOVED = "SELECT customer_id, -1 AS k FROM removed WHERE role = 'owner'"

_LOCK_PG = f"PERFORM 1 FROM {STATUS} WHERE id = 1 FOR UPDATE;"
_MARK_PG = f"{_LOCK_PG} UPDATE {STATUS} SET stale = TRUE WHERE id = 1 AND NOT stale;"

_POSTGRESQL = [
    f"""
    CREATE OR REPLACE FUNCTION customers_cells_stale() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        {_MARK_PG}
        RETURN NULL;
    END $$
    """,
    *[
        f"""
        CREATE OR REPLACE TRIGGER customers_cells_stale
        AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION customers_cells_stale()
        """
        for table in (STATE, HISTORY)
    ],
    # Customers whose region or team an UPDATE changed, once per statement (a trigger with
    # transition tables cannot name columns: it finds the changed rows itself).
    f"""
    CREATE OR REPLACE FUNCTION customers_cells_stale_scope() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF ({ANY_SCOPE_CHANGED}) THEN
            {_MARK_PG}
        END IF;
        RETURN NULL;
    END $$
    """,
    f"""
    CREATE OR REPLACE TRIGGER customers_cells_stale_scope_updated
    AFTER UPDATE ON {CUSTOMER} REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
    FOR EACH STATEMENT EXECUTE FUNCTION customers_cells_stale_scope()
    """,
    f"""
    CREATE OR REPLACE TRIGGER customers_cells_stale_members
    AFTER TRUNCATE ON {MEMBER}
    FOR EACH STATEMENT EXECUTE FUNCTION customers_cells_stale()
    """,
    # Owners added, removed or moved, once per statement: one trigger per event, because
    # a trigger with transition tables fires on one event only.
    f"""
    CREATE OR REPLACE FUNCTION customers_cells_owners() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        {_LOCK_PG}
        IF TG_OP = 'INSERT' THEN
            {_owners_moved(_ADDED)}
        ELSIF TG_OP = 'DELETE' THEN
            {_owners_moved(_REMOVED)}
        ELSE
            {_owners_moved(f"{_REMOVED} UNION ALL {_ADDED}")}
        END IF;
        RETURN NULL;
    END $$
    """,
    f"""
    CREATE OR REPLACE TRIGGER customers_cells_owners_inserted
    AFTER INSERT ON {MEMBER} REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION customers_cells_owners()
    """,
    f"""
    CREATE OR REPLACE TRIGGER customers_cells_owners_deleted
    AFTER DELETE ON {MEMBER} REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION customers_cells_owners()
    """,
    f"""
    CREATE OR REPLACE TRIGGER customers_cells_owners_updated
    AFTER UPDATE ON {MEMBER} REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION customers_cells_owners()
    """,
]

#: Row-level triggers of earlier versions, replaced by the statement-level ones above:
#: dropped before those are made.
_LEGACY_POSTGRESQL = [
    f"DROP TRIGGER IF EXISTS customers_cells_stale_scope ON {CUSTOMER}",
    f"DROP TRIGGER IF EXISTS customers_cells_owner ON {MEMBER}",
    "DROP FUNCTION IF EXISTS customers_cells_owner()",
]

_MARK_SQLITE = f"UPDATE {STATUS} SET stale = 1 WHERE id = 1 AND NOT stale;"

_SQLITE = [
    *[
        f"""
        CREATE TRIGGER IF NOT EXISTS customers_cells_{name}_{event.lower()}
        AFTER {event} ON {table}
        BEGIN {_MARK_SQLITE} END
        """
        for name, table in (("state", STATE), ("history", HISTORY))
        for event in ("INSERT", "UPDATE", "DELETE")
    ],
    f"""
    CREATE TRIGGER IF NOT EXISTS customers_cells_scope AFTER UPDATE OF region, team_id
    ON {CUSTOMER}
    WHEN OLD.region IS NOT NEW.region OR OLD.team_id IS NOT NEW.team_id
    BEGIN {_MARK_SQLITE} END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS customers_cells_owner_insert AFTER INSERT ON {MEMBER}
    WHEN NEW.role = 'owner'
    BEGIN
        UPDATE {CELL} SET owned = owned + 1 WHERE {_cell_of("NEW.customer_id")};
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS customers_cells_owner_delete AFTER DELETE ON {MEMBER}
    WHEN OLD.role = 'owner'
    BEGIN
        UPDATE {CELL} SET owned = owned - 1 WHERE {_cell_of("OLD.customer_id")};
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS customers_cells_owner_update AFTER UPDATE ON {MEMBER}
    WHEN OLD.role = 'owner' OR NEW.role = 'owner'
    BEGIN
        UPDATE {CELL} SET owned = owned - 1
         WHERE OLD.role = 'owner' AND {_cell_of("OLD.customer_id")};
        UPDATE {CELL} SET owned = owned + 1
         WHERE NEW.role = 'owner' AND {_cell_of("NEW.customer_id")};
    END
    """,
]

_DROP_POSTGRESQL = [
    *_LEGACY_POSTGRESQL,
    f"DROP TRIGGER IF EXISTS customers_cells_stale ON {STATE}",
    f"DROP TRIGGER IF EXISTS customers_cells_stale ON {HISTORY}",
    f"DROP TRIGGER IF EXISTS customers_cells_stale_scope_updated ON {CUSTOMER}",
    f"DROP TRIGGER IF EXISTS customers_cells_stale_members ON {MEMBER}",
    *[
        f"DROP TRIGGER IF EXISTS customers_cells_owners_{event} ON {MEMBER}"
        for event in ("inserted", "deleted", "updated")
    ],
    "DROP FUNCTION IF EXISTS customers_cells_stale()",
    "DROP FUNCTION IF EXISTS customers_cells_stale_scope()",
    "DROP FUNCTION IF EXISTS customers_cells_owners()",
]

_DROP_SQLITE = [
    *[
        f"DROP TRIGGER IF EXISTS customers_cells_{name}_{event}"
        for name in ("state", "history")
        for event in ("insert", "update", "delete")
    ],
    "DROP TRIGGER IF EXISTS customers_cells_scope",
    "DROP TRIGGER IF EXISTS customers_cells_owner_insert",
    "DROP TRIGGER IF EXISTS customers_cells_owner_delete",
    "DROP TRIGGER IF EXISTS customers_cells_owner_update",
]

_REBUILD = [
    f"DELETE FROM {CELL}",
    f"""
    INSERT INTO {CELL} ({", ".join(_CELL_KEYS)}, n, revenue, clv, alerts, stake, owned)
    SELECT s.run_id, s.scope_region, s.scope_team, s.tier, s.previous_tier,
           COUNT(*), SUM(s.total_spend), SUM(s.clv),
           SUM(CASE WHEN s.alert THEN 1 ELSE 0 END),
           SUM(CASE WHEN s.alert THEN s.value_at_stake END),
           COUNT(o.customer_id)
      FROM {STATE} s
      LEFT JOIN (SELECT customer_id FROM {MEMBER} WHERE role = 'owner') o
        ON o.customer_id = s.customer_id
     GROUP BY s.run_id, s.scope_region, s.scope_team, s.tier, s.previous_tier
    """,
    f"DELETE FROM {TREND}",
    f"""
    INSERT INTO {TREND} (as_of, scope_region, scope_team, tier, n)
    SELECT h.as_of, COALESCE(c.region, ''), c.team_id, h.tier, COUNT(*)
      FROM {HISTORY} h JOIN {CUSTOMER} c ON c.id = h.customer_id
     GROUP BY h.as_of, COALESCE(c.region, ''), c.team_id, h.tier
    """,
]


def _execute(statements: list[str], using: Any = None) -> None:
    with (using or connection).cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def ensure_triggers(conn: Any) -> bool:
    """Create the triggers when the cell tables exist (idempotent); whether they do."""
    with conn.cursor() as cursor:
        tables = set(conn.introspection.table_names(cursor))
    if not {CELL, TREND, STATUS, STATE, HISTORY, CUSTOMER, MEMBER} <= tables:
        return False
    if conn.vendor == "postgresql":
        pg_triggers.install(conn, [*_LEGACY_POSTGRESQL, *_POSTGRESQL])
    elif conn.vendor == "sqlite":
        _execute(_SQLITE, conn)
    else:  # pragma: no cover - the service runs on SQLite and PostgreSQL only
        raise NotImplementedError(f"no dashboard cell triggers for {conn.vendor}")
    return True


def drop_triggers(conn: Any) -> None:
    _execute(_DROP_POSTGRESQL if conn.vendor == "postgresql" else _DROP_SQLITE, conn)


def is_stale() -> bool:
    """Whether the cells may differ from the states (no status row counts as stale)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT stale FROM {STATUS} WHERE id = 1")
        row = cursor.fetchone()
    return row is None or bool(row[0])


def rebuild(*, wait: bool = True) -> bool:
    """Compute every cell again from the states and history; whether it was done.

    ``wait=False`` gives up at once (``False``) when a writer holds the status row on
    PostgreSQL, instead of waiting for its transaction.
    """
    pg = connection.vendor == "postgresql"
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if pg:
                lock = "FOR UPDATE" if wait else "FOR UPDATE NOWAIT"
                cursor.execute(f"SELECT 1 FROM {STATUS} WHERE id = 1 {lock}")
                if cursor.fetchone() is None:
                    cursor.execute(
                        f"INSERT INTO {STATUS} (id, stale) VALUES (1, TRUE) "
                        "ON CONFLICT (id) DO NOTHING"
                    )
                    cursor.execute(f"SELECT 1 FROM {STATUS} WHERE id = 1 {lock}")
            else:
                cursor.execute(
                    f"INSERT INTO {STATUS} (id, stale) VALUES (1, 1) ON CONFLICT (id) DO NOTHING"
                )
            for statement in _REBUILD:
                cursor.execute(statement)
            cursor.execute(f"UPDATE {STATUS} SET stale = %s WHERE id = 1", [False])
    except OperationalError:
        if wait or not pg:
            raise
        return False  # a writer holds the status row: the caller computes directly
    return True


def ensure_fresh() -> bool:
    """Rebuild stale cells (without waiting for a writer); whether the cells are true."""
    return not is_stale() or rebuild(wait=False)


def cell_scope(user: Any) -> Q | None:
    """The cells of the customers ``user`` sees, or ``None`` when the scope is not a
    union of (region, team) cells (then the dashboard reads the states)."""
    from corecustomers.web.customers.models import Customer, manager_reach

    if reaches_everything(Customer, user, "view"):
        return Q()
    active = bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)
    if active and getattr(user, "role", "") == "manager":
        team_ids, regions = manager_reach(user)
        condition = Q(pk__in=[])
        if regions:
            condition |= Q(scope_region__in=regions) & ~Q(scope_region="")
        if team_ids:
            condition |= Q(scope_team__in=team_ids)
        return condition
    return None
