"""Earning a whole run's orders at once: set-based SQL instead of one order at a time.

The same rules and the same exactly-once guarantees as the order-by-order path of
:mod:`~corecustomers.web.loyalty.earning` (a test compares the two on the same input, on
SQLite and PostgreSQL):

1. the run's groups (customer_id, key, day, amount) are streamed into a temporary table
   (``COPY … FROM STDIN`` in CSV on PostgreSQL, written by Arrow's C++ CSV writer; plain
   inserts elsewhere);
2. one pass over them (the *work* table, sorted by member) joins the customers (unknown
   ids are counted) and leaves out, set-based, every order that earned already and every
   member this run has earned for: ledger rows are never deleted, so what this pass leaves
   out stays earned (a rerun after a complete run ends here, with nothing to write). Each
   order's points are computed in SQL at the member's level as read now:
   ``floor(amount × points per unit × the level's multiplier × the birthday bonus)`` in
   exact ``numeric`` arithmetic on the amount's shortest decimal text -- the digits
   Python's ``Decimal(str(amount))`` sees (on SQLite, which has no exact decimals, the
   same :func:`~corecustomers.web.loyalty.earning.points_for` runs in Python);
3. members are taken in batches (``CORECUSTOMERS_LOYALTY_CHUNK`` members, default
   50,000), each batch one transaction. Every member of the batch gets its account row in
   key order (``INSERT … ON CONFLICT DO NOTHING``, as before any earning): a member that
   had none when the work table was made, and whose row this transaction creates, can
   have earned nothing (every write makes the account row first), has no level and owes
   nothing -- its row is written with its final balances and its work rows are final.
   The other members' rows are locked in key order (``SELECT … FOR UPDATE``; SQLite's
   writers are serialised by ``BEGIN IMMEDIATE``) and their orders read again under the
   lock, at their level now, against their debt;
4. ``INSERT … SELECT`` writes one earning movement per member (keyed ``run:<id>``, unique
   per member; its key and its lot's drawn from the tables' sequences beforehand on
   PostgreSQL), the debt settled first (``least(points, owed)`` as an ``owed`` line), the
   rest as one lot (pending or available), the entries of each movement (summing to
   zero), the orders (the unique (customer, key) refuses a second earning: a duplicate
   aborts the batch, nothing half-written) and the balances of the members that had an
   account.

A worker killed in the middle leaves whole batches; the rerun finds their movements and
orders and earns the rest: exactly once.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.db import connection, transaction

from corecustomers.web.customers.models import Customer
from corecustomers.web.loyalty.ledger import expires_at
from corecustomers.web.loyalty.models import Account, EarnedOrder, Entry, Level, Lot, Movement

__all__ = ["TIMINGS", "batch_size", "earn_batches", "earn_staged", "stage"]

#: Seconds per kind of statement of the last :func:`earn_staged` (and ``commit``), for the
#: benchmark's breakdown.
TIMINGS: dict[str, float] = {}


class _Timed:
    """A cursor whose statements add their time to :data:`TIMINGS` by their first words."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Any = None) -> Any:
        label = " ".join(sql.replace('"', "").split()[:3])
        start = time.perf_counter()
        try:
            return self._cursor.execute(sql, params)
        finally:
            TIMINGS[label] = TIMINGS.get(label, 0.0) + time.perf_counter() - start

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


Progress = Callable[[float, str], None]

STAGE = "cc_loyalty_stage"
WORK = "cc_loyalty_work"
BATCH = "cc_loyalty_batch"
MEMBERS = "cc_loyalty_members"
GROUPS = "cc_loyalty_groups"
#: ``work_mem`` (and ``maintenance_work_mem``) of the earning's connection while it runs.
WORK_MEM = "256MB"


def batch_size() -> int:
    """Members per transaction (``CORECUSTOMERS_LOYALTY_CHUNK``, default 50,000)."""
    text = os.environ.get("CORECUSTOMERS_LOYALTY_CHUNK", "").strip()
    return max(1, int(text)) if text.isdigit() else 50_000


def _pg() -> bool:
    return connection.vendor == "postgresql"


def _tables() -> dict[str, str]:
    quote = connection.ops.quote_name
    return {
        "customer": quote(Customer._meta.db_table),
        "account": quote(Account._meta.db_table),
        "level": quote(Level._meta.db_table),
        "movement": quote(Movement._meta.db_table),
        "lot": quote(Lot._meta.db_table),
        "entry": quote(Entry._meta.db_table),
        "order": quote(EarnedOrder._meta.db_table),
    }


def _drop(cursor: Any, *names: str) -> None:
    for name in names:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")


def _normalised(batch: pa.RecordBatch | pa.Table) -> pa.Table:
    table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    return pa.table(
        {
            "customer_id": pc.cast(table.column("customer_id"), pa.string()),
            "key": pc.utf8_slice_codeunits(pc.cast(table.column("key"), pa.string()), 0, 200),
            "day": pc.cast(table.column("day"), pa.date32()),
            "amount": pc.cast(table.column("amount"), pa.float64()),
        }
    )


def _stage(cursor: Any, batches: Iterable[pa.RecordBatch | pa.Table]) -> int:
    """The groups into the temporary stage table; how many rows."""
    _drop(cursor, STAGE)
    amount = "double precision" if _pg() else "real"
    cursor.execute(
        f"CREATE TEMP TABLE {STAGE} (customer_id text, key text, day date, amount {amount})"
    )
    rows = 0
    if _pg():
        options = pacsv.WriteOptions(include_header=False)
        with cursor.cursor.copy(f"COPY {STAGE} FROM STDIN (FORMAT csv)") as copy:
            for batch in batches:
                table = _normalised(batch)
                if table.num_rows == 0:
                    continue
                buffer = io.BytesIO()
                pacsv.write_csv(table, buffer, options)
                copy.write(buffer.getvalue())
                rows += table.num_rows
        return rows
    sql = f"INSERT INTO {STAGE} VALUES (%s, %s, %s, %s)"
    for batch in batches:
        table = _normalised(batch)
        values = zip(*(table.column(i).to_pylist() for i in range(4)), strict=True)
        chunk = [(c, k, d.isoformat() if d is not None else None, a) for c, k, d, a in values]
        cursor.executemany(sql, chunk)
        rows += len(chunk)
    return rows


def _points_sql(w: str = "w", birthday: str = "w.birthday") -> str:
    """An order's points from the work row ``w`` and ``l`` (its member's level, if any).

    The months compared as ``date_part`` (a double; ``EXTRACT`` gives a numeric since
    PostgreSQL 14, three times slower over 1M rows)."""
    bonus = (
        f"CASE WHEN {birthday} IS NOT NULL AND date_part('month', {w}.day)"
        f" = date_part('month', {birthday}) THEN %(bonus)s::numeric ELSE 1 END"
    )
    return (
        f"CASE WHEN {w}.amount > 0 AND {w}.amount < 'Infinity'::float8 THEN"
        f" floor({w}.amount::text::numeric * %(per_unit)s::numeric"
        f" * COALESCE(l.multiplier, 1) * {bonus})::bigint ELSE 0 END"
    )


def earn_batches(
    batches: Iterable[pa.RecordBatch | pa.Table],
    *,
    movement_key: str,
    rules: Any,
    now: dt.datetime,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Earn the groups in ``batches`` (any order) exactly once; the totals of ``earn_groups``."""
    stage(batches)
    return earn_staged(movement_key=movement_key, rules=rules, now=now, progress=progress)


def stage(batches: Iterable[pa.RecordBatch | pa.Table]) -> int:
    """Load the groups into this connection's temporary stage table; how many rows."""
    with connection.cursor() as cursor:
        return _stage(cursor, batches)


def earn_staged(
    *, movement_key: str, rules: Any, now: dt.datetime, progress: Progress | None = None
) -> dict[str, int]:
    """Earn what :func:`stage` loaded (the stage table is dropped afterwards)."""
    t = _tables()
    totals = {"customers": 0, "orders": 0, "points": 0, "skipped_orders": 0, "unknown": 0}
    TIMINGS.clear()
    pg = _pg()
    rates = {"bonus": str(rules.birthday_multiplier), "per_unit": str(rules.points_per_unit)}
    with connection.cursor() as raw:
        cursor = _Timed(raw)
        memory = _more_memory(cursor) if pg else {}
        try:
            cursor.execute(f"SELECT count(*) FROM {STAGE}")
            staged = int(cursor.fetchone()[0])
            if pg:
                cursor.execute(f"ANALYZE {STAGE}")
            _drop(cursor, WORK)
            # one pass over the run: the customers, and only the orders that never earned of
            # the members this run has not earned for (what is left out here was written for
            # good -- ledger rows are never deleted); their points at the level read now,
            # final for the members without an account (no level, nothing owed, nothing
            # earned: an account is made before anything is earned); the others are read
            # again under their lock
            points = _points_sql("s", "c.birthday") if pg else "CAST(NULL AS bigint)"
            cursor.execute(
                f"CREATE TEMP TABLE {WORK} AS SELECT c.id AS customer_id, s.customer_id AS"
                " external, c.birthday, s.key, s.day, s.amount,"
                " CASE WHEN a.customer_id IS NULL THEN 0 ELSE 1 END AS had,"
                f" {points} AS points"
                f" FROM {STAGE} s LEFT JOIN {t['customer']} c ON c.external_id = s.customer_id"
                f" LEFT JOIN {t['account']} a ON a.customer_id = c.id"
                f" LEFT JOIN {t['level']} l ON l.id = COALESCE(a.manual_level_id, a.level_id)"
                f" LEFT JOIN {t['order']} e ON e.customer_id = c.id AND e.key = s.key"
                f" LEFT JOIN {t['movement']} m ON m.customer_id = c.id AND m.key = %(mkey)s"
                " WHERE e.customer_id IS NULL AND m.customer_id IS NULL ORDER BY c.id",
                {"mkey": movement_key, **rates},
            )
            _drop(cursor, STAGE)
            cursor.execute(f"CREATE INDEX {WORK}_customer ON {WORK} (customer_id)")
            if pg:
                cursor.execute(f"ANALYZE {WORK}")
            else:
                _points_in_python(cursor, WORK, rules, "w.rowid, w.amount, w.day, w.birthday, NULL")
            cursor.execute(
                f"SELECT count(*), count(DISTINCT external) FROM {WORK} WHERE customer_id IS NULL"
            )
            unknown_rows, unknown = cursor.fetchone()
            totals["unknown"] = int(unknown)
            cursor.execute(
                f"SELECT DISTINCT customer_id FROM {WORK} WHERE customer_id IS NOT NULL"
                " ORDER BY customer_id"
            )
            ids = [int(row[0]) for row in cursor.fetchall()]
            size = batch_size()
            looked_at = 0
            for start in range(0, len(ids), size):
                part = ids[start : start + size]
                looked_at += _earn_batch(
                    cursor, t, part[0], part[-1], movement_key, rules, now, totals
                )
                if progress is not None:
                    done = min(len(ids), start + size)
                    progress(done / max(1, len(ids)), f"earning: {done} of {len(ids)} members")
            # the orders of known customers that were not looked at: earned already, or of
            # a member this run had earned for
            totals["skipped_orders"] = staged - int(unknown_rows) - looked_at
        finally:
            if not connection.needs_rollback:
                _drop(cursor, STAGE, WORK, GROUPS, BATCH, MEMBERS)
                for name, value in memory.items():
                    cursor.execute("SELECT set_config(%s, %s, false)", [name, value])
    return totals


def _more_memory(cursor: Any) -> dict[str, str]:
    """Room for the job's sorts and hashes (PostgreSQL's 4 MB default spills 10M rows to
    disk many times over), and no JIT compilation (every batch's statements are planned and
    would be compiled anew: about 0.1 s each at 100k rows); the settings before, to put back."""
    before = {}
    for name, value in (("work_mem", WORK_MEM), ("maintenance_work_mem", WORK_MEM), ("jit", "off")):
        cursor.execute("SELECT current_setting(%s)", [name])
        before[name] = str(cursor.fetchone()[0])
        cursor.execute("SELECT set_config(%s, %s, false)", [name, value])
    return before


def _earn_batch(
    cursor: Any,
    t: dict[str, str],
    low: int,
    high: int,
    movement_key: str,
    rules: Any,
    now: dt.datetime,
    totals: dict[str, int],
) -> int:
    """One transaction: the members ``low``..``high`` of the work table; the orders looked
    at (those that earn, and those of members whose orders add up to no points)."""
    pg = _pg()
    pending_days = int(rules.pending_days)
    pending = pending_days > 0
    expiry = expires_at(now, rules)
    available_from = now + dt.timedelta(days=pending_days) if pending else None
    prep = connection.ops.adapt_datetimefield_value
    at, expiry_db, from_db = prep(now), prep(expiry), prep(available_from)
    span = {"low": low, "high": high, "mkey": movement_key}
    with transaction.atomic():
        _drop(cursor, GROUPS, BATCH, MEMBERS)
        cursor.execute(
            f"CREATE TEMP TABLE {GROUPS} AS SELECT customer_id, max(had) AS had, count(*) AS n,"
            " sum(points) AS points, 0 AS fresh"
            f" FROM {WORK} WHERE customer_id BETWEEN %(low)s AND %(high)s GROUP BY customer_id",
            span,
        )
        # every member gets an account row, in key order (as every writer locks them); a
        # member without one when the work table was made gets it with its balances
        # (``fresh``): its orders and their points in the work table are final
        earned = "CASE WHEN had = 0 AND points > 0 THEN points ELSE 0 END"
        insert = (
            f"INSERT INTO {t['account']} (customer_id, available, pending, owed, used, expired,"
            " lifetime_earned, spend_credited, updated) SELECT customer_id,"
            f" {0 if pending else earned}, {earned if pending else 0}, 0, 0, 0, {earned}, 0,"
            f" %(at)s FROM {GROUPS} WHERE true ORDER BY customer_id ON CONFLICT DO NOTHING"
        )
        if pg:
            cursor.execute(
                f"WITH made AS ({insert} RETURNING customer_id) UPDATE {GROUPS} SET fresh = 1"
                f" FROM made WHERE {GROUPS}.customer_id = made.customer_id AND {GROUPS}.had = 0",
                {"at": at},
            )
            cursor.execute(f"ANALYZE {GROUPS}")
            cursor.execute(
                f"SELECT customer_id FROM {t['account']} WHERE customer_id IN (SELECT"
                f" customer_id FROM {GROUPS} WHERE fresh = 0) ORDER BY customer_id FOR UPDATE"
            )
        else:  # the writers are serialised: no account now, none made meanwhile
            cursor.execute(
                f"UPDATE {GROUPS} SET fresh = 1 WHERE had = 0 AND NOT EXISTS (SELECT 1 FROM"
                f" {t['account']} a WHERE a.customer_id = {GROUPS}.customer_id)"
            )
            cursor.execute(insert, {"at": at})
        # the others' orders, read again under their lock
        points = _points_sql() if pg else "CAST(NULL AS bigint)"
        cursor.execute(
            f"CREATE TEMP TABLE {BATCH} AS SELECT w.customer_id, w.key, w.day, w.amount,"
            f" w.birthday, COALESCE(a.manual_level_id, a.level_id) AS level_id, {points} AS points"
            f" FROM {WORK} w JOIN {GROUPS} g ON g.customer_id = w.customer_id AND g.fresh = 0"
            f" JOIN {t['account']} a ON a.customer_id = w.customer_id"
            f" LEFT JOIN {t['level']} l ON l.id = COALESCE(a.manual_level_id, a.level_id)"
            " WHERE w.customer_id BETWEEN %(low)s AND %(high)s"
            f" AND NOT EXISTS (SELECT 1 FROM {t['movement']} m"
            " WHERE m.customer_id = w.customer_id AND m.key = %(mkey)s)"
            f" AND NOT EXISTS (SELECT 1 FROM {t['order']} e"
            " WHERE e.customer_id = w.customer_id AND e.key = w.key)",
            {
                **span,
                "bonus": str(rules.birthday_multiplier),
                "per_unit": str(rules.points_per_unit),
            },
        )
        if not pg:
            _points_in_python(
                cursor, BATCH, rules, "b.rowid, b.amount, b.day, b.birthday, b.level_id"
            )
        # the members who earn: their points, orders and the debt settled first (a fresh
        # member owes nothing); on PostgreSQL their movement's and lot's keys drawn here
        if pg:
            cursor.execute(
                "SELECT pg_get_serial_sequence(%s, 'id'), pg_get_serial_sequence(%s, 'id')",
                [Movement._meta.db_table, Lot._meta.db_table],
            )
            movement_seq, lot_seq = cursor.fetchone()
            keys = (
                "nextval(%(mseq)s::regclass) AS movement_id, CASE WHEN u.points > u.settle"
                " THEN nextval(%(lseq)s::regclass) END AS lot_id"
            )
        else:
            movement_seq = lot_seq = None
            keys = "CAST(NULL AS bigint) AS movement_id, CAST(NULL AS bigint) AS lot_id"
        cursor.execute(
            f"CREATE TEMP TABLE {MEMBERS} AS SELECT u.customer_id, u.points, u.orders, u.settle,"
            f" u.fresh, {keys} FROM (SELECT customer_id, points, n AS orders, 0 AS settle,"
            f" 1 AS fresh FROM {GROUPS} WHERE fresh = 1 AND points > 0 UNION ALL"
            " SELECT b.customer_id, sum(b.points), count(*), CASE WHEN sum(b.points) < a.owed"
            f" THEN sum(b.points) ELSE a.owed END, 0 FROM {BATCH} b JOIN {t['account']} a"
            " ON a.customer_id = b.customer_id GROUP BY b.customer_id, a.owed"
            " HAVING sum(b.points) > 0) u ORDER BY u.customer_id",
            {"mseq": movement_seq, "lseq": lot_seq} if pg else None,
        )
        cursor.execute(
            f"SELECT (SELECT coalesce(sum(n), 0) FROM {GROUPS} WHERE fresh = 1)"
            f" + (SELECT count(*) FROM {BATCH})"
        )
        looked_at = int(cursor.fetchone()[0])
        cursor.execute(f"SELECT count(*), sum(orders), sum(points) FROM {MEMBERS}")
        members, orders, earned_points = cursor.fetchone()
        if not members:
            return looked_at
        ids = "id, " if pg else ""
        cursor.execute(
            f"INSERT INTO {t['movement']} ({ids}customer_id, kind, status, key, fingerprint,"
            f" order_key, points, reason, created, result) SELECT {'movement_id, ' if pg else ''}"
            " customer_id, 'earn', 'done', %(mkey)s, %(mkey)s, '', points,"
            f" CAST(orders AS text) || %(of)s, %(at)s, '{{}}' FROM {MEMBERS} ORDER BY customer_id",
            {"mkey": movement_key, "of": f" orders of {movement_key}", "at": at},
        )
        if not pg:
            cursor.execute(
                f"UPDATE {MEMBERS} SET movement_id = (SELECT m.id FROM {t['movement']} m"
                f" WHERE m.customer_id = {MEMBERS}.customer_id AND m.key = %(mkey)s)",
                {"mkey": movement_key},
            )
        cursor.execute(
            f"INSERT INTO {t['lot']} ({ids}customer_id, movement_id, order_key, points, remaining,"
            f" pending, earned_at, available_from, expires_at) SELECT {'lot_id, ' if pg else ''}"
            " customer_id, movement_id, '', points - settle, points - settle, %(pending)s,"
            f" %(at)s, %(from)s, %(expiry)s FROM {MEMBERS} WHERE points > settle"
            " ORDER BY customer_id",
            {"pending": pending, "at": at, "from": from_db, "expiry": expiry_db},
        )
        if not pg:
            cursor.execute(
                f"UPDATE {MEMBERS} SET lot_id = (SELECT l.id FROM {t['lot']} l"
                f" WHERE l.movement_id = {MEMBERS}.movement_id)"
            )
        side = "pending" if pending else "available"
        cursor.execute(
            f"INSERT INTO {t['entry']} (movement_id, customer_id, account, lot_id, amount,"
            " created) SELECT movement_id, customer_id, account, lot_id, amount, %(at)s FROM ("
            f"SELECT movement_id, customer_id, 'issued' AS account, CAST(NULL AS bigint) AS"
            f" lot_id, -points AS amount, 1 AS line FROM {MEMBERS}"
            f" UNION ALL SELECT movement_id, customer_id, 'owed', NULL, settle, 2 FROM {MEMBERS}"
            " WHERE settle > 0"
            f" UNION ALL SELECT movement_id, customer_id, %(side)s, lot_id, points - settle, 3"
            f" FROM {MEMBERS} WHERE points > settle"
            ") lines ORDER BY movement_id, line",
            {"at": at, "side": side},
        )
        cursor.execute(
            f"INSERT INTO {t['order']} (customer_id, key, points, amount, day, movement_id)"
            " SELECT customer_id, key, points, amount, day, movement_id FROM ("
            " SELECT w.customer_id, w.key, w.points, w.amount, w.day, m.movement_id"
            f" FROM {WORK} w JOIN {MEMBERS} m ON m.customer_id = w.customer_id AND m.fresh = 1"
            " WHERE w.customer_id BETWEEN %(low)s AND %(high)s UNION ALL"
            " SELECT b.customer_id, b.key, b.points, b.amount, b.day, m.movement_id"
            f" FROM {BATCH} b JOIN {MEMBERS} m ON m.customer_id = b.customer_id AND m.fresh = 0"
            ") orders ORDER BY customer_id, key",
            span,
        )
        rest = "(m.points - m.settle)"
        cursor.execute(
            f"UPDATE {t['account']} SET owed = owed - m.settle,"
            " lifetime_earned = lifetime_earned + m.points,"
            f" pending = pending + {rest if pending else 0},"
            f" available = available + {0 if pending else rest}, updated = %(at)s"
            f" FROM {MEMBERS} m WHERE {t['account']}.customer_id = m.customer_id AND m.fresh = 0",
            {"at": at},
        )
        _drop(cursor, GROUPS, BATCH, MEMBERS)
        committing = time.perf_counter()
    TIMINGS["commit"] = TIMINGS.get("commit", 0.0) + time.perf_counter() - committing
    totals["customers"] += int(members)
    totals["orders"] += int(orders)
    totals["points"] += int(earned_points)
    return looked_at


def _points_in_python(cursor: Any, table: str, rules: Any, columns: str) -> None:
    """SQLite: each order's points by :func:`points_for` (no exact decimals in SQL);
    ``columns``: the row id, amount, day, birthday and level of ``table``'s rows."""
    from corecustomers.web.loyalty.earning import points_for

    multipliers = {level.pk: level.multiplier for level in Level.objects.all()}
    alias = columns.split(".", 1)[0]
    cursor.execute(f"SELECT {columns} FROM {table} {alias}")
    values = []
    for rowid, amount, day, birthday, level_id in cursor.fetchall():
        if amount is None:
            continue
        same_month = (
            birthday is not None and day is not None and str(day)[5:7] == str(birthday)[5:7]
        )
        points = points_for(
            float(amount),
            per_unit=rules.points_per_unit,
            multiplier=multipliers.get(level_id, Decimal(1)),
            birthday=rules.birthday_multiplier if same_month else Decimal(1),
        )
        values.append((points, rowid))
    cursor.executemany(f"UPDATE {table} SET points = %s WHERE rowid = %s", values)
