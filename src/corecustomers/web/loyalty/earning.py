"""Earning rules, and points earned from the transactions of each analysis run.

The rules (:class:`~corecustomers.web.loyalty.models.Programme`): points per currency unit
spent, a multiplier per member level, a bonus multiplier in the member's birthday month.
Each order earns ``floor(amount × points_per_unit × level multiplier × birthday bonus)``.

Where the transactions come from
--------------------------------
An analysis run leaves per-*customer* rows in its output folder (``customers.parquet``,
``summary.json``) and per-customer snapshots in the workspace; no output holds the
transactions. But ``summary.json`` records the source, its column mapping and its read
settings, so the job reads the same source again through the engine's own
:func:`~corecustomers.service.analysis.prepare` (the same mapping, validation and
quarantine as the analysis) up to the run's as-of date. The source must still be there:
a run whose source is gone or unreadable fails with a message saying so (nothing is
earned; earning from the per-customer totals instead could not tell orders apart).

Exactly once
------------
Transactions are grouped by order id (net amount per order; a return row with a negative
amount reduces its order), or, for sources without order ids, by customer and purchase day
(key ``day:YYYY-MM-DD``). Each group is an :class:`EarnedOrder` whose (customer, key) is
unique: an order earns once, ever, whichever run, request or rerun sees it again. A run's
points for one customer are one earning movement keyed ``run:<run_id>`` with one lot.
Customers are written in chunks, each chunk one transaction that locks its members'
account rows (in primary-key order, so two writers never deadlock): a worker killed in the
middle leaves whole chunks, and the rerun skips what was written (the keys) and completes
the rest -- exactly once.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import math
import os
import tempfile
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from django.db import connection, transaction
from django.utils import timezone

from corecustomers.data.window import day_of, rows_up_to
from corecustomers.errors import CoreCustomersError
from corecustomers.web.bulk import insert_rows, update_rows
from corecustomers.web.customers.models import Analysis, Customer
from corecustomers.web.loyalty.ledger import expires_at, programme
from corecustomers.web.loyalty.models import Account, EarnedOrder, Entry, Level, Lot, Movement

__all__ = [
    "EarningError",
    "chunk_size",
    "earn_groups",
    "earn_run",
    "points_for",
    "run_batches",
    "run_groups",
]

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]


class EarningError(CoreCustomersError):
    """A run's transactions cannot be read again (the message says what to do)."""


def chunk_size() -> int:
    """Customers per transaction (``CORECUSTOMERS_LOYALTY_CHUNK``, default 1,000)."""
    text = os.environ.get("CORECUSTOMERS_LOYALTY_CHUNK", "").strip()
    return max(1, int(text)) if text.isdigit() else 1000


def points_for(amount: float, *, per_unit: Decimal, multiplier: Decimal, birthday: Decimal) -> int:
    """The points of one order (never negative; rounded down).

    >>> points_for(99.9, per_unit=Decimal(1), multiplier=Decimal("1.5"), birthday=Decimal(1))
    149
    """
    if amount <= 0 or not math.isfinite(amount):
        return 0
    value = Decimal(str(amount)) * per_unit * multiplier * birthday
    return int(value.to_integral_value(rounding="ROUND_FLOOR"))


def run_groups(analysis: Analysis) -> pa.Table:
    """The run's transactions as earning groups: customer_id, key, day, amount (net > 0).

    Read again from the source ``summary.json`` names, up to the run's as-of date; sorted
    by customer and key.
    """
    with _run_groups(analysis, ordered=True) as expression:
        table: pa.Table = expression.to_pyarrow()
    return table.select(["customer_id", "key", "day", "amount"])


@contextmanager
def run_batches(analysis: Analysis, rows: int = 500_000) -> Iterator[Iterator[pa.RecordBatch]]:
    """:func:`run_groups` streamed as Arrow record batches (in no particular order)."""
    with _run_groups(analysis, ordered=False) as expression:
        reader = expression.select(["customer_id", "key", "day", "amount"]).to_pyarrow_batches(
            chunk_size=rows
        )
        yield iter(reader)


@contextmanager
def _run_groups(analysis: Analysis, *, ordered: bool) -> Iterator[Any]:
    from corecustomers.config import Settings
    from corecustomers.service.analysis import prepare

    summary = analysis.summary or {}
    source = str(summary.get("source") or "")
    if not source:
        raise EarningError(
            f"run {analysis.run_id} names no source; earn its points by hand or rerun it"
        )
    given = summary.get("settings") or {}
    names = ("delimiter", "encoding", "header", "sheet", "header_row", "decimal", "timezone")
    keep = {name: given[name] for name in names if given.get(name) is not None}
    settings = Settings(
        **keep,
        columns=dict(summary.get("columns") or given.get("columns") or {}),
        as_of=analysis.as_of,
    )
    with tempfile.TemporaryDirectory(prefix="cc-loyalty-") as staging:
        try:
            prepared = prepare(
                source,
                settings,
                staging_dir=Path(staging),
                quarantine_path=Path(staging) / "quarantine.csv",
                keep_rows=False,  # one pass over the source: no table of every row
            )
        except CoreCustomersError as exc:
            raise EarningError(
                f"the source of run {analysis.run_id} ({source}) cannot be read again: {exc}"
            ) from exc
        tx = prepared.transactions
        tx = rows_up_to(tx, analysis.as_of)
        day = day_of(tx)
        has_orders = "order_id" in tx.columns
        order = tx.order_id if has_orders else None
        key = (
            order.cast("string").fill_null("day:" + day.cast("string"))  # type: ignore[union-attr]
            if order is not None
            else "day:" + day.cast("string")
        )
        grouped = (
            tx.mutate(key=key, day=day)
            .group_by(["customer_id", "key"])
            .aggregate(amount=tx.amount.sum(), day=day.min())
            .filter(lambda t: t.amount > 0)
        )
        yield grouped.order_by(["customer_id", "key"]) if ordered else grouped


def _customers(ids: list[str]) -> dict[str, tuple[int, dt.date | None]]:
    rows = Customer.objects.filter(external_id__in=ids).values_list("external_id", "pk", "birthday")
    return {external: (pk, birthday) for external, pk, birthday in rows}


def _chunks(groups: pa.Table, size: int) -> Iterator[pa.Table]:
    """Slices of ``groups`` (sorted by customer) holding ``size`` customers each."""
    n = groups.num_rows
    if n == 0:
        return
    ids = groups.column("customer_id").combine_chunks()
    changes = pc.not_equal(ids.slice(1), ids.slice(0, n - 1))
    starts = [0, *(int(i) + 1 for i in pc.indices_nonzero(changes).to_pylist())]
    bounds = [*starts[::size], n]
    for begin, end in itertools.pairwise(bounds):
        yield groups.slice(begin, end - begin)


@contextmanager
def _heartbeat(progress: Progress | None, message: str, every: float = 1.0) -> Iterator[None]:
    """Report ``message`` every ``every`` seconds while the block runs.

    Reading a large source again takes longer than the job lease: without a heartbeat the
    worker's watch would take the job for dead and start it a second time.
    """
    if progress is None:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(every):
                progress(0.0, message)
        finally:
            connection.close()  # this thread's own connection

    progress(0.0, message)
    thread = threading.Thread(target=beat, name="loyalty-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def earn_run(
    run_id: str, *, progress: Progress | None = None, now: dt.datetime | None = None
) -> dict[str, int]:
    """Earn the points of run ``run_id``'s transactions (see the module docstring).

    The set-based path of :mod:`~corecustomers.web.loyalty.bulk_earning`: the groups are
    streamed from the engine's reader into a staging table, then earned in SQL.
    """
    from corecustomers.web.loyalty.bulk_earning import earn_staged, stage

    analysis = Analysis.objects.filter(run_id=run_id).first()
    if analysis is None:
        raise EarningError(f"no imported analysis {run_id}; import it first")
    now = now or timezone.now()
    rules = programme()
    with (
        _heartbeat(progress, "reading the run's transactions again"),
        run_batches(analysis) as batches,
    ):
        rows = stage(batches)
    if progress is not None:
        progress(0.0, f"earning: {rows} orders to look at")
    return earn_staged(movement_key=f"run:{run_id}", rules=rules, now=now, progress=progress)


def earn_groups(
    groups: pa.Table,
    *,
    movement_key: str,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
    path: str = "set",
) -> dict[str, int]:
    """Earn ``groups`` (customer_id, key, day, amount) exactly once.

    ``path="set"``: in SQL (:func:`~corecustomers.web.loyalty.bulk_earning.earn_batches`);
    ``path="orders"``: order by order in Python, chunk by chunk (``groups`` sorted by
    customer) -- the reference the set path is tested against.
    """
    now = now or timezone.now()
    rules = programme()
    if path == "set":
        from corecustomers.web.loyalty.bulk_earning import earn_batches

        return earn_batches(
            [groups], movement_key=movement_key, rules=rules, now=now, progress=progress
        )
    if path != "orders":
        raise ValueError(f"path: 'set' or 'orders', not {path!r}")
    levels = {level.pk: level for level in Level.objects.all()}
    totals = {"customers": 0, "orders": 0, "points": 0, "skipped_orders": 0, "unknown": 0}
    done_rows = 0
    for chunk in _chunks(groups, chunk_size()):
        _earn_chunk(chunk, movement_key, rules, levels, now, totals)
        done_rows += chunk.num_rows
        if progress is not None:
            progress(done_rows / max(1, groups.num_rows), f"earning: {done_rows} orders read")
    return totals


def _earn_chunk(
    chunk: pa.Table,
    movement_key: str,
    rules: Any,
    levels: dict[int, Level],
    now: dt.datetime,
    totals: dict[str, int],
) -> None:
    by_customer: dict[str, list[tuple[str, dt.date, float]]] = defaultdict(list)
    for external, key, day, amount in zip(
        chunk.column("customer_id").to_pylist(),
        chunk.column("key").to_pylist(),
        chunk.column("day").to_pylist(),
        chunk.column("amount").to_pylist(),
        strict=True,
    ):
        by_customer[str(external)].append((str(key)[:200], day, float(amount)))
    known = _customers(list(by_customer))
    totals["unknown"] += len(by_customer) - len(known)
    ids = sorted(pk for pk, _ in known.values())
    pending_days = int(rules.pending_days)
    expiry = expires_at(now, rules)
    with transaction.atomic():
        _create_accounts(ids, now)
        accounts = {
            a.customer_id: a
            for a in Account.objects.select_for_update().filter(customer_id__in=ids).order_by("pk")
        }
        already = set(
            Movement.objects.filter(customer_id__in=ids, key=movement_key).values_list(
                "customer_id", flat=True
            )
        )
        seen: dict[int, set[str]] = defaultdict(set)
        for customer_id, key in EarnedOrder.objects.filter(customer_id__in=ids).values_list(
            "customer_id", "key"
        ):
            seen[customer_id].add(key)
        plans: list[tuple[Account, int, list[tuple[str, dt.date, float, int]]]] = []
        for external, rows in by_customer.items():
            if external not in known:
                continue
            pk, birthday = known[external]
            if pk in already:
                totals["skipped_orders"] += len(rows)
                continue
            account = accounts[pk]
            level = levels.get(account.manual_level_id or account.level_id or -1)
            multiplier = level.multiplier if level is not None else Decimal(1)
            new = []
            for key, day, amount in rows:
                if key in seen[pk]:
                    totals["skipped_orders"] += 1
                    continue
                bonus = (
                    rules.birthday_multiplier
                    if birthday is not None and day is not None and day.month == birthday.month
                    else Decimal(1)
                )
                points = points_for(
                    amount, per_unit=rules.points_per_unit, multiplier=multiplier, birthday=bonus
                )
                new.append((key, day, amount, points))
            if new and sum(p for *_, p in new) > 0:
                plans.append((account, pk, new))
        if not plans:
            return
        movements = _insert(
            Movement,
            [
                Movement(
                    customer_id=pk,
                    kind="earn",
                    status="done",
                    key=movement_key,
                    fingerprint=movement_key,
                    order_key="",
                    points=sum(p for *_, p in new),
                    reason=f"{len(new)} orders of {movement_key}",
                    created=now,
                    result={},
                )
                for _, pk, new in plans
            ],
            ("customer", "kind", "status", "key", "fingerprint", "order_key", "points", "reason",
             "created", "result"),
        )  # fmt: skip
        lot_rows: list[Lot] = []
        settled: list[int] = []
        for (account, pk, _), movement in zip(plans, movements, strict=True):
            points = movement.points
            settle = min(points, account.owed)
            settled.append(settle)
            rest = points - settle
            account.owed -= settle
            account.lifetime_earned += points
            if pending_days:
                account.pending += rest
            else:
                account.available += rest
            if rest:
                lot_rows.append(
                    Lot(
                        customer_id=pk,
                        movement=movement,
                        points=rest,
                        remaining=rest,
                        pending=pending_days > 0,
                        earned_at=now,
                        available_from=now + dt.timedelta(days=pending_days)
                        if pending_days
                        else None,
                        expires_at=expiry,
                    )
                )
        lot_fields = ("customer", "movement", "order_key", "points", "remaining", "pending",
                      "earned_at", "available_from", "expires_at")  # fmt: skip
        lots = {lot.movement_id: lot for lot in _insert(Lot, lot_rows, lot_fields)}
        entries: list[tuple[Any, ...]] = []
        orders: list[tuple[Any, ...]] = []
        side = "pending" if pending_days else "available"
        for (_, pk, new), movement, settle in zip(plans, movements, settled, strict=True):
            entries.append((movement.pk, pk, "issued", None, -movement.points, now))
            if settle:
                entries.append((movement.pk, pk, "owed", None, settle, now))
            lot = lots.get(movement.pk)
            if lot is not None:
                entries.append((movement.pk, pk, side, lot.pk, lot.points, now))
            for key, day, amount, points in new:
                orders.append((pk, key, points, amount, day, movement.pk))
            totals["customers"] += 1
            totals["orders"] += len(new)
            totals["points"] += movement.points
        insert_rows(Entry, ("movement", "customer", "account", "lot", "amount", "created"), entries)
        insert_rows(EarnedOrder, ("customer", "key", "points", "amount", "day", "movement"), orders)
        update_rows(
            Account,
            ("owed", "lifetime_earned", "pending", "available", "updated"),
            (
                (a.owed, a.lifetime_earned, a.pending, a.available, now, a.customer_id)
                for a, _, _ in plans
            ),
        )


def _create_accounts(ids: list[int], now: dt.datetime) -> None:
    """The members' account rows, where missing (a row made meanwhile by a write is kept)."""
    if connection.vendor != "postgresql":
        Account.objects.bulk_create(
            [Account(customer_id=pk, updated=now) for pk in ids],
            ignore_conflicts=True,
            batch_size=1000,
        )
        return
    with connection.cursor() as cursor:  # one statement instead of one ORM row each
        cursor.execute(
            "INSERT INTO loyalty_account (customer_id, available, pending, owed, used, expired,"
            " lifetime_earned, spend_credited, updated) SELECT unnest(%s::bigint[]),"
            " 0, 0, 0, 0, 0, 0, 0, %s ON CONFLICT DO NOTHING",
            [ids, now],
        )


def _insert(model: type[Movement | Lot], rows: list[Any], fields: tuple[str, ...]) -> list[Any]:
    """Insert ``rows`` and give them their keys: on PostgreSQL keys drawn from the table's
    sequence and one COPY (the ORM's ``bulk_create`` spent most of a chunk compiling
    values); elsewhere ``bulk_create``."""
    if not rows:
        return rows
    if connection.vendor != "postgresql":
        return model.objects.bulk_create(rows)
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)",
            [len(rows)],
        )
        keys = [int(found[0]) for found in cursor.fetchall()]
    for item, key in zip(rows, keys, strict=True):
        item.pk = key
    attnames: list[str] = [model._meta.get_field(name).attname for name in fields]
    values: list[tuple[Any, ...]] = []
    for item in rows:
        values.append((item.pk, *[getattr(item, name) for name in attnames]))
    insert_rows(model, ("id", *fields), values)
    return rows


def describe(totals: dict[str, int]) -> str:
    return json.dumps(totals, sort_keys=True)
