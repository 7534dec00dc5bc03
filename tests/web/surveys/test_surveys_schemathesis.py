"""schemathesis over the surveys' and experiments' operations only (the shared run in
``tests/web/test_schemathesis.py`` covers every operation within a time budget that a loaded
machine spends before it reaches these): valid and invalid requests with a write token, the
default checks (no 5xx, declared statuses and bodies), a schema-valid 422 names its field."""

from __future__ import annotations

import time
from typing import Any

import pytest
import schemathesis
from tests.web.surveys.surveys_helpers import customer_with_state, survey
from tests.web.test_schemathesis import Run, wsgi_app  # noqa: F401 -- the fixture

from corecustomers.web.accounts.models import ApiToken

pytestmark = pytest.mark.django_db

MINE = ("/api/v1/surveys", "/api/v1/uplift", "/api/v1/experiments", "survey-responses")


def test_the_surveys_and_uplift_operations_answer_as_their_schema_says(
    people: Any,
    wsgi_app: Any,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    survey("nps")
    survey("satisfaction")
    known = [customer_with_state("key", core=True, owner=people.am1).external_id for _ in range(3)]
    _, raw = ApiToken.issue(people.admin, scope="write")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi_app)
    operations = [
        op
        for op in (result.ok() for result in schema.get_all_operations())
        if any(part in op.path for part in MINE)
    ]
    assert len(operations) == 7
    run = Run(headers={"Authorization": f"Bearer {raw}"}, known=known, started=time.monotonic())
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            run.explore(operation, mode)
    with capsys.disabled():
        print(f"\nschemathesis (surveys, uplift): {run.calls} requests; {dict(run.statuses)}")
    assert run.calls >= len(operations) * 35, "the time budget cut it short"
    assert not any(status >= 500 for status in run.statuses)
    assert run.failures == [], "\n\n".join(dict.fromkeys(run.failures))
