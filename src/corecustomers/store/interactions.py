"""The service's interactions as a table the engine reads through Ibis, without Django.

The service (people's visits, calls, messages … with customers) writes every interaction
into one Parquet file beside the workspace, ``.corecustomers/exports/interactions.parquet``
(a workspace reached by URL: ``.corecustomers/exports`` of the current folder, as for the
run markers of :mod:`corecustomers.store.outputs`). The contract -- columns, types, when
it is written -- is in ``docs/CONTRACTS.md`` ("Interactions"); :data:`INTERACTIONS_SCHEMA`
is its code form, and :func:`write_interactions` refuses any other columns.

Why a file and not a workspace table: the workspace's DuckDB file can be opened by one
process at a time, and an analysis holds it for its whole run; the service writes after
every interaction. A file replaced atomically (written beside, then renamed) needs no
lock: a reader sees the previous export or the new one, never half of one.

Reading (the engine side):

* :func:`read_interactions` -- the export as an Ibis table (empty, with the contract's
  columns, when the service has written none yet);
* :func:`contact_recency` -- per customer, the last contact up to a date, the days since
  it, and the contacts in the 90 days before it (a behaviour feature);
* :func:`contacted_since` -- for customers with a moment each (an alert's, say), whether
  and when they were contacted after it.

A *contact* is an interaction whose outcome is not ``not_reachable``: a call nobody
answered is an attempt, not a contact.

Examples
--------
>>> import datetime as dt, tempfile, pyarrow as pa
>>> rows = pa.Table.from_pylist(
...     [{"interaction_id": 1, "customer_id": "c1", "kind": "visit",
...       "at": dt.datetime(2026, 3, 2, 10, 0), "outcome": "retained"}],
...     schema=INTERACTIONS_SCHEMA)
>>> with tempfile.TemporaryDirectory() as project:
...     _ = write_interactions(rows, project)
...     recency = contact_recency(read_interactions(project), as_of=dt.date(2026, 3, 12))
...     recency.to_pyarrow().to_pylist()[0]["days_since_last_contact"]
10
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq
from ibis.backends import BaseBackend

from corecustomers.data.atomic import replacing
from corecustomers.data.window import rows_up_to
from corecustomers.errors import InputError
from corecustomers.store.outputs import runs_directory

__all__ = [
    "CONTRACT",
    "EXPORTS_DIRECTORY",
    "INTERACTIONS_FILE",
    "INTERACTIONS_SCHEMA",
    "contact_recency",
    "contacted_since",
    "interactions_path",
    "read_export",
    "read_interactions",
    "write_interactions",
]

#: The contract's name and version, stored in the file's metadata.
CONTRACT: Final = "corecustomers.interactions/1"
EXPORTS_DIRECTORY: Final = "exports"
INTERACTIONS_FILE: Final = "interactions.parquet"

#: The columns of the export, in this order (``docs/CONTRACTS.md``, "Interactions").
#: Times are naive, in the business's time zone (``CORECUSTOMERS_TIME_ZONE``), like the
#: canonical transactions' ``timestamp``.
INTERACTIONS_SCHEMA: Final = pa.schema(
    [
        pa.field("interaction_id", pa.int64(), nullable=False),
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("channel", pa.string()),
        pa.field("at", pa.timestamp("us"), nullable=False),
        pa.field("user", pa.string()),
        pa.field("outcome", pa.string()),
        pa.field("next_step_due", pa.date32()),
        pa.field("alert_id", pa.int64()),
        pa.field("alert_reason_code", pa.string()),
        pa.field("alert_raised_at", pa.timestamp("us")),
        pa.field("alert_as_of", pa.date32()),
    ]
)

_NOT_A_CONTACT: Final = "not_reachable"


def interactions_path(location: str | os.PathLike[str]) -> Path | None:
    """The export file of the workspace at ``location``; ``None`` for an in-memory one.

    Examples
    --------
    >>> interactions_path("shop").as_posix().endswith(
    ...     "shop/.corecustomers/exports/interactions.parquet")
    True
    >>> interactions_path("duckdb://") is None
    True
    """
    runs = runs_directory(location)
    if runs is None:
        return None
    return runs.parent / EXPORTS_DIRECTORY / INTERACTIONS_FILE


def write_interactions(
    rows: pa.Table | Iterable[pa.RecordBatch],
    location: str | os.PathLike[str],
    *,
    exported_at: dt.datetime | None = None,
) -> Path:
    """Replace the export of the workspace at ``location`` with ``rows``; its path.

    ``rows`` is a table or an iterable of record batches with exactly the columns of
    :data:`INTERACTIONS_SCHEMA` (batches are streamed: the export never needs to fit in
    memory at once). The file is written beside and renamed into place.

    Raises
    ------
    InputError
        The rows have other columns or types than the contract's, or the workspace is an
        in-memory one (nowhere to write).
    """
    target = interactions_path(location)
    if target is None:
        raise InputError("an in-memory workspace has no folder for the interactions export")
    target.parent.mkdir(parents=True, exist_ok=True)
    batches = rows.to_batches() if isinstance(rows, pa.Table) else rows
    stamp = (exported_at or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    # One writer at a time, waiting for the lock on the export's folder, so that the last
    # export to start leaves the newest rows; a killed writer's temporary file is removed.
    schema = INTERACTIONS_SCHEMA.with_metadata(
        {"corecustomers.contract": CONTRACT, "corecustomers.exported_at": stamp}
    )
    with (
        replacing(target, prefix=".interactions-", serial=True) as temporary,
        pq.ParquetWriter(temporary, schema) as writer,
    ):
        for batch in batches:
            if batch.schema.remove_metadata() != INTERACTIONS_SCHEMA:
                raise InputError(
                    "the interactions do not have the contract's columns "
                    f"({', '.join(INTERACTIONS_SCHEMA.names)}): got {batch.schema}"
                )
            writer.write_batch(batch.replace_schema_metadata(schema.metadata))
    return target


def read_interactions(
    location: str | os.PathLike[str], *, con: BaseBackend | None = None
) -> ir.Table:
    """The interactions export of the workspace at ``location`` as an Ibis table.

    Read with ``con`` (default: an in-memory DuckDB), so it joins the engine's other
    tables there. Without an export yet, an empty table with the contract's columns.

    Raises
    ------
    InputError
        The file is not an interactions export of this contract (another version).
    """
    return read_export(
        interactions_path(location),
        INTERACTIONS_SCHEMA,
        CONTRACT,
        what="an interactions export",
        written="after the next interaction",
        con=con,
    )


def read_export(
    path: Path | None,
    schema: pa.Schema,
    contract: str,
    *,
    what: str,
    written: str,
    con: BaseBackend | None = None,
) -> ir.Table:
    """The service's export at ``path`` (``schema``, ``contract``) as an Ibis table.

    The one reader of the exports the service writes for the engine (the interactions,
    the survey scores): read with ``con`` (default: an in-memory DuckDB); without a file
    (or without a folder: ``path`` is ``None``), an empty table with ``schema``'s columns.

    Raises
    ------
    InputError
        The file's metadata names another contract; the message says the file is not
        ``what`` and that the service writes it again ``written``.
    """
    if path is None or not path.is_file():
        empty = schema.empty_table()
        if con is None:
            return ibis.memtable(empty)
        name = f"{contract.split('/')[0].rsplit('.', 1)[-1]}_none_yet"
        return con.create_table(name, empty, temp=True, overwrite=True)
    metadata = pq.read_schema(path).metadata or {}
    found = metadata.get(b"corecustomers.contract", b"").decode()
    if found != contract:
        raise InputError(
            f"{path} is not {what} of {contract} (found {found or 'none'}); "
            f"let the service write it again (it does {written})"
        )
    backend = con if con is not None else ibis.duckdb.connect()
    return backend.read_parquet(path)


def _contacts(interactions: ir.Table) -> ir.Table:
    outcome = interactions.outcome.fill_null("")
    return interactions.filter(outcome != _NOT_A_CONTACT)


def contact_recency(interactions: ir.Table, *, as_of: dt.date) -> ir.Table:
    """Per customer contacted up to ``as_of`` (inclusive): the contact recency feature.

    Columns: ``customer_id``, ``last_contact`` (timestamp), ``days_since_last_contact``
    (whole days from the last contact's day to ``as_of``), ``contacts_90d`` (contacts in
    the 90 days up to ``as_of``). Customers never contacted have no row: join it to the
    customers with a left join and read a null as "never".
    """
    start = ibis.timestamp(dt.datetime.combine(as_of - dt.timedelta(days=89), dt.time()))
    seen = rows_up_to(_contacts(interactions), as_of, column="at")
    grouped = seen.group_by("customer_id").aggregate(
        last_contact=seen.at.max(),
        contacts_90d=(seen.at >= start).cast("int64").sum(),
    )
    return grouped.mutate(
        days_since_last_contact=ibis.literal(as_of).delta(grouped.last_contact.date(), unit="day")
    ).select("customer_id", "last_contact", "days_since_last_contact", "contacts_90d")


def contacted_since(interactions: ir.Table, since: ir.Table, *, column: str = "since") -> ir.Table:
    """``since`` (``customer_id`` and a timestamp ``column``) with whether each customer was
    contacted after that moment: ``contacted`` (bool) and ``first_contact_after``.

    For "contacted since the alert": ``since`` holds each alerted customer and the
    moment its alert was raised (e.g. from the export's ``alert_raised_at``, or the day
    of the snapshot that first flagged it).
    """
    contacts = _contacts(interactions).select(
        interactions.customer_id.name("contact_customer_id"), interactions.at
    )
    joined = since.left_join(
        contacts,
        [
            since.customer_id == contacts.contact_customer_id,
            contacts.at > since[column].cast("timestamp"),
        ],
    )
    keys = [since[name] for name in since.columns]
    first = joined.group_by(keys).aggregate(first_contact_after=joined.at.min())
    return first.mutate(contacted=first.first_contact_after.notnull())
