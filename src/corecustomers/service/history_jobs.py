"""A history's dates analysed on several processes, their snapshots saved in date order.

Most of a date's analysis -- features, scores, model fits, the core ranking, the churn
risk -- does not read the workspace; only the tiers and what follows them need the
previous date's snapshot and the overrides. On small frames that work is mostly Python
under one interpreter lock, so threads cannot share it out; processes can. So
:func:`run_dates` hands the dates out in turn to ``jobs`` worker processes, each of which
runs the same :func:`~corecustomers.service.analysis.analyse_prepared` as one process
does, on the accepted rows written once to a Parquet file, with a workspace that is a
stand-in (:class:`_Remote`): its reads and writes are served by the calling process from
the real workspace, and a date's are served only once every earlier date's snapshot is
saved (the analysis reads the workspace just before its tiers: ``late_state``). So each
snapshot is decided from the same state as one after another; only the model fits start
from another earlier date's estimates (``jobs`` dates back instead of one), which moves
their optimum within the fit's tolerance.

A worker that fails sends its error, which is raised here; the other workers are stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import gc
import logging
import multiprocessing
import pickle
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Final

import pyarrow as pa

from corecustomers.config import Settings
from corecustomers.data.connect import connect_engine, is_duckdb
from corecustomers.data.readers import RawSource
from corecustomers.insights.fitted import FittedValue
from corecustomers.machine import cpus, memory_bytes, thread_limit
from corecustomers.service.analysis import Prepared, analyse_prepared
from corecustomers.service.concurrency import quiet_ibis_cache_races
from corecustomers.service.progress import Progress
from corecustomers.service.side_steps import CoreOptions
from corecustomers.service.summary import AnalysisSummary
from corecustomers.store import Workspace

__all__ = [
    "MAX_JOBS",
    "WORKER_IMPORTS",
    "analyse_dates",
    "jobs_for",
    "parallel_ok",
    "run_dates",
    "start_workers_early",
    "worker_context",
    "worker_engine",
    "written_line",
]

MAX_JOBS: Final = 4
"""The most processes ``jobs = 0`` starts (each holds its own copy of the frames)."""


WORKER_IMPORTS: Final = (
    "corecustomers.service.history_jobs",
    "ibis.backends.duckdb",
    "pandas",
    "scipy.stats",
    "sklearn.ensemble",
    "sklearn.linear_model",
)
"""What a worker imports before its first date is done (about 3 CPU-s): loaded once, in
the process the workers are forked from, while the command reads its source."""


def start_workers_early(settings: Settings) -> None:
    """Start the process the workers will be forked from (where the platform forks from
    a server), so that it imports :data:`WORKER_IMPORTS` while this process reads and
    checks the source; each worker then starts with them loaded. Nothing is started for
    one process or for another engine than DuckDB."""
    if settings.engine == "duckdb" and jobs_for(settings, MAX_JOBS) > 1:
        worker_context()


def worker_context() -> Any:
    """The workers' start method, with the server they are forked from running.

    Forked from multiprocessing's fork server, which has imported
    :data:`WORKER_IMPORTS`. A fork of it is safe as long as those imports leave no
    thread mid-work: the libraries' idle pools (DuckDB's scheduler, OpenBLAS, Arrow's
    allocator) handle a fork, the workers make connections of their own, and no OpenMP
    region runs at import. The server keeps the environment of its start (the command's,
    as the command starts it first). Where the platform has no fork server, or it cannot
    start (a temporary folder whose socket path is too long), the workers are spawned.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        from multiprocessing import forkserver

        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(WORKER_IMPORTS))
        try:
            forkserver.ensure_running()
        except OSError as exc:
            logging.getLogger(__name__).debug("no fork server (%s): spawning workers", exc)
        else:
            return context
    return multiprocessing.get_context("spawn")


@contextlib.contextmanager
def worker_engine(memory_limit: str, temp_directory: str, threads: int) -> Iterator[Any]:
    """A worker's DuckDB connection (Ibis), closed at the end: a worker forked from the
    server ends with ``os._exit``, without the interpreter's shutdown that would have
    closed it, and DuckDB removes its spill files only when its database closes."""
    con = connect_engine("duckdb", memory_limit=memory_limit, temp_directory=temp_directory)
    try:
        con.raw_sql(f"SET threads = {threads}")
        yield con
    finally:
        con.disconnect()
        # a cursor of the database held in a reference cycle would keep it open
        gc.collect()


def jobs_for(settings: Settings, dates: int) -> int:
    """The processes a history of ``dates`` dates runs on: ``settings.jobs``, or one per
    CPU up to :data:`MAX_JOBS`; never more than the dates.

    >>> jobs_for(Settings(jobs=3), 2), jobs_for(Settings(jobs=1), 36)
    (2, 1)
    """
    wanted = settings.jobs or min(cpus(), MAX_JOBS)
    return max(1, min(wanted, dates))


def parallel_ok(transactions: Any) -> bool:
    """Whether the accepted rows can be handed to other processes (on DuckDB, as a
    Parquet file; another engine's rows stay with the one process)."""
    return is_duckdb(transactions.get_backend())


def written_line(day: _dt.date, customers: pa.Table, steps: AnalysisSummary) -> dict[str, Any]:
    """A date's line of ``history.json``: its customers, tiers and alerts."""
    core = steps.core
    return {
        "as_of": day.isoformat(),
        "previous_as_of": (core.history or {}).get("previous_as_of"),
        "customers": customers.num_rows,
        "tiers": {r["tier"]: r["customers"] for r in core.tiers["table"]},
        "alerted": core.alerts["alerted"],
    }


@dataclass(frozen=True)
class _Job:
    """What a worker needs: the rows' file, the prepared source without its tables, the
    settings, the dates it analyses and the last date of the history."""

    rows: str
    prepared: dict[str, Any]
    raw: dict[str, Any]
    settings: Settings
    options: CoreOptions
    dates: tuple[_dt.date, ...]
    last: _dt.date
    threads: int
    #: DuckDB's spill folder, the worker's own (processes spilling to one folder
    #: overwrite each other's files), and its memory cap
    spill: str
    memory_limit: str
    #: the calling process' log level (``--verbose``: INFO), for the worker's own log
    log_level: int = logging.WARNING


def run_dates(
    prepared: Prepared,
    settings: Settings,
    dates: list[_dt.date],
    *,
    options: CoreOptions,
    workspace: Workspace,
    jobs: int,
    folder: Path,
    progress: Progress,
) -> list[dict[str, Any]]:
    """Analyse ``dates`` on ``jobs`` processes and save their snapshots in ``workspace``
    in date order; return each date's line of ``history.json``, in date order.

    ``prepared``'s rows (on DuckDB) are written once to a Parquet file in ``folder``,
    which each worker reads.
    """
    rows = folder / "history-rows.parquet"
    tx = prepared.transactions
    tx.get_backend().to_parquet(tx, rows)
    fields = {
        f.name: getattr(prepared, f.name)
        for f in dataclasses.fields(prepared)
        if f.name not in ("transactions", "raw")
    }
    raw = {f.name: getattr(prepared.raw, f.name) for f in dataclasses.fields(prepared.raw)}
    raw.pop("table")
    threads = max(1, cpus() // jobs)
    spills = Path(settings.temp_directory) if settings.temp_directory else folder
    context = worker_context()
    workers: list[tuple[Any, Connection]] = []
    order = {day: i for i, day in enumerate(dates)}
    try:
        for k in range(jobs):
            mine, theirs = context.Pipe()
            job = _Job(
                str(rows),
                fields,
                raw,
                settings,
                options,
                tuple(dates[k::jobs]),
                dates[-1],
                threads,
                str(spills / f"history-worker-{k}"),
                settings.memory_limit or _share_of_memory(jobs),
                logging.getLogger().getEffectiveLevel(),
            )
            process = context.Process(target=_work, args=(theirs, job), daemon=True)
            process.start()
            theirs.close()
            workers.append((process, mine))
        lines = _serve(workers, dates, order, workspace, progress)
        for process, _ in workers:  # done: let them end by themselves (each closes its DuckDB)
            process.join(timeout=_ENDING_SECONDS)
        return lines
    finally:
        for process, conn in workers:
            conn.close()
            if process.is_alive():
                process.terminate()
            process.join()


_ENDING_SECONDS: Final = 30.0
"""How long a worker that sent its last date may take to end before it is stopped."""


def _share_of_memory(jobs: int) -> str:
    """Each worker's DuckDB memory cap when none is set: DuckDB's default, 80 % of the
    machine's memory, shared by the workers and the calling process (each process'
    DuckDB would otherwise take the whole 80 % as its own)."""
    return f"{max(256, int(0.8 * memory_bytes() / (jobs + 1)) >> 20)}MB"


def _serve(
    workers: list[tuple[Any, Connection]],
    dates: list[_dt.date],
    order: dict[_dt.date, int],
    workspace: Workspace,
    progress: Progress,
) -> list[dict[str, Any]]:
    """Answer the workers' workspace calls, each date's once the dates before it are
    saved, until every date is done."""
    saved = 0  # the dates whose snapshots are saved: dates[:saved]
    waiting: dict[Connection, tuple[Any, ...]] = {}
    lines: dict[_dt.date, dict[str, Any]] = {}
    conns = {conn: process for process, conn in workers}
    left = {conn: len(dates[k :: len(workers)]) for k, (_, conn) in enumerate(workers)}

    def answer(conn: Connection, message: tuple[Any, ...]) -> None:
        nonlocal saved
        _, day, method, args, kwargs = message
        try:
            value = getattr(workspace, method)(*args, **kwargs)
        except Exception as exc:  # the worker raises it where the call was made
            conn.send(("raise", _portable(exc)))
            return
        if method == "write_snapshot":
            saved = order[day] + 1
            value = None
        with contextlib.suppress(BrokenPipeError):  # a worker gone: its EOF tells
            conn.send(("value", value))

    def pump() -> None:
        for conn in wait([*conns, *(p.sentinel for p in conns.values())]):
            if not isinstance(conn, Connection):
                continue  # a process ended: its connection reports it (EOF) or has
            try:
                message = conn.recv()
            except EOFError:
                if not left[conn]:  # done with its dates
                    del conns[conn]
                    continue
                conns[conn].join(timeout=5)  # for its exit code
                raise RuntimeError(
                    "a history worker process ended without a result"
                    f" (exit code {conns[conn].exitcode})"
                ) from None
            if message[0] == "call":
                waiting[conn] = message
            elif message[0] == "done":
                lines[message[1]] = message[2]
                left[conn] -= 1
            elif message[0] == "error":
                exc, trace = message[1], message[2]
                if isinstance(exc, BaseException):
                    raise exc from RuntimeError(f"in a history worker:\n{trace}")
                raise RuntimeError(f"a history worker failed:\n{trace}")
        # in date order, each answer possibly a write that lets the next date's calls in
        for conn, message in sorted(waiting.items(), key=lambda item: order[item[1][1]]):
            if order[message[1]] <= saved:
                del waiting[conn]
                answer(conn, message)

    for day in dates:
        with progress.step(f"Snapshot {day}"):
            while day not in lines:
                pump()
    return [lines[day] for day in dates]


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a RuntimeError with its text."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


class _Remote:
    """The workspace as a worker sees it: each call is made by the calling process on the
    real workspace (for the date the worker is at, once the dates before it are saved)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self.day: _dt.date | None = None

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self._conn.send(("call", self.day, method, args, kwargs))
                kind, value = self._conn.recv()
            if kind == "raise":
                raise value
            return value

        return call


def analyse_dates(
    prepared: Prepared,
    settings: Settings,
    dates: Sequence[_dt.date],
    *,
    options: CoreOptions,
    workspace: Workspace,
    last: _dt.date,
    each: Callable[[_dt.date], AbstractContextManager[Any]],
    openmp: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Analyse ``dates`` one after another on this process, each fit starting from the
    previous date's, each date inside ``each(day)``; yield each date's line of
    ``history.json``. ``last`` is the history's last date (every cut's purchase days
    are aggregated up to it once); ``openmp``: the boosting fits' OpenMP threads (a
    worker's share of the CPUs; more, in each of several processes, spin waiting for
    each other)."""
    from corecustomers.data.compiled import reusing_sql
    from corecustomers.data.features import sharing_purchase_days

    warm: FittedValue | None = None  # the previous date's fit
    # one BLAS thread: the fits' L-BFGS-B steps and the risk's logistic regression
    # work on a few parameters, where OpenBLAS's threads cost ~8x the work itself
    # (a BG/NBD and Gamma-Gamma fit on the 20k demo: 0.51 s threaded, 0.07 s not)
    with contextlib.ExitStack() as stack:
        stack.enter_context(reusing_sql())
        stack.enter_context(sharing_purchase_days(prepared.transactions, up_to=last))
        stack.enter_context(thread_limit(1, "blas"))
        if openmp is not None:
            stack.enter_context(thread_limit(openmp, "openmp"))
        for day in dates:
            at = dataclasses.replace(prepared, as_of=day, calibration_end=None)
            with each(day):
                customers, steps = analyse_prepared(
                    at, settings, workspace=workspace, options=options, start=warm
                )
            warm = steps.valuation.fitted or warm
            yield written_line(day, customers, steps)


def _work(conn: Connection, job: _Job) -> None:
    """A worker: analyse ``job.dates`` one after another, each starting its fit from the
    previous one's; report each date's line, or the error that stopped it."""
    try:
        _analyse(conn, job)
    except BaseException as exc:  # reported to the calling process, which raises it
        with contextlib.suppress(OSError, ValueError):  # unless the caller has gone
            conn.send(("error", _portable(exc), traceback.format_exc()))
    finally:
        conn.close()


def _analyse(conn: Connection, job: _Job) -> None:
    quiet_ibis_cache_races()
    if job.log_level < logging.WARNING:  # as the command logs (``--verbose``)
        logging.basicConfig(
            level=job.log_level, format="%(levelname)s [worker %(process)d] %(name)s: %(message)s"
        )
    settings = job.settings
    workspace = _Remote(conn)

    @contextlib.contextmanager
    def at(day: _dt.date) -> Iterator[None]:
        workspace.day = day  # the date the workspace calls are for
        yield

    with worker_engine(job.memory_limit, job.spill, job.threads) as con:
        tx = con.read_parquet(job.rows)
        prepared = Prepared(raw=RawSource(table=tx, **job.raw), transactions=tx, **job.prepared)
        lines = analyse_dates(
            prepared,
            settings,
            job.dates,
            options=job.options,
            workspace=workspace,  # type: ignore[arg-type]  # the calls it makes
            last=job.last,
            each=at,
            openmp=job.threads,
        )
        for day, line in zip(job.dates, lines, strict=True):
            conn.send(("done", day, line))
