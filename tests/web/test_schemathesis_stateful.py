"""schemathesis, stateful: sequences of API calls chained by the links between operations.

The state machine is the one schemathesis builds from ``/api/v1/openapi.json``
(``schema.as_state_machine()``): it infers which operation produces what another one
takes (a response's ``customer_id``, ``code``, ``job_id`` ... feeding a path parameter of
the same name), so that a sequence such as *list customers, read one, log an
interaction on it, list its interactions, read its points* runs on real objects instead of
random ids that answer 404. Every response is checked by schemathesis' checks (no 5xx,
declared status codes and content types, bodies and headers that match the schema)
except ``positive_data_acceptance``, as in ``test_schemathesis.py``: a request that fits
the schema may still be refused on its meaning, with a 422 naming the field (checked).

Bounded by count: ``SCENARIOS`` sequences of at most ``STEPS`` calls each (a few hundred
requests, under a minute on an idle machine; the time is printed). The erasure is left out (erasing the customers the
sequences walk through would leave nothing to chain; ``tests/web/privacy`` covers it), and
so is the rate limit (its own tests). Failures are collected rather than raised, so that
one run reports them all; the test fails on any, and on any 5xx.

Each scenario starts from the same data (its changes rolled back to a savepoint when it
ends), and the run is derandomised: the same calls on SQLite and PostgreSQL (309 calls,
22 operations, 12 of them by id, on 2026-12-05).
"""

from __future__ import annotations

import collections
import copy
import time
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from corecustomers.web.accounts.models import ApiToken
from corecustomers.web.customers.models import AccountMember, Customer

pytestmark = pytest.mark.django_db

SCENARIOS = 40
STEPS = 6
OPENAPI = "/api/v1/openapi.json"


@pytest.fixture
def wsgi_app() -> Any:
    """The service's WSGI application, sharing the test's connection and transaction."""
    from corecustomers.web.wsgi import application

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield application
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _resolve(raw: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = raw
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def add_links(raw: dict[str, Any]) -> int:
    """OpenAPI links from each list (``GET /x`` answering ``{"items": [...]}``) to every
    operation on one of its items (``/x/{param}...``): the parameter from the first item
    (its field of that name, else ``key``, ``id``, ``code``, ``name``). Returns how many."""
    added = 0
    paths: dict[str, Any] = raw["paths"]
    for path, operations in paths.items():
        listing = operations.get("get")
        if listing is None or "{" in path:
            continue
        ok = listing.get("responses", {}).get("200", {})
        body = ok.get("content", {}).get("application/json", {}).get("schema")
        if not body:
            continue
        items = _resolve(raw, body).get("properties", {}).get("items")
        if not items or "items" not in items:
            continue
        fields = _resolve(raw, items["items"]).get("properties", {})
        links = ok.setdefault("links", {})
        for other, targets in paths.items():
            if not other.startswith(path + "/{"):
                continue
            param = other[len(path) + 2 :].split("}", 1)[0]
            field = next((f for f in (param, "key", "id", "code", "name") if f in fields), None)
            if field is None:
                continue
            for target in targets.values():
                if "operationId" not in target or other.endswith("/erase"):
                    continue
                links[f"{target['operationId']}-from-list"] = {
                    "operationId": target["operationId"],
                    "parameters": {param: f"$response.body#/items/0/{field}"},
                }
                added += 1
    return added


def _describe(exc: BaseException) -> str:
    parts = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
    return "; ".join(
        f"{type(part).__name__}: {getattr(part, 'title', '')} "
        f"{str(getattr(part, 'message', part))[:300]}"
        for part in parts
    )


def test_chained_api_calls_answer_as_the_schema_says(
    imported: Path,
    people: Any,
    wsgi_app: Any,
    capsys: pytest.CaptureFixture[str],
    settings: Any,
) -> None:
    settings.API_RATE_PER_MINUTE = 0
    for customer in Customer.objects.order_by("-state__core_score", "pk")[:5]:
        AccountMember.objects.create(customer=customer, user=people.am1, role="owner")
    _, token = ApiToken.issue(people.admin, scope="write")
    headers = {"Authorization": f"Bearer {token}"}

    # through the WSGI app, not django.test.Client: the test client connects
    # close_old_connections to the request signals again after each request, and on
    # PostgreSQL the next request then closed the test's connection inside its transaction
    # (every later call answered 500 "the connection is closed")
    raw: dict[str, Any] = copy.deepcopy(
        schemathesis.openapi.from_wsgi(OPENAPI, wsgi_app).raw_schema
    )
    added = add_links(raw)
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = wsgi_app
    schema.location = OPENAPI
    base = schema.exclude(path_regex=r".*/erase$").as_state_machine()

    statuses: collections.Counter[int] = collections.Counter()
    chained: collections.Counter[str] = collections.Counter()
    failures: list[str] = []
    started = time.monotonic()
    calls = 0

    class Workflow(base):  # type: ignore[valid-type,misc]
        # Each scenario starts from the same data: its changes are rolled back to a savepoint
        # at its end. Without it a scenario saw what the earlier ones had created or
        # changed, Hypothesis' replay of a scenario drew differently and stopped with
        # FlakyStrategyDefinition (the former expected failure of this test).
        def setup(self) -> None:
            self.savepoint = transaction.savepoint()
            cache.clear()

        def teardown(self) -> None:
            transaction.savepoint_rollback(self.savepoint)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": headers}

        def validate_response(self, response: Any, case: Any, *args: Any, **kwargs: Any) -> None:
            nonlocal calls
            calls += 1
            operation = f"{case.operation.method.upper()} {case.operation.path}"
            statuses[response.status_code] += 1
            chained[operation] += 1
            where = f"{operation} {response.status_code}"
            if response.status_code == 422:
                try:
                    named = response.json()["error"]["field"]
                except (ValueError, KeyError, TypeError):
                    named = None
                if not named and case.body is not None:
                    failures.append(f"{where}: a 422 that names no field: {response.text[:300]}")
            try:
                case.validate_response(
                    response, headers=headers, excluded_checks=[positive_data_acceptance]
                )
            except (Exception, BaseExceptionGroup) as exc:
                body = response.content[:200].decode("utf-8", "replace")
                failures.append(f"{where} {body!r}: {_describe(exc)}")

    Workflow.run(
        settings=settings_for_run(),
    )
    elapsed = time.monotonic() - started
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    with capsys.disabled():
        print(
            f"\nschemathesis stateful: {calls} calls in {elapsed:.1f} s over "
            f"{len(chained)} operations; statuses {dict(sorted(statuses.items()))}; "
            f"{server_errors} 5xx; {len(failures)} failed checks; {added} links added to "
            f"the inferred ones; calls by operation {dict(sorted(chained.items()))}"
        )
    assert calls >= SCENARIOS, "the sequences did not run"
    # the 5xx and failed checks first: they say more than a short reach (on PostgreSQL every
    # call once answered 500, which showed only as "too few operations by id")
    assert server_errors == 0, "\n\n".join(list(dict.fromkeys(failures))[:5])
    assert failures == [], "\n\n".join(dict.fromkeys(failures))
    assert statuses[200] + statuses[201] > 0
    reached = {op for op in chained if "{" in op}
    assert len(reached) >= 10, f"the links reached too few operations by id: {sorted(reached)}"


def settings_for_run() -> settings:
    return settings(
        max_examples=SCENARIOS,
        stateful_step_count=STEPS,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
