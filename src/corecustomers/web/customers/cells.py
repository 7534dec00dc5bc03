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


def _cell_of(customer: str, *, pg: bool) -> str:
    """The condition on ``CELL`` that selects the cell of the state of ``customer``."""
    same = "IS NOT DISTINCT FROM" if pg else "IS"
    return (
        f"EXISTS (SELECT 1 FROM {STATE} s WHERE s.customer_id = {customer} "
        f"AND s.run_id = {CELL}.run_id AND s.scope_region = {CELL}.scope_region "
        f"AND s.scope_team {same} {CELL}.scope_team AND s.tier = {CELL}.tier "
        f"AND s.previous_tier = {CELL}.previous_tier)"
    )


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
    f"""
    CREATE OR REPLACE TRIGGER customers_cells_stale_scope
    AFTER UPDATE OF region, team_id ON {CUSTOMER}
    FOR EACH ROW
    WHEN (OLD.region IS DISTINCT FROM NEW.region OR OLD.team_id IS DISTINCT FROM NEW.team_id)
    EXECUTE FUNCTION customers_cells_stale()
    """,
    f"""
    CREATE OR REPLACE TRIGGER customers_cells_stale_members
    AFTER TRUNCATE ON {MEMBER}
    FOR EACH STATEMENT EXECUTE FUNCTION customers_cells_stale()
    """,
    f"""
    CREATE OR REPLACE FUNCTION customers_cells_owner() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        {_LOCK_PG}
        IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.role = 'owner' THEN
            UPDATE {CELL} SET owned = owned - 1 WHERE {_cell_of("OLD.customer_id", pg=True)};
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.role = 'owner' THEN
            UPDATE {CELL} SET owned = owned + 1 WHERE {_cell_of("NEW.customer_id", pg=True)};
        END IF;
        RETURN NULL;
    END $$
    """,
    f"""
    CREATE OR REPLACE TRIGGER customers_cells_owner
    AFTER INSERT OR UPDATE OR DELETE ON {MEMBER}
    FOR EACH ROW EXECUTE FUNCTION customers_cells_owner()
    """,
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
        UPDATE {CELL} SET owned = owned + 1 WHERE {_cell_of("NEW.customer_id", pg=False)};
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS customers_cells_owner_delete AFTER DELETE ON {MEMBER}
    WHEN OLD.role = 'owner'
    BEGIN
        UPDATE {CELL} SET owned = owned - 1 WHERE {_cell_of("OLD.customer_id", pg=False)};
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS customers_cells_owner_update AFTER UPDATE ON {MEMBER}
    WHEN OLD.role = 'owner' OR NEW.role = 'owner'
    BEGIN
        UPDATE {CELL} SET owned = owned - 1
         WHERE OLD.role = 'owner' AND {_cell_of("OLD.customer_id", pg=False)};
        UPDATE {CELL} SET owned = owned + 1
         WHERE NEW.role = 'owner' AND {_cell_of("NEW.customer_id", pg=False)};
    END
    """,
]

_DROP_POSTGRESQL = [
    f"DROP TRIGGER IF EXISTS customers_cells_stale ON {STATE}",
    f"DROP TRIGGER IF EXISTS customers_cells_stale ON {HISTORY}",
    f"DROP TRIGGER IF EXISTS customers_cells_stale_scope ON {CUSTOMER}",
    f"DROP TRIGGER IF EXISTS customers_cells_stale_members ON {MEMBER}",
    f"DROP TRIGGER IF EXISTS customers_cells_owner ON {MEMBER}",
    "DROP FUNCTION IF EXISTS customers_cells_stale()",
    "DROP FUNCTION IF EXISTS customers_cells_owner()",
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
        _execute(_POSTGRESQL, conn)
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
