"""``GET``/``POST /api/v1/sources``: the registered data sources.

Administrators and managers register sources (a write-scoped token or a session);
administrators, managers and analysts list them -- analysts without the URL, table or
query. A database source's URL is shown redacted (``env:NAME``, ``file:…/name``, or the URL
without its user and password); the service never stores a password. A file is uploaded as
``multipart/form-data``; a file on the server's disk is registered with the command line
(``corecustomers source add NAME FILE``) only.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import File, Form, Query, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status

from corecustomers.web.api.auth import can_write
from corecustomers.web.api.errors import ERRORS, ApiError
from corecustomers.web.api.paging import PageQuery, rows_of
from corecustomers.web.sources.models import RUN_ROLES, Source, SourceRun
from corecustomers.web.sources.registry import (
    SourceFormError,
    SourceSpec,
    redacted_url,
    register_source,
    store_source_upload,
)

router = Router()

__all__ = ["LastRun", "SourceOut", "last_runs", "router", "source_out", "writer"]


class LastRun(Schema):
    job_id: uuid.UUID
    status: str
    trigger: str
    created: dt.datetime
    finished: dt.datetime | None = None
    as_of: dt.date | None = None
    run_id: str = ""


class SourceOut(Schema):
    name: str
    kind: str
    file_name: str
    url: str | None = None
    table: str | None = None
    query: str | None = None
    columns: dict[str, str]
    header: bool | None = None
    time_unit: str
    currency: str
    lang: str
    schedule: str
    schedule_time: dt.time
    schedule_day: int
    created: dt.datetime
    last_run: LastRun | None = None


class SourceListOut(Schema):
    items: list[SourceOut]
    count: int
    limit: int
    offset: int


def last_runs(names: list[str]) -> dict[str, SourceRun]:
    """The latest run of each named source."""
    latest: dict[str, SourceRun] = {}
    rows = SourceRun.objects.select_related("job").filter(source_name__in=names)
    for run in rows.order_by("source_name", "-created"):
        latest.setdefault(run.source_name, run)
    return latest


def _last(run: SourceRun | None) -> LastRun | None:
    if run is None:
        return None
    return LastRun(
        job_id=run.job.pk,
        status=run.job.status,
        trigger=run.trigger,
        created=run.created,
        finished=run.job.finished,
        as_of=run.as_of,
        run_id=run.run_id,
    )


def source_out(source: Source, user: Any, run: SourceRun | None = None) -> SourceOut:
    """A source as the API shows it to ``user`` (no URL, table or query for analysts)."""
    full = user.is_superuser or getattr(user, "role", None) in RUN_ROLES
    return SourceOut(
        name=source.name,
        kind=source.kind,
        file_name=source.file_name,
        url=redacted_url(source.url) if full and source.url else None,
        table=source.table if full else None,
        query=source.query if full else None,
        columns=dict(source.columns),
        header=source.header,
        time_unit=source.time_unit,
        currency=source.currency,
        lang=source.lang,
        schedule=source.schedule,
        schedule_time=source.schedule_time,
        schedule_day=source.schedule_day,
        created=source.created,
        last_run=_last(run),
    )


def writer(request: HttpRequest, what: str) -> Any:
    """The caller, when they may register or run sources (else the 403 error body)."""
    user = request.auth_user  # type: ignore[attr-defined]
    if not can_write(request):
        raise ApiError(
            403, "forbidden", "this token is read-only: create one with --scope write", "token"
        )
    if not (user.is_superuser or getattr(user, "role", None) in RUN_ROLES):
        raise ApiError(403, "forbidden", f"only administrators and managers may {what}")
    return user


@router.get("", response={200: SourceListOut, **ERRORS}, summary="The registered sources")
def list_sources(request: HttpRequest, page: Query[PageQuery]) -> SourceListOut:
    user = request.auth_user  # type: ignore[attr-defined]
    sources = Source.objects.restrict(user, "view").order_by("name")
    shown, count = rows_of(sources, page)
    runs = last_runs([s.name for s in shown])
    return SourceListOut(
        items=[source_out(s, user, runs.get(s.name)) for s in shown],
        count=count,
        limit=page.limit,
        offset=page.offset,
    )


@router.post(
    "",
    response={200: SourceOut, 201: SourceOut, **ERRORS},
    summary="Register a source: an uploaded file, or a database URL with a table or query",
)
def create_source(
    request: HttpRequest,
    name: Form[str],
    file: File[UploadedFile | None] = None,
    url: Form[str] = "",
    table: Form[str] = "",
    query: Form[str] = "",
    customer_col: Form[str] = "",
    date_col: Form[str] = "",
    amount_col: Form[str] = "",
    order_col: Form[str] = "",
    product_col: Form[str] = "",
    category_col: Form[str] = "",
    channel_col: Form[str] = "",
    header: Form[bool | None] = None,
    time_unit: Form[str] = "week",
    currency: Form[str] = "",
    lang: Form[str] = "en",
    schedule: Form[str] = "none",
    schedule_time: Form[dt.time] = dt.time(2, 0),
    schedule_day: Form[int] = 1,
    replace: Form[bool] = False,
) -> Status[SourceOut]:
    """Answers 201 with the new source, 200 when ``replace`` changed an existing one.

    Registering is idempotent by name: the same request again answers 422 on ``name``
    unless ``replace`` is set.
    """
    user = writer(request, "register sources")
    path = None
    try:
        if file is not None:
            path = store_source_upload(file.chunks(), file.name or "", size=file.size)
        spec = SourceSpec(
            name=name,
            file=path,
            file_name=(file.name or "") if file is not None else "",
            url=url,
            table=table,
            query=query,
            columns={
                "customer_id": customer_col,
                "timestamp": date_col,
                "amount": amount_col,
                "order_id": order_col,
                "product": product_col,
                "category": category_col,
                "channel": channel_col,
            },
            header=header,
            time_unit=time_unit,
            currency=currency,
            lang=lang,
            schedule=schedule,
            schedule_time=schedule_time,
            schedule_day=schedule_day,
        )
        source, created = register_source(spec, user=user, replace_existing=replace)
    except SourceFormError as exc:
        if path is not None:
            path.unlink(missing_ok=True)
        raise ApiError(422, "invalid", str(exc), exc.field) from exc
    return Status(201 if created else 200, source_out(source, user, None))
