"""``POST /api/v1/runs``: run a registered source's analysis now (a background job).

The answer is the job (``202`` when queued, ``200`` when a run of that source was already
queued or running -- two requests make one run -- or when the ``Idempotency-Key`` was
used before); follow it with ``GET /api/v1/jobs/{id}`` or ``GET /api/v1/runs/{id}``
(which also answers another user's run of a source you may see, with its quarantine and
warnings counts). Administrators and managers only, with a write-scoped token or a session.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Header, Router, Schema
from ninja.responses import Status

from corecustomers.web.api.errors import ERRORS, ApiError, ErrorBody
from corecustomers.web.api.jobs import JobOut, job_out
from corecustomers.web.api.sources import writer
from corecustomers.web.sources.models import Source, SourceRun
from corecustomers.web.sources.registry import SourceFormError
from corecustomers.web.sources.runs import request_run, run_summary

router = Router()

__all__ = ["RunIn", "RunOut", "router"]


class RunIn(Schema):
    source: str


class RunOut(Schema):
    job: JobOut
    source: str
    trigger: str
    run_id: str
    as_of: str | None = None
    rows_read: int | None = None
    rows_quarantined: int | None = None
    quarantine_reasons: dict[str, int]
    warnings: list[dict[str, Any]]


@router.post(
    "", response={200: JobOut, 202: JobOut, 400: ErrorBody, **ERRORS}, summary="Run a source now"
)
def create_run(
    request: HttpRequest,
    body: RunIn,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Status[JobOut]:
    user = writer(request, "run sources")
    source = Source.objects.restrict(user, "change").filter(name=body.source).first()
    if source is None:
        raise ApiError(404, "not_found", f"no source named {body.source}", "source")
    try:
        run, created = request_run(
            source, user=user, channel="api", idempotency_key=idempotency_key
        )
    except SourceFormError as exc:
        raise ApiError(422, "invalid", str(exc), exc.field) from exc
    return Status(202 if created else 200, job_out(run.job))


@router.get("/{job_id}", response={200: RunOut, **ERRORS}, summary="A run with its outcome")
def get_run(request: HttpRequest, job_id: uuid.UUID) -> RunOut:
    user = request.auth_user  # type: ignore[attr-defined]
    run = SourceRun.objects.restrict(user, "view").select_related("job").filter(job_id=job_id)
    found = run.first()
    if found is None:
        raise ApiError(404, "not_found", f"no run {job_id} that you can see")
    view = run_summary(found)
    return RunOut(
        job=job_out(found.job),
        source=found.source_name,
        trigger=found.trigger,
        run_id=found.run_id,
        as_of=found.as_of.isoformat() if found.as_of else None,
        rows_read=view.get("rows_read"),
        rows_quarantined=view.get("rows_quarantined"),
        quarantine_reasons=dict(view.get("reasons") or []),
        warnings=list(view.get("warnings") or []),
    )
