"""``/healthz`` (the process answers) and ``/readyz`` (it can do its work), and the worker's
heartbeat that ``/readyz`` reads.

``/readyz`` checks, each with its own verdict in the JSON body:

``database``
    a ``SELECT 1`` on the service database;
``workspace``
    the workspace can be reached without opening it (the web process never opens the
    DuckDB file, which one process at a time may hold): its folder exists and is writable
    and the file, when there is one, is readable; a PostgreSQL workspace accepts a
    connection;
``worker``
    a worker wrote its heartbeat within ``CORECUSTOMERS_READY_WORKER_SECONDS`` (default
    60; the worker beats every ``CORECUSTOMERS_WORKER_BEAT_SECONDS``, default 15).

It answers 200 when all pass and 503 naming the ones that failed (the causes go to the
log). Neither endpoint needs a login, and neither says anything about the data.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from corecustomers.web.security.models import WorkerBeat

__all__ = ["beat", "healthz", "readyz", "start_heartbeat", "stop_heartbeat"]

log = logging.getLogger(__name__)


def _seconds(variable: str, default: float) -> float:
    try:
        return max(1.0, float(os.environ.get(variable, "") or default))
    except ValueError:
        return default


def beat_seconds() -> float:
    return _seconds("CORECUSTOMERS_WORKER_BEAT_SECONDS", 15.0)


def ready_worker_seconds() -> float:
    return _seconds("CORECUSTOMERS_READY_WORKER_SECONDS", 60.0)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def beat(name: str | None = None) -> None:
    """Record that the worker ``name`` (this process by default) is alive."""
    now = timezone.now()
    WorkerBeat.objects.update_or_create(worker=name or worker_name(), defaults={"beat": now})
    # rows of workers that stopped long ago
    WorkerBeat.objects.filter(beat__lt=now - dt.timedelta(days=1)).delete()


def stop_heartbeat(name: str | None = None) -> None:
    """Remove this worker's row when it stops (a killed worker's row just ages)."""
    WorkerBeat.objects.filter(worker=name or worker_name()).delete()


def start_heartbeat(stop: threading.Event) -> threading.Thread:
    """Beat now and then every :func:`beat_seconds` until ``stop`` is set."""

    def run() -> None:
        while True:
            try:
                beat()
            except Exception:  # the database may be briefly unavailable: beat again later
                log.warning("the worker's heartbeat could not be written", exc_info=True)
            finally:
                connection.close()
            if stop.wait(beat_seconds()):
                break
        try:
            stop_heartbeat()
        except Exception:
            log.debug("the worker's heartbeat row could not be removed", exc_info=True)
        finally:
            connection.close()

    thread = threading.Thread(target=run, name="worker-heartbeat", daemon=True)
    thread.start()
    return thread


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and answering (no database access)."""
    return JsonResponse({"status": "ok"})


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_workspace() -> str:
    workspace = str(settings.WORKSPACE)
    if "://" in workspace:
        if not workspace.startswith(("postgresql://", "postgres://")):
            return "ok"  # another kind of workspace URL: nothing we can check cheaply
        import psycopg

        with psycopg.connect(workspace, connect_timeout=3) as con:
            con.execute("SELECT 1")
        return "ok"
    path = Path(workspace)
    if path.suffix.lower() in {".duckdb", ".ddb", ".db"}:
        folder, file = path.parent, path
    else:
        folder = Path(settings.SERVICE_FOLDER)
        file = folder / "workspace.duckdb"
    if not folder.is_dir():
        raise RuntimeError(f"the workspace folder {folder} does not exist")
    if not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
        raise RuntimeError(f"the workspace folder {folder} is not writable by the service")
    if file.exists() and not (file.is_file() and os.access(file, os.R_OK | os.W_OK)):
        raise RuntimeError(f"the workspace file {file} cannot be read and written")
    return "ok"


def _check_worker() -> str:
    window = dt.timedelta(seconds=ready_worker_seconds())
    latest = WorkerBeat.objects.order_by("-beat").values_list("beat", flat=True).first()
    if latest is None:
        raise RuntimeError("no worker has started: run `corecustomers worker` (or serve)")
    age = timezone.now() - latest
    if age > window:
        raise RuntimeError(
            f"the last worker heartbeat is {int(age.total_seconds())} s old: "
            "is `corecustomers worker` running?"
        )
    return "ok"


CHECKS = {"database": _check_database, "workspace": _check_workspace, "worker": _check_worker}


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Each dependency's verdict; 200 when all are ready, else 503."""
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception as exc:
            # the cause goes to the log only: the endpoint needs no login
            log.warning("readiness check %s failed: %s", name, exc)
            results[name] = "failed"
    ready = all(value == "ok" for value in results.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": results},
        status=200 if ready else 503,
    )
