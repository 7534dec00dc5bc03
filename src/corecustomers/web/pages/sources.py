"""The "Data sources" pages: the sources with their last run, registering one, running it,
and a run's page (progress, warnings, quarantined rows, the report).

Administrators and managers register and run sources; analysts see the list without URLs,
tables or queries; account managers get 403. A run's ``report.html`` is served through
:func:`run_report`, which checks access -- never as a static file.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from corecustomers.web.security.csp import stored_document
from corecustomers.web.sources.models import RUN_ROLES, VIEW_ROLES, Schedule, Source, SourceRun
from corecustomers.web.sources.registry import (
    SUFFIXES,
    SourceFormError,
    SourceSpec,
    redacted_url,
    register_source,
    store_source_upload,
)
from corecustomers.web.sources.runs import request_run, run_summary

#: Seconds between the run page's refreshes while the run is going on.
REFRESH_SECONDS = 2

COLUMN_LABELS = {
    "customer_id": _("Customer id column"),
    "timestamp": _("Date column"),
    "amount": _("Amount column"),
    "order_id": _("Order id column"),
    "product": _("Product column"),
    "category": _("Category column"),
    "channel": _("Channel column"),
}


class NoEchoInput(forms.TextInput):
    """A text input that never writes the submitted value back into the page."""

    def format_value(self, value: Any) -> str | None:
        return None


class SourceForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    file = forms.FileField(label=_("File (CSV or Excel)"), required=False)
    url = forms.CharField(
        label=_("Database URL (env:NAME, file:/path, or a URL without a password)"),
        required=False,
        max_length=1000,
        widget=NoEchoInput(attrs={"autocomplete": "off"}),
    )
    table = forms.CharField(label=_("Table"), required=False, max_length=300)
    query = forms.CharField(
        label=_("Query"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    customer_id = forms.CharField(label=COLUMN_LABELS["customer_id"], required=False)
    timestamp = forms.CharField(label=COLUMN_LABELS["timestamp"], required=False)
    amount = forms.CharField(label=COLUMN_LABELS["amount"], required=False)
    order_id = forms.CharField(label=COLUMN_LABELS["order_id"], required=False)
    product = forms.CharField(label=COLUMN_LABELS["product"], required=False)
    category = forms.CharField(label=COLUMN_LABELS["category"], required=False)
    channel = forms.CharField(label=COLUMN_LABELS["channel"], required=False)
    header = forms.ChoiceField(
        label=_("First row"),
        choices=[("auto", _("Detect")), ("yes", _("Headers")), ("no", _("Data, no headers"))],
        initial="auto",
    )
    time_unit = forms.ChoiceField(
        label=_("Time unit"),
        choices=[("day", _("Day")), ("week", _("Week")), ("month", _("Month"))],
        initial="week",
    )
    currency = forms.CharField(label=_("Currency"), required=False, max_length=3)
    lang = forms.ChoiceField(
        label=_("Report language"), choices=[("en", "English"), ("zh", "简体中文")], initial="en"
    )
    schedule = forms.ChoiceField(label=_("Schedule"), choices=Schedule.choices, initial="none")
    schedule_time = forms.TimeField(
        label=_("At (time of day)"),
        initial=dt.time(2, 0),
        widget=forms.TimeInput(attrs={"type": "time"}),
    )
    schedule_day = forms.IntegerField(
        label=_("Day (weekly: 1 = Monday … 7; monthly: 1 … 28)"),
        initial=1,
        min_value=1,
        max_value=28,
    )
    replace = forms.BooleanField(label=_("Replace the source of this name"), required=False)

    def spec(self, path: Path | None, file_name: str) -> SourceSpec:
        data = self.cleaned_data
        header = {"auto": None, "yes": True, "no": False}[data["header"]]
        return SourceSpec(
            name=data["name"],
            file=path,
            file_name=file_name,
            url=data["url"],
            table=data["table"],
            query=data["query"],
            columns={name: data[name] for name in COLUMN_LABELS},
            header=header,
            time_unit=data["time_unit"],
            currency=data["currency"],
            lang=data["lang"],
            schedule=data["schedule"],
            schedule_time=data["schedule_time"],
            schedule_day=data["schedule_day"],
        )


def _viewer(request: HttpRequest) -> Any:
    user = request.user
    if not (user.is_superuser or getattr(user, "role", None) in VIEW_ROLES):
        raise PermissionDenied
    return user


def _runner(request: HttpRequest) -> Any:
    user = request.user
    if not (user.is_superuser or getattr(user, "role", None) in RUN_ROLES):
        raise PermissionDenied
    return user


def _run_view(run: SourceRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    job = run.job
    return {
        "id": job.pk,
        "status": job.status,
        "status_label": job.get_status_display(),
        "percent": round(job.progress * 100),
        "message": job.message,
        "error": job.error.splitlines()[0] if job.error else "",
        "created": run.created,
        "finished": job.finished,
        "done": job.done,
        "as_of": run.as_of,
        "trigger": run.get_trigger_display(),
        "source": run.source_name,
        "result": job.result if isinstance(job.result, dict) else {},
    }


@login_required
def source_list(request: HttpRequest) -> HttpResponse:
    """The sources with their last run (GET), and registering one (POST)."""
    user = _viewer(request)
    full = user.is_superuser or getattr(user, "role", None) in RUN_ROLES
    status = 200
    form = SourceForm() if full else None
    if request.method == "POST":
        _runner(request)
        form = SourceForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data.get("file")
            path = None
            try:
                if upload is not None:
                    path = store_source_upload(upload.chunks(), upload.name or "", size=upload.size)
                register_source(
                    form.spec(path, upload.name if upload is not None else ""),
                    user=user,
                    replace_existing=form.cleaned_data["replace"],
                )
            except SourceFormError as exc:
                if path is not None:
                    path.unlink(missing_ok=True)
                target = exc.field if exc.field in form.fields else None
                if exc.field == "columns":
                    target = "customer_id"
                form.add_error(target, str(exc))
            else:
                return redirect("pages:sources")
        status = 422
    sources = list(Source.objects.restrict(user, "view").order_by("name"))
    latest: dict[str, SourceRun] = {}
    for run in (
        SourceRun.objects.select_related("job")
        .filter(source_name__in=[s.name for s in sources])
        .order_by("source_name", "-created")
    ):
        latest.setdefault(run.source_name, run)
    rows = [
        {
            "name": s.name,
            "kind": s.get_kind_display(),
            "where": (s.file_name or redacted_url(s.url)) if full else s.file_name,
            "what": (s.table or (_("query") if s.query else "")) if full else "",
            "schedule": s.get_schedule_display(),
            "schedule_time": s.schedule_time if s.schedule != Schedule.NONE else None,
            "last": _run_view(latest.get(s.name)),
        }
        for s in sources
    ]
    return render(
        request,
        "pages/sources.html",
        {
            "sources": rows,
            "form": form,
            "can_run": full,
            "accept": ",".join(SUFFIXES),
            "column_fields": list(COLUMN_LABELS),
        },
        status=status,
    )


@login_required
@require_POST
def source_run(request: HttpRequest, name: str) -> HttpResponse:
    """ "Run now": the source's run that is going on, or a new one; then its page."""
    user = _runner(request)
    source = Source.objects.restrict(user, "change").filter(name=name).first()
    if source is None:
        raise Http404
    run, _created = request_run(source, user=user, channel="web")
    return redirect("pages:source-run-page", job_id=run.job.pk)


def _visible_run(request: HttpRequest, job_id: uuid.UUID) -> SourceRun:
    run = (
        SourceRun.objects.restrict(request.user, "view")
        .select_related("job")
        .filter(job_id=job_id)
        .first()
    )
    if run is None:
        raise Http404
    return run


@login_required
def run_page(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """A run's progress, then its counts, warnings, quarantined rows and report."""
    _viewer(request)
    run = _visible_run(request, job_id)
    view = _run_view(run)
    if view is None:  # _visible_run has answered 404 for a run that is not there
        raise Http404
    response = render(
        request,
        "pages/sources_run.html",
        {"run": view, "output": run_summary(run) if run.job.done else None},
    )
    if not run.job.done:
        response["Refresh"] = str(REFRESH_SECONDS)  # follows the run without a script
    return response


@login_required
def run_report(request: HttpRequest, job_id: uuid.UUID) -> FileResponse:
    """The run's ``report.html``, to those who may see the run.

    With a policy of its own that allows the report's stylesheet and nothing else
    (:func:`~corecustomers.web.security.csp.stored_document`).
    """
    _viewer(request)
    run = _visible_run(request, job_id)
    path = Path(run.folder) / "report.html"
    if not path.is_file():
        raise Http404
    return stored_document(path)
