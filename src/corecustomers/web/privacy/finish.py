"""An erasure's cleaning after its database transaction: recorded stages, done as a job.

The transaction of an erasure (:mod:`.erase`) commits the person's removal together with
a :class:`~.models.Fulfilment` whose ``pending`` lists what is still to clean, and a job
(``privacy_erase_finish``) that does it. The process that asked runs the job at once
after the commit (so an answer normally shows the erasure complete); if it is killed
meanwhile, the job is taken up again like any job whose worker died (the next worker,
after the lease), and a new request for the same id finishes it as well (instead of
answering that the customer is already gone). The stages, in order:

``stored_files``
    every stored file checked once more (an export written while the database still held
    the person); the identifiers come from the erasure's :mod:`.journal`, which is removed
    as soon as this stage is done;
``suppression_file``
    the workspace's suppression file written from the database's list;
``database_files``
    the deleted bytes removed from the database files (SQLite ``VACUUM`` and a WAL
    checkpoint; PostgreSQL ``VACUUM FULL`` of the tables changed, after waiting for older
    transactions: see :func:`.erase.clean_database_files`).

Each stage can be done twice without harm, and is removed from ``pending`` once done, in a
transaction of its own; ``completed`` is set when none is left -- only then is the
erasure reported complete. A stage that fails (the database files could not be cleaned:
an error, or a transaction older than the erasure that outlived the wait) stays pending,
the record says why (``details["files"]``), and the job fails with a message saying to
ask for the erasure again; the daily retention job also finishes what is left.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, transaction
from django.utils import timezone

from corecustomers.errors import CoreCustomersError
from corecustomers.web.jobs.models import Job
from corecustomers.web.jobs.runner import JobProgress, register, run_job, submit
from corecustomers.web.privacy.journal import Journal
from corecustomers.web.privacy.matching import Identifiers
from corecustomers.web.privacy.models import Fulfilment, RequestKind
from corecustomers.web.privacy.stores import Replacer, scrub_files
from corecustomers.web.privacy.suppression import write_file

__all__ = [
    "FINISH_JOB",
    "STAGES",
    "ErasureUnfinishedError",
    "finish_erasure",
    "finish_unfinished",
    "queue_finish",
    "resume",
]

log = logging.getLogger(__name__)

FINISH_JOB = "privacy_erase_finish"
#: The stages after an erasure's commit, in the order they are done.
STAGES = ("stored_files", "suppression_file", "database_files")


class ErasureUnfinishedError(CoreCustomersError):
    """A stage of an erasure's cleaning could not be done now (the record says which)."""


def _stage_done(done: Fulfilment, stage: str, details: dict[str, Any]) -> Fulfilment:
    with transaction.atomic():
        row = Fulfilment.objects.select_for_update().get(pk=done.pk)
        row.pending = [s for s in row.pending if s != stage]
        row.details = {**row.details, **details}
        row.save(update_fields=["pending", "details"])
    return row


def _database_files(done: Fulfilment, erase_xid: int | None) -> dict[str, Any]:
    from corecustomers.web.privacy.erase import clean_database_files

    try:
        return clean_database_files(list(done.details.get("tables", [])), erase_xid)
    except DatabaseError as exc:
        return {"error": f"{type(exc).__name__}: {exc}", "complete": False}


def finish_erasure(done: Fulfilment, *, erase_xid: int | None = None) -> Fulfilment:
    """Do the stages still pending of the erasure ``done``; the record as it then stands.

    Raises
    ------
    ErasureUnfinishedError
        The database files could not be cleaned now (the stage stays pending).
    """
    done = Fulfilment.objects.get(pk=done.pk)
    if done.completed is not None:
        return done
    journal = Journal.load(done.customer_key)
    for stage in STAGES:
        if stage not in done.pending:
            continue
        details: dict[str, Any] = {}
        if stage == "stored_files":
            if journal is None:  # a record from before the journal: nothing to look for
                details["stored_files_checked_again"] = False
            else:
                replacer = Replacer(Identifiers(journal.customer()), journal.erased_id)
                again = scrub_files(replacer)
                details["stored_files"] = {**done.details.get("stored_files", {}), **again}
        elif stage == "suppression_file":
            write_file()
        else:
            files = _database_files(done, erase_xid)
            if "error" in files or files.get("complete") is False:
                Fulfilment.objects.filter(pk=done.pk).update(
                    details={**done.details, "files": files}
                )
                raise ErasureUnfinishedError(
                    f"the erasure {done.pk} ({done.subject}) could not clean the database "
                    f"files yet: {files.get('error') or 'an older transaction kept running'}; "
                    "ask for the erasure of the same id again to finish it"
                )
            details["files"] = files
        done = _stage_done(done, stage, details)
        if stage == "stored_files" and journal is not None:
            journal.remove()  # the identifiers are not needed any more
    Journal.path_for(done.customer_key).unlink(missing_ok=True)
    with transaction.atomic():
        row = Fulfilment.objects.select_for_update().get(pk=done.pk)
        if row.completed is None and not row.pending:
            row.completed = timezone.now()
            row.save(update_fields=["completed"])
    return Fulfilment.objects.get(pk=done.pk)


def _job(job: Job, progress: JobProgress) -> dict[str, Any]:
    progress(0.0, "finishing an erasure: stored files, suppression file, database files")
    done = Fulfilment.objects.get(pk=job.params["fulfilment"])
    done = finish_erasure(done, erase_xid=job.params.get("erase_xid"))
    return {"fulfilment": done.pk, "pending": done.pending, "complete": done.complete}


def queue_finish(
    done: Fulfilment, *, erase_xid: int | None = None, user: Any = None, channel: str = "system"
) -> Job:
    """The job that finishes ``done`` (queued when the transaction commits)."""
    job, _ = submit(
        FINISH_JOB,
        {"fulfilment": done.pk, "erase_xid": erase_xid},
        user=user,
        channel=channel,
    )
    return job


def resume(done: Fulfilment, *, user: Any = None, channel: str = "system") -> Fulfilment:
    """Finish the unfinished erasure ``done`` now, through its job: the one waiting or
    whose worker died (not one another process is running: then the record is answered
    as it stands), or a new one if the last failed. The record as it then stands."""
    job = (
        Job.objects.filter(kind=FINISH_JOB, params__fulfilment=done.pk).order_by("-created").first()
    )
    if job is None or job.status in {"failed", "succeeded"}:
        erase_xid = None if job is None else job.params.get("erase_xid")
        with transaction.atomic():
            job = queue_finish(done, erase_xid=erase_xid, user=user, channel=channel)
    log.info("resuming the cleaning of erasure %s (job %s)", done.pk, job.pk)
    run_job(str(job.pk))
    return Fulfilment.objects.get(pk=done.pk)


def finish_unfinished() -> list[int]:
    """Finish every erasure whose cleaning is pending (the daily retention job calls it);
    the records that are complete now."""
    finished = []
    unfinished = Fulfilment.objects.filter(kind=RequestKind.ERASE, completed__isnull=True)
    for done in unfinished.order_by("pk"):
        if resume(done).completed is not None:
            finished.append(done.pk)
    return finished


def connect() -> None:
    """Register the job (called from the app's ``ready``)."""
    register(FINISH_JOB, _job)
