"""schemathesis against /api/v1/openapi.json with an authenticated write token.

Every operation gets valid requests (positive mode) and invalid ones (negative mode), a
bounded number each; a customer id in a path is, most of the time, one that exists and the
caller may change (including ids with ``/``, a space and CJK), so that the 200 paths are
exercised and not only the 404s. The run goes through the real WSGI application in this
process (the test's database transaction); every response is checked by schemathesis'
default checks (no 5xx, status codes and content types declared, bodies and headers that
match the schema, invalid data refused) except ``positive_data_acceptance``: a request
can fit the schema and still be refused on its meaning (a tier the policy does not have,
a user name nobody has, a file that is not a table). Those answer 422 naming the field,
which the test checks instead. The test fails on any failure and prints the figures.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from corecustomers.web.accounts.models import ApiToken
from corecustomers.web.customers.identity import pseudonym
from corecustomers.web.customers.models import AccountMember, Customer

pytestmark = pytest.mark.django_db

#: Requests per operation: valid ones, and invalid ones (which are cheap to refuse).
EXAMPLES = {"positive": 25, "negative": 10}
#: Seconds per operation the run may take, so that the bound grows with the API (35
#: requests an operation; measured: 44 operations, 1,540 requests in 78 s at load 9 on two
#: cores, against a budget of 176 s; the fixed 115 s ran out at load 20).
SECONDS_PER_OPERATION = 4.0
ODD_IDS = ["A/7", "B 8", "客户/中文 9"]


def _describe(exc: BaseException) -> str:
    parts = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
    return "; ".join(
        f"{type(part).__name__}: {getattr(part, 'title', '')} {str(getattr(part, 'message', part))[:300]}"
        for part in parts
    )


@dataclass
class Run:
    """The requests of one run: what was sent, what came back, what failed."""

    headers: dict[str, str]
    known: list[str]
    started: float
    budget: float
    calls: int = 0
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    rejected: collections.Counter[str] = field(default_factory=collections.Counter)
    failures: list[str] = field(default_factory=list)

    def explore(self, operation: Any, mode: schemathesis.GenerationMode) -> None:
        """Up to ``EXAMPLES[mode]`` requests to ``operation``, generated in ``mode``."""

        @settings(
            max_examples=EXAMPLES[str(mode)],
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(
            case=operation.as_strategy(generation_mode=mode),
            real=st.sampled_from([None, *self.known]),
        )
        def one(case: Any, real: str | None) -> None:
            if time.monotonic() - self.started > self.budget:
                return
            # erasure is exercised with generated ids only: erasing the known customers would
            # leave every later operation nothing but 404s (tests/web/privacy covers it)
            erase = operation.path.endswith("/erase")
            if (
                "customer_id" in operation.path
                and real is not None
                and mode.is_positive
                and not erase
            ):
                case.path_parameters = {**(case.path_parameters or {}), "customer_id": real}
            self.check(operation, mode, case)

        one()

    def check(self, operation: Any, mode: schemathesis.GenerationMode, case: Any) -> None:
        self.calls += 1
        response = case.call(headers=self.headers)
        self.statuses[response.status_code] += 1
        where = f"{operation.method.upper()} {operation.path} [{mode}] {response.status_code}"
        if mode.is_positive and response.status_code == 422:
            self.rejected[operation.path] += 1
            if not response.json()["error"]["field"]:
                self.failures.append(
                    f"{where}: a 422 that names no field: {response.text} "
                    f"(sent {str(case.body)[:300]!r}, query {case.query!r})"
                )
        try:
            case.validate_response(
                response, headers=self.headers, excluded_checks=[positive_data_acceptance]
            )
        except (Exception, BaseExceptionGroup) as exc:  # a failure group: record it, go on
            body = response.content[:200].decode("utf-8", "replace")  # the export is a zip
            self.failures.append(f"{where} {body!r}: {_describe(exc)}")


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


def test_the_api_answers_as_its_schema_says(
    imported: Path,
    people: Any,
    wsgi_app: Any,
    capsys: pytest.CaptureFixture[str],
    settings: Any,
) -> None:
    # the rate limit has its own tests (test_security_ops); here it would answer 429 to the
    # run's burst of requests, which is not what the schema of each operation is about
    settings.API_RATE_PER_MINUTE = 0
    top = list(Customer.objects.order_by("-state__core_score", "pk")[:3])
    odd = [
        Customer.objects.create(external_id=cid, pseudonym=pseudonym(cid), name="名字")
        for cid in ODD_IDS
    ]
    for customer in [*top, *odd]:
        AccountMember.objects.create(customer=customer, user=people.am1, role="owner")
    known = [c.external_id for c in [*top, *odd]]
    _, raw = ApiToken.issue(people.admin, scope="write")
    headers = {"Authorization": f"Bearer {raw}"}

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 11

    budget = SECONDS_PER_OPERATION * len(operations)
    run = Run(headers=headers, known=known, started=time.monotonic(), budget=budget)
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            run.explore(operation, mode)
    statuses, failures, rejected, calls = run.statuses, run.failures, run.rejected, run.calls

    elapsed = time.monotonic() - run.started
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    with capsys.disabled():
        print(
            f"\nschemathesis: {len(operations)} operations, {calls} requests in {elapsed:.1f} s; "
            f"statuses {dict(sorted(statuses.items()))}; {server_errors} 5xx; "
            f"{len(failures)} failed checks; schema-valid but refused (422, field named): "
            f"{dict(rejected)}"
        )
    assert calls >= len(operations) * sum(EXAMPLES.values()), "the time budget cut it short"
    assert statuses[200] > 0 and statuses[404] > 0 and statuses[422] > 0
    assert server_errors == 0
    assert failures == [], "\n\n".join(dict.fromkeys(failures))
