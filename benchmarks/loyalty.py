"""``python -m benchmarks.loyalty``: the points ledger at scale, on PostgreSQL.

Issue 12's targets: earning points from a 10M-row analysis run (1M customers) in under
5 minutes, and a balance lookup p95 under 20 ms with 10M ledger entries.

In its own database (``cc_loyalty_bench`` on 127.0.0.1:5432; ``--database``):

1. **build** (skipped with ``--reuse`` when the database holds the build already): the
   schema (Django's migrations), the source's distinct customers (written with COPY), and
   an imported analysis whose ``summary.json`` names the 9.9M-row, 1M-customer
   transactions file of the other benchmarks (``benchmarks/data/tx_1000000c_seed0.parquet``,
   with order ids; generated when missing) -- the job reads it again through the engine's
   ``prepare`` exactly as it does after a real run;
2. the ledger emptied (``TRUNCATE`` of the loyalty tables: every run starts from the same
   state), then ``earn_run`` timed end to end -- reading the source again, grouping per
   order, streaming the groups into PostgreSQL with COPY and earning them set-based
   (``bulk_earning``) -- with the time until the groups are staged recorded apart; then
   the same run again (every order already earned: nothing may change);
3. the ledger padded to ``--entries`` lines (zero-amount copies of real lines: they keep
   every sum, as :func:`ledger_problems` checks on a sample), then 2,000 balance lookups
   (:func:`ledger.balance`) and 500 redemptions of random members, p50/p95/p99.

Prints the figures and writes ``benchmarks/results-loyalty.json``; the database is left in
place (``--drop`` drops it). The machine is shared: the load average before and after each
step is recorded with it. ``--build-only`` stops after step 1, ``--earn-only`` after step 2.
``--customers N`` (default 1M) measures a smaller generated source in its own database
(``cc_loyalty_bench_<N>``, ``results-loyalty-<N>.json``; the ledger padded to 10 lines a
customer) -- for development: the target is the 1M figure.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "benchmarks" / "data" / "tx_1000000c_seed0.parquet"
SERVER = "postgresql://postgres@127.0.0.1:5432"
NAME = "cc_loyalty_bench"
OUT = ROOT / "benchmarks" / "results-loyalty.json"
RUN_ID = "bench-loyalty"
LEDGER_TABLES = (
    "loyalty_entry",
    "loyalty_earnedorder",
    "loyalty_lot",
    "loyalty_levelchange",
    "loyalty_invitation",
    "loyalty_movement",
    "loyalty_account",
)


def _load() -> float:
    return round(os.getloadavg()[0], 1)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))], 2)


def _exists(name: str) -> bool:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    return found is not None


def _fresh_database(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def _source(path: Path, customers: int) -> None:
    """The transactions file, generated (``customers`` customers, seed 0) when it is missing."""
    if path.exists():
        return
    from corecustomers.data.simulator import write_transactions

    print(f"generating {path} ({customers:,} customers) ...", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(".part.parquet")
    rows = write_transactions(str(part), customers, seed=0)
    part.replace(path)
    path.with_suffix(".json").write_text(json.dumps({"rows": rows, "customers": customers}))


def _built(source: str) -> bool:
    """Whether this database holds the build for ``source`` (customers and the analysis)."""
    from django.db.utils import DatabaseError

    from corecustomers.web.customers.models import Analysis, Customer

    try:
        run = Analysis.objects.filter(run_id=RUN_ID).first()
        return (
            run is not None
            and (run.summary or {}).get("source") == source
            and Customer.objects.exists()
        )
    except DatabaseError:
        return False


def _build(source: str, results: dict[str, Any]) -> None:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from django.db import transaction
    from django.utils import timezone

    from corecustomers.web.bulk import insert_rows
    from corecustomers.web.customers.models import Analysis, Customer
    from corecustomers.web.loyalty.models import Programme

    t = time.perf_counter()
    table = pq.read_table(source, columns=["customer_id", "timestamp"])
    ids = pc.unique(table.column("customer_id")).to_pylist()
    as_of = pc.max(table.column("timestamp")).as_py().date()
    del table
    now = timezone.now()
    fields = (
        "external_id", "pseudonym", "name", "company", "phone", "email", "region",
        "industry", "relationship", "notes", "in_master_data", "created", "updated",
    )  # fmt: skip
    with transaction.atomic():
        insert_rows(
            Customer,
            fields,
            (
                (cid, f"P{i:010d}", "", "", "", "", "", "", "", "", False, now, now)
                for i, cid in enumerate(ids)
            ),
        )
    Programme.objects.update_or_create(pk=1, defaults={"earn_from_runs": True})
    summary = {
        "source": source,
        "columns": {
            "customer_id": "customer_id",
            "timestamp": "timestamp",
            "amount": "amount",
            "order_id": "order_id",
        },
        "settings": {},
    }
    Analysis.objects.create(run_id=RUN_ID, as_of=as_of, summary=summary)
    results["build_seconds"] = round(time.perf_counter() - t, 1)
    print(f"{len(ids):,} customers written in {results['build_seconds']} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--customers",
        type=int,
        default=1_000_000,
        help="the size of the generated source (default 1M; smaller sizes for development:"
        " their own file and database, cc_loyalty_bench_<N>)",
    )
    parser.add_argument("--source", default=None, help="default: the generated file")
    parser.add_argument("--database", default=None, help="the benchmark's own database")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the database's build (customers, analysis)"
    )
    parser.add_argument("--build-only", action="store_true", help="stop after the build")
    parser.add_argument(
        "--earn-only", action="store_true", help="stop after the earning and its rerun"
    )
    parser.add_argument("--drop", action="store_true", help="drop the database afterwards")
    parser.add_argument("--entries", type=int, default=None, help="default: 10 per customer")
    parser.add_argument("--out", default=None, help="where the figures are written")
    args = parser.parse_args()
    full = args.customers == 1_000_000
    if args.source is None:
        args.source = str(
            SOURCE if full else SOURCE.with_name(f"tx_{args.customers}c_seed0.parquet")
        )
    if args.database is None:
        args.database = NAME if full else f"{NAME}_{args.customers}"
    if args.entries is None:
        args.entries = 10 * args.customers
    if args.out is None:
        args.out = str(OUT if full else OUT.with_name(f"results-loyalty-{args.customers}.json"))
    source = str(Path(args.source).resolve())
    _source(Path(source), args.customers)
    results: dict[str, Any] = {"source": source, "started": dt.datetime.now().isoformat()}

    reuse = args.reuse and _exists(args.database)
    if not reuse:
        _fresh_database(args.database)
    url = f"{SERVER}/{args.database}"
    from corecustomers.web.runtime import ServiceConfig, configure

    configure(ServiceConfig(workspace=tempfile.mkdtemp(prefix="cc-loyalty-bench-"), db=url))
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from django.db import connection

    if reuse and _built(source):
        results["reused"] = True
        print(f"reusing the build in {args.database}")
    else:
        if reuse:  # an unfinished or different build: start again
            connection.close()
            _fresh_database(args.database)
            call_command("migrate", interactive=False, verbosity=0)
        results["reused"] = False
        _build(source, results)
    if args.build_only:
        print(f"built {args.database}; measure with --reuse")
        return

    import pyarrow.parquet as pq

    from corecustomers.web.customers.models import Customer
    from corecustomers.web.loyalty import ledger
    from corecustomers.web.loyalty.bulk_earning import TIMINGS
    from corecustomers.web.loyalty.checks import ledger_problems
    from corecustomers.web.loyalty.earning import earn_run
    from corecustomers.web.loyalty.models import Account, Entry

    results["rows"] = pq.ParquetFile(source).metadata.num_rows
    results["customers"] = Customer.objects.count()
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(LEDGER_TABLES)} RESTART IDENTITY CASCADE")
        cursor.execute("ANALYZE")

    def run(label: str) -> dict[str, Any]:
        before = _load()
        marks: dict[str, float] = {}
        t = time.perf_counter()

        def progress(fraction: float, message: str) -> None:
            if message.startswith("earning:") and "staged" not in marks:
                marks["staged"] = time.perf_counter() - t

        totals = earn_run(RUN_ID, progress=progress)
        seconds = round(time.perf_counter() - t, 1)
        staged = round(marks.get("staged", 0.0), 1)
        statements = {
            name: round(value, 1)
            for name, value in sorted(TIMINGS.items(), key=lambda item: -item[1])
            if value >= 0.1
        }
        out = {
            **totals,
            "seconds": seconds,
            "read_and_stage_seconds": staged,
            "statement_seconds": statements,
            "load_before": before,
            "load_after": _load(),
        }
        print(
            f"{label}: {seconds} s (read and staged after {staged} s)"
            f" -- {json.dumps(totals)} (load {before} → {out['load_after']})"
            f"\n  seconds per statement: {json.dumps(statements)}",
            flush=True,
        )
        return out

    results["earn"] = run("earning the run")
    results["earn_again"] = run("the same run again")
    assert results["earn_again"]["points"] == 0
    if args.earn_only:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        return

    # pad the ledger to the target with zero-amount copies of real lines (one statement;
    # the copies reference rows that exist, so the foreign-key triggers are skipped)
    t = time.perf_counter()
    with connection.cursor() as cursor:
        count = Entry.objects.count()
        if count < args.entries:
            copies = -(-(args.entries - count) // count)
            cursor.execute("SET session_replication_role = replica")
            cursor.execute(
                "INSERT INTO loyalty_entry (movement_id, customer_id, account, lot_id, amount,"
                " created) SELECT e.movement_id, e.customer_id, e.account, e.lot_id, 0, e.created"
                " FROM loyalty_entry e CROSS JOIN generate_series(1, %s) LIMIT %s",
                [copies, args.entries - count],
            )
            cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("ANALYZE loyalty_entry")
    results["entries"] = Entry.objects.count()
    results["pad_seconds"] = round(time.perf_counter() - t, 1)
    print(f"{results['entries']:,} ledger entries (padding {results['pad_seconds']} s)")

    members = list(Account.objects.values_list("customer_id", flat=True))
    rng = random.Random(0)
    sample = [rng.choice(members) for _ in range(2000)]
    customers = {c.pk: c for c in Customer.objects.filter(pk__in=set(sample))}
    connection.close()
    lookups: list[float] = []
    before = _load()
    for pk in sample:
        t = time.perf_counter()
        ledger.balance(customers[pk])
        lookups.append((time.perf_counter() - t) * 1000)
    results["balance_ms"] = {
        "p50": _pct(lookups, 0.5),
        "p95": _pct(lookups, 0.95),
        "p99": _pct(lookups, 0.99),
        "mean": round(statistics.fmean(lookups), 2),
        "load_before": before,
        "load_after": _load(),
    }
    print(f"balance lookup ms: {results['balance_ms']}")
    redeems: list[float] = []
    for i, pk in enumerate(sample[:500]):
        t = time.perf_counter()
        with contextlib.suppress(ledger.InsufficientPointsError):
            ledger.redeem(customers[pk], 1, key=f"bench-{i}")
        redeems.append((time.perf_counter() - t) * 1000)
    results["redeem_ms"] = {"p50": _pct(redeems, 0.5), "p95": _pct(redeems, 0.95)}
    print(f"redeem ms: {results['redeem_ms']}")
    problems = [p for pk in sample[:200] for p in ledger_problems(pk)]
    results["problems_in_sample"] = len(problems)
    print(f"ledger problems in a sample of 200 members: {len(problems)}")
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if args.drop:
        connection.close()
        import psycopg

        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
