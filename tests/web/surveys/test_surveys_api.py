"""The surveys' API: answers recorded in scope (out of scope: 404, read-only role: 403),
bad input named by field in the one error body, NPS over the caller's scope, and the
endpoints' declared responses in the OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest
from tests.web.surveys.surveys_helpers import customer_with_state, survey

from corecustomers.web.jobs.models import Job
from corecustomers.web.surveys.models import SurveyResponse

pytestmark = pytest.mark.django_db


def _post(client: Any, code: str, body: dict[str, Any]) -> Any:
    return client.post(f"/api/v1/surveys/{code}/responses", body, content_type="application/json")


def test_answers_by_api_in_scope_with_errors_named(
    people: Any, client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    survey("nps")
    survey("satisfaction")
    mine = customer_with_state("strategic", core=True, owner=people.am1)
    other = customer_with_state("strategic", core=True, owner=people.am2, region="west")
    client.force_login(people.am1)
    listed = client.get("/api/v1/surveys").json()["items"]
    assert {(s["code"], s["low"], s["high"]) for s in listed} == {
        ("nps", 0, 10),
        ("satisfaction", 1, 5),
    }
    with django_capture_on_commit_callbacks(execute=True):
        made = _post(client, "nps", {"customer_id": mine.external_id, "score": 4})
    assert made.status_code == 201, made.content
    assert made.json()["score"] == 4 and made.json()["channel"] == "call"
    assert Job.objects.filter(kind="survey_checks").count() == 1  # the alert check queued

    out_of_scope = _post(client, "nps", {"customer_id": other.external_id, "score": 4})
    assert out_of_scope.status_code == 404
    assert set(out_of_scope.json()) == {"error"}
    bad = _post(client, "satisfaction", {"customer_id": mine.external_id, "score": 7})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "score" and "1 to 5" in bad.json()["error"]["message"]
    assert _post(client, "nope", {"customer_id": mine.external_id, "score": 1}).status_code == 404
    assert SurveyResponse.objects.count() == 1

    history = client.get(f"/api/v1/customers/{mine.external_id}/survey-responses").json()
    assert [r["score"] for r in history["items"]] == [4] and history["count"] == 1
    assert client.get(f"/api/v1/customers/{other.external_id}/survey-responses").status_code == 404
    nps = client.get("/api/v1/surveys/nps?by=tier").json()
    assert nps["items"] == [
        {"group": "strategic", "answers": 1, "promoters": 0, "passives": 0, "detractors": 1,
         "nps": -100.0}
    ]  # fmt: skip

    client.force_login(people.analyst)  # sees every customer (pseudonymised), changes none
    denied = _post(client, "nps", {"customer_id": mine.pseudonym, "score": 9})
    assert denied.status_code == 403
    client.force_login(people.am2)
    assert client.get("/api/v1/surveys/nps").json()["items"] == []


def test_the_survey_endpoints_declare_their_responses(client: Any, people: Any) -> None:
    client.force_login(people.admin)
    spec = client.get("/api/v1/openapi.json").json()
    post = spec["paths"]["/api/v1/surveys/{survey}/responses"]["post"]
    assert {"201", "401", "403", "404", "409", "422"} <= set(post["responses"])
    assert "/api/v1/surveys/nps" in spec["paths"]


def test_a_time_without_its_zone_is_refused_naming_the_field(people: Any, client: Any) -> None:
    survey("nps")
    mine = customer_with_state("key", core=True, owner=people.am1)
    client.force_login(people.am1)
    naive = _post(
        client, "nps", {"customer_id": mine.external_id, "score": 8, "at": "2026-12-01T10:00:00"}
    )
    assert naive.status_code == 422 and naive.json()["error"]["field"] == "at"
