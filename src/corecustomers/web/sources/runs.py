"""Analysis runs of a registered source: requested once, run in the background, imported.

A run is the job kind ``run_analysis``. :func:`request_run` answers the run of a source
that is queued or running, or creates one; :func:`run_analysis` (the job's handler) calls
:func:`corecustomers.service.analyze` with the source's settings into the run's own output
folder ``<service folder>/analyses/<source>/<job id>/`` and imports the result
(:func:`~corecustomers.web.customers.analysis_import.import_analysis`, whose commit sends
``analysis_imported``: the work app then routes the new alerts).

Order of writes
---------------
Two stores are written: the workspace (the engine's snapshots, and files) and the service
database. They are written in this order, each step idempotent or atomic:

1. **Request** (service database, one transaction): the source's row is locked; a run of
   it that is queued or running is answered as it is (two requests make one run); else
   the job and its :class:`~corecustomers.web.sources.models.SourceRun` (with the output
   folder) are created. The queue entry is written when the transaction commits.
2. **Engine** (workspace and files, no service transaction open): unless the folder holds
   this job's *finished* output, it is emptied and ``analyze`` runs: it writes the
   snapshot of (source, as-of date) to the workspace in one transaction, replacing any
   snapshot of that date of that source; then its files, each under a temporary name
   renamed into place; and last the run marker ``.corecustomers/runs/<run id>.json``
   pointing at the folder. The marker is the engine's commit point: a folder is finished
   when a marker with the run id of its ``summary.json`` points at it.
3. **Record** (service database): the run gets its engine run id and as-of date.
4. **Import** (service database): chunked, idempotent upserts of customers, states and
   history; the ``Analysis`` row last (its commit queues the routing of alerts).
5. The job is marked succeeded.

A failure in 1 writes nothing. In 2 before the snapshot, the folder may hold partial files:
the retry empties it and runs again. In 2 after the snapshot and before the marker, the
workspace holds a snapshot no service state refers to yet: the retry runs ``analyze``
again, which compares with the same earlier snapshot (the latest one *before* the as-of
date) and replaces the snapshot of that date atomically, so it is present once (the
workspace's ``runs`` log keeps a line for the interrupted attempt). After the marker, the
retry finds the finished folder and only imports; in 3 to 5 the import completes what was
half-loaded or finds it done. The worker's run-marker watch may queue an import of the
same folder meanwhile; imports are idempotent per run id, so there is one ``Analysis``.
A job whose worker died is queued again by the worker's lease check (see
:mod:`corecustomers.web.jobs.runner`); while ``analyze`` runs, a heartbeat thread keeps the
lease.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from corecustomers.errors import InputError
from corecustomers.store.outputs import recorded_outputs
from corecustomers.web.customers.analysis_import import import_analysis, read_summary
from corecustomers.web.jobs.models import Job
from corecustomers.web.jobs.runner import JobProgress, register, submit
from corecustomers.web.sources.models import Source, SourceRun, Trigger
from corecustomers.web.sources.registry import SourceFormError, engine_settings, engine_source

__all__ = [
    "ACTIVE",
    "KIND",
    "JobSteps",
    "RunSummary",
    "register_jobs",
    "request_run",
    "run_analysis",
    "run_folder",
    "run_summary",
]

log = logging.getLogger(__name__)

KIND = "run_analysis"
ACTIVE = ("queued", "running")
#: The share of a run's progress bar taken by the engine (the import takes the rest).
ENGINE_SHARE = 0.85
#: About how many steps ``analyze`` reports (for a progress fraction; never exact): 14 on
#: the demo, where the core ranking, the churn risk and the query-only steps beside them
#: report as one step.
EXPECTED_STEPS = 14


def run_folder(source_name: str, job_id: object) -> Path:
    """``<service folder>/analyses/<source>/<job id>``: one folder per run."""
    return Path(settings.SERVICE_FOLDER) / "analyses" / source_name / str(job_id)


def request_run(
    source: Source,
    *,
    user: Any = None,
    channel: str = "web",
    trigger: str | None = None,
    idempotency_key: str | None = None,
    due: dt.datetime | None = None,
) -> tuple[SourceRun, bool]:
    """The run of ``source`` that is queued or running, else a new one; ``(run, created)``.

    Two simultaneous requests for one source make one run: the source's row is locked
    (on SQLite the write transaction serialises them) while looking for an active run.
    With an ``idempotency_key`` the same user asking again gets the first run back.
    """
    owner = user if getattr(user, "is_authenticated", False) else None
    key = (idempotency_key or "").strip()[:200] or None
    with transaction.atomic():
        locked = Source.objects.select_for_update().get(pk=source.pk)
        if key is not None and owner is not None:
            earlier = (
                SourceRun.objects.select_related("job", "source")
                .filter(job__created_by=owner, job__idempotency_key=key)
                .first()
            )
            if earlier is not None:
                return earlier, False
        active = (
            SourceRun.objects.select_related("job", "source")
            .filter(source=locked, job__status__in=ACTIVE)
            .order_by("created")
            .first()
        )
        if active is not None:
            return active, False
        job, created = submit(
            KIND, {"source": locked.name}, user=owner, channel=channel, idempotency_key=key
        )
        if not created:
            same = SourceRun.objects.select_related("job", "source").filter(job=job).first()
            if same is None:
                raise SourceFormError(
                    "idempotency_key", "this Idempotency-Key was used for another request"
                )
            return same, False
        run = SourceRun.objects.create(
            source=locked,
            source_name=locked.name,
            job=job,
            trigger=trigger or (channel if channel in Trigger.values else Trigger.WEB),
            due=due,
            folder=str(run_folder(locked.name, job.pk)),
        )
    return run, True


class JobSteps:
    """The engine's :class:`~corecustomers.service.progress.Progress` as a job's progress.

    Each step reports the fraction of steps done (scaled to ``share``) and its description;
    notes are kept (the last 50) for the run's page.
    """

    def __init__(
        self,
        report: Callable[[float, str], None],
        *,
        share: float = ENGINE_SHARE,
        expected: int = EXPECTED_STEPS,
    ) -> None:
        self._report, self._share, self._expected = report, share, expected
        self.done = 0
        self.notes: list[str] = []

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        self._report(min(self.done / self._expected, 0.95) * self._share, description)
        try:
            yield
        finally:
            self.done += 1

    def note(self, message: str) -> None:
        self.notes = [*self.notes[-49:], message]


@contextmanager
def _heartbeat(job: Job) -> Iterator[None]:
    """Keep the job's lease while a long step runs (a thread writes the heartbeat)."""
    from corecustomers.web.jobs.worker import lease

    if connection.in_atomic_block:
        # called inside a transaction (a test, or a caller's own): a second connection
        # would wait on this one's locks; the steps' reports are the heartbeat then
        yield
        return
    stop = threading.Event()
    every = max(lease().total_seconds() / 4, 0.2)

    def beat() -> None:
        try:
            while not stop.wait(every):
                try:
                    Job.objects.filter(pk=job.pk, status="running").update(heartbeat=timezone.now())
                except Exception:  # the database is busy: the next beat tries again
                    log.debug("heartbeat of job %s failed", job.pk, exc_info=True)
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"heartbeat-{job.pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def finished_output(folder: Path) -> tuple[str, str] | None:
    """``(run_id, as_of)`` when ``folder`` holds a finished ``analyze`` output, else None.

    Finished means: a run marker with the run id of the folder's ``summary.json`` points
    at the folder (``analyze`` writes the marker after every other file).
    """
    if not (folder / "summary.json").is_file():
        return None
    try:
        summary = read_summary(folder)
    except InputError:
        return None
    run_id = str(summary["run_id"])
    here = folder.resolve()
    for output in recorded_outputs(str(settings.WORKSPACE)):
        if output.run_id == run_id and output.folder.resolve() == here:
            return run_id, str(summary["as_of"])
    return None


def run_analysis(job: Job, progress: JobProgress) -> dict[str, Any]:
    """The ``run_analysis`` job: analyse, record, import (see the module docstring)."""
    from corecustomers.service import analyze

    run = SourceRun.objects.select_related("source").filter(job=job).first()
    if run is None:
        raise InputError("this job has no run record; run the source again from its page")
    folder = Path(run.folder)
    done = finished_output(folder)
    notes: list[str] = []
    if done is None:
        source = run.source
        if source is None:
            raise InputError(
                f"the source {run.source_name} was removed: register it again and run it"
            )
        engine = engine_settings(source)
        if folder.exists():
            shutil.rmtree(folder)  # the partial files of an attempt that was stopped
        folder.mkdir(parents=True)
        steps = JobSteps(progress)
        with _heartbeat(job):
            result = analyze(engine_source(source), folder, engine, progress=steps)
        done = str(result.summary["run_id"]), str(result.summary["as_of"])
        notes = steps.notes
    run_id, as_of = done
    SourceRun.objects.filter(pk=run.pk).update(run_id=run_id, as_of=dt.date.fromisoformat(as_of))
    progress(ENGINE_SHARE, "importing the analysis into the service")
    imported = import_analysis(
        folder,
        progress=lambda fraction, message: progress(
            ENGINE_SHARE + fraction * (1 - ENGINE_SHARE), message
        ),
    )
    summary = read_summary(folder)
    return {
        "source": run.source_name,
        "run_id": run_id,
        "as_of": as_of,
        "customers": imported.customers,
        "new_customers": imported.new_customers,
        "already_imported": imported.already_imported,
        "rows_read": summary.get("rows_read"),
        "rows_quarantined": summary.get("rows_quarantined"),
        "warnings": len(summary.get("warnings") or []),
        "notes": notes[-20:],
    }


class RunSummary(dict[str, Any]):
    """What a run's page and the API show of its output (a plain dict for templates)."""


#: How many quarantined rows a run's page lists (quarantine.csv has them all).
SHOWN_QUARANTINE = 200


def run_summary(run: SourceRun) -> RunSummary:
    """The run's counts, warnings, quarantine reasons and first quarantined rows."""
    import csv

    folder = Path(run.folder)
    view = RunSummary(folder=str(folder), report=(folder / "report.html").is_file())
    try:
        summary = read_summary(folder)
    except InputError:
        summary = {}
    view.update(
        rows_read=summary.get("rows_read"),
        rows_accepted=summary.get("rows_accepted"),
        rows_quarantined=summary.get("rows_quarantined"),
        customers=summary.get("customers"),
        revenue=summary.get("revenue"),
        as_of=summary.get("as_of"),
        warnings=list(summary.get("warnings") or []),
        reasons=sorted((summary.get("quarantine_reasons") or {}).items()),
        quarantine=[],
        quarantine_columns=[],
    )
    path = folder / "quarantine.csv"
    if path.is_file():
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            rows = [row for _, row in zip(range(SHOWN_QUARANTINE), reader, strict=False)]
        view["quarantine_columns"] = header
        view["quarantine"] = rows
    return view


def register_jobs() -> None:
    """Make ``run_analysis`` a job kind (from the sources app's ``ready()``)."""
    register(KIND, run_analysis)
