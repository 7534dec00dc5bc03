"""``python -m benchmarks.work``: the account team's day with 1M customers on PostgreSQL.

Examples::

    python -m benchmarks.work                  # 1M customers, a fresh database
    python -m benchmarks.work --keep           # ... and keep it afterwards
    python -m benchmarks.work --reuse          # measure a kept database again (no import)
    python -m benchmarks.work --customers 100_000
    python -m benchmarks.work --service-db     # the database benchmarks.service kept

``--service-db`` measures the PostgreSQL database and workspace that ``python -m
benchmarks.service --db postgresql --keep`` built and kept (``cc_service_bench``; its
customers, people and workspace), so that one 1M-customer build serves both benchmarks;
it never drops that database. ``--database NAME`` / ``--workspace DIR`` name another one.

Issue 11's targets: **My work** for an account manager with 2,000 accounts, p95 < 300 ms
on PostgreSQL with 1M customers; **routing the alerts** of a 1M-customer run < 1 min.

From nothing (unless ``--reuse``): the database ``cc_work_bench`` on 127.0.0.1:5432, the
schema, ``corecustomers import-analysis`` of the synthetic 1M-customer analysis of
:mod:`benchmarks.service_data` (the folder ``benchmarks/data/service-<n>`` that
``benchmarks.service`` writes, reused), and the people of :mod:`benchmarks.service_tasks`
(50 account managers of team East owning 2,000 customers each; ``am01`` is measured).
Then, in the service's own process (``python -m benchmarks.work --task NAME JSON``):

``route``
    All alerts and notifications removed, then :func:`route_alerts` of the run timed
    twice: the first routing (every flagged customer raises an alert) and a second one
    (every alert still open: only updated).
``book``
    am01's book made realistic: an interaction for half of its customers at some time
    in the last 120 days, a complaint follow-up for 50, a birthday for every customer.
``mywork``
    am01's queue called ``--query-rounds`` times as the page and the API read it (the
    count and the first 50 items: :func:`work_queue`), and whole (:func:`my_work`, every
    item checked); then ``GET /work/`` and ``GET /api/v1/work?limit=50`` in this process
    through Django's test client (the server-side time, without HTTP), each with its SQL
    statements and their total time.

and over HTTP against ``corecustomers serve`` (waitress, no worker): ``GET /work/`` (the
page, session cookie) and ``GET /api/v1/work`` (bearer token) for am01, interleaved,
``--rounds`` each, every answer checked for 200. The load average is recorded before and
after each step (the machine is shared). Results go to ``benchmarks/results-work.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.runner import BENCH, DATA, ROOT, log, run_command
from benchmarks.service import Server, _get
from benchmarks.service_data import write_analysis
from benchmarks.service_tasks import _percentiles
from benchmarks.suite import machine
from benchmarks.tasks import RESULT_PREFIX

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_NAME = "cc_work_bench"
PG_BENCH = f"postgresql://postgres@127.0.0.1:5432/{PG_NAME}"
MEASURED = "am01"

#: The issue's targets: p95 ms for My work, seconds for routing a 1M-customer run.
TARGETS = {"my_work_p95_ms": 300.0, "route_seconds": 60.0}


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "corecustomers", *args]


def _task(module: str, name: str, timeout: float, **arguments: Any) -> dict[str, Any]:
    command = [sys.executable, "-m", module, *(["--task"] if module == "benchmarks.work" else [])]
    command += [name, json.dumps(arguments)]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result: dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
            return result
    raise RuntimeError(f"task {name} failed: {done.stderr.strip()[-3000:]}")


# ------------------------------------------------------------ in the service's process


def _setup(arguments: dict[str, Any]) -> None:
    from corecustomers.web.runtime import ServiceConfig, configure

    configure(ServiceConfig(workspace=arguments["workspace"], db=arguments["db"]))


def task_route(arguments: dict[str, Any]) -> dict[str, Any]:
    from corecustomers.web.customers.models import Analysis, CustomerState
    from corecustomers.web.work.models import Alert, Notification
    from corecustomers.web.work.routing import route_alerts

    run_id = Analysis.objects.order_by("-imported_at").values_list("run_id", flat=True)[0]
    Notification.objects.all().delete()
    Alert.objects.all().delete()
    flagged = CustomerState.objects.filter(run_id=run_id, alert=True).count()
    began = time.perf_counter()
    first = route_alerts(run_id)
    first_seconds = time.perf_counter() - began
    began = time.perf_counter()
    second = route_alerts(run_id)
    second_seconds = time.perf_counter() - began
    return {
        "flagged": flagged,
        "first": {"seconds": first_seconds, **first.to_json()},
        "again": {"seconds": second_seconds, **second.to_json()},
        "notifications": Notification.objects.count(),
    }


def task_book(arguments: dict[str, Any]) -> dict[str, Any]:
    from django.utils import timezone

    from corecustomers.web.accounts.models import User
    from corecustomers.web.customers.models import AccountMember, Customer
    from corecustomers.web.work.models import FollowUp, Interaction

    person = User.objects.get(username=MEASURED)
    ids = list(
        AccountMember.objects.filter(user=person).order_by("customer_id")
        .values_list("customer_id", flat=True)
    )  # fmt: skip
    rng = random.Random(1)
    now = timezone.now()
    Interaction.objects.filter(customer_id__in=ids).delete()
    FollowUp.objects.filter(customer_id__in=ids).delete()
    rows = [
        Interaction(
            customer_id=pk,
            kind=rng.choice(["visit", "call", "message"]),
            at=now - dt.timedelta(days=rng.uniform(0, 120)),
            user=person,
            outcome=rng.choice(["reached", "not_reachable", ""]),
        )
        for pk in ids[::2]
    ]
    Interaction.objects.bulk_create(rows, batch_size=2000)
    today = timezone.localdate()
    FollowUp.objects.bulk_create(
        [
            FollowUp(customer_id=pk, owner=person, due=today, reason="follow up the complaint")
            for pk in ids[:50]
        ]
    )
    for pk in ids:
        born = dt.date(1970 + pk % 30, 1, 1) + dt.timedelta(days=pk % 365)
        Customer.objects.filter(pk=pk).update(birthday=born)
    return {"customers": len(ids), "interactions": len(rows), "follow_ups": 50}


def _sql(captured: Any) -> dict[str, Any]:
    return {
        "queries": len(captured),
        "sql_ms": round(sum(float(q["time"]) for q in captured.captured_queries) * 1000, 1),
    }


def task_mywork(arguments: dict[str, Any]) -> dict[str, Any]:
    """The queue at the query level (a page of it, as the page and the API read it, and the
    whole of it), and the two requests in this process through Django's test client: the
    server-side time without HTTP, with the SQL statements and their time."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from corecustomers.web.accounts.models import ApiToken, User
    from corecustomers.web.work import queue
    from corecustomers.web.work.queue import my_work, work_queue

    person = User.objects.get(username=MEASURED)
    rounds = int(arguments.get("rounds", 30))

    def page() -> list[Any]:
        items = work_queue(person)
        len(items)
        return items[:50]

    page()  # warm up
    timings = []
    for _ in range(rounds):
        began = time.perf_counter()
        page()
        timings.append(time.perf_counter() - began)
    with CaptureQueriesContext(connection) as captured:
        page()
    whole = []
    for _ in range(max(3, rounds // 6)):
        began = time.perf_counter()
        items = my_work(person)
        whole.append(time.perf_counter() - began)
    with CaptureQueriesContext(connection) as captured_whole:
        my_work(person)
    # the built-in items alone: other apps' providers and checks switched off
    hooks = queue._extensions
    queue._extensions = lambda attribute: iter(())
    try:
        builtin = []
        for _ in range(rounds):
            began = time.perf_counter()
            page()
            builtin.append(time.perf_counter() - began)
    finally:
        queue._extensions = hooks
    kinds: dict[str, int] = {}
    for item in items:
        kinds[item.kind] = kinds.get(item.kind, 0) + 1
    cadence = {i.customer_key for i in items if i.kind == "cadence"}
    plan = {i.customer_key for i in items if i.kind == "plan"}
    # in this process: the page (session) and the API (bearer), as the server answers them
    browser = Client(SERVER_NAME="localhost")
    browser.force_login(person)
    token = ApiToken.issue(person, scope="read")[1]
    api = Client(SERVER_NAME="localhost", headers={"Authorization": f"Bearer {token}"})
    requests: dict[str, Any] = {}
    for label, client, path in (
        ("page.work", browser, "/work/"),
        ("api.work", api, "/api/v1/work?limit=50"),
    ):
        assert client.get(path).status_code == 200, path  # warm up
        spent = []
        for _ in range(rounds):
            began = time.perf_counter()
            answer = client.get(path)
            spent.append(time.perf_counter() - began)
            assert answer.status_code == 200, (path, answer.status_code)
        with CaptureQueriesContext(connection) as one:
            client.get(path)
        requests[label] = {"timings": _percentiles(spent), **_sql(one)}
    return {
        "page_of_50": {"timings": _percentiles(timings), **_sql(captured)},
        "whole_queue_checked": {"timings": _percentiles(whole), **_sql(captured_whole)},
        "builtin_only": _percentiles(builtin),
        "items": kinds,
        "count": len(items),
        "customers_with_cadence_and_plan_items": len(cadence & plan),
        "in_process": requests,
        # the figure of the earlier runs: the number of statements of the whole queue
        "queries": len(captured_whole),
    }


TASKS = {"route": task_route, "book": task_book, "mywork": task_mywork}


# ------------------------------------------------------------------------- the driver


def fresh_database() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_NAME}")


def drop_database() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")


def http(server: Server, people: dict[str, Any], rounds: int) -> dict[str, Any]:
    cookie = {"Cookie": f"sessionid={people['sessions'][MEASURED]}"}
    bearer = {"Authorization": f"Bearer {people['tokens'][MEASURED]}"}
    endpoints = [
        ("page.work", "/work/", cookie),
        ("api.work", "/api/v1/work?limit=50", bearer),
        ("floor.api.me", "/api/v1/me", bearer),
    ]
    for _, path, headers in endpoints:  # warm up
        _get(server.url + path, headers)
    timings: dict[str, list[float]] = {}
    errors: dict[str, list[int]] = {}
    for _ in range(rounds):
        for label, path, headers in endpoints:
            seconds, status, _size = _get(server.url + path, headers)
            timings.setdefault(label, []).append(seconds)
            if status != 200:
                errors.setdefault(label, []).append(status)
    return {"timings": {k: _percentiles(v) for k, v in timings.items()}, "errors": errors}


def _createuser(workspace: Path) -> None:
    subprocess.run(
        _cli(
            "createuser", "admin", "--role", "admin", "--password-stdin",
            "--db", PG_BENCH, "--workspace", str(workspace),
        ),
        input="benchmark-password-9\n", text=True, cwd=ROOT, check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def _use_database(name: str) -> None:
    global PG_NAME, PG_BENCH
    PG_NAME, PG_BENCH = name, PG_BENCH.rsplit("/", 1)[0] + "/" + name


def _customers_in_database() -> int:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        there = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PG_NAME])
        if there.fetchone() is None:
            return 0
    with psycopg.connect(PG_BENCH, autocommit=True) as conn:
        found = conn.execute("SELECT to_regclass('customers_customerstate')").fetchone()
        if found is None or found[0] is None:
            return 0
        row = conn.execute("SELECT count(*) FROM customers_customerstate").fetchone()
        return int(row[0]) if row else 0


def run(args: argparse.Namespace) -> dict[str, Any]:
    workspace = args.workspace or DATA / "work-ws-postgresql"
    folder = DATA / f"service-{args.customers}"
    out: dict[str, Any] = {
        "machine": machine(),
        "started": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "customers": args.customers,
        "database": PG_NAME,
        "workspace": str(workspace),
        "load": {"start": _load()},
    }
    if args.reuse:
        states = _customers_in_database()
        if not states:
            raise SystemExit(
                f"{PG_NAME} holds no analysis to reuse: build it first "
                "(python -m benchmarks.service --db postgresql --keep, or benchmarks.work --keep)"
            )
        out["customers"] = states
    arguments = {"db": PG_BENCH, "workspace": str(workspace)}
    try:
        if not args.reuse:
            if not (folder / "summary.json").is_file():
                log(f"Writing a {args.customers:,}-customer analysis to {folder} ...")
                write_analysis(folder, args.customers)
            workspace.mkdir(parents=True, exist_ok=True)
            fresh_database()
            _createuser(workspace)  # the schema
            log("import-analysis ...")
            measured = run_command(
                "import.work",
                _cli("import-analysis", str(folder), "--db", PG_BENCH, "--workspace",
                     str(workspace)),
                timeout=3600,
            )  # fmt: skip
            out["import"] = measured.as_dict()
            out["load"]["after_import"] = _load()
        else:
            _createuser(workspace)  # applies any migration added since the database was kept
        log("people ...")
        people = _task("benchmarks.service_tasks", "people", 3600, **arguments)
        out["people"] = people["samples"]
        out["load"]["before_route"] = _load()
        if args.prepare:
            return out
        log("routing the run's alerts ...")
        out["route"] = _task("benchmarks.work", "route", 3600, **arguments)
        out["load"]["after_route"] = _load()
        log("am01's book ...")
        out["book"] = _task("benchmarks.work", "book", 600, **arguments)
        log(f"my_work() x {args.query_rounds} ...")
        out["load"]["before_mywork"] = _load()
        out["mywork"] = _task("benchmarks.work", "mywork", 1800, rounds=args.query_rounds,
                              **arguments)  # fmt: skip
        out["load"]["after_mywork"] = _load()
        log(f"HTTP x {args.rounds} ...")
        server = Server(PG_BENCH, workspace)
        try:
            out["http"] = http(server, people, args.rounds)
        finally:
            server.stop()
        out["load"]["after_http"] = _load()
    finally:
        if not (args.keep or args.reuse or args.prepare):
            drop_database()
    route_seconds = out["route"]["first"]["seconds"]
    page_p95 = out["http"]["timings"]["page.work"]["p95_ms"]
    api_p95 = out["http"]["timings"]["api.work"]["p95_ms"]
    out["targets"] = {
        "route_seconds": {"measured": route_seconds, "target": TARGETS["route_seconds"],
                          "met": route_seconds < TARGETS["route_seconds"]},
        "page_work_p95_ms": {"measured": page_p95, "target": TARGETS["my_work_p95_ms"],
                             "met": page_p95 < TARGETS["my_work_p95_ms"]},
        "api_work_p95_ms": {"measured": api_p95, "target": TARGETS["my_work_p95_ms"],
                            "met": api_p95 < TARGETS["my_work_p95_ms"]},
    }  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--task":
        name, arguments = argv[1], json.loads(argv[2])
        _setup(arguments)
        result = TASKS[name](arguments)
        print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)
        return 0
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.work",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--customers", type=lambda t: int(t.replace("_", "")), default=1_000_000)
    parser.add_argument("--rounds", type=int, default=100, help="HTTP requests per endpoint")
    parser.add_argument("--query-rounds", type=int, default=30)
    parser.add_argument("--out", type=Path, default=BENCH / "results-work.json")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="a kept database, no import")
    parser.add_argument(
        "--prepare", action="store_true", help="import and people only; keep the database"
    )
    parser.add_argument("--database", help=f"the PostgreSQL database (default {PG_NAME})")
    parser.add_argument("--workspace", type=Path, help="its workspace folder")
    parser.add_argument(
        "--service-db",
        action="store_true",
        help="reuse the database and workspace benchmarks.service --db postgresql --keep "
        "built (one 1M build for both benchmarks; never dropped)",
    )
    args = parser.parse_args(argv)
    if args.service_db:
        from benchmarks import service

        args.database = args.database or service.PG_NAME
        args.workspace = args.workspace or service.KEPT / "workspace-postgresql"
        args.reuse = args.keep = True
    if args.database:
        _use_database(args.database)
    results = run(args)
    if args.prepare:
        log(json.dumps(results, default=str))
        return 0
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print(json.dumps(results.get("targets"), indent=2))
    log(f"Wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
