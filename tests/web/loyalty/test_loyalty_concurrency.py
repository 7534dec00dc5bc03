"""Issue 12's acceptance: 50 redemptions of 30 points race against 1,000 points.

On PostgreSQL (the second pass of ``make test``) each of 50 threads has its own database
connection and they start together behind a barrier: exactly 33 succeed, 17 are refused
with ``insufficient_points``, the balance never goes below zero, and replaying every
request with its idempotency key changes nothing. The same through the HTTP API of a
running server (pytest-django's live server: a real threaded WSGI server, one connection
per request thread). SQLite serialises writers (the service opens every transaction with
``BEGIN IMMEDIATE``), and its in-memory test database cannot take concurrent connections,
so there the same requests are sent one at a time.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection
from tests.web.loyalty.loyalty_helpers import member, rules

THREADS = 50
COST = 30
START = 1_000


def _parallel() -> bool:
    return connection.vendor == "postgresql"


def _race(call: Callable[[int], str]) -> list[str]:
    """Run ``call(i)`` for i in 0..49 in 50 threads started together (or in turn on SQLite)."""
    if not _parallel():
        return [call(i) for i in range(THREADS)]
    barrier = threading.Barrier(THREADS)

    def one(i: int) -> str:
        barrier.wait(timeout=60)
        return call(i)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(one, range(THREADS)))


def _funded(people: Any) -> Any:
    from corecustomers.web.loyalty import ledger

    rules()
    customer = member(region="east")
    ledger.earn(customer, START, key="fund")
    return customer


def _check(customer: Any, outcomes: list[str]) -> None:
    from corecustomers.web.loyalty.checks import ledger_problems
    from corecustomers.web.loyalty.models import Account, Movement

    assert Counter(outcomes) == {"ok": 33, "insufficient_points": 17}
    account = Account.objects.get(customer=customer)
    assert (account.available, account.used) == (START - 33 * COST, 33 * COST)
    assert Movement.objects.filter(customer=customer, kind="redeem", status="done").count() == 33
    assert ledger_problems(customer.pk) == []


@pytest.mark.django_db(transaction=True)
def test_fifty_threads_redeem_exactly_33_times(people: Any) -> None:
    from corecustomers.web.loyalty import ledger
    from corecustomers.web.loyalty.models import Account, Entry

    customer = _funded(people)
    lowest: list[int] = []

    def redeem(i: int) -> str:
        try:
            out = ledger.redeem(customer, COST, key=f"redeem-{i}")
            lowest.append(out.balance.available)
            return "ok"
        except ledger.InsufficientPointsError:
            return "insufficient_points"
        finally:
            if _parallel():
                connection.close()  # this thread's own connection

    first = _race(redeem)
    _check(customer, first)
    assert min(lowest) >= 0
    entries = Entry.objects.count()
    again = _race(redeem)  # every request replayed with its key
    assert again == first
    _check(customer, again)
    assert Entry.objects.count() == entries
    assert Account.objects.get(customer=customer).available == START - 33 * COST


@pytest.mark.django_db(transaction=True)
def test_fifty_requests_through_a_running_server(people: Any, live_server: Any) -> None:
    from corecustomers.web.accounts.models import ApiToken
    from corecustomers.web.loyalty.models import Entry

    customer = _funded(people)
    _, token = ApiToken.issue(people.admin, scope="write")
    url = f"{live_server.url}/api/v1/customers/{quote(customer.external_id, safe='')}/points"

    def post(i: int) -> str:
        body = json.dumps({"kind": "redeem", "points": COST}).encode()
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Idempotency-Key": f"http-{i}",
            },
        )
        for attempt in range(10):
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    assert response.status == 201
                    assert json.loads(response.read())["balance"]["available"] >= 0
                    return "ok"
            except urllib.error.HTTPError as exc:
                assert exc.code == 409, exc.read()
                return str(json.loads(exc.read())["error"]["code"])
            except (ConnectionError, urllib.error.URLError):
                # the test server's listen queue is short (10): 50 connections at once
                # overflow it, and a client retries -- safely, with the same key
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError(f"request {i} never reached the server")

    first = _race(post)
    _check(customer, first)
    entries = Entry.objects.count()
    assert _race(post) == first  # replayed: the first answers, nothing changes
    _check(customer, first)
    assert Entry.objects.count() == entries
    with urllib.request.urlopen(
        urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"}), timeout=30
    ) as response:
        assert json.loads(response.read())["available"] == START - 33 * COST
