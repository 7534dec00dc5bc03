"""``python -m benchmarks.loyalty``: the points ledger at scale, on PostgreSQL.

Issue 12's targets: earning points from a 10M-row analysis run (1M customers) in under
5 minutes, and a balance lookup p95 under 20 ms with 10M ledger entries.

From nothing, in its own database (``cc_loyalty_bench`` on 127.0.0.1:5432, dropped and
created again; ``--keep`` leaves it):

1. the schema (Django's migrations) and 1M customers (the distinct ids of the source,
   written with COPY);
2. an imported analysis whose ``summary.json`` names the 9.9M-row, 1M-customer
   transactions file of the other benchmarks (``benchmarks/data/tx_1000000c_seed0.parquet``,
   with order ids) -- the job reads it again through the engine's ``prepare`` exactly as
   it does after a real run;
3. ``earn_run`` timed end to end (reading the source again, grouping per order, and
   writing lots, entries, order keys and balances in chunks of 1,000 customers), then
   the same run again (every order already earned: nothing may change);
4. the ledger padded to 10M entries (zero-amount lines copied from the real ones: they
   keep every sum, as :func:`ledger_problems` checks on a sample), then 2,000 balance
   lookups (:func:`ledger.balance`) and 500 redemptions of random members, p50/p95/p99.

Prints the figures and writes ``benchmarks/results-loyalty.json``. The machine is shared:
the load average before and after each step is recorded with it.
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


def _load() -> float:
    return round(os.getloadavg()[0], 1)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))], 2)


def _fresh_database(name: str) -> str:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return f"{SERVER}/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(SOURCE))
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--out", default=str(OUT), help="where the figures are written")
    parser.add_argument("--database", default=NAME, help="the database (dropped, made again)")
    args = parser.parse_args()
    results: dict[str, Any] = {"source": args.source, "started": dt.datetime.now().isoformat()}

    url = _fresh_database(args.database)
    from corecustomers.web.runtime import ServiceConfig, configure

    configure(ServiceConfig(workspace=tempfile.mkdtemp(prefix="cc-loyalty-bench-"), db=url))
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)

    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from django.db import connection, transaction
    from django.utils import timezone

    from corecustomers.web.bulk import insert_rows
    from corecustomers.web.customers.models import Analysis, Customer
    from corecustomers.web.loyalty import ledger
    from corecustomers.web.loyalty.checks import ledger_problems
    from corecustomers.web.loyalty.earning import earn_run
    from corecustomers.web.loyalty.models import Account, Entry, Programme

    t = time.perf_counter()
    table = pq.read_table(args.source, columns=["customer_id", "timestamp"])
    ids = pc.unique(table.column("customer_id")).to_pylist()
    as_of = pc.max(table.column("timestamp")).as_py().date()
    rows = table.num_rows
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
    results["customers"] = len(ids)
    results["rows"] = rows
    results["setup_seconds"] = round(time.perf_counter() - t, 1)
    print(f"{len(ids):,} customers written in {results['setup_seconds']} s; {rows:,} rows")

    Programme.objects.create(pk=1, earn_from_runs=True)
    summary = {
        "source": args.source,
        "columns": {
            "customer_id": "customer_id",
            "timestamp": "timestamp",
            "amount": "amount",
            "order_id": "order_id",
        },
        "settings": {},
    }
    Analysis.objects.create(run_id="bench-loyalty", as_of=as_of, summary=summary)

    def run(label: str) -> dict[str, Any]:
        before = _load()
        t = time.perf_counter()
        totals = earn_run("bench-loyalty")
        seconds = round(time.perf_counter() - t, 1)
        out = {**totals, "seconds": seconds, "load_before": before, "load_after": _load()}
        print(f"{label}: {seconds} s -- {json.dumps(totals)} (load {before} → {_load()})")
        return out

    results["earn"] = run("earning the run")
    results["earn_again"] = run("the same run again")
    assert results["earn_again"]["points"] == 0

    # pad the ledger to the target with zero-amount copies of real lines
    t = time.perf_counter()
    with connection.cursor() as cursor:
        while (count := Entry.objects.count()) < args.entries:
            want = args.entries - count
            cursor.execute(
                "INSERT INTO loyalty_entry (movement_id, customer_id, account, lot_id, amount,"
                " created) SELECT movement_id, customer_id, account, lot_id, 0, created"
                " FROM loyalty_entry ORDER BY id LIMIT %s",
                [want],
            )
        cursor.execute("ANALYZE")
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
    if not args.keep:
        connection.close()
        import psycopg

        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
