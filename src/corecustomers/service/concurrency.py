"""Independent analysis steps side by side on the engine connection they share.

:func:`identify_core` runs the core ranking on the calling thread and the query-only steps
(purchase mix, referrals, earliest adopters, recommendations, then the tiers) on a
second one; the churn risk follows the ranking or, with more than two CPUs, runs on a
third: DuckDB, NumPy, Arrow and scikit-learn's boosting release the GIL, so one step's
Python work overlaps the others'.

The threads share one connection. A DuckDB connection must not run two queries at
once, and a cursor (``con.cursor()``, a connection of its own) does not see the accepted
rows, which :func:`~corecustomers.service.analysis.prepare` keeps in a temporary table
(temporary tables belong to the connection that made them). So, for as long as the
steps run side by side, :func:`shared_engine` puts the Ibis backend's DuckDB connection
behind a lock: one query runs at a time, from its start to its last row, and the
threads overlap everywhere else. Spark and the databases reached by URL (PostgreSQL …)
run the steps one after another.

The ranking and the risk both fit BTYD models. Those fits keep their warnings to their
own thread (:func:`corecustomers.models.record_fit_warnings`, a context variable, not the
process-wide :class:`warnings.catch_warnings`), and what a fit's result depends on (a
parameter on its bound) is read from the optimiser's result, never from a warning. What
stays process-wide is OpenBLAS's thread count, so the block runs with one BLAS thread
throughout; OpenMP's (scikit-learn's boosting) is per thread, and each step sets its own.
"""

from __future__ import annotations

import contextvars
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

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
        """Time the block as ``description``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self.seconds[description] = time.perf_counter() - started


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
    backend.con = _Serial(con, threading.RLock())
    try:
        yield True
    finally:
        backend.con = con


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
