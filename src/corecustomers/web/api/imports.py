"""``POST /api/v1/imports``: upload customer master data and import it in the background.

The answer is the job (``202``; follow it with ``GET /api/v1/jobs/{id}``); its result lists
every bad row with its row number, column and reason. ``dry_run=true`` checks and reports
without writing. An ``Idempotency-Key`` header makes a retried upload answer the first job
(``200``) instead of importing twice. Administrators and managers only, with a write-scoped
token or a session.
"""

from __future__ import annotations

from typing import Annotated

from django.http import HttpRequest
from ninja import File, Form, Header, Router
from ninja.files import UploadedFile
from ninja.responses import Status

from corecustomers.web.api.auth import can_write
from corecustomers.web.api.errors import ERRORS, ApiError
from corecustomers.web.api.jobs import JobOut, job_out
from corecustomers.web.customers.masterdata import IMPORT_ROLES
from corecustomers.web.customers.masterdata_jobs import UploadError, store_upload, submit_import
from corecustomers.web.jobs.models import Job

router = Router()


@router.post(
    "",
    response={200: JobOut, 202: JobOut, **ERRORS},
    summary="Import customer master data (CSV or Excel)",
)
def create_import(
    request: HttpRequest,
    file: File[UploadedFile],
    dry_run: Form[bool] = False,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Status[JobOut]:
    user = request.auth_user  # type: ignore[attr-defined]
    if not can_write(request):
        raise ApiError(
            403, "forbidden", "this token is read-only: create one with --scope write", "token"
        )
    if not (user.is_superuser or user.role in IMPORT_ROLES):
        raise ApiError(403, "forbidden", "only administrators and managers may import customers")
    key = (idempotency_key or "").strip()[:200] or None
    if key is not None:
        earlier = Job.objects.filter(created_by=user, idempotency_key=key).first()
        if earlier is not None:
            return Status(200, job_out(earlier))
    try:
        path = store_upload(file.chunks(), file.name or "", size=file.size)
    except UploadError as exc:
        raise ApiError(422, "bad_file", str(exc), "file") from exc
    job, created = submit_import(
        path,
        name=file.name or path.name,
        dry_run=dry_run,
        user=user,
        channel="api",
        idempotency_key=key,
    )
    if not created:
        path.unlink(missing_ok=True)
    return Status(202 if created else 200, job_out(job))
