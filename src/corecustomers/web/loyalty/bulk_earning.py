"""Earning a whole run's orders at once: set-based SQL instead of one order at a time.

The same rules and the same exactly-once guarantees as the order-by-order path of
:mod:`~corecustomers.web.loyalty.earning` (a test compares the two on the same input, on
SQLite and PostgreSQL), in a few statements per batch of members:

1. the run's groups (customer_id, key, day, amount) are streamed into a temporary table
   (``COPY … FROM STDIN`` in CSV on PostgreSQL, written by Arrow's C++ CSV writer; plain
   inserts elsewhere), then joined once to the customers (unknown ids are counted);
2. members are taken in batches (``CORECUSTOMERS_LOYALTY_CHUNK`` members, default
   50,000), each batch one transaction that creates the missing account rows and locks
   the batch's rows in key order (``SELECT … FOR UPDATE``; SQLite's writers are serialised
   by ``BEGIN IMMEDIATE``). Under the lock it keeps the orders that never earned (no
   :class:`~corecustomers.web.loyalty.models.EarnedOrder` with the same (customer, key))
   of the members without an earning of this run yet, and computes each order's points in
   SQL: ``floor(amount × points per unit × the level's multiplier × the birthday bonus)``
   in exact ``numeric`` arithmetic on the amount's shortest decimal text -- the digits
   Python's ``Decimal(str(amount))`` sees (on SQLite, which has no exact decimals, the
   same :func:`~corecustomers.web.loyalty.earning.points_for` runs in Python);
3. ``INSERT … SELECT`` writes one earning movement per member (keyed ``run:<id>``, unique
   per member), the debt settled first (``least(points, owed)`` as an ``owed`` line), the
   rest as one lot (pending or available), the entries of each movement (summing to
   zero), the orders (the unique (customer, key) refuses a second earning: a duplicate
   aborts the batch, nothing half-written) and the balances.

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


def _points_sql() -> str:
    """An order's points from ``w`` (the work row) and ``l`` (its member's level)."""
    bonus = (
        "CASE WHEN w.birthday IS NOT NULL AND EXTRACT(MONTH FROM w.day)"
        " = EXTRACT(MONTH FROM w.birthday) THEN %(bonus)s::numeric ELSE 1 END"
    )
    return (
        "CASE WHEN w.amount > 0 AND w.amount < 'Infinity'::float8 THEN"
        " floor(w.amount::text::numeric * %(per_unit)s::numeric"
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
    with connection.cursor() as raw:
        cursor = _Timed(raw)
        try:
            _drop(cursor, WORK)
            cursor.execute(
                f"CREATE TEMP TABLE {WORK} AS SELECT c.id AS customer_id, c.birthday,"
                f" s.key, s.day, s.amount FROM {STAGE} s JOIN {t['customer']} c"
                " ON c.external_id = s.customer_id ORDER BY c.id"
            )
            cursor.execute(
                f"SELECT count(DISTINCT s.customer_id) FROM {STAGE} s WHERE NOT EXISTS"
                f" (SELECT 1 FROM {t['customer']} c WHERE c.external_id = s.customer_id)"
            )
            totals["unknown"] = int(cursor.fetchone()[0])
            _drop(cursor, STAGE)
            cursor.execute(f"CREATE INDEX {WORK}_customer ON {WORK} (customer_id)")
            cursor.execute(f"ANALYZE {WORK}")
            cursor.execute(f"SELECT DISTINCT customer_id FROM {WORK} ORDER BY customer_id")
            ids = [int(row[0]) for row in cursor.fetchall()]
            size = batch_size()
            for start in range(0, len(ids), size):
                part = ids[start : start + size]
                _earn_batch(cursor, t, part[0], part[-1], movement_key, rules, now, totals)
                if progress is not None:
                    done = min(len(ids), start + size)
                    progress(done / max(1, len(ids)), f"earning: {done} of {len(ids)} members")
        finally:
            if not connection.needs_rollback:
                _drop(cursor, STAGE, WORK, BATCH, MEMBERS)
    return totals


def _earn_batch(
    cursor: Any,
    t: dict[str, str],
    low: int,
    high: int,
    movement_key: str,
    rules: Any,
    now: dt.datetime,
    totals: dict[str, int],
) -> None:
    pg = _pg()
    pending_days = int(rules.pending_days)
    pending = pending_days > 0
    expiry = expires_at(now, rules)
    available_from = now + dt.timedelta(days=pending_days) if pending else None
    prep = connection.ops.adapt_datetimefield_value
    at, expiry_db, from_db = prep(now), prep(expiry), prep(available_from)
    span = {"low": low, "high": high, "mkey": movement_key}
    with transaction.atomic():
        cursor.execute(
            f"INSERT INTO {t['account']} (customer_id, available, pending, owed, used, expired,"
            " lifetime_earned, spend_credited, updated) SELECT DISTINCT customer_id, 0, 0, 0, 0,"
            f" 0, 0, 0, %(at)s FROM {WORK} WHERE customer_id BETWEEN %(low)s AND %(high)s"
            " ON CONFLICT DO NOTHING",
            {**span, "at": at},
        )
        if pg:
            cursor.execute(
                f"SELECT customer_id FROM {t['account']} WHERE customer_id IN (SELECT"
                f" customer_id FROM {WORK} WHERE customer_id BETWEEN %(low)s AND %(high)s)"
                " ORDER BY customer_id FOR UPDATE",
                span,
            )
        cursor.execute(
            f"SELECT count(*) FROM {WORK} WHERE customer_id BETWEEN %(low)s AND %(high)s", span
        )
        seen_rows = int(cursor.fetchone()[0])
        _drop(cursor, BATCH, MEMBERS)
        points = _points_sql() if pg else "NULL"
        cursor.execute(
            f"CREATE TEMP TABLE {BATCH} AS SELECT w.customer_id, w.key, w.day, w.amount,"
            f" w.birthday, COALESCE(a.manual_level_id, a.level_id) AS level_id, {points} AS points"
            f" FROM {WORK} w JOIN {t['account']} a ON a.customer_id = w.customer_id"
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
            _points_in_python(cursor, rules)
        cursor.execute(f"SELECT count(*) FROM {BATCH}")
        totals["skipped_orders"] += seen_rows - int(cursor.fetchone()[0])
        # the members who earn: their points, orders and the debt settled first
        cursor.execute(
            f"CREATE TEMP TABLE {MEMBERS} AS SELECT b.customer_id, sum(b.points) AS points,"
            " count(*) AS orders, CASE WHEN sum(b.points) < a.owed THEN sum(b.points)"
            " ELSE a.owed END AS settle, CAST(NULL AS bigint) AS movement_id"
            f" FROM {BATCH} b JOIN {t['account']} a ON a.customer_id = b.customer_id"
            " GROUP BY b.customer_id, a.owed HAVING sum(b.points) > 0"
        )
        cursor.execute(f"SELECT count(*), sum(orders), sum(points) FROM {MEMBERS}")
        members, orders, earned = cursor.fetchone()
        if not members:
            return
        cursor.execute(
            f"INSERT INTO {t['movement']} (customer_id, kind, status, key, fingerprint,"
            " order_key, points, reason, created, result) SELECT customer_id, 'earn', 'done',"
            " %(mkey)s, %(mkey)s, '', points, CAST(orders AS text) || %(of)s, %(at)s, '{}'"
            f" FROM {MEMBERS} ORDER BY customer_id",
            {"mkey": movement_key, "of": f" orders of {movement_key}", "at": at},
        )
        cursor.execute(
            f"UPDATE {MEMBERS} SET movement_id = (SELECT m.id FROM {t['movement']} m"
            f" WHERE m.customer_id = {MEMBERS}.customer_id AND m.key = %(mkey)s)",
            {"mkey": movement_key},
        )
        cursor.execute(
            f"INSERT INTO {t['lot']} (customer_id, movement_id, order_key, points, remaining,"
            " pending, earned_at, available_from, expires_at) SELECT customer_id, movement_id,"
            " '', points - settle, points - settle, %(pending)s, %(at)s, %(from)s, %(expiry)s"
            f" FROM {MEMBERS} WHERE points > settle ORDER BY customer_id",
            {"pending": pending, "at": at, "from": from_db, "expiry": expiry_db},
        )
        side = "pending" if pending else "available"
        cursor.execute(
            f"INSERT INTO {t['entry']} (movement_id, customer_id, account, lot_id, amount,"
            " created) SELECT movement_id, customer_id, account, lot_id, amount, %(at)s FROM ("
            f"SELECT movement_id, customer_id, 'issued' AS account, CAST(NULL AS bigint) AS"
            f" lot_id, -points AS amount, 1 AS line FROM {MEMBERS}"
            f" UNION ALL SELECT movement_id, customer_id, 'owed', NULL, settle, 2 FROM {MEMBERS}"
            " WHERE settle > 0"
            f" UNION ALL SELECT m.movement_id, m.customer_id, %(side)s, l.id, l.points, 3"
            f" FROM {MEMBERS} m JOIN {t['lot']} l ON l.movement_id = m.movement_id"
            ") lines ORDER BY movement_id, line",
            {"at": at, "side": side},
        )
        cursor.execute(
            f"INSERT INTO {t['order']} (customer_id, key, points, amount, day, movement_id)"
            " SELECT b.customer_id, b.key, b.points, b.amount, b.day, m.movement_id"
            f" FROM {BATCH} b JOIN {MEMBERS} m ON m.customer_id = b.customer_id"
            " ORDER BY b.customer_id, b.key"
        )
        rest = "(m.points - m.settle)"
        cursor.execute(
            f"UPDATE {t['account']} SET owed = owed - m.settle,"
            " lifetime_earned = lifetime_earned + m.points,"
            f" pending = pending + {rest if pending else 0},"
            f" available = available + {0 if pending else rest}, updated = %(at)s"
            f" FROM {MEMBERS} m WHERE {t['account']}.customer_id = m.customer_id",
            {"at": at},
        )
        _drop(cursor, BATCH, MEMBERS)
        committing = time.perf_counter()
    TIMINGS["commit"] = TIMINGS.get("commit", 0.0) + time.perf_counter() - committing
    totals["customers"] += int(members)
    totals["orders"] += int(orders)
    totals["points"] += int(earned)


def _points_in_python(cursor: Any, rules: Any) -> None:
    """SQLite: each order's points by :func:`points_for` (no exact decimals in SQL)."""
    from corecustomers.web.loyalty.earning import points_for

    multipliers = {level.pk: level.multiplier for level in Level.objects.all()}
    cursor.execute(f"SELECT rowid, amount, day, birthday, level_id FROM {BATCH}")
    values = []
    for rowid, amount, day, birthday, level_id in cursor.fetchall():
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
    cursor.executemany(f"UPDATE {BATCH} SET points = %s WHERE rowid = %s", values)
