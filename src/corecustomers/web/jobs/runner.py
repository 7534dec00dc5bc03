"""Submit jobs, run them in the worker, and recover the ones whose worker died.

Handlers are registered by kind (``register("import_analysis", handler)``); a handler gets
the job and a :class:`JobProgress` and returns a JSON-serialisable result. Handlers must be
idempotent -- a job whose worker was killed runs again from the start, and must then
complete exactly once -- which each use case ensures with transactions and upserts.

Liveness is one mechanism: while a handler runs, a thread of the runner beats every
quarter :func:`lease`, and a running job whose last beat is older than the lease has lost
its worker. The beat goes into the job row; on a SQLite file it also touches a beat file
beside the database (``service.sqlite3-beats/<job id>``), because SQLite has one writer and
a handler's long write transaction (a whole master-data file, say) keeps the row from
being written for as long as it lasts. The lease check reads the newer of the two.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from corecustomers.errors import CoreCustomersError
from corecustomers.web.audit.context import Actor, acting
from corecustomers.web.jobs.models import Job

__all__ = [
    "JobProgress",
    "beat_file",
    "last_beat",
    "lease",
    "recover_stale_jobs",
    "register",
    "run_job",
    "submit",
]

log = logging.getLogger(__name__)

#: A job running without a heartbeat for this long is taken to have lost its worker.
LEASE = dt.timedelta(seconds=120)

Handler = Callable[[Job, "JobProgress"], Any]
_HANDLERS: dict[str, Handler] = {}

#: The jobs this process is running now: its own watcher never takes them for dead.
_RUNNING_HERE: set[str] = set()
_RUNNING_LOCK = threading.Lock()


def lease() -> dt.timedelta:
    """How long a running job may go without a heartbeat (``CORECUSTOMERS_JOB_LEASE``, s)."""
    return dt.timedelta(seconds=float(os.environ.get("CORECUSTOMERS_JOB_LEASE", "120")))


def beat_file(job_pk: Any, database: Any = None) -> Path | None:
    """Where the job's beat is also kept: beside a SQLite database file (else ``None``).

    ``database`` is a Django connection (default: this thread's).
    """
    db = connection if database is None else database
    if db.vendor != "sqlite" or db.is_in_memory_db():
        return None
    file = Path(db.settings_dict["NAME"])
    return file.with_name(f"{file.name}-beats") / str(job_pk)


def _touch(path: Path | None) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    except OSError:  # the database row is still beaten; the file is the SQLite extra
        log.warning("job beat file %s could not be written", path, exc_info=True)


def last_beat(job_pk: Any, heartbeat: dt.datetime | None) -> dt.datetime | None:
    """The job's latest beat: its row's ``heartbeat`` or its beat file, whichever is newer."""
    path = beat_file(job_pk)
    try:
        touched = path.stat().st_mtime if path is not None else None
    except OSError:  # no file: not running here, or not on SQLite
        touched = None
    if touched is None:
        return heartbeat
    filed = dt.datetime.fromtimestamp(touched, tz=dt.UTC)
    return filed if heartbeat is None or filed > heartbeat else heartbeat


def _beat(job_pk: Any, stop: threading.Event, every: float) -> None:
    path = beat_file(job_pk)
    _touch(path)
    try:
        if connection.vendor == "sqlite":
            # the row waits while another connection writes: do not let that delay the file
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA busy_timeout = {max(1, int(every * 500))}")
        while not stop.wait(every):
            _touch(path)
            try:
                with transaction.atomic():
                    # a row the handler's own transaction holds is skipped, not waited for
                    # (PostgreSQL; SQLite has no row locks and waits for its write lock)
                    free = Job.objects.select_for_update(skip_locked=True).filter(
                        pk=job_pk, status="running"
                    )
                    if free.exists():
                        free.update(heartbeat=timezone.now())
            except Exception:  # SQLite is locked while the handler writes: beat again later
                log.debug("job %s: heartbeat not written this time", job_pk, exc_info=True)
    finally:
        connection.close()


@contextlib.contextmanager
def _alive(job_pk: Any) -> Iterator[None]:
    """Keep the job's heartbeat fresh while its handler runs, whatever the handler does.

    Handlers also beat through :class:`JobProgress`, but one long write (a whole master-data
    file applied in one transaction, say) may report nothing for longer than the lease: a
    thread with its own connection beats every quarter lease, so that only a dead process
    loses its job. On SQLite the row waits while the handler holds the write lock, the beat
    file does not (see the module docstring); this process's own watcher skips the jobs it
    is running (``_RUNNING_HERE``) in any case.
    """
    key = str(job_pk)
    stop = threading.Event()
    beater = threading.Thread(
        target=_beat, args=(job_pk, stop, lease().total_seconds() / 4), daemon=True
    )
    with _RUNNING_LOCK:
        _RUNNING_HERE.add(key)
    beater.start()
    try:
        yield
    finally:
        stop.set()
        beater.join(timeout=5)
        _forget_beat(job_pk)
        with _RUNNING_LOCK:
            _RUNNING_HERE.discard(key)


def _forget_beat(job_pk: Any) -> None:
    path = beat_file(job_pk)
    if path is not None:
        path.unlink(missing_ok=True)


def register(kind: str, handler: Handler) -> None:
    _HANDLERS[kind] = handler


class JobProgress:
    """What a handler reports; also the job's heartbeat (written in its own transaction)."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def __call__(self, fraction: float, message: str = "") -> None:
        now = timezone.now()
        fraction = max(0.0, min(1.0, fraction))
        Job.objects.filter(pk=self.job.pk).update(
            progress=fraction, message=message[:500], heartbeat=now
        )
        self.job.progress, self.job.message, self.job.heartbeat = fraction, message, now


def submit(
    kind: str,
    params: dict[str, Any],
    *,
    user: Any = None,
    channel: str = "web",
    idempotency_key: str | None = None,
) -> tuple[Job, bool]:
    """Create a job and queue it once the transaction commits; ``(job, created)``.

    With an ``idempotency_key`` the same user asking twice gets the first job back.
    """
    if kind not in _HANDLERS:
        raise ValueError(f"no handler for job kind {kind!r}")
    owner = user if user is not None and getattr(user, "is_authenticated", False) else None
    if idempotency_key and owner is not None:
        existing = Job.objects.filter(created_by=owner, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            job = Job.objects.create(
                kind=kind,
                params=params,
                created_by=owner,
                channel=channel,
                idempotency_key=idempotency_key if owner is not None else None,
            )
            transaction.on_commit(lambda: _enqueue(job))
    except IntegrityError:
        return Job.objects.get(created_by=owner, idempotency_key=idempotency_key), False
    return job, True


def _enqueue(job: Job) -> None:
    from corecustomers.web.jobs.tasks import run_job_task

    run_job_task.enqueue(str(job.pk))


def run_job(job_id: str) -> Job:
    """Run one job to its end (called by the task worker; safe to call twice)."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if job.done:
            return job
        beaten = last_beat(job.pk, job.heartbeat)
        if job.status == "running" and beaten and timezone.now() - beaten < lease():
            log.info("job %s is running elsewhere; not starting it twice", job_id)
            return job
        job.status, job.attempts = "running", job.attempts + 1
        job.started = job.heartbeat = timezone.now()
        job.save(update_fields=["status", "attempts", "started", "heartbeat"])
    handler = _HANDLERS.get(job.kind)
    progress = JobProgress(job)
    actor = Actor(user=job.created_by, channel=job.channel, request_id=f"job-{job.pk}")
    try:
        if handler is None:
            raise CoreCustomersError(f"no handler for job kind {job.kind!r}")
        with acting(actor), _alive(job.pk):
            result = handler(job, progress)
    except CoreCustomersError as exc:
        _finish(job, "failed", error=str(exc))
    except Exception as exc:  # a bug: keep the traceback for the administrator
        log.exception("job %s (%s) failed", job.pk, job.kind)
        _finish(job, "failed", error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
    else:
        _finish(job, "succeeded", result=result)
    return job


def _finish(job: Job, status: str, *, result: Any = None, error: str = "") -> None:
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        status=status,
        result=result,
        error=error,
        finished=now,
        heartbeat=now,
        progress=1.0 if status == "succeeded" else job.progress,
    )
    job.status, job.result, job.error, job.finished = status, result, error, now


def recover_stale_jobs(*, lease: dt.timedelta = LEASE, all_running: bool = False) -> list[str]:
    """Queue again the jobs whose worker died; their ids.

    A running job whose last beat (:func:`last_beat`) is older than ``lease`` (or every
    running job, with ``all_running`` -- when the only worker is starting) is set back to
    queued and queued; never one that this process is running itself. A queued job whose
    queue entry is gone (the queue was cleared) is queued again too.
    """
    now = timezone.now()
    running = Job.objects.filter(status="running")
    if not all_running:
        running = running.filter(heartbeat__lt=now - lease)
    with _RUNNING_LOCK:
        mine = set(_RUNNING_HERE)
    ids = [
        str(pk)
        for pk, heartbeat in running.values_list("pk", "heartbeat")
        if str(pk) not in mine and (all_running or _older(last_beat(pk, heartbeat), now - lease))
    ]
    if ids:
        # the conditions again at write time: a job that finished meanwhile stays finished
        running.filter(pk__in=ids).update(status="queued", heartbeat=None)
        for pk in ids:
            _forget_beat(pk)
    queued = [str(pk) for pk in Job.objects.filter(status="queued").values_list("pk", flat=True)]
    pending = _pending_task_args()
    again = [pk for pk in queued if pk not in pending or pk in ids]
    for pk in again:
        from corecustomers.web.jobs.tasks import run_job_task

        run_job_task.enqueue(pk)
    if again:
        log.info("queued again %d job(s) whose worker stopped: %s", len(again), ", ".join(again))
    return again


def _older(beat: dt.datetime | None, cutoff: dt.datetime) -> bool:
    return beat is None or beat < cutoff


def _pending_task_args() -> set[str]:
    """The job ids that have a task waiting in the queue (ready, not yet taken)."""
    from django_tasks_db.models import DBTaskResult

    pending: set[str] = set()
    for args in DBTaskResult.objects.filter(status="READY").values_list("args_kwargs", flat=True):
        values = (args or {}).get("args") or []
        if values:
            pending.add(str(values[0]))
    return pending
