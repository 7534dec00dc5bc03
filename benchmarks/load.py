"""``python -m benchmarks.load``: 50 concurrent users on the service with 1M customers.

Examples::

    python -m benchmarks.load                          # 50 users, 5 minutes (the target)
    python -m benchmarks.load --users 10 --duration 60 # a short smoke run
    python -m benchmarks.load --build-only             # build (or check) the database
    python -m benchmarks.load --rebuild                # build the database again

Issue 14's load target: 50 concurrent users with 1-3 s think time browsing lists,
profiles and logging interactions for 5 minutes on PostgreSQL with 1M customers: zero
errors, p95 < 500 ms, p99 reported.

* **The database** is ``cc_load_bench`` on 127.0.0.1:5432 (``--pg-name``), built once and
  then reused: a synthetic 1M-customer ``analyze`` folder
  (:func:`benchmarks.service_data.write_analysis`, under ``benchmarks/data/load-N``),
  ``corecustomers createuser`` (migrates), ``corecustomers import-analysis``, then the
  service benchmark's people (:func:`benchmarks.service_tasks.people`: 10 regions, team
  East led by ``manager`` with 50 account managers owning 2,000 customers each). The
  workspace and the secrets are under ``/tmp/cc_load_bench`` (``CC_LOAD_BENCH_DIR``).
* **The server** is the production one: ``corecustomers serve`` (waitress, 8 threads) with
  ``CORECUSTOMERS_ENV=production`` and its own secrets (plain HTTP on localhost:
  ``CORECUSTOMERS_HTTPS=0``), the background worker off so that no job competes with the
  requests being measured.
* **The users** (:mod:`benchmarks.load_locust`, run by locust headless): one per account
  manager, each with a session and a write token made for this run
  (:mod:`benchmarks.load_tasks`), waiting 1-3 s between actions: the customer list (page
  and API, with filters, a sort, a second page), profiles (page; API profile and its
  interactions) and logging an interaction (API ``POST``). Users start at 10 per second.
* **The figures**: every request's latency (locust's own timing, client side, in ms) and
  status; p50 / p95 / p99 by nearest rank over all requests and per kind, the error count
  (any status but 200 / 201, or a connection error), requests per second, and the load
  average before and after. Written to ``benchmarks/results-load.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.runner import BENCH, DATA, ROOT, log
from benchmarks.service_data import write_analysis
from benchmarks.suite import machine
from benchmarks.tasks import RESULT_PREFIX

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
PG_NAME = "cc_load_bench"
KEPT = Path(os.environ.get("CC_LOAD_BENCH_DIR", "/tmp/cc_load_bench"))
PASSWORD = "benchmark-password-9"
TARGET_P95_MS = 500.0


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _env() -> dict[str, str]:
    """Production settings with this benchmark's own secrets (kept, so sessions stay valid)."""
    KEPT.mkdir(parents=True, exist_ok=True)
    keys = KEPT / "secrets.json"
    if not keys.is_file():
        keys.write_text(
            json.dumps(
                {"secret": secrets.token_urlsafe(48), "pseudonym": secrets.token_urlsafe(48)}
            ),
            encoding="utf-8",
        )
        keys.chmod(0o600)
    saved = json.loads(keys.read_text(encoding="utf-8"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORECUSTOMERS_")}
    env.update(
        CORECUSTOMERS_ENV="production",
        CORECUSTOMERS_HTTPS="0",
        CORECUSTOMERS_SECRET_KEY=saved["secret"],
        CORECUSTOMERS_PSEUDONYM_KEY=saved["pseudonym"],
        CORECUSTOMERS_WATCH_SECONDS="0",
        COLUMNS="200",
    )
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "corecustomers", *args]


def _task(module: str, name: str, timeout: float, **arguments: Any) -> dict[str, Any]:
    command = [sys.executable, "-m", module, name, json.dumps(arguments)]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
        env=_env(),
    )  # fmt: skip
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result: dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
            return result
    raise RuntimeError(f"{module} {name} failed: {done.stderr.strip()[-3000:]}")


def built(url: str, name: str) -> bool:
    """Whether ``name`` holds an imported analysis and the 50 account managers."""
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            return False
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute("SELECT to_regclass('customers_accountmember')").fetchone()
        if found is None or found[0] is None:
            return False
        row = conn.execute(
            "SELECT count(*) FROM customers_accountmember m JOIN accounts_user u "
            "ON u.id = m.user_id WHERE u.username = 'am50'"
        ).fetchone()
        return bool(row and row[0])


def build(url: str, name: str, customers: int) -> dict[str, Any]:
    """The database from nothing: analysis folder, schema, import, people."""
    import psycopg

    workspace = KEPT / "workspace"
    workspace.mkdir(parents=True, exist_ok=True)
    folder = DATA / f"load-{customers}"
    out: dict[str, Any] = {"load_start": _load()}
    began = time.perf_counter()
    if not (folder / "summary.json").is_file():
        log(f"Writing a {customers:,}-customer analysis to {folder} ...")
        write_analysis(folder, customers)
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    common = ("--db", url, "--workspace", str(workspace))
    log(f"[{name}] createuser admin (migrates) ...")
    subprocess.run(
        _cli("createuser", "admin", "--role", "admin", "--password-stdin", *common),
        input=PASSWORD + "\n", text=True, cwd=ROOT, check=True, env=_env(),
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    log(f"[{name}] import-analysis of {folder} ...")
    subprocess.run(
        _cli("import-analysis", str(folder), *common),
        cwd=ROOT, check=True, env=_env(), stdout=subprocess.DEVNULL,
    )  # fmt: skip
    log(f"[{name}] people (teams, 50 account managers with 2,000 customers each) ...")
    _task("benchmarks.service_tasks", "people", 3600, db=url, workspace=str(workspace))
    out["seconds"] = round(time.perf_counter() - began, 1)
    out["load_end"] = _load()
    log(f"[{name}] built in {out['seconds']:.0f} s")
    return out


class Server:
    """``corecustomers serve`` (production settings, no worker) on a free port."""

    def __init__(self, url: str, threads: int) -> None:
        workspace = KEPT / "workspace"
        self.log = (KEPT / "serve.log").open("w", encoding="utf-8")
        self.process = subprocess.Popen(
            _cli(
                "serve", "--db", url, "--workspace", str(workspace), "--port", "0",
                "--threads", str(threads), "--no-worker",
            ),
            cwd=ROOT, stdout=subprocess.PIPE, stderr=self.log, text=True, env=_env(),
        )  # fmt: skip
        assert self.process.stdout is not None
        self.url = ""
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            if "Serving at" in line:
                self.url = line.split("Serving at", 1)[1].split()[0].rstrip("/")
                break
        if not self.url:
            self.stop()
            raise RuntimeError(f"corecustomers serve did not start: see {KEPT / 'serve.log'}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def _rank(values: list[float], q: float) -> float:
    """The nearest-rank percentile ``q`` (0-100) of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def summarise(samples: list[tuple[str, float, int, str]], seconds: float) -> dict[str, Any]:
    def figures(rows: list[tuple[str, float, int, str]]) -> dict[str, Any]:
        times = [ms for _, ms, _, _ in rows]
        errors = [(status, error) for _, _, status, error in rows if status not in {200, 201}]
        return {
            "requests": len(rows),
            "errors": len(errors),
            "p50_ms": round(_rank(times, 50), 1) if times else None,
            "p95_ms": round(_rank(times, 95), 1) if times else None,
            "p99_ms": round(_rank(times, 99), 1) if times else None,
            "max_ms": round(max(times), 1) if times else None,
        }

    kinds = sorted({name for name, _, _, _ in samples})
    errors: dict[str, int] = {}
    for name, _, status, error in samples:
        if status not in {200, 201}:
            key = f"{name}: {status} {error}".strip()[:200]
            errors[key] = errors.get(key, 0) + 1
    return {
        "all": figures(samples),
        "per_kind": {k: figures([s for s in samples if s[0] == k]) for k in kinds},
        "requests_per_second": round(len(samples) / seconds, 1) if seconds else None,
        "error_kinds": errors,
    }


def run(url: str, users: int, duration: int, threads: int, seed: int) -> dict[str, Any]:
    workspace = KEPT / "workspace"
    log(f"sessions and write tokens for {users} account managers ...")
    people = _task(
        "benchmarks.load_tasks", "credentials", 1800,
        db=url, workspace=str(workspace), users=min(users, 50), seed=seed,
    )  # fmt: skip
    out: dict[str, Any] = {"users": users, "duration_s": duration, "seed": seed}
    with tempfile.TemporaryDirectory(prefix="cc-load-") as scratch:
        creds = Path(scratch) / "credentials.json"
        creds.write_text(json.dumps(people), encoding="utf-8")
        creds.chmod(0o600)
        samples_file = Path(scratch) / "samples.jsonl"
        server = Server(url, threads)
        try:
            log(f"serving at {server.url}; {users} users for {duration} s ...")
            out["load"] = {"start": _load()}
            env = {
                **os.environ,
                "CC_LOAD_CREDENTIALS": str(creds),
                "CC_LOAD_SAMPLES": str(samples_file),
                "CC_LOAD_SEED": str(seed),
            }
            began = time.perf_counter()
            locust = subprocess.run(
                [
                    sys.executable, "-m", "locust", "-f", str(BENCH / "load_locust.py"),
                    "--headless", "--users", str(users), "--spawn-rate", "10",
                    "--run-time", f"{duration}s", "--host", server.url, "--only-summary",
                    "--stop-timeout", "10", "--loglevel", "WARNING",
                ],
                cwd=ROOT, env=env, capture_output=True, text=True, check=False,
                timeout=duration + 600,
            )  # fmt: skip
            seconds = time.perf_counter() - began
            out["load"]["end"] = _load()
        finally:
            server.stop()
        if not samples_file.is_file():
            raise RuntimeError(f"locust wrote no samples: {locust.stderr[-3000:]}")
        samples = [
            tuple(json.loads(line))
            for line in samples_file.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
    out["seconds"] = round(seconds, 1)
    out["locust_exit"] = locust.returncode
    out.update(summarise(samples, seconds))
    p95 = out["all"]["p95_ms"]
    out["target"] = {
        "p95_ms": TARGET_P95_MS,
        "met": bool(out["all"]["errors"] == 0 and p95 is not None and p95 < TARGET_P95_MS),
    }
    return out


def render(result: dict[str, Any]) -> str:
    lines = [
        f"{result['users']} users, {result['duration_s']} s, {result['customers']:,} customers "
        f"({result['database']}); load {result['load']['start']} -> {result['load']['end']}",
        f"{'kind':<22}{'requests':>9}{'errors':>8}"
        f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}",
    ]
    rows = [*result["per_kind"].items(), ("ALL", result["all"])]
    for name, f in rows:
        lines.append(
            f"{name:<22}{f['requests']:>9}{f['errors']:>8}{f['p50_ms']:>9}{f['p95_ms']:>9}"
            f"{f['p99_ms']:>9}{f['max_ms']:>9}"
        )
    met = "met" if result["target"]["met"] else "NOT met"
    lines.append(
        f"{result['requests_per_second']} requests/s; target (0 errors, p95 < "
        f"{TARGET_P95_MS:.0f} ms): {met}"
    )
    for error, count in result["error_kinds"].items():
        lines.append(f"  error x{count}: {error}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--users", type=int, default=50, help="concurrent users (at most 50 distinct)"
    )
    parser.add_argument("--duration", type=int, default=300, help="seconds of load")
    parser.add_argument("--customers", type=lambda t: int(t.replace("_", "")), default=1_000_000)
    parser.add_argument("--pg-name", default=PG_NAME, help=f"the database (default {PG_NAME})")
    parser.add_argument("--threads", type=int, default=8, help="the server's request threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rebuild", action="store_true", help="build the database again")
    parser.add_argument("--build-only", action="store_true", help="build (if needed) and stop")
    parser.add_argument("--out", type=Path, default=BENCH / "results-load.json")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    url = f"{PG_SERVER}/{args.pg_name}"
    result: dict[str, Any] = {
        "machine": machine(),
        "started": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "database": f"postgresql ({args.pg_name})",
        "customers": args.customers,
    }
    if args.rebuild or not built(url, args.pg_name):
        result["build"] = build(url, args.pg_name, args.customers)
    else:
        log(f"reusing {args.pg_name} (--rebuild builds it again)")
        # migrations added since the build (createuser migrates; the admin exists already)
        subprocess.run(
            _cli("createuser", "admin", "--role", "admin", "--password-stdin", "--db", url,
                 "--workspace", str(KEPT / "workspace")),
            input=PASSWORD + "\n", text=True, cwd=ROOT, check=False, env=_env(),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    if args.build_only:
        return 0
    result.update(run(url, args.users, args.duration, args.threads, args.seed))
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print(render(result))
    log(f"Wrote {args.out}")
    return 0 if result["target"]["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
