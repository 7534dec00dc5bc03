"""``GET /api/v1/jobs/{id}``: every background job (imports, analysis runs, …)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from corecustomers.web.api.errors import ERRORS, ApiError
from corecustomers.web.jobs.models import Job

router = Router()


class JobOut(Schema):
    id: uuid.UUID
    kind: str
    status: str
    progress: float
    message: str
    result: Any = None
    error: str
    created: dt.datetime
    started: dt.datetime | None = None
    finished: dt.datetime | None = None


def job_out(job: Job) -> JobOut:
    return JobOut(
        id=job.pk,
        kind=job.kind,
        status=job.status,
        progress=job.progress,
        message=job.message,
        result=job.result,
        error=job.error.splitlines()[0] if job.error else "",
        created=job.created,
        started=job.started,
        finished=job.finished,
    )


@router.get("/{job_id}", response={200: JobOut, **ERRORS}, summary="A background job")
def get_job(request: HttpRequest, job_id: uuid.UUID) -> JobOut:
    job = Job.objects.restrict(request.auth_user, "view").filter(pk=job_id).first()  # type: ignore[attr-defined]
    if job is None:
        raise ApiError(404, "not_found", f"no job {job_id} that you can see")
    return job_out(job)
