"""The scheduler in the worker: scheduled runs once per due time, and alert escalation.

A source's schedule is ``daily``, ``weekly`` (on an ISO weekday) or ``monthly`` (on a day
1–28), at a time of day in the service's time zone (``CORECUSTOMERS_TIME_ZONE``). Every
``CORECUSTOMERS_SCHEDULE_SECONDS`` (default 30) :func:`tick` looks at each scheduled
source: when its latest due time is later than the last one handled (and than its
registration), it locks the source's row, checks again, records the due time as handled
and requests the run with the idempotency key ``schedule:<source>:<due time>`` -- so a due
time gives exactly one run however many schedulers tick. A due time missed while no worker
ran is caught up once (the latest one only); a due time that comes while a run of the source
is going on is covered by that run.

Every ``CORECUSTOMERS_ESCALATE_SECONDS`` (default 300) the scheduler also queues the
``escalate_alerts`` job of the work app, unless one is waiting or running.

Apps' periodic jobs: an ``AppConfig`` names ``periodic_jobs``
(:class:`~corecustomers.web.pages.extensions.PeriodicJob`: a registered job kind, daily /
weekly / monthly at a time of day); at every tick :func:`tick_periodic` queues each one
whose latest due time has no job yet, with ``{"due": <ISO time>}`` as its params -- once
per due time however many schedulers tick (the check and the insert are serialised), the
latest missed one caught up once (but a kind that never ran starts at its first due time
after the scheduler started), and not while a job of that kind is waiting or running (the
due time is then queued after it).

Examples
--------
>>> import datetime as dt
>>> utc = dt.timezone.utc
>>> latest_due("daily", dt.time(2), 1, dt.datetime(2025, 3, 5, 1, 0, tzinfo=utc), utc)
datetime.datetime(2025, 3, 4, 2, 0, tzinfo=datetime.timezone.utc)
>>> latest_due("monthly", dt.time(6), 15, dt.datetime(2025, 3, 5, tzinfo=utc), utc)
datetime.datetime(2025, 2, 15, 6, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from corecustomers.web.jobs.models import Job
from corecustomers.web.jobs.runner import submit
from corecustomers.web.pages.extensions import PeriodicJob, periodic_jobs
from corecustomers.web.sources.models import Schedule, Source, SourceRun
from corecustomers.web.sources.runs import request_run

__all__ = ["escalate_seconds", "latest_due", "start_scheduler", "tick", "tick_periodic"]

log = logging.getLogger(__name__)


def _seconds(variable: str, default: float) -> float:
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    try:
        return max(0.0, float(text))
    except ValueError:
        log.warning("%s=%r is not a number of seconds; using %s", variable, text, default)
        return default


def escalate_seconds() -> float:
    """Seconds between two escalation jobs (``CORECUSTOMERS_ESCALATE_SECONDS``; 0: never)."""
    return _seconds("CORECUSTOMERS_ESCALATE_SECONDS", 300.0)


def _at(day: dt.date, time_of_day: dt.time, zone: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, time_of_day).replace(tzinfo=zone)


def latest_due(
    schedule: str, time_of_day: dt.time, day: int, now: dt.datetime, zone: dt.tzinfo
) -> dt.datetime | None:
    """The latest scheduled time at or before ``now`` (``None`` without a schedule)."""
    local = now.astimezone(zone)
    today = local.date()
    if schedule == "daily":
        due = _at(today, time_of_day, zone)
        return due if due <= local else _at(today - dt.timedelta(days=1), time_of_day, zone)
    if schedule == "weekly":
        back = (today.isoweekday() - day) % 7
        due = _at(today - dt.timedelta(days=back), time_of_day, zone)
        return due if due <= local else due - dt.timedelta(days=7)
    if schedule == "monthly":
        due = _at(today.replace(day=day), time_of_day, zone)
        if due <= local:
            return due
        previous = today.replace(day=1) - dt.timedelta(days=1)
        return _at(previous.replace(day=day), time_of_day, zone)
    return None


def _zone() -> dt.tzinfo:
    return ZoneInfo(str(settings.TIME_ZONE))


def tick(now: dt.datetime | None = None) -> list[SourceRun]:
    """Request the run of every scheduled source that is due; the runs created."""
    now = now or timezone.now()
    zone = _zone()
    created: list[SourceRun] = []
    for source in Source.objects.exclude(schedule=Schedule.NONE):
        due = latest_due(source.schedule, source.schedule_time, source.schedule_day, now, zone)
        if due is None or due <= (source.last_due or source.created):
            continue
        with transaction.atomic():
            locked = Source.objects.select_for_update().get(pk=source.pk)
            if due <= (locked.last_due or locked.created):
                continue  # another scheduler handled this due time
            locked.last_due = due
            locked.save(update_fields=["last_due"])
            run, new = request_run(
                locked,
                user=locked.created_by,
                channel="system",
                trigger="schedule",
                idempotency_key=f"schedule:{locked.name}:{due.isoformat()}",
                due=due,
            )
        if new:
            log.info("queued the scheduled run of %s for %s", locked.name, due.isoformat())
            created.append(run)
    return created


#: The advisory lock key of queueing periodic jobs (any constant shared by every worker).
PERIODIC_LOCK = 7_310_012


def _serialise() -> None:
    """One scheduler at a time between the check and the insert of a periodic job."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PERIODIC_LOCK])
    else:  # SQLite: any write takes the database's write lock until the commit
        Job.objects.filter(kind="", status="").update(message="")


def tick_periodic(now: dt.datetime | None = None, *, since: dt.datetime | None = None) -> list[Job]:
    """Queue every app's periodic job whose latest due time has none yet; the jobs queued.

    ``since`` (the scheduler's start): a kind that never had a job starts with its first
    due time after it -- a new service does not run every daily job at once on its start.
    """
    now = now or timezone.now()
    zone = _zone()
    queued: list[Job] = []
    for job in periodic_jobs():
        due = latest_due(job.schedule, job.at, job.day, now, zone)
        if due is None:
            continue
        if since is not None and due < since and not Job.objects.filter(kind=job.kind).exists():
            continue
        made = _queue_periodic(job, due)
        if made is not None:
            log.info("queued the periodic job %s for %s", job.kind, due.isoformat())
            queued.append(made)
    return queued


def _queue_periodic(job: PeriodicJob, due: dt.datetime) -> Job | None:
    stamp = due.isoformat()
    same_kind = Job.objects.filter(kind=job.kind)
    if same_kind.filter(params__due=stamp).exists():
        return None  # the common case, without a lock
    with transaction.atomic():
        _serialise()
        if same_kind.filter(params__due=stamp).exists():
            return None  # another scheduler queued it
        if same_kind.filter(status__in=("queued", "running")).exists():
            return None  # one is going on: this due time is queued after it
        try:
            made, _ = submit(job.kind, {"due": stamp}, channel="system")
        except ValueError:  # no handler registered for the kind
            log.warning("periodic job %s: no handler is registered; not queued", job.kind)
            return None
    return made


def queue_escalation() -> Job | None:
    """Queue ``escalate_alerts`` unless one is waiting or running; the new job."""
    if Job.objects.filter(kind="escalate_alerts", status__in=("queued", "running")).exists():
        return None
    job, _ = submit("escalate_alerts", {}, channel="system")
    return job


def _loop(stop: threading.Event, every: float) -> None:
    escalate_every = escalate_seconds()
    next_escalation = time.monotonic() + escalate_every  # the first one after an interval
    started = timezone.now()
    while True:
        try:
            tick()
            tick_periodic(since=started)
            if escalate_every > 0 and time.monotonic() >= next_escalation:
                queue_escalation()
                next_escalation = time.monotonic() + escalate_every
        except Exception:  # the database may be briefly unavailable: try again later
            log.exception("the scheduler's tick failed")
        finally:
            connection.close()
        if stop.wait(every):
            return


def start_scheduler(stop: threading.Event) -> threading.Thread | None:
    """Start the scheduler in a daemon thread (none when ``CORECUSTOMERS_SCHEDULE_SECONDS=0``)."""
    every = _seconds("CORECUSTOMERS_SCHEDULE_SECONDS", 30.0)
    if every <= 0:
        return None
    thread = threading.Thread(target=_loop, args=(stop, every), name="scheduler", daemon=True)
    thread.start()
    return thread
