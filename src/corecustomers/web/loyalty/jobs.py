"""Loyalty's background jobs, and how they are queued.

* ``loyalty_earn_run`` -- earn the points of an analysis run's transactions
  (:func:`~corecustomers.web.loyalty.earning.earn_run`), queued after each import when the
  programme earns from runs (``Programme.earn_from_runs``).
* ``loyalty_daily`` -- release pending points, expire lots past their date (expiry
  entries), and evaluate member levels. Queued at most once per day (a :class:`DailyRun`
  row per day, unique): after an import, and by the worker after any task it finishes --
  the scheduler runs ``escalate_alerts`` every few minutes, so a running worker queues the
  day's job within minutes of midnight. (A hook for apps in the scheduler itself would be
  the cleaner way; see the coordinator's notes.)

Both are idempotent: a rerun after a killed worker completes them exactly once (earning:
order keys and per-run movement keys; expiry: one movement per lot, keyed ``expire:<lot>``).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from corecustomers.web.customers.signals import analysis_imported
from corecustomers.web.jobs.models import Job
from corecustomers.web.jobs.runner import JobProgress, register, submit
from corecustomers.web.loyalty.models import DailyRun, Programme

__all__ = ["connect", "queue_daily"]

log = logging.getLogger(__name__)


def _earn(job: Job, progress: JobProgress) -> dict[str, Any]:
    from corecustomers.web.loyalty.earning import earn_run

    return earn_run(str(job.params["run_id"]), progress=progress)


def _daily(job: Job, progress: JobProgress) -> dict[str, Any]:
    from corecustomers.web.loyalty.ledger import expire_due
    from corecustomers.web.loyalty.levels import evaluate

    at = job.params.get("now")
    now = dt.datetime.fromisoformat(at) if at else timezone.now()
    progress(0.0, "releasing and expiring points")
    expired = expire_due(now, progress=lambda f, m: progress(0.7 * f, m))
    progress(0.7, "evaluating member levels")
    levels = evaluate(timezone.localdate(now))
    return {"ledger": expired, "levels": levels}


def _enabled() -> Programme | None:
    return Programme.objects.filter(pk=1).first()


def queue_daily(today: dt.date | None = None) -> Job | None:
    """Queue the day's ``loyalty_daily`` job unless it was queued today; the new job."""
    if _enabled() is None:
        return None
    day = today or timezone.localdate()
    if DailyRun.objects.filter(day=day).exists():
        return None
    try:
        with transaction.atomic():
            DailyRun.objects.create(day=day)
            job, _ = submit("loyalty_daily", {}, channel="system")
    except IntegrityError:  # another process queued it first
        return None
    return job


def _after_import(sender: Any, *, run_id: str, **kwargs: Any) -> None:
    rules = _enabled()
    if rules is not None and rules.earn_from_runs:
        submit("loyalty_earn_run", {"run_id": run_id}, channel="system")
    queue_daily()


def _after_task(sender: Any, **kwargs: Any) -> None:
    try:
        queue_daily()
    except Exception:  # never let loyalty's timer break the worker
        log.exception("queueing the daily loyalty job failed")


def connect() -> None:
    from django_tasks.signals import task_finished

    register("loyalty_earn_run", _earn)
    register("loyalty_daily", _daily)
    analysis_imported.connect(_after_import, dispatch_uid="loyalty.after_import")
    task_finished.connect(_after_task, dispatch_uid="loyalty.daily_timer")
