"""Write the interactions into the workspace's export for the engine (``docs/CONTRACTS.md``).

When: after every committed interaction the job ``export_interactions`` is queued, unless
one is already waiting (a burst of interactions gives one export, written after the last
of them is committed, since a waiting job reads the database when it runs). The job writes
*every* interaction again -- a full, atomic replacement
(:func:`corecustomers.store.interactions.write_interactions`) -- so an erased or moved
interaction disappears from the next export and a failed export is simply retried; the
export needs no lock on the workspace's DuckDB file, so an analysis that holds it does not
delay it. Call :func:`export_interactions` directly for an export now (e.g. before an
analysis run).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from corecustomers.store.interactions import INTERACTIONS_SCHEMA, write_interactions
from corecustomers.web.jobs.models import Job
from corecustomers.web.work.models import Interaction

__all__ = ["BATCH", "EXPORT_JOB", "export_interactions", "queue_export"]

EXPORT_JOB = "export_interactions"
#: Rows per Arrow record batch (the export is streamed, never held whole).
BATCH = 50_000

_FIELDS = (
    "pk",
    "customer__external_id",
    "kind",
    "channel",
    "at",
    "user__username",
    "outcome",
    "next_step_due",
    "alert_id",
    "alert__reason_code",
    "alert__raised_at",
    "alert__as_of",
)


def _local(moment: dt.datetime | None, zone: dt.tzinfo) -> dt.datetime | None:
    """A stored (aware) time as the naive business time of the contract."""
    if moment is None:
        return None
    if timezone.is_naive(moment):
        return moment
    return moment.astimezone(zone).replace(tzinfo=None)


def _batches() -> Iterator[pa.RecordBatch]:
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    rows = Interaction.objects.order_by("pk").values_list(*_FIELDS).iterator(chunk_size=5000)
    columns: list[list[Any]] = [[] for _ in _FIELDS]
    for row in rows:
        (pk, customer, kind, channel, at, user, outcome, due, alert, code, raised, as_of) = row
        values = (
            pk,
            customer,
            kind,
            channel or None,
            _local(at, zone),
            user,
            outcome or None,
            due,
            alert,
            code,
            _local(raised, zone),
            as_of,
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
        if len(columns[0]) >= BATCH:
            yield _batch(columns)
            columns = [[] for _ in _FIELDS]
    if columns[0]:
        yield _batch(columns)


def _batch(columns: list[list[Any]]) -> pa.RecordBatch:
    names = INTERACTIONS_SCHEMA.names
    return pa.RecordBatch.from_pydict(dict(zip(names, columns, strict=True)), INTERACTIONS_SCHEMA)


def export_interactions(location: str | None = None) -> dict[str, Any]:
    """Write every interaction to the export of the workspace; where and how many."""
    count = 0

    def counted() -> Iterator[pa.RecordBatch]:
        nonlocal count
        for batch in _batches():
            count += batch.num_rows
            yield batch

    path: Path = write_interactions(counted(), location or settings.WORKSPACE)
    return {"file": str(path), "rows": count}


def queue_export() -> None:
    """Queue the export job unless one is already waiting (call after a commit)."""
    from corecustomers.web.jobs.runner import submit

    if not Job.objects.filter(kind=EXPORT_JOB, status="queued").exists():
        submit(EXPORT_JOB, {}, channel="system")


def queue_export_on_commit() -> None:
    """Queue the export once the current transaction commits (at once outside one)."""
    transaction.on_commit(queue_export)
