"""The workspace: snapshots of every customer's tier and scores over time, runs and overrides.

A workspace is a database that keeps what an analysis decided, so that the next run can be
compared with this one. By default it is a DuckDB file ``<dir>/.corecustomers/workspace.duckdb``
beside the project (created on first use); any PostgreSQL database reached by URL works the
same way. Three tables (see :mod:`corecustomers.store` for their columns):

* ``snapshots`` -- one row per customer per as-of date (``docs/CONTRACTS.md`` → "Snapshot
  row"). Writing a date again replaces that date's snapshot in one transaction: readers see
  the old snapshot or the new one, never a mixture, and a failure half-way leaves the old
  one intact.
* ``runs`` -- one row per snapshot written: run id, as-of date, source, time, policy version,
  settings and counts.
* ``overrides`` -- manual tiers set by a person, with who, why and until when. They live in
  their own table and so survive every rewrite of the snapshots.

Every snapshot, run and override belongs to a *source name* (see
:mod:`corecustomers.store.sources`): a workspace holds one history per source, and a run
compares itself only with its own source's snapshots. Methods that read take
``source_name``; left out, it is the workspace's only source, and naming one is required
once the workspace holds several. A workspace written before source names existed is
upgraded when opened: each old snapshot and run gets the name of the file its run read
(``runs.source``), so ``sales-2024-06-01.csv`` continues as ``sales``.

Examples
--------
>>> import datetime as dt
>>> import pyarrow as pa
>>> ws = Workspace.open("duckdb://")  # in memory; Workspace.open(".") for the project's file
>>> customers = pa.table({"customer_id": ["a", "b"], "tier": ["strategic", "ordinary"],
...                       "clv": [840.0, 35.5]})
>>> ws.write_snapshot(dt.date(2024, 1, 31), customers, run_id="r1", policy_version="retail-1")
>>> ws.snapshot_dates()
[datetime.date(2024, 1, 31)]
>>> snapshot = ws.read_snapshot(dt.date(2024, 1, 31))
>>> snapshot.select(["customer_id", "tier", "clv", "run_id"]).to_pylist()[0]
{'customer_id': 'a', 'tier': 'strategic', 'clv': 840.0, 'run_id': 'r1'}
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Self

import pyarrow as pa
from ibis.backends import BaseBackend

from corecustomers.errors import ConfigError, CoreCustomersError, InputError
from corecustomers.store._backend import TableStore, table_store
from corecustomers.store._locking import open_duckdb as _open_duckdb
from corecustomers.store._schema import (
    EXTRA_COLUMN,
    OVERRIDES_SCHEMA,
    RUNS_SCHEMA,
    SNAPSHOT_SCHEMA,
    SNAPSHOT_TABLE_SCHEMA,
    SOURCE_COLUMN,
    decode_extra,
    extra_schema_from_text,
    extra_schema_to_text,
    snapshot_rows,
    tier_counts,
    to_json,
)
from corecustomers.store.sources import DEFAULT_SOURCE, default_source_name

__all__ = [
    "DEFAULT_DIRECTORY",
    "DEFAULT_FILE",
    "SnapshotNotFoundError",
    "Workspace",
    "WorkspaceError",
]

log = logging.getLogger(__name__)

#: The workspace folder inside a project directory, and the DuckDB file in it.
DEFAULT_DIRECTORY: Final = ".corecustomers"
DEFAULT_FILE: Final = "workspace.duckdb"

_TABLES: Final = {
    "snapshots": SNAPSHOT_TABLE_SCHEMA,
    "runs": RUNS_SCHEMA,
    "overrides": OVERRIDES_SCHEMA,
}
_UNIQUE: Final = {
    "snapshots": (SOURCE_COLUMN, "as_of", "customer_id"),
    "runs": ("run_id", "as_of"),
    "overrides": (SOURCE_COLUMN, "customer_id"),
}
# The unique keys of workspaces written before source names, dropped when upgrading.
_OLD_UNIQUE: Final = {"snapshots": ("as_of", "customer_id"), "overrides": ("customer_id",)}
_DUCKDB_SUFFIXES: Final = (".duckdb", ".ddb", ".db")


class WorkspaceError(CoreCustomersError):
    """The workspace database cannot be used as it is (e.g. its tables have other columns)."""


class SnapshotNotFoundError(WorkspaceError, LookupError):
    """No snapshot is stored for the requested as-of date."""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Workspace:
    """Snapshots, runs and overrides in one database.

    Use :meth:`open` to open (and on first use create) a workspace by path or URL; the
    constructor takes an Ibis connection that is already open and leaves it open on
    :meth:`close`.

    Parameters
    ----------
    con
        An Ibis connection to DuckDB or PostgreSQL.
    database
        The schema (PostgreSQL) or database (DuckDB) that holds the workspace tables,
        created when missing; ``None`` for the connection's current one.
    clock
        Returns the current time as a naive UTC ``datetime``; stamps ``created_at``.
        Injected by tests; defaults to the system clock.

    Raises
    ------
    ConfigError
        ``con`` is not DuckDB or PostgreSQL.
    WorkspaceError
        A workspace table exists but lacks columns this version needs.

    Examples
    --------
    >>> import ibis
    >>> con = ibis.duckdb.connect()
    >>> ws = Workspace(con)
    >>> sorted(con.list_tables())
    ['overrides', 'runs', 'snapshots']
    >>> ws.close()  # con stays open: the caller opened it
    """

    def __init__(
        self,
        con: BaseBackend,
        *,
        database: str | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self._store: TableStore = table_store(con, database)
        self._clock = clock or _utc_now
        self._owns_connection = False
        self._path: Path | None = None
        self._ensure_tables()

    # -- opening and closing -----------------------------------------------------------
    @classmethod
    def open(
        cls,
        location: str | os.PathLike[str] = ".",
        *,
        database: str | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> Workspace:
        """Open the workspace at ``location``, creating it on first use.

        Parameters
        ----------
        location
            A project directory (the workspace is its ``.corecustomers/workspace.duckdb``),
            a DuckDB file (``*.duckdb``, ``*.ddb``, ``*.db``), or a URL Ibis connects to:
            ``postgresql://user@host:5432/db`` or ``duckdb:///path/file.duckdb``
            (``duckdb://`` alone is an in-memory workspace).
        database
            The schema that holds the tables (see :class:`Workspace`).
        clock
            See :class:`Workspace`.

        Raises
        ------
        SourceError
            The database cannot be opened (bad URL, server down, file locked by another
            process).
        ConfigError
            The URL names a backend other than DuckDB or PostgreSQL.

        Examples
        --------
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as project:
        ...     with Workspace.open(project) as ws:
        ...         print(ws.location.relative_to(project))
        .corecustomers/workspace.duckdb
        """
        text = os.fspath(location)
        if "://" in text:
            from corecustomers.data.connect import connect

            con = connect(text)
            path: Path | None = None
        else:
            path = cls.default_path(text)
            path.parent.mkdir(parents=True, exist_ok=True)
            con = _open_duckdb(path)
        try:
            workspace = cls(con, database=database, clock=clock)
        except BaseException:
            con.disconnect()
            raise
        workspace._owns_connection = True
        workspace._path = path
        return workspace

    @staticmethod
    def default_path(location: str | os.PathLike[str]) -> Path:
        """The DuckDB file of the workspace at ``location`` (a directory or a file).

        Examples
        --------
        >>> Workspace.default_path("shop").as_posix()
        'shop/.corecustomers/workspace.duckdb'
        >>> Workspace.default_path("shop/history.duckdb").as_posix()
        'shop/history.duckdb'
        """
        path = Path(location)
        if path.suffix.lower() in _DUCKDB_SUFFIXES or path.is_file():
            return path
        return path / DEFAULT_DIRECTORY / DEFAULT_FILE

    @property
    def location(self) -> Path:
        """The DuckDB file of a workspace opened by path.

        Raises
        ------
        WorkspaceError
            The workspace was opened by URL or from a connection.
        """
        if self._path is None:
            raise WorkspaceError("this workspace is not a local file (it was opened by URL)")
        return self._path

    @property
    def connection(self) -> BaseBackend:
        """The Ibis connection that holds the workspace tables."""
        return self._store.con

    @property
    def database(self) -> str | None:
        """The schema (database) that holds the workspace tables; ``None`` for the default."""
        return self._store.database

    def checkpoint_once(self) -> AbstractContextManager[None]:
        """For many writes in a row (a history's snapshots): each still commits on its
        own, and a DuckDB workspace folds them into its file once, at the end."""
        return self._store.checkpoint_once()

    def close(self) -> None:
        """Close the connection if :meth:`open` made it (a DuckDB file is then unlocked)."""
        if self._owns_connection:
            self._store.con.disconnect()
            self._owns_connection = False

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- snapshots ---------------------------------------------------------------------
    def write_snapshot(
        self,
        as_of: dt.date | str,
        table: pa.Table,
        *,
        run_id: str,
        policy_version: str,
        source: str | None = None,
        settings: Mapping[str, Any] | None = None,
        source_name: str | None = None,
    ) -> None:
        """Store the snapshot of ``as_of``, replacing any snapshot of that date atomically.

        Parameters
        ----------
        as_of
            The date the snapshot describes (the analysis' as-of date); a ``date`` or
            ISO text such as ``"2024-01-31"`` (so are all dates this class accepts).
        table
            One row per customer. ``customer_id`` and ``tier`` are required; the other
            columns of the snapshot row are optional (null when absent) and cast to their
            contract types. Any further column (e.g. ``balance``) is kept in the JSON
            ``extra`` column with its Arrow type recorded in the run, and comes back as a
            typed column from :meth:`read_snapshot`. Extra columns may hold numbers, text,
            booleans, dates, timestamps and decimals; the name ``extra`` is reserved.
            ``tier_reasons`` that is not text (e.g. a struct column) is stored as JSON.
        run_id, policy_version
            Stored on every row and in ``runs``. A table may carry these columns (and
            ``as_of``) only with the same value on every row.
        source
            Where the data came from (a path or a URL without password), for ``runs``.
        settings
            The settings of the run (JSON-serialisable), for ``runs``.
        source_name
            The history the snapshot belongs to (default ``"default"``); only that
            source's snapshot of ``as_of`` is replaced.

        Raises
        ------
        InputError
            The table has no rows, lacks ``customer_id`` or ``tier``, has a null or
            repeated customer, or a value that cannot be cast to its contract type.
        ConfigError
            ``settings`` is not JSON-serialisable, or ``run_id`` / ``policy_version`` is
            empty.
        WorkspaceError
            The database refused the write; nothing was changed.

        Notes
        -----
        The old rows of ``as_of`` are deleted and the new ones appended in one database
        transaction, together with the ``runs`` row of ``(run_id, as_of)`` (a run that
        writes a date twice keeps one row); on PostgreSQL a table lock keeps a concurrent
        writer out until the transaction ends.
        """
        as_of = _as_date(as_of, "as_of")
        name_of_source = _check_source_name(source_name) or DEFAULT_SOURCE
        for name, value in (("run_id", run_id), ("policy_version", policy_version)):
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{name} must be a non-empty string, got {value!r}")
        try:
            settings_json = to_json(dict(settings or {}))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"the run settings cannot be stored as JSON: {exc}") from exc
        rows, extra_schema = snapshot_rows(
            table, as_of=as_of, run_id=run_id, policy_version=policy_version
        )
        rows = rows.append_column(
            SNAPSHOT_TABLE_SCHEMA.field(SOURCE_COLUMN),
            pa.repeat(pa.scalar(name_of_source, pa.string()), rows.num_rows),
        )
        # Arrow's allocator keeps freed memory for reuse; the database write allocates
        # outside it, so hand back what the rows' building (and earlier steps) freed
        pa.default_memory_pool().release_unused()
        run = pa.Table.from_pylist(
            [
                {
                    "run_id": run_id,
                    "as_of": as_of,
                    "source": source,
                    "created_at": self._clock(),
                    "policy_version": policy_version,
                    "settings": settings_json,
                    "n_customers": rows.num_rows,
                    "counts": to_json(tier_counts(rows)),
                    "extra_schema": (
                        None if extra_schema is None else extra_schema_to_text(extra_schema)
                    ),
                    SOURCE_COLUMN: name_of_source,
                }
            ],
            schema=RUNS_SCHEMA,
        )
        store = self._store
        try:
            with store.transaction():
                store.lock("snapshots")
                store.delete("snapshots", as_of=as_of, **{SOURCE_COLUMN: name_of_source})
                store.append("snapshots", rows)
                store.delete("runs", run_id=run_id, as_of=as_of)
                store.append("runs", run)
        except Exception as exc:
            raise WorkspaceError(
                f"storing the snapshot of {as_of} failed and was rolled back, so the "
                f"workspace still holds its previous snapshot of that date, if any. "
                f"The database said: {exc}"
            ) from exc
        log.info(
            "stored the snapshot of %s of %s: %d customers (run %s, policy %s)",
            name_of_source,
            as_of,
            rows.num_rows,
            run_id,
            policy_version,
        )

    def read_snapshot(
        self,
        as_of: dt.date | str,
        *,
        extra: Literal["columns", "json"] = "columns",
        source_name: str | None = None,
    ) -> pa.Table:
        """The snapshot of ``as_of``, one row per customer, sorted by ``customer_id``.

        Parameters
        ----------
        as_of
            A date for which a snapshot is stored (see :meth:`snapshot_dates`).
        extra
            ``"columns"`` (default): the extra columns the writer passed come back as
            typed columns after the contract columns. ``"json"``: they stay in the one
            ``extra`` text column, as stored.
        source_name
            The source whose snapshot to read; default: the workspace's only source.

        Raises
        ------
        SnapshotNotFoundError
            No snapshot is stored for ``as_of``; the message lists the nearest dates.
        WorkspaceError
            ``source_name`` is left out and the workspace holds several sources.
        """
        as_of = _as_date(as_of, "as_of")
        if extra not in ("columns", "json"):
            raise ConfigError(f"extra must be 'columns' or 'json', got {extra!r}")
        name = self.resolve_source(source_name)
        snapshots = self._store.table("snapshots")
        rows = (
            snapshots.filter((snapshots.as_of == as_of) & (snapshots[SOURCE_COLUMN] == name))
            .drop(SOURCE_COLUMN)
            .to_pyarrow()
        )
        if rows.num_rows == 0:
            raise SnapshotNotFoundError(self._not_found(as_of, name))
        rows = _conform(rows, SNAPSHOT_SCHEMA).sort_by("customer_id")
        if extra == "json":
            return rows
        run_id = rows.column("run_id")[0].as_py()
        runs = self._store.table("runs")
        found = (
            runs.filter((runs.run_id == run_id) & (runs.as_of == as_of))
            .select("extra_schema")
            .to_pyarrow()
            .column(0)
            .to_pylist()
        )
        schema = extra_schema_from_text(found[0] if found else None)
        decoded = decode_extra(rows.column(EXTRA_COLUMN), schema)
        rows = rows.drop_columns([EXTRA_COLUMN])
        for field, column in zip(decoded.schema, decoded.columns, strict=True):
            rows = rows.append_column(field, column)
        return rows

    def snapshot_dates(self, source_name: str | None = None) -> list[dt.date]:
        """Every as-of date with a stored snapshot of the source, oldest first.

        ``source_name`` defaults to the workspace's only source (see
        :meth:`resolve_source`).

        Examples
        --------
        >>> with Workspace.open("duckdb://") as ws:
        ...     ws.snapshot_dates()
        []
        """
        name = self.resolve_source(source_name)
        snapshots = self._store.table("snapshots")
        snapshots = snapshots.filter(snapshots[SOURCE_COLUMN] == name)
        dates = snapshots.select("as_of").distinct().to_pyarrow().column(0).to_pylist()
        return sorted(dates)

    def source_names(self) -> list[str]:
        """The sources that have snapshots in this workspace, sorted.

        Examples
        --------
        >>> import pyarrow as pa
        >>> one = pa.table({"customer_id": ["a"], "tier": ["key"]})
        >>> with Workspace.open("duckdb://") as ws:
        ...     ws.write_snapshot("2024-01-31", one, run_id="r1", policy_version="p1",
        ...                       source_name="sales")
        ...     ws.write_snapshot("2024-01-31", one, run_id="r2", policy_version="p1",
        ...                       source_name="wholesale")
        ...     ws.source_names()
        ['sales', 'wholesale']
        """
        snapshots = self._store.table("snapshots")
        names = snapshots.select(SOURCE_COLUMN).distinct().to_pyarrow().column(0).to_pylist()
        return sorted(n for n in names if n is not None)

    def resolve_source(self, source_name: str | None) -> str:
        """``source_name``, or when it is None the workspace's only source.

        Raises
        ------
        WorkspaceError
            ``source_name`` is None and the workspace holds snapshots of several sources;
            the message lists them.
        """
        if source_name is not None:
            return _check_source_name(source_name) or DEFAULT_SOURCE
        names = self.source_names()
        if len(names) > 1:
            raise WorkspaceError(
                f"the workspace holds the snapshots of {len(names)} sources "
                f"({', '.join(names)}); name one with --source-name "
                "(or source_name=…)"
            )
        return names[0] if names else DEFAULT_SOURCE

    def latest_before(self, as_of: dt.date | str, source_name: str | None = None) -> dt.date | None:
        """The latest snapshot date strictly before ``as_of``; ``None`` when there is none.

        This is the snapshot a new run of ``as_of`` compares itself with (previous tier,
        time in tier). A snapshot of ``as_of`` itself is not "before".

        Examples
        --------
        >>> import pyarrow as pa
        >>> one = pa.table({"customer_id": ["a"], "tier": ["key"]})
        >>> with Workspace.open("duckdb://") as ws:
        ...     for day in ("2024-01-31", "2024-02-29"):
        ...         ws.write_snapshot(day, one, run_id="r1", policy_version="p1")
        ...     ws.latest_before("2024-02-29"), ws.latest_before("2024-01-31")
        (datetime.date(2024, 1, 31), None)
        """
        as_of = _as_date(as_of, "as_of")
        name = self.resolve_source(source_name)
        snapshots = self._store.table("snapshots")
        latest = (
            snapshots.filter((snapshots.as_of < as_of) & (snapshots[SOURCE_COLUMN] == name))
            .select("as_of")
            .order_by(snapshots.as_of.desc())
            .limit(1)
            .to_pyarrow()
            .column(0)
            .to_pylist()
        )
        return latest[0] if latest else None

    def delete_snapshot(self, as_of: dt.date | str, source_name: str | None = None) -> bool:
        """Delete the snapshot of ``as_of`` (its ``runs`` rows stay); whether one existed."""
        as_of = _as_date(as_of, "as_of")
        name = self.resolve_source(source_name)
        if as_of not in self.snapshot_dates(name):
            return False
        with self._store.transaction():
            self._store.lock("snapshots")
            self._store.delete("snapshots", as_of=as_of, **{SOURCE_COLUMN: name})
        return True

    def runs(
        self, as_of: dt.date | str | None = None, source_name: str | None = None
    ) -> list[dict[str, Any]]:
        """The ``runs`` rows (all, or those of ``as_of`` and/or ``source_name``), oldest first.

        ``settings`` and ``counts`` are decoded from JSON; ``extra_schema`` is left out.

        Examples
        --------
        >>> import pyarrow as pa
        >>> two = pa.table({"customer_id": ["a", "b"], "tier": ["key", "ordinary"]})
        >>> with Workspace.open("duckdb://") as ws:
        ...     ws.write_snapshot("2024-01-31", two, run_id="r1", policy_version="p1",
        ...                       source="orders.csv", settings={"currency": "CNY"})
        ...     (run,) = ws.runs()
        >>> run["n_customers"], run["counts"], run["settings"]
        (2, {'alerts': None, 'tiers': {'key': 1, 'ordinary': 1}}, {'currency': 'CNY'})
        """
        import json

        runs = self._store.table("runs")
        if as_of is not None:
            runs = runs.filter(runs.as_of == _as_date(as_of, "as_of"))
        if source_name is not None:
            runs = runs.filter(runs[SOURCE_COLUMN] == source_name)
        rows = _conform(runs.to_pyarrow(), RUNS_SCHEMA).to_pylist()
        for row in rows:
            row["settings"] = json.loads(row["settings"])
            row["counts"] = json.loads(row["counts"])
            del row["extra_schema"]
        return sorted(rows, key=lambda r: (r["created_at"], r["as_of"], r["run_id"]))

    # -- overrides ---------------------------------------------------------------------
    def add_override(
        self,
        customer_id: str,
        tier: str,
        *,
        by: str,
        reason: str,
        until: dt.date | str | None = None,
        source_name: str | None = None,
    ) -> None:
        """Set a manual tier for ``customer_id``, replacing any override it had.

        Parameters
        ----------
        customer_id, tier
            The customer and the tier they must have (the tier policy checks the name).
        by, reason
            Who set it and why; both required.
        until
            The last day the override applies (inclusive); ``None`` for no end.
        source_name
            The source whose customer this is; ``None``: the customer of that id in every
            source of the workspace.

        Examples
        --------
        >>> import datetime as dt
        >>> with Workspace.open("duckdb://") as ws:
        ...     ws.add_override("c7", "strategic", by="li.wei", reason="signed 3-year contract",
        ...                     until=dt.date(2025, 12, 31))
        ...     [(o["customer_id"], o["tier"]) for o in ws.overrides(dt.date(2025, 6, 1))]
        ...     ws.overrides(dt.date(2026, 1, 1))
        [('c7', 'strategic')]
        []
        """
        values = {"customer_id": customer_id, "tier": tier, "by": by, "reason": reason}
        for name, value in values.items():
            if not isinstance(value, str) or not value.strip():
                raise InputError(f"an override needs a non-empty {name}, got {value!r}")
        row = pa.Table.from_pylist(
            [
                {
                    **values,
                    "until": None if until is None else _as_date(until, "until"),
                    "created_at": self._clock(),
                    SOURCE_COLUMN: _check_source_name(source_name),
                }
            ],
            schema=OVERRIDES_SCHEMA,
        )
        with self._store.transaction():
            self._store.lock("overrides")
            self._store.delete(
                "overrides",
                customer_id=customer_id,
                **{SOURCE_COLUMN: _check_source_name(source_name)},
            )
            self._store.append("overrides", row)

    def overrides(
        self, active_on: dt.date | str | None = None, source_name: str | None = None
    ) -> list[dict[str, Any]]:
        """The overrides, sorted by customer: all, or those in force on ``active_on``.

        With ``source_name``, only the overrides of that source and those set for every
        source; where a customer has both, the source's own wins.

        An override is in force on every date up to and including its ``until`` (always,
        when ``until`` is null), whatever date it was set on, so that a rerun or a history
        rebuild of an earlier date honours it.

        Returns
        -------
        list of dict
            Keys ``customer_id, tier, by, reason, until, created_at``.
        """
        overrides = self._store.table("overrides")
        if active_on is not None:
            day = _as_date(active_on, "active_on")
            overrides = overrides.filter(overrides.until.isnull() | (overrides.until >= day))
        if source_name is not None:
            column = overrides[SOURCE_COLUMN]
            overrides = overrides.filter(column.isnull() | (column == source_name))
        rows = _conform(overrides.to_pyarrow(), OVERRIDES_SCHEMA).to_pylist()
        chosen: dict[str, dict[str, Any]] = {}
        for row in sorted(rows, key=lambda r: (r["customer_id"], r[SOURCE_COLUMN] is not None)):
            chosen[row["customer_id"]] = row  # the source's own comes last and wins
        return (
            [chosen[k] for k in sorted(chosen)]
            if source_name is not None
            else sorted(rows, key=lambda r: (r["customer_id"], r[SOURCE_COLUMN] or ""))
        )

    def remove_override(self, customer_id: str, source_name: str | None = None) -> bool:
        """Remove the override of ``customer_id`` (of ``source_name``, or the one set for
        every source when it is None); whether it had one."""
        name = _check_source_name(source_name)
        overrides = self._store.table("overrides")
        column = overrides[SOURCE_COLUMN]
        same_source = column.isnull() if name is None else column == name
        count = overrides.filter((overrides.customer_id == customer_id) & same_source).count()
        if not count.to_pyarrow().as_py():
            return False
        with self._store.transaction():
            self._store.delete("overrides", customer_id=customer_id, **{SOURCE_COLUMN: name})
        return True

    # -- internals ---------------------------------------------------------------------
    def _ensure_tables(self) -> None:
        store = self._store
        store.ensure_database()
        existing = store.existing_columns()
        upgrade = [
            name
            for name, schema in _TABLES.items()
            if name in existing
            and [col for col in schema.names if col not in existing[name]] == [SOURCE_COLUMN]
        ]
        if upgrade:
            self._add_source_names(upgrade)
            existing = store.existing_columns()
        for name, schema in _TABLES.items():
            if name not in existing:
                store.create_table(name, schema)
            else:
                missing = [col for col in schema.names if col not in existing[name]]
                if missing:
                    raise WorkspaceError(
                        f"the workspace table {name!r} lacks the column(s) "
                        f"{', '.join(missing)}; it was made by another program or version. "
                        "Open a new workspace (another directory, database or schema) or "
                        "rename the old table."
                    )
            store.create_unique_index(name, _UNIQUE[name])

    def _add_source_names(self, tables: list[str]) -> None:
        """Upgrade a workspace written before source names: add the column and name every
        old snapshot and run after the file its run read; old overrides hold everywhere."""
        store = self._store
        with store.transaction():
            for name in tables:
                store.add_column(name, SOURCE_COLUMN, "VARCHAR")
                if name in _OLD_UNIQUE:
                    store.drop_unique_index(name, _OLD_UNIQUE[name])
            if "runs" in tables:
                runs = self._store.table("runs").select("source").distinct().to_pyarrow()
                for source in runs.column(0).to_pylist():
                    named = default_source_name(source) if source else DEFAULT_SOURCE
                    store.update("runs", {SOURCE_COLUMN: named}, source=source)
            if "snapshots" in tables:
                runs = self._store.table("runs")
                pairs = runs.select("run_id", "as_of", SOURCE_COLUMN).to_pyarrow().to_pylist()
                for run in pairs:
                    store.update(
                        "snapshots",
                        {SOURCE_COLUMN: run[SOURCE_COLUMN]},
                        run_id=run["run_id"],
                        as_of=run["as_of"],
                    )
                store.update("snapshots", {SOURCE_COLUMN: DEFAULT_SOURCE}, **{SOURCE_COLUMN: None})
        log.info("upgraded the workspace tables %s with source names", ", ".join(tables))

    def _not_found(self, as_of: dt.date, source_name: str) -> str:
        dates = self.snapshot_dates(source_name)
        if not dates:
            others = [n for n in self.source_names() if n != source_name]
            if not others:
                return f"no snapshot of {as_of}: the workspace has none yet; run 'analyze' first"
            return (
                f"no snapshot of {as_of}: the workspace has none of the source "
                f"{source_name!r} yet (it holds snapshots of {', '.join(others)}); "
                "check --source-name"
            )
        nearest = sorted(dates, key=lambda d: abs((d - as_of).days))[:3]
        shown = ", ".join(str(d) for d in sorted(nearest))
        return (
            f"no snapshot of {as_of} of the source {source_name!r}; the nearest stored "
            f"dates are {shown} ({len(dates)} in all, {dates[0]} to {dates[-1]})"
        )


def _check_source_name(name: str | None) -> str | None:
    if name is None:
        return None
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"a source name must be non-empty text, got {name!r}")
    return name.strip()


def _as_date(value: object, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        raise InputError(f"{name} must be a date, not a date and time ({value!s})")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise InputError(f"{name} must be a date (e.g. 2024-01-31), got {value!r}")


def _conform(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    """Rows read back from any backend, with the workspace's column order and types."""
    return rows.select(schema.names).cast(schema)
