"""The worker process: recover jobs whose worker died, then run the task queue."""

from __future__ import annotations

import logging
import threading

from django.core.management import call_command

from corecustomers.web.jobs.runner import lease, recover_stale_jobs

__all__ = ["lease", "run_worker"]

log = logging.getLogger(__name__)


def _watch(stop: threading.Event) -> None:
    from django.db import connection

    while not stop.wait(lease().total_seconds() / 4):
        try:
            recover_stale_jobs(lease=lease())
        except Exception:  # the database may be briefly unavailable: try again later
            log.exception("recovering stale jobs failed")
        finally:
            connection.close()


def run_worker(*, batch: bool = False) -> None:
    """Run until stopped (or, with ``batch``, until the queue is empty)."""
    recover_stale_jobs(lease=lease())
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(stop,), daemon=True)
    if not batch:
        watcher.start()
        from corecustomers.web.security.health import start_heartbeat
        from corecustomers.web.sources.schedule import start_scheduler

        start_heartbeat(stop)  # what /readyz reads
        start_scheduler(stop)  # scheduled runs and alert escalation
    try:
        call_command(
            "db_worker",
            queue_name="default",
            interval=0.5,
            batch=batch,
            reload=False,
            startup_delay=False,
            verbosity=0,
        )
    finally:
        stop.set()
