"""Pick up analyses run on the service's workspace from the command line.

``corecustomers analyze`` leaves a marker per finished run beside the workspace (see
:mod:`corecustomers.store.outputs`): the run id and the folder that holds its
``customers.parquet`` and ``summary.json``. The worker looks at the markers every
``CORECUSTOMERS_WATCH_SECONDS`` seconds (default 30; 0 turns the watch off) and queues an
``import_analysis`` job for each run that the service has neither imported nor queued
yet. Reading markers needs no lock on the workspace; the import job then opens the
workspace briefly, with backoff, to sync the overrides.

Runs whose folder is inside the service's own folder (the analyses the service runs itself)
are left to the job that ran them, which imports them. A run whose import failed is not
queued again (the job says why); ``corecustomers
import-analysis FOLDER`` loads it by hand.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from django.conf import settings
from django.db import connection

from corecustomers.store.outputs import recorded_outputs
from corecustomers.web.customers.models import Analysis
from corecustomers.web.jobs.models import Job
from corecustomers.web.jobs.runner import submit

__all__ = ["WATCH_VARIABLE", "queue_new_runs", "start_watch", "watch_seconds"]

log = logging.getLogger(__name__)

WATCH_VARIABLE = "CORECUSTOMERS_WATCH_SECONDS"


def watch_seconds() -> float:
    """Seconds between two looks at the workspace's run markers (0: never)."""
    text = os.environ.get(WATCH_VARIABLE, "").strip() or "30"
    try:
        return max(0.0, float(text))
    except ValueError:
        log.warning("%s=%r is not a number of seconds; using 30", WATCH_VARIABLE, text)
        return 30.0


def queue_new_runs(location: str | None = None) -> list[Job]:
    """Queue an import of every marked run not imported or queued yet; the new jobs."""
    outputs = recorded_outputs(location or settings.WORKSPACE)
    if not outputs:
        return []
    ids = [output.run_id for output in outputs]
    imported = set(Analysis.objects.filter(run_id__in=ids).values_list("run_id", flat=True))
    queued = {
        str(params.get("run_id"))
        for params in Job.objects.filter(kind="import_analysis", params__run_id__in=ids)
        .values_list("params", flat=True)
        .iterator()
        if isinstance(params, dict)
    }
    own = Path(settings.SERVICE_FOLDER).resolve()
    jobs: list[Job] = []
    for output in outputs:
        if output.run_id in imported or output.run_id in queued:
            continue
        if output.folder.resolve().is_relative_to(own):
            continue  # the service's own analysis runs: the job that ran one imports it
        if not (output.folder / "summary.json").is_file():
            continue  # the folder was removed or moved since
        job, _ = submit(
            "import_analysis",
            {"folder": str(output.folder), "run_id": output.run_id},
            channel="cli",
        )
        log.info("queued the import of run %s from %s", output.run_id, output.folder)
        jobs.append(job)
    return jobs


def _watch(stop: threading.Event, every: float) -> None:
    while True:
        try:
            queue_new_runs()
        except Exception:  # the database may be briefly unavailable: try again later
            log.exception("looking for new analysis runs failed")
        finally:
            connection.close()
        if stop.wait(every):
            return


def start_watch(stop: threading.Event) -> threading.Thread | None:
    """Start the watch in a daemon thread (none when ``CORECUSTOMERS_WATCH_SECONDS=0``)."""
    every = watch_seconds()
    if every <= 0:
        return None
    thread = threading.Thread(target=_watch, args=(stop, every), name="watch-runs", daemon=True)
    thread.start()
    return thread
