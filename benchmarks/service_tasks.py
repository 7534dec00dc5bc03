"""The service benchmark's work inside the service's own Django process.

``python -m benchmarks.service_tasks TASK '{"db": URL, "workspace": DIR, ...}'`` prints one
``@@RESULT {json}`` line, like :mod:`benchmarks.tasks`:

``people``
    After the import: ten regions over the customers, team East (the ``east`` region, a
    tenth of them) led by ``manager``, 50 account managers in it owning 2,000 of its
    customers each (``am01`` is the one measured), an administrator; a logged-in session
    and a read token for ``admin``, ``manager`` and ``am01``, and sample customer ids in
    each one's scope for the profile requests. Then ``VACUUM ANALYZE`` (``ANALYZE`` on
    SQLite), as autovacuum would do within minutes, so that it does not run mid-measure.
``queries``
    The read path without HTTP: :func:`customer_page`, :func:`profile` and
    :func:`dashboard` timed call by call for each of the three users (the query-level
    figures the HTTP ones are compared with).
``explain``
    ``EXPLAIN (ANALYZE, BUFFERS)`` of every query of the list and the dashboard
    (PostgreSQL), the plans written to a text file and each query's server-side time
    returned, for the README's analysis of causes.
"""

from __future__ import annotations

import json
import random
import sys
import time
from typing import Any

from benchmarks.tasks import RESULT_PREFIX

REGIONS = (
    "east",
    "west",
    "north",
    "south",
    "central",
    "north-east",
    "north-west",
    "south-east",
    "south-west",
    "overseas",
)
ACCOUNT_MANAGERS = 50
BOOK = 2_000
PASSWORD = "benchmark-password-9"
USERS = ("admin", "manager", "am01")
LIST_FILTER = {"tier": "key", "alert": "yes", "sort": "-value_at_stake"}


def _setup(arguments: dict[str, Any]) -> None:
    from corecustomers.web.runtime import ServiceConfig, configure

    configure(ServiceConfig(workspace=arguments["workspace"], db=arguments["db"]))


def people(arguments: dict[str, Any]) -> dict[str, Any]:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection, transaction

    from corecustomers.web.accounts.models import ApiToken, Team, User
    from corecustomers.web.customers.models import AccountMember, Customer

    began = time.perf_counter()
    quote = connection.ops.quote_name
    table = quote(Customer._meta.db_table)
    region_case = " ".join(f"WHEN {i} THEN '{name}'" for i, name in enumerate(REGIONS))

    def user(name: str, role: str) -> Any:
        person, _ = User.objects.get_or_create(username=name, defaults={"role": role})
        person.role = role
        person.set_password(PASSWORD)
        person.save()
        return person

    # A kept database (``benchmarks.service --reuse``) has its people already: then only
    # the sessions and tokens are made again (and the tables vacuumed).
    done = AccountMember.objects.filter(user__username=f"am{ACCOUNT_MANAGERS:02d}").count() == BOOK
    steps: dict[str, float] = {}
    with transaction.atomic():
        user("admin", "admin")
        manager = user("manager", "manager")
        east, _ = Team.objects.get_or_create(name="East", defaults={"region": "east"})
        east.region, east.lead = "east", manager
        east.save()
        east.members.add(manager)
    with transaction.atomic(), connection.cursor() as cursor:
        if not done:
            start = time.perf_counter()
            cursor.execute(
                f"UPDATE {table} SET region = CASE ({quote('id')} %% {len(REGIONS)}) "
                f"{region_case} END, name = 'Customer ' || {quote('external_id')}, "
                f"company = 'Company ' || CAST(({quote('id')} %% 5000) AS TEXT), "
                f"team_id = CASE WHEN {quote('id')} %% {len(REGIONS)} = 0 THEN %s END",
                [east.pk],
            )
            steps["regions_update"] = time.perf_counter() - start
            start = time.perf_counter()
            east_ids = list(
                Customer.objects.filter(team=east).order_by("pk").values_list("pk", flat=True)
            )
            AccountMember.objects.all().delete()
            members = []
            for i in range(ACCOUNT_MANAGERS):
                am = user(f"am{i + 1:02d}", "account_manager")
                east.members.add(am)
                book = east_ids[i * BOOK : (i + 1) * BOOK]
                members += [AccountMember(customer_id=pk, user=am, role="owner") for pk in book]
            AccountMember.objects.bulk_create(members, batch_size=5000)
            steps["account_members"] = time.perf_counter() - start
    # What autovacuum does within minutes of a bulk load (statistics, and on PostgreSQL
    # the visibility map that index-only scans need), done now so that it does not run
    # during the measurements.
    start = time.perf_counter()
    analyze = "VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE"
    with connection.cursor() as cursor:
        for model in ("customer", "customerstate", "customerhistory", "accountmember"):
            cursor.execute(f"{analyze} {quote('customers_' + model)}")
    steps["vacuum_analyze"] = time.perf_counter() - start

    rng = random.Random(0)
    sessions, tokens, samples = {}, {}, {}
    for name in USERS:
        person = User.objects.get(username=name)
        store = SessionStore()
        store[SESSION_KEY] = str(person.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = person.get_session_auth_hash()
        store.create()
        sessions[name] = store.session_key
        tokens[name] = ApiToken.issue(person, scope="read", name="benchmark")[1]
        scope = Customer.objects.restrict(person, "view")
        n = scope.count()
        offsets = sorted(rng.sample(range(n), min(100, n)))
        ids = list(scope.order_by("pk").values_list("external_id", flat=True))
        samples[name] = {"customers": n, "ids": [ids[o] for o in offsets]}
    return {
        "seconds": time.perf_counter() - began,
        "steps": steps,
        "sessions": sessions,
        "tokens": tokens,
        "samples": samples,
    }


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, min(len(ordered) - 1, int(-(-len(ordered) * p // 100)) - 1))]

    return {
        "n": len(ordered),
        "p50_ms": rank(50) * 1000,
        "p95_ms": rank(95) * 1000,
        "p99_ms": rank(99) * 1000,
    }


def queries(arguments: dict[str, Any]) -> dict[str, Any]:
    from corecustomers.web.accounts.models import User
    from corecustomers.web.customers.queries import (
        CustomerFilter,
        customer_page,
        dashboard,
        find_customer,
        profile,
    )

    rounds = int(arguments.get("rounds", 50))
    samples = arguments["samples"]
    flt = CustomerFilter.from_mapping(LIST_FILTER)
    timings: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    began = time.perf_counter()
    users = {name: User.objects.get(username=name) for name in USERS}
    for i in range(rounds):
        for name, person in users.items():
            ids = samples[name]["ids"]
            start = time.perf_counter()
            page = customer_page(person, flt, limit=50)
            timings.setdefault(f"query.list.{name}", []).append(time.perf_counter() - start)
            counts[f"query.list.{name}"] = page.count
            start = time.perf_counter()
            profile(person, find_customer(person, ids[i % len(ids)]))
            timings.setdefault(f"query.profile.{name}", []).append(time.perf_counter() - start)
            start = time.perf_counter()
            board = dashboard(person)
            timings.setdefault(f"query.dashboard.{name}", []).append(time.perf_counter() - start)
            counts[f"query.dashboard.{name}"] = board.customers
    return {
        "seconds": time.perf_counter() - began,
        "timings": {key: _percentiles(values) for key, values in timings.items()},
        "rows": counts,
    }


def _captured(call: Any) -> list[tuple[str, Any]]:
    """The SELECT statements (SQL and parameters) that ``call()`` sends, in order."""
    from django.db import connection

    statements: list[tuple[str, Any]] = []

    def capture(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        call()
    return statements


def explain(arguments: dict[str, Any]) -> dict[str, Any]:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of every query the list and the dashboard send.

    Each user's :func:`customer_page` (the benchmark's filter) and :func:`dashboard` are
    called once with their SQL captured, then every captured SELECT is explained; the
    plans go to a text file and each query's server-side execution time (ms) into the
    result, so that a miss under load can be told apart from a slow plan.
    """
    from django.db import connection

    from corecustomers.web.accounts.models import User
    from corecustomers.web.customers.queries import CustomerFilter, customer_page, dashboard

    began = time.perf_counter()
    flt = CustomerFilter.from_mapping(LIST_FILTER)
    lines: list[str] = []
    server: dict[str, dict[str, list[float]]] = {}
    for name in USERS:
        person = User.objects.get(username=name)
        calls = {
            "list": lambda p=person: customer_page(p, flt, limit=50, audit=False),
            "dashboard": lambda p=person: dashboard(p),
        }
        for label, call in calls.items():
            start = time.perf_counter()
            statements = _captured(call)
            lines.append(f"=== {name} {label}: {time.perf_counter() - start:.3f} s (captured)")
            for sql, params in statements:
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                    plan = [row[0] for row in cursor.fetchall()]
                ms = next(
                    (float(r.split(":")[1].split()[0]) for r in plan if "Execution Time" in r),
                    0.0,
                )
                server.setdefault(name, {}).setdefault(label, []).append(ms)
                lines += [f"--- {ms:.1f} ms", sql, f"params: {params!r}", *plan, ""]
    with open(arguments["out"], "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    return {"seconds": time.perf_counter() - began, "file": arguments["out"], "server_ms": server}


TASKS = {"people": people, "queries": queries, "explain": explain}


def main(argv: list[str]) -> int:
    name, arguments = argv[0], json.loads(argv[1])
    _setup(arguments)
    result = TASKS[name](arguments)
    print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
