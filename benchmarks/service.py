"""``python -m benchmarks.service``: the service with 1M customers, on PostgreSQL and SQLite.

Examples::

    python -m benchmarks.service                      # 1M customers, both databases
    python -m benchmarks.service --db postgresql      # one database
    python -m benchmarks.service --customers 100_000  # a quicker run
    python -m benchmarks.service --markdown           # results-service.json as tables
    python -m benchmarks.service --db postgresql --reuse   # measure the kept database

For each database, from nothing: a fresh database (PostgreSQL: ``cc_service_bench`` on
127.0.0.1:5432 as ``postgres``, created and dropped unless ``--keep``; SQLite:
``/tmp/cc_service_bench/service-bench.sqlite3``; the workspaces beside it, or under
``$CC_SERVICE_BENCH_DIR``), the schema (``corecustomers createuser``, which migrates), then

1. ``corecustomers import-analysis`` of a synthetic 1M-customer ``analyze`` folder
   (:mod:`benchmarks.service_data`), timed from the outside, start to exit;
2. the people (:mod:`benchmarks.service_tasks`): an administrator, a manager whose team
   holds 100k customers, an account manager with 2,000;
3. the read path called directly (``customer_page``, ``profile``, ``dashboard``);
4. real HTTP against ``corecustomers serve`` (waitress; the worker off so that no
   background job competes): the customer list with two filters and a sort
   (``tier=key&alert=yes&sort=-value_at_stake``), a profile, the dashboard -- each as
   the page (session cookie) and as the API (bearer token), for each of the three
   users, interleaved round by round, every response checked for 200. ``GET
   /api/v1/me`` is measured in the same rounds as the floor: what any request costs.

Latencies are p50 / p95 / p99 by nearest rank over the requests; results go to
``benchmarks/results-service.json`` with the load average before and after each step.

``--reuse`` measures the database a previous run kept (built and kept first when there is
none): ``createuser`` applies any new migration, the people are found in place (only new
sessions and tokens, and a ``VACUUM ANALYZE``), and steps 2-4 run -- minutes instead of
the load's quarter of an hour.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from benchmarks.runner import BENCH, DATA, ROOT, log, run_command
from benchmarks.service_data import write_analysis
from benchmarks.service_tasks import LIST_FILTER, USERS, _percentiles
from benchmarks.suite import machine
from benchmarks.tasks import RESULT_PREFIX

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_NAME = "cc_service_bench"
PG_BENCH = f"postgresql://postgres@127.0.0.1:5432/{PG_NAME}"
#: The SQLite database and both workspaces live under /tmp (a 1M-customer SQLite file is
#: several GB): kept between runs with ``--reuse``.
KEPT = Path(os.environ.get("CC_SERVICE_BENCH_DIR", "/tmp/cc_service_bench"))
SQLITE_BENCH = KEPT / "service-bench.sqlite3"

#: The issue's targets (PostgreSQL, 1M customers): seconds for the import, p95 ms else.
TARGETS = {
    "import": 180.0,
    "list": 300.0,
    "profile": 200.0,
    "dashboard": 500.0,
}


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "corecustomers", *args]


def _task(name: str, timeout: float, **arguments: Any) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.service_tasks", name, json.dumps(arguments)]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result: dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
            return result
    raise RuntimeError(f"task {name} failed: {done.stderr.strip()[-2000:]}")


def _use_database(name: str) -> None:
    global PG_NAME, PG_BENCH
    PG_NAME, PG_BENCH = name, PG_BENCH.rsplit("/", 1)[0] + "/" + name


def fresh_database(kind: str, workspace: Path) -> str:
    """An empty database of ``kind`` and its URL; the schema is made by the first command."""
    if kind == "postgresql":
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {PG_NAME}")
        return PG_BENCH
    path = SQLITE_BENCH
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def built(kind: str, workspace: Path) -> bool:
    """Whether a kept database of ``kind`` with an imported analysis is there to reuse."""
    if not workspace.is_dir():
        return False
    if kind == "postgresql":
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            there = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PG_NAME])
            if there.fetchone() is None:
                return False
        with psycopg.connect(PG_BENCH, autocommit=True) as conn:
            found = conn.execute("SELECT to_regclass('customers_analysis')").fetchone()
            if found is None or found[0] is None:
                return False
            row = conn.execute("SELECT count(*) FROM customers_analysis").fetchone()
            return bool(row and row[0])
    if not SQLITE_BENCH.is_file():
        return False
    import sqlite3

    with sqlite3.connect(SQLITE_BENCH) as conn:
        try:
            row = conn.execute("SELECT count(*) FROM customers_analysis").fetchone()
        except sqlite3.OperationalError:
            return False
    return bool(row and row[0])


def drop_database(kind: str) -> None:
    if kind == "postgresql":
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")


class Server:
    """``corecustomers serve`` on a free port, stopped by its process id."""

    def __init__(self, db: str, workspace: Path) -> None:
        self.process = subprocess.Popen(
            _cli("serve", "--db", db, "--workspace", str(workspace), "--port", "0", "--no-worker"),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + 300
        self.url = ""
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            if "Serving at" in line:
                self.url = line.split("Serving at", 1)[1].split()[0].rstrip("/")
                break
        if not self.url:
            self.stop()
            raise RuntimeError("corecustomers serve did not print its address")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _get(url: str, headers: dict[str, str]) -> tuple[float, int, int]:
    request = urllib.request.Request(url, headers=headers)
    began = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(), exc.code
    return time.perf_counter() - began, status, len(body)


def http(server: Server, people: dict[str, Any], rounds: int) -> dict[str, Any]:
    """Every endpoint for every user, ``rounds`` times, interleaved; latencies and errors."""
    query = urlencode(LIST_FILTER)
    timings: dict[str, list[float]] = {}
    errors: dict[str, list[int]] = {}
    sizes: dict[str, int] = {}

    def endpoints(name: str, i: int) -> list[tuple[str, str, dict[str, str]]]:
        cookie = {"Cookie": f"sessionid={people['sessions'][name]}"}
        bearer = {"Authorization": f"Bearer {people['tokens'][name]}"}
        ids = people["samples"][name]["ids"]
        key = quote(ids[i % len(ids)], safe="")
        return [
            ("page.list", f"/customers/?{query}", cookie),
            ("api.list", f"/api/v1/customers?{query}&limit=50", bearer),
            ("page.profile", f"/customers/{key}/", cookie),
            ("api.profile", f"/api/v1/customers/{key}", bearer),
            ("page.dashboard", "/", cookie),
            ("api.dashboard", "/api/v1/dashboard", bearer),
            ("floor.api.me", "/api/v1/me", bearer),
        ]

    for name in USERS:  # warm up: templates, connections, caches
        for _, path, headers in endpoints(name, 0):
            _get(server.url + path, headers)
    for i in range(rounds):
        for name in USERS:
            for label, path, headers in endpoints(name, i):
                seconds, status, size = _get(server.url + path, headers)
                key = f"http.{label}.{name}"
                timings.setdefault(key, []).append(seconds)
                sizes[key] = size
                if status != 200:
                    errors.setdefault(key, []).append(status)
    return {
        "timings": {key: _percentiles(values) for key, values in timings.items()},
        "errors": errors,
        "bytes": sizes,
    }


def run_database(
    kind: str,
    folder: Path,
    rounds: int,
    query_rounds: int,
    *,
    import_only: bool = False,
    keep: bool = False,
    reuse: bool = False,
) -> dict[str, Any]:
    """Everything for one database; the database is dropped at the end unless ``keep``.

    ``reuse``: the database and workspace a ``keep`` run left (migrated by ``createuser``,
    which applies new migrations), without a new import -- for measuring a change to the
    read path without waiting for the load again.
    """
    workspace = KEPT / f"workspace-{kind}"
    out: dict[str, Any] = {"database": kind, "load": {"start": _load()}}
    if reuse and not built(kind, workspace):
        log(f"[{kind}] nothing to reuse yet: building it (and keeping it) ...")
        reuse = False
    if reuse:
        db = PG_BENCH if kind == "postgresql" else f"sqlite:///{SQLITE_BENCH}"
    else:
        shutil.rmtree(workspace, ignore_errors=True)
        workspace.mkdir(parents=True)
        KEPT.mkdir(parents=True, exist_ok=True)
        db = fresh_database(kind, workspace)
    try:
        began = time.perf_counter()
        subprocess.run(
            _cli(
                "createuser", "admin", "--role", "admin", "--password-stdin",
                "--db", db, "--workspace", str(workspace),
            ),
            input="benchmark-password-9\n", text=True, cwd=ROOT, check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        out["migrate_seconds"] = time.perf_counter() - began
        if reuse:
            out["import"] = {"seconds": None, "peak_mb": None, "error": "not measured (--reuse)"}
        else:
            log(f"[{kind}] import-analysis of {folder.name} ...")
            measured = run_command(
                f"import.{kind}",
                _cli("import-analysis", str(folder), "--db", db, "--workspace", str(workspace)),
                timeout=3600,
            )
            out["import"] = measured.as_dict()
        out["load"]["after_import"] = _load()
        if import_only:
            return out
        log(f"[{kind}] people, sessions, tokens ...")
        arguments = {"db": db, "workspace": str(workspace)}
        people = _task("people", 3600, **arguments)
        out["people"] = {
            "seconds": people["seconds"],
            "steps": people.get("steps", {}),
            "customers_in_scope": {k: v["customers"] for k, v in people["samples"].items()},
        }
        if kind == "postgresql":
            explained = _task("explain", 1800, out=str(DATA / f"explain-{kind}.txt"), **arguments)
            out["explain_file"] = explained["file"]
            out["explain_server_ms"] = explained.get("server_ms", {})
        log(f"[{kind}] the read path without HTTP ({query_rounds} rounds) ...")
        out["queries"] = _task(
            "queries", 3600, rounds=query_rounds, samples=people["samples"], **arguments
        )
        out["load"]["after_queries"] = _load()
        log(f"[{kind}] HTTP against corecustomers serve ({rounds} rounds) ...")
        server = Server(db, workspace)
        try:
            out["http"] = http(server, people, rounds)
        finally:
            server.stop()
        out["load"]["after_http"] = _load()
    finally:
        if not keep:
            drop_database(kind)
    return out


def comparisons(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each figure against its target (``budget / measured``: above 1 is within it)."""
    rows: list[dict[str, Any]] = []
    for run in results["runs"]:
        kind = run["database"]
        seconds = run["import"]["seconds"]
        if "--reuse" not in str(run["import"].get("error", "")):
            rows.append(_row(f"{kind}: import-analysis, {results['customers']:,} customers",
                             seconds, TARGETS["import"], "s"))  # fmt: skip
        http_timings = run.get("http", {}).get("timings", {})
        for what in ("list", "profile", "dashboard"):
            for channel in ("page", "api"):
                for name in USERS:
                    key = f"http.{channel}.{what}.{name}"
                    if key in http_timings:
                        p95 = http_timings[key]["p95_ms"]
                        label = f"{kind}: {channel} {what}, {name} (p95)"
                        rows.append(_row(label, p95, TARGETS[what], "ms"))
    return rows


def _row(name: str, measured: float | None, budget: float, unit: str) -> dict[str, Any]:
    ratio = budget / measured if measured else None
    return {
        "name": name,
        "measured": measured,
        "unit": unit,
        "target": budget,
        "budget_ratio": ratio,
        "met": None if measured is None else measured < budget,
    }


def render(results: dict[str, Any]) -> str:
    """``results-service.json`` as the Markdown tables of ``benchmarks/README.md``."""
    m = results["machine"]
    lines = [
        f"Machine: {m['cores']} cores, {m['memory']}, Python {m['python']}, {m['platform']}. "
        f"Run {results['started']} (UTC), {results['customers']:,} customers, "
        f"{results['rounds']} HTTP rounds.",
        "",
    ]
    for run in results["runs"]:
        kind = run["database"]
        load = ", ".join(f"{k} {v[0]}" for k, v in run["load"].items())
        imp = run["import"]
        lines += [
            f"**{kind}** — load average (1 min): {load}. Import: "
            f"{imp['seconds']:.1f} s, peak {imp['peak_mb']:.0f} MB"
            if imp["seconds"] is not None
            else f"**{kind}** — load average (1 min): {load}. Import: {imp['error']}",
            "",
            "| request | user | rows in scope | p50 ms | p95 ms | p99 ms | query p95 ms |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        if "people" not in run:  # --import-only
            continue
        scope = run["people"]["customers_in_scope"]
        timings = run.get("http", {}).get("timings", {})
        query = run["queries"]["timings"]
        for key, t in timings.items():
            label, name = key.removeprefix("http.").rsplit(".", 1)
            what = label.split(".")[-1]
            q = query.get(f"query.{what}.{name}", {}).get("p95_ms")
            lines.append(
                f"| {label} | {name} | {scope.get(name, 0):,} | {t['p50_ms']:.0f} | "
                f"{t['p95_ms']:.0f} | {t['p99_ms']:.0f} | {'' if q is None else f'{q:.0f}'} |"
            )
        errors = run.get("http", {}).get("errors") or {}
        lines += ["", f"Non-200 answers: {errors or 'none'}.", ""]
        server = run.get("explain_server_ms") or {}
        if server:
            lines += [
                "Server-side execution times (`EXPLAIN ANALYZE`, ms, one call, each query):",
                "",
                "| user | call | queries | total ms | each ms |",
                "|---|---|---:|---:|---|",
            ]
            for name, calls in server.items():
                for call, times in calls.items():
                    each = ", ".join(f"{t:.1f}" for t in times)
                    lines.append(f"| {name} | {call} | {len(times)} | {sum(times):.1f} | {each} |")
            lines.append("")
    lines += [
        "| target | measured | budget / measured | met |",
        "|---|---:|---:|---|",
    ]
    for c in results["comparisons"]:
        measured = "—" if c["measured"] is None else f"{c['measured']:.0f} {c['unit']}"
        ratio = "—" if c["budget_ratio"] is None else f"{c['budget_ratio']:.2f}×"
        met = {True: "yes", False: "**no**", None: "—"}[c["met"]]
        lines.append(
            f"| {c['name']} < {c['target']:.0f} {c['unit']} | {measured} | {ratio} | {met} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.service",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--customers", type=lambda t: int(t.replace("_", "")), default=1_000_000)
    parser.add_argument("--db", choices=("postgresql", "sqlite"), action="append")
    parser.add_argument("--rounds", type=int, default=100, help="HTTP requests per endpoint")
    parser.add_argument("--query-rounds", type=int, default=30)
    parser.add_argument("--out", type=Path, default=BENCH / "results-service.json")
    parser.add_argument("--markdown", action="store_true", help="render --out and stop")
    parser.add_argument("--import-only", action="store_true", help="measure the import only")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--pg-name", help=f"the PostgreSQL database (default {PG_NAME})")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure the kept database again without the import (built and kept first "
        "when it is not there yet)",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.pg_name:
        _use_database(args.pg_name)
    if args.markdown:
        print(render(json.loads(args.out.read_text(encoding="utf-8"))))
        return 0
    folder = DATA / f"service-{args.customers}"
    if not (folder / "summary.json").is_file():
        log(f"Writing a {args.customers:,}-customer analysis to {folder} ...")
        write_analysis(folder, args.customers)
    results: dict[str, Any] = {
        "machine": machine(),
        "started": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "customers": args.customers,
        "rounds": args.rounds,
        "runs": [],
    }
    for kind in args.db or ["postgresql", "sqlite"]:
        results["runs"].append(
            run_database(
                kind,
                folder,
                args.rounds,
                args.query_rounds,
                import_only=args.import_only,
                keep=args.keep or args.reuse,
                reuse=args.reuse,
            )
        )
        results["comparisons"] = comparisons(results)
        args.out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print(render(results))
    log(f"Wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
