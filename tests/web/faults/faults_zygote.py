"""A fork server for the fault suite: ``python faults_zygote.py WORKSPACE DB LOGDIR``.

It configures Django on the run database and workspace (without touching them), imports
everything a worker needs, closes every connection, and then, for each JSON command read
from standard input, forks a child and answers one JSON line on standard output:

``{"op": "fork", "target": "worker"}``
    The child is a background worker: exactly what ``corecustomers worker --batch`` runs
    (queue the analyses the workspace finished, then run the task queue until it is
    empty) -- a real process with its own database connections, which the test kills
    with SIGKILL. Answers ``{"pid": N}``.
``{"op": "fork", "target": "build_base" | "prepare" | "inspect" | "erase" | "after_task", ...}``
    The child runs that function of :mod:`faults_kinds` and writes its JSON result to
    ``out``. Answers ``{"pid": N}``.
``{"op": "wait", "pid": N, "timeout": S}``
    Waits for the child; answers ``{"exit": code}`` (negative: the signal that ended it)
    or ``{"exit": null}`` when it is still running after ``timeout`` seconds.

A worker started this way costs a fork instead of a new interpreter importing Django,
Ibis, DuckDB and PyArrow (seconds of CPU each on a shared machine), which is what lets
the suite restart a worker 20 times per kind of job in minutes.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any


def _child(command: dict[str, Any], logdir: Path) -> int:
    log = os.open(logdir / f"child-{os.getpid()}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(0)
    target = command["target"]
    if target == "worker":
        from corecustomers.web.customers.watch import queue_new_runs
        from corecustomers.web.jobs.worker import run_worker

        queue_new_runs()
        run_worker(batch=True)
        return 0
    import faults_kinds

    result: Any
    if target == "build_base":
        result = faults_kinds.build_base(command["paths"])
    elif target == "prepare":
        result = faults_kinds.prepare(command["kind"], command["paths"])
    elif target == "inspect":
        result = faults_kinds.inspect(
            command["kind"], command["params"], whole=bool(command.get("whole"))
        )
    elif target == "erase":
        result = faults_kinds.erase(command["customer"])
    elif target == "after_task":
        result = faults_kinds.after_task()
    else:
        raise ValueError(f"unknown target {target!r}")
    Path(command["out"]).write_text(json.dumps(result, default=str), encoding="utf-8")
    return 0


def main(argv: list[str]) -> int:
    workspace, db, logdir = argv[0], argv[1], Path(argv[2])
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from corecustomers.cli.service import open_service

    open_service(workspace, db, migrate=False)
    # what a worker and the checks import, loaded once here
    import django_tasks_db.models  # noqa: F401
    import faults_kinds  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    from django.db import connections
    from django.urls import get_resolver

    import corecustomers.web.customers.jobs
    import corecustomers.web.customers.watch
    import corecustomers.web.jobs.worker

    get_resolver().url_patterns  # noqa: B018 -- the URL conf (and the API) loaded once
    del corecustomers
    connections.close_all()
    print(json.dumps({"ready": os.getpid()}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "fork":
            connections.close_all()
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    code = _child(command, logdir)
                except BaseException:
                    traceback.print_exc()
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(code)
            answer: dict[str, Any] = {"pid": pid}
        elif command["op"] == "wait":
            deadline = time.monotonic() + float(command.get("timeout", 600))
            answer = {"exit": None}
            while True:
                done, status = os.waitpid(int(command["pid"]), os.WNOHANG)
                if done:
                    answer = {"exit": os.waitstatus_to_exitcode(status)}
                    break
                if time.monotonic() > deadline:
                    break
                time.sleep(0.02)
        elif command["op"] == "exit":
            return 0
        else:
            answer = {"error": f"unknown op {command['op']!r}"}
        print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
