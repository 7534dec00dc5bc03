"""Independent analysis steps side by side on the engine connection they share.

:func:`identify_core` runs the core ranking on the calling thread and the query-only steps
(purchase mix, referrals, earliest adopters, recommendations, then the tiers) on a
second one; the churn risk follows the ranking or, with more than two CPUs, runs on a
third: DuckDB, NumPy, Arrow and scikit-learn's boosting release the GIL, so one step's
Python work overlaps the others'.

A DuckDB connection must not run two queries at once. For as long as the steps run side
by side, :func:`shared_engine` gives each thread a connection of its own to the same
database (:class:`_PerThread`: a cursor, ``con.cursor()``), with DuckDB on one thread, so
that each query runs on the thread that asked for it and two threads' queries run at
once. A cursor does not see what is local to another connection: the temporary views
(the source's, the kept rows' Parquet files read back) and the Arrow tables registered
under a name (Ibis' in-memory tables) are repeated on each connection. This replaced one
connection behind a lock, which ran one query at a time on both of DuckDB's threads: the
block then waited for that lock more than for the cores (10M rows: DuckDB on one thread
behind the lock took the same time with 15-21 s less CPU; each thread on its own,
54-67 s against 58-71 s; ``benchmarks/README.md``, session 18). A connection that holds
a temporary table (which no cursor can be given) still runs behind the lock
(:class:`_Serial`). Spark and the databases reached by URL (PostgreSQL …) run the steps
one after another.

The ranking and the risk both fit BTYD models. Those fits keep their warnings to their
own thread (:func:`corecustomers.models.record_fit_warnings`, a context variable, not the
process-wide :class:`warnings.catch_warnings`), and what a fit's result depends on (a
parameter on its bound) is read from the optimiser's result, never from a warning. What
stays process-wide is OpenBLAS's thread count, so the block runs with one BLAS thread
throughout; OpenMP's (scikit-learn's boosting) is per thread, and each step sets its own.
"""

from __future__ import annotations

import contextvars
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Final, Generic, TypeVar

import ibis.expr.types as ir
import pyarrow as pa

__all__ = ["Background", "Once", "Timings", "quiet_ibis_cache_races", "shared_engine"]

T = TypeVar("T")


class Timings:
    """Each step's own seconds, reported afterwards in a fixed order (the threads finish
    their steps in an order that varies from run to run)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        """Time the block as ``description`` (added to what earlier blocks of the same
        step took: a step may run in parts)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            took = time.perf_counter() - started
            with self._lock:
                self.seconds[description] = self.seconds.get(description, 0.0) + took


class _Result:
    """A statement's whole result, fetched under the lock, read through the cursor
    methods of a DuckDB connection (``execute`` returns the connection itself, whose
    result another thread's statement would replace before it is fetched)."""

    def __init__(self, table: pa.Table, execute: Callable[..., _Result]) -> None:
        self._table = table
        self._rows: list[tuple[Any, ...]] | None = None
        self._at = 0
        # DuckDB's ``execute`` returns the connection, so callers may execute the next
        # statement on what it returned (Ibis' create_table: ``cur.execute(insert)``)
        self.execute = execute

    @property
    def description(self) -> list[tuple[Any, ...]]:
        return [(f.name, str(f.type), None, None, None, None, None) for f in self._table.schema]

    def fetch_arrow_table(self) -> pa.Table:
        return self._table

    arrow = fetch_arrow_table

    def fetch_record_batch(self, rows_per_batch: int = 1_000_000) -> pa.RecordBatchReader:
        batches = self._table.to_batches(max_chunksize=rows_per_batch)
        return pa.RecordBatchReader.from_batches(self._table.schema, batches)

    def _all(self) -> list[tuple[Any, ...]]:
        if self._rows is None:
            columns = [c.to_pylist() for c in self._table.columns]
            self._rows = list(zip(*columns, strict=True)) if columns else []
        return self._rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows = self._all()[self._at :]
        self._at = len(self._all())
        return rows

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self._all()
        if self._at >= len(rows):
            return None
        self._at += 1
        return rows[self._at - 1]

    def fetchdf(self) -> Any:
        return self._table.to_pandas()

    df = fetchdf


class _Serial:
    """A DuckDB connection or relation whose calls run one at a time under ``lock``."""

    def __init__(self, target: Any, lock: threading.RLock) -> None:
        self._target = target
        self._lock = lock

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr
        if name == "execute" or name == "executemany":
            return self._execute(attr)

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return self._wrap(attr(*args, **kwargs))

        return call

    def _execute(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> _Result:
            with self._lock:
                cursor = method(*args, **kwargs)
                return _Result(cursor.fetch_arrow_table(), call)

        return call

    def _wrap(self, value: Any) -> Any:
        import duckdb

        if value is self._target:
            return self
        if isinstance(value, duckdb.DuckDBPyRelation):
            return _Serial(value, self._lock)
        return value


_TEMPORARY_VIEW = re.compile(
    r"\s*(CREATE\s+(OR\s+REPLACE\s+)?TEMP(ORARY)?\s+VIEW|DROP\s+VIEW)\b", re.IGNORECASE
)
"""The statements that make or drop a temporary view: each connection needs its own."""

_DROP = re.compile(r"\s*DROP\b", re.IGNORECASE)

#: Ibis' names of its in-memory tables: one registered under such a name whose table is
#: gone (collected; Ibis unregisters them only at exit) can no longer be read by anyone.
_MEMTABLE = re.compile(r"ibis_\w*memtable_\w+")

#: The calls that change what a connection sees by name, repeated on every connection.
_SHARED_CALLS: Final = frozenset({"register", "unregister"})

_Call = tuple[str, tuple[Any, ...], dict[str, Any]]


class _PerThread:
    """A DuckDB connection that gives each thread a connection of its own to the same
    database: the thread that made it keeps the connection itself, every other thread
    gets a cursor (``con.cursor()``, made beforehand on the owning thread), so that their
    queries run at the same time.

    What a connection sees only by its own name -- the temporary views (the source's
    ``read_parquet`` view, the kept rows' views) and the Arrow tables registered under a
    name (Ibis' in-memory tables) -- and its session settings (Ibis sets the time zone
    to UTC) are repeated on each: those present when it is made, then every
    ``register``, ``unregister`` and temporary view's ``CREATE`` or ``DROP`` made
    through it, on the other connections before their next call (a log, replayed in
    order). A statement's result is fetched whole at once (:class:`_Result`), so that a
    later replay on the connection cannot replace it. The database runs one thread of
    its own (``SET threads = 1``, restored by :meth:`close`): each query runs on the
    thread that asked for it, and two threads' queries run side by side instead of one
    after another on both.
    """

    def __init__(self, con: Any, log: list[_Call]) -> None:
        self._base = con
        self._owner = threading.get_ident()
        self._lock = threading.RLock()
        self._closed = False
        # cursors made now, on the thread that owns the connection, and handed out later
        self._spare = [con.cursor() for _ in range(_SPARE_CURSORS)]
        self._made = list(self._spare)
        # the base's session settings that a new cursor lacks, first in every cursor's log
        mine = dict(con.execute(_LOCAL_SETTINGS).fetchall())
        fresh = dict(self._spare[0].execute(_LOCAL_SETTINGS).fetchall())
        settings: list[_Call] = [
            ("execute", (f"SET {name} = '{value}'",), {})
            for name, value in mine.items()
            if fresh.get(name) != value and "'" not in str(value)
        ]
        self._log = settings + log
        # each thread's connection and how much of the log it has replayed; the base has
        # everything already
        self._mine: dict[int, list[Any]] = {self._owner: [con, len(self._log)]}
        ((self._threads,),) = con.execute("SELECT current_setting('threads')").fetchall()
        con.execute("SET threads = 1")

    @classmethod
    def of(cls, backend: Any) -> _PerThread | None:
        """The backend's connection given per thread, or None when it holds something a
        cursor cannot be given: a temporary table, or an object registered other than
        by Ibis' in-memory tables."""
        con = backend.con
        tables = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE temporary AND NOT internal"
        ).fetchall()
        if tables[0][0]:
            return None
        views = con.execute(
            "SELECT view_name, sql FROM duckdb_views() WHERE temporary AND NOT internal "
            "ORDER BY view_oid"
        ).fetchall()
        memtables = {op.name: op for op in getattr(backend, "_memtables", ())}
        log: list[_Call] = []
        for name, sql in views:
            if sql:
                log.append(("execute", (sql,), {}))
            elif name in memtables:
                op = memtables[name]
                log.append(("register", (name, op.data.to_pyarrow(op.schema)), {}))
            elif _MEMTABLE.fullmatch(name) is None:
                return None
        return cls(con, log)

    def connection(self) -> Any:
        """The calling thread's own connection (a cursor made on its first call)."""
        with self._lock:
            return self._connection()

    def _connection(self) -> Any:
        """This thread's connection, with the log replayed on it; under ``_lock``."""
        ident = threading.get_ident()
        entry = self._mine.get(ident)
        if entry is None:
            if not self._spare:
                raise RuntimeError(
                    f"more than {_SPARE_CURSORS} threads query the shared engine at once"
                )
            entry = self._mine[ident] = [self._spare.pop(), 0]
        con, seen = entry
        _replay(con, self._log[seen:])
        entry[1] = len(self._log)
        return con

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._base, name)
        if self._closed or not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            shared = name in _SHARED_CALLS or (
                name in ("execute", "sql")
                and bool(args)
                and isinstance(args[0], str)
                and _TEMPORARY_VIEW.match(args[0]) is not None
            )
            with self._lock:
                con = self._connection()
                result = getattr(con, name)(*args, **kwargs) if shared else None
                if shared:
                    self._log.append((name, args, kwargs))
                    self._mine[threading.get_ident()][1] = len(self._log)
            if not shared:  # outside the lock: the other threads' calls run meanwhile
                result = getattr(con, name)(*args, **kwargs)
            if result is not con:
                return result
            if name in ("execute", "executemany"):  # its whole result now, before a replay
                return _Result(result.fetch_arrow_table(), self.execute)
            return self

        return call

    def close(self) -> None:
        """Bring the base connection up to date (a view another thread made), close the
        cursors and restore the thread count; afterwards every call goes to the base
        connection. On the thread that made this, once the others have finished."""
        with self._lock:
            try:
                _replay(self._base, self._log[self._mine[self._owner][1] :])
                for cursor in self._made:
                    cursor.close()
            finally:
                self._closed = True
                self._log.clear()
                self._base.execute(f"SET threads = {int(self._threads)}")


def _replay(con: Any, calls: list[_Call]) -> None:
    """``calls`` made on ``con``; a view already dropped there is not an error."""
    import duckdb

    for method, args, kwargs in calls:
        drop = method in ("execute", "sql") and _DROP.match(args[0]) is not None
        try:
            getattr(con, method)(*args, **kwargs)
        except duckdb.CatalogException:
            if not drop:
                raise


_LOCAL_SETTINGS: Final = "SELECT name, value FROM duckdb_settings() WHERE scope = 'LOCAL'"

#: Cursors made when the connection is given per thread: the block's second thread, a
#: third for the churn risk beside the ranking (from three CPUs), and the tiers' thread.
_SPARE_CURSORS: Final = 4


@contextmanager
def shared_engine(transactions: ir.Table) -> Iterator[bool]:
    """Whether steps over ``transactions`` can run side by side; while the block runs,
    a DuckDB backend's connection executes one statement at a time.

    True on DuckDB; False (run one step after another) on other engines: Spark and the
    databases reached by URL are not made safe here.
    """
    try:
        backend: Any = transactions._find_backend(use_default=True)
    except Exception:  # an expression without one backend: keep to one thread
        yield False
        return
    if getattr(backend, "name", None) != "duckdb":
        yield False
        return
    con = backend.con
    shared = _PerThread.of(backend)
    # None: something only this connection sees, which no cursor can be given
    backend.con = _Serial(con, threading.RLock()) if shared is None else shared
    try:
        yield True
    finally:
        backend.con = con
        if shared is not None:
            shared.close()


class Background(Generic[T]):
    """``work`` on a second thread (with the caller's context variables) while the
    ``with`` block runs on the calling one; or, when not ``parallel``, in
    :meth:`result`. Leaving the block waits for the thread, after a failure too.
    """

    def __init__(self, work: Callable[[], T], *, parallel: bool) -> None:
        self._work = work
        self._parallel = parallel
        self._pool: ThreadPoolExecutor | None = None
        self._future: Future[T] | None = None

    def __enter__(self) -> Background[T]:
        if self._parallel:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="corecustomers")
            self._future = self._pool.submit(contextvars.copy_context().run, self._work)
        return self

    def result(self) -> T:
        """The work's result (its exception, raised here)."""
        if self._future is None:
            return self._work()
        return self._future.result()

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


class Once(Generic[T]):
    """``make()``'s value, computed by the first thread that asks for it; a thread that
    asks meanwhile waits for it (a failure is raised to the one that made it, and the next
    to ask tries again)."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._value: list[T] = []

    def __call__(self) -> T:
        with self._lock:
            if not self._value:
                self._value.append(self._make())
            return self._value[0]

    def release(self) -> None:
        """Drop the value (its memory), once nobody will ask for it again."""
        with self._lock:
            self._value.clear()


def quiet_ibis_cache_races() -> None:
    """Keep one harmless message of Ibis off the console: its expressions share a cache
    of equality results that ``__del__`` cleans, and with expressions dropped on two
    threads at once one deletion can find the other's entry gone (``KeyError`` in
    ``Comparable.__del__``, printed as "Exception ignored in", never raised). Every other
    unraisable error still reaches the previous hook.
    """
    previous = sys.unraisablehook
    if getattr(previous, "_ibis_cache_races_quiet", False):
        return

    def hook(unraisable: Any) -> None:
        where = getattr(unraisable.object, "__qualname__", "")
        if unraisable.exc_type is KeyError and where == "Comparable.__del__":
            return
        previous(unraisable)

    hook._ibis_cache_races_quiet = True  # type: ignore[attr-defined]
    sys.unraisablehook = hook
