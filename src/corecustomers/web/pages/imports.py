"""The "Import customers" pages: upload a master-data file, follow its job, apply a dry run.

Administrators and managers only. The job page refreshes itself while the job runs (no
script needed) and then lists every bad row with its row number, column and reason.
"""

from __future__ import annotations

import csv
import uuid
from pathlib import Path
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from corecustomers.web.customers.master_file import FIELDS
from corecustomers.web.customers.masterdata import IMPORT_ROLES
from corecustomers.web.customers.masterdata_jobs import (
    KIND,
    SUFFIXES,
    UploadError,
    store_upload,
    submit_import,
    upload_limit,
)
from corecustomers.web.jobs.models import Job

#: How many bad rows the job page lists (the count and the API have all of them).
SHOWN_BAD_ROWS = 500
#: Seconds between the job page's refreshes while the job runs.
REFRESH_SECONDS = 2

#: What each kind of bad row is called on the page (the detail stays as the job wrote it).
PROBLEMS = {
    "missing_id": _("The customer id is empty"),
    "placeholder_id": _("A placeholder, not a customer id"),
    "duplicate_id": _("The id is in an earlier row too"),
    "bad_email": _("Not an e-mail address"),
    "bad_phone": _("Not a phone number"),
    "bad_birthday": _("Not a possible birthday"),
    "bad_relationship": _("Unknown relationship level"),
    "too_long": _("Too long"),
    "unknown_owner": _("No such user"),
    "unknown_team": _("No such team"),
    "not_allowed": _("Not a customer you may change"),
}


class ImportForm(forms.Form):
    file = forms.FileField(label=_("File (CSV or Excel)"))
    dry_run = forms.BooleanField(
        required=False, initial=True, label=_("Dry run: check the file, write nothing")
    )


def _allowed(request: HttpRequest) -> Any:
    user = request.user
    if not (user.is_superuser or getattr(user, "role", None) in IMPORT_ROLES):
        raise PermissionDenied
    return user


@login_required
def import_form(request: HttpRequest) -> HttpResponse:
    """The upload form (GET) and the upload (POST: store, queue the job, go to its page)."""
    user = _allowed(request)
    status = 200
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                path = store_upload(upload.chunks(), upload.name or "", size=upload.size)
            except UploadError as exc:
                form.add_error("file", str(exc))
            else:
                job, _created = submit_import(
                    path,
                    name=upload.name or path.name,
                    dry_run=form.cleaned_data["dry_run"],
                    user=user,
                    channel="web",
                )
                return redirect("pages:import-job", job_id=job.pk)
        status = 422
    else:
        form = ImportForm()
    recent = Job.objects.restrict(user, "view").filter(kind=KIND).order_by("-created")[:10]
    return render(
        request,
        "pages/imports.html",
        {
            "form": form,
            "recent": [_job_view(job) for job in recent],
            "accept": ",".join(SUFFIXES),
            "limit_mb": round(upload_limit() / 1_048_576),
            "fields": FIELDS,
        },
        status=status,
    )


def _own_job(request: HttpRequest, job_id: uuid.UUID) -> Job:
    job = Job.objects.restrict(request.user, "view").filter(pk=job_id, kind=KIND).first()
    if job is None:
        raise Http404
    return job


def _job_view(job: Job) -> dict[str, Any]:
    result = job.result if isinstance(job.result, dict) else {}
    return {
        "id": job.pk,
        "name": job.params.get("name", ""),
        "dry_run": bool(job.params.get("dry_run")),
        "status": job.status,
        "status_label": job.get_status_display(),
        "percent": round(job.progress * 100),
        "message": job.message,
        "error": job.error.splitlines()[0] if job.error else "",
        "created": job.created,
        "finished": job.finished,
        "done": job.done,
        "result": result,
    }


@login_required
def import_job(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """A job's progress, then its bad rows and result."""
    _allowed(request)
    job = _own_job(request, job_id)
    view = _job_view(job)
    result = view["result"]
    bad = result.get("bad_rows") or []
    columns = result.get("columns") or {}
    can_apply = (
        job.status == "succeeded"
        and view["dry_run"]
        and Path(str(job.params.get("path", ""))).is_file()
    )
    shown = [
        {**row, "label": PROBLEMS.get(str(row.get("code")), row.get("code"))}
        for row in bad[:SHOWN_BAD_ROWS]
    ]
    response = render(
        request,
        "pages/imports_job.html",
        {
            "job": view,
            "bad_rows": shown,
            "more_bad_rows": max(len(bad) - SHOWN_BAD_ROWS, 0),
            "columns": [(name, columns[name]) for name in FIELDS if name in columns],
            "can_apply": can_apply,
        },
    )
    if not job.done:
        response["Refresh"] = str(REFRESH_SECONDS)  # follows the job without a script
    return response


@login_required
def import_bad_rows(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """Every bad row of a finished job as CSV (UTF-8 with BOM, so that Excel reads it)."""
    _allowed(request)
    job = _own_job(request, job_id)
    result = job.result if isinstance(job.result, dict) else {}
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stem = Path(str(job.params.get("name") or "import")).stem or "import"
    response["Content-Disposition"] = f'attachment; filename="{_ascii(stem)}-bad-rows.csv"'
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow(["row", "column", "code", "reason", "value"])
    for bad in result.get("bad_rows") or []:
        writer.writerow(
            [bad.get("row"), *(_cell(bad.get(k)) for k in ("column", "code", "reason", "value"))]
        )
    return response


def _ascii(text: str) -> str:
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in text)


def _cell(value: Any) -> str:
    """A cell as text; one that a spreadsheet would run as a formula is quoted."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


@login_required
@require_POST
def import_apply(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """Apply the file a dry run checked (no second upload)."""
    user = _allowed(request)
    job = _own_job(request, job_id)
    path = Path(str(job.params.get("path", "")))
    if job.status != "succeeded" or not job.params.get("dry_run") or not path.is_file():
        raise Http404
    applied, _created = submit_import(
        path,
        name=str(job.params.get("name") or path.name),
        dry_run=False,
        user=user,
        channel="web",
        idempotency_key=f"apply-{job.pk}",
    )
    return redirect("pages:import-job", job_id=applied.pk)
