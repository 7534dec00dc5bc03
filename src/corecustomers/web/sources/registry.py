"""Register, change and remove sources; their files, credentials and engine settings.

One function per use case, shared by the pages, the API and the command line:
:func:`register_source` (checks everything before anything is written),
:func:`remove_source`, :func:`store_source_upload` (an uploaded file under
``settings.UPLOAD_FOLDER/sources``, size-limited, checked by reading it as the engine
will) and, for a run, :func:`engine_settings` and :func:`engine_source`.

Credentials never enter the service database. A database source's ``url`` is one of

* ``env:NAME`` -- the URL is in the environment variable ``NAME`` of the worker;
* ``file:/absolute/path`` -- the URL is the first line of that (secrets) file;
* a URL without a password (``postgresql://reader@db.local/shop`` with peer or trust
  authentication, ``duckdb:///data/shop.duckdb``).

A URL that holds a password is refused with a message saying how to register it instead.
Pages and the API show :func:`redacted_url` only, and analysts not even that.

Examples
--------
>>> redacted_url("env:SHOP_DB")
'env:SHOP_DB'
>>> redacted_url("postgresql://reader@db.local:5432/shop")
'postgresql://***@db.local:5432/shop'
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from corecustomers.config import CONFIG_FILE, Settings, load_settings
from corecustomers.errors import CoreCustomersError, InputError
from corecustomers.web.audit.log import record
from corecustomers.web.security.uploads import content_problem
from corecustomers.web.sources.models import Schedule, Source, SourceKind

__all__ = [
    "COLUMN_FIELDS",
    "SUFFIXES",
    "SourceFormError",
    "SourceSpec",
    "check_file",
    "engine_settings",
    "engine_source",
    "redacted_url",
    "register_source",
    "remove_source",
    "resolve_url",
    "store_source_upload",
]

#: The engine's fields a source maps, in the order the forms show them.
COLUMN_FIELDS = ("customer_id", "timestamp", "amount", "order_id", "product", "category", "channel")
SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls", ".parquet")
TIME_UNITS = ("day", "week", "month")
LANGS = ("en", "zh")
_NAME = re.compile(r"^\w[\w.\-]{0,99}$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SQL = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)


class SourceFormError(InputError):
    """A source cannot be registered as given; ``field`` names the input to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.text = message

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class SourceSpec:
    """What registering a source needs; every form and command fills one."""

    name: str
    file: Path | None = None
    file_name: str = ""
    url: str = ""
    table: str = ""
    query: str = ""
    columns: Mapping[str, str] = field(default_factory=dict)
    header: bool | None = None
    time_unit: str = "week"
    currency: str = ""
    lang: str = "en"
    schedule: str = "none"
    schedule_time: dt.time = dt.time(2, 0)
    schedule_day: int = 1


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not _NAME.match(name):
        raise SourceFormError(
            "name",
            "a source name is 1 to 100 letters, digits, '_', '-' or '.', starting with a "
            "letter or digit (for example sales or 门店销售)",
        )
    return name


def _check(spec: SourceSpec) -> dict[str, Any]:
    """The model fields of ``spec``, or the first problem with it."""
    name = check_name(spec.name)
    columns = {k: str(v).strip() for k, v in spec.columns.items() if str(v or "").strip()}
    unknown = sorted(set(columns) - set(COLUMN_FIELDS))
    if unknown:
        raise SourceFormError("columns", f"unknown column field(s) {', '.join(unknown)}")
    if spec.time_unit not in TIME_UNITS:
        raise SourceFormError("time_unit", f"time unit is one of {', '.join(TIME_UNITS)}")
    if spec.lang not in LANGS:
        raise SourceFormError("lang", "language is en or zh")
    if spec.schedule not in Schedule.values:
        raise SourceFormError("schedule", f"schedule is one of {', '.join(Schedule.values)}")
    if spec.schedule == "weekly" and not 1 <= spec.schedule_day <= 7:
        raise SourceFormError("schedule_day", "a weekly run's day is 1 (Monday) to 7 (Sunday)")
    if spec.schedule == "monthly" and not 1 <= spec.schedule_day <= 28:
        raise SourceFormError("schedule_day", "a monthly run's day is 1 to 28")
    currency = spec.currency.strip().upper()
    if currency and not re.fullmatch(r"[A-Z]{3}", currency):
        raise SourceFormError("currency", "currency is a three-letter code such as CNY or USD")
    values: dict[str, Any] = {
        "name": name,
        "columns": columns,
        "header": spec.header,
        "time_unit": spec.time_unit,
        "currency": currency,
        "lang": spec.lang,
        "schedule": spec.schedule,
        "schedule_time": spec.schedule_time,
        "schedule_day": spec.schedule_day,
        "file_path": "",
        "file_name": "",
        "url": "",
        "table": "",
        "query": "",
    }
    url = spec.url.strip()
    if spec.file is not None and url:
        raise SourceFormError("url", "give either a file or a database URL, not both")
    if spec.file is not None:
        path = Path(spec.file).resolve()
        if not path.is_file():
            raise SourceFormError("file", f"{spec.file} is not a file: check the path")
        check_file(path, columns=columns, header=spec.header, shown=spec.file_name or path.name)
        values.update(kind=SourceKind.FILE, file_path=str(path))
        values["file_name"] = spec.file_name or path.name
        return values
    if not url:
        raise SourceFormError("file", "give a file, or a database URL with a table or a query")
    _check_url(url)
    table, query = spec.table.strip(), spec.query.strip()
    if bool(table) == bool(query):
        raise SourceFormError("table", "give either a table or a query with the database URL")
    if query and not _SQL.match(query):
        raise SourceFormError("query", "the query is one SELECT (or WITH … SELECT) statement")
    values.update(kind=SourceKind.DATABASE, url=url, table=table, query=query)
    return values


def _check_url(url: str) -> None:
    if url.startswith("env:"):
        if not _ENV.match(url[4:]):
            raise SourceFormError("url", "env: is followed by an environment variable's name")
        return
    if url.startswith("file:"):
        if not Path(url[5:]).is_absolute():
            raise SourceFormError("url", "file: is followed by the absolute path of a secrets file")
        return
    parts = urlsplit(url)
    if not parts.scheme or "://" not in url:
        raise SourceFormError(
            "url", "the URL is env:NAME, file:/path/to/secret or a URL such as duckdb:///shop.db"
        )
    if parts.password:
        raise SourceFormError(
            "url",
            "the URL holds a password, which the service does not store: put the URL in an "
            "environment variable of the worker and give env:NAME, or in a file readable "
            "only by the service and give file:/path/to/that/file",
        )


def resolve_url(reference: str) -> str:
    """The URL a source's ``url`` refers to (read at run time, never stored)."""
    if reference.startswith("env:"):
        name = reference[4:]
        value = os.environ.get(name, "").strip()
        if not value:
            raise InputError(
                f"the environment variable {name} is not set for the worker: set it to the "
                "database URL where `corecustomers worker` (or `serve`) starts"
            )
        return value
    if reference.startswith("file:"):
        path = Path(reference[5:])
        try:
            lines = path.read_text(encoding="utf-8").strip().splitlines()
        except OSError as exc:
            raise InputError(
                f"cannot read the secrets file {path}: {exc.strerror or exc}; make it "
                "readable by the user the worker runs as"
            ) from exc
        if not lines or not lines[0].strip():
            raise InputError(f"the secrets file {path} is empty: write the database URL in it")
        return lines[0].strip()
    return reference


def redacted_url(reference: str) -> str:
    """What a page or the API shows of a source's URL: never a credential."""
    if reference.startswith("env:"):
        return reference
    if reference.startswith("file:"):
        return "file:…/" + Path(reference[5:]).name
    parts = urlsplit(reference)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    who = "***@" if parts.username else ""
    return f"{parts.scheme}://{who}{host}{parts.path}"


def check_file(
    path: Path, *, columns: Mapping[str, str], header: bool | None, shown: str = ""
) -> None:
    """Read ``path`` as the engine will and map its columns; raise what is wrong."""
    from corecustomers.data.connect import connect_engine
    from corecustomers.data.mapping import map_columns
    from corecustomers.data.readers import read_source

    shown = shown or path.name
    try:
        with tempfile.TemporaryDirectory(prefix="cc-source-") as staging:
            raw = read_source(
                str(path), con=connect_engine("duckdb"), staging_dir=Path(staging), header=header
            )
            map_columns(raw.columns, dict(columns), source=shown)
            if raw.table.limit(1).count().to_pyarrow().as_py() == 0:
                raise SourceFormError("file", f"{shown} has no rows: export the data again")
    except SourceFormError:
        raise
    except CoreCustomersError as exc:
        text = str(exc).replace(str(path), shown)
        field_name = "columns" if "column" in type(exc).__name__.lower() else "file"
        raise SourceFormError(field_name, text) from exc
    except Exception as exc:  # the reader's own error: not a table we can read
        raise SourceFormError(
            "file",
            f"{shown} is not a table the analysis can read ({type(exc).__name__}): "
            "give a CSV, Excel or Parquet file of transactions",
        ) from exc


def _upload_folder() -> Path:
    folder = Path(settings.UPLOAD_FOLDER) / "sources"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def store_source_upload(chunks: Iterable[bytes], filename: str, *, size: int | None) -> Path:
    """Store an uploaded file under a random name (not checked yet: ``register`` does)."""
    suffix = Path(filename or "").suffix.lower()
    if suffix not in SUFFIXES:
        raise SourceFormError(
            "file",
            f"{filename or 'the file'} is not CSV, Excel or Parquet: give a file "
            f"ending in {', '.join(SUFFIXES)}",
        )
    limit = int(settings.UPLOAD_LIMIT_BYTES)
    too_large = SourceFormError(
        "file",
        f"the file is larger than the upload limit of {limit / 1_048_576:.0f} MB: register "
        "it by its path with `corecustomers source add NAME FILE`, or read it from a database",
    )
    if size is not None and size > limit:
        raise too_large
    path = _upload_folder() / f"{secrets.token_hex(16)}{suffix}"
    written = 0
    try:
        with path.open("xb") as handle:
            for chunk in chunks:
                written += len(chunk)
                if written > limit:
                    raise too_large
                handle.write(chunk)
        if written == 0:
            raise SourceFormError("file", f"{filename} is empty: choose the file again")
        problem = content_problem(path, suffix, limit=limit)
        if problem is not None:
            raise SourceFormError("file", f"{filename} is not a table: {problem}")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _is_upload(path: str) -> bool:
    return bool(path) and Path(path).parent == _upload_folder().resolve()


def register_source(
    spec: SourceSpec, *, user: Any = None, replace_existing: bool = False
) -> tuple[Source, bool]:
    """Register ``spec`` (or, with ``replace_existing``, change the source of that name).

    Returns ``(source, created)``. Everything is checked first (the file is read as the
    engine will read it); a stored upload that the source no longer uses is removed.
    """
    values = _check(spec)
    owner = user if getattr(user, "is_authenticated", False) else None
    with transaction.atomic():
        existing = Source.objects.select_for_update().filter(name=values["name"]).first()
        if existing is not None and not replace_existing:
            raise SourceFormError(
                "name",
                f"a source named {values['name']} exists: choose another name, or replace it",
            )
        old_file = existing.file_path if existing is not None else ""
        if existing is None:
            source = Source.objects.create(created_by=owner, **values)
        else:
            for key, value in values.items():
                setattr(existing, key, value)
            existing.changed = timezone.now()
            existing.save()
            source = existing
        record(
            "create" if existing is None else "update",
            object_type="source",
            object_key=source.pk,
            message=f"{'registered' if existing is None else 'changed'} the source "
            f"{source.name} ({source.kind})",
        )
    if old_file and old_file != source.file_path and _is_upload(old_file):
        Path(old_file).unlink(missing_ok=True)
    return source, existing is None


def remove_source(name: str) -> bool:
    """Remove the source ``name`` (its runs, analyses and snapshots stay); whether it was."""
    source = Source.objects.filter(name=name).first()
    if source is None:
        return False
    path = source.file_path
    with transaction.atomic():
        record("delete", object_type="source", object_key=source.pk, message=f"removed {name}")
        source.delete()
    if _is_upload(path):
        Path(path).unlink(missing_ok=True)
    return True


def engine_settings(source: Source) -> Settings:
    """The engine's settings for a run of ``source``: the workspace's corecustomers.toml
    (when there is one) with the source's name, mapping and options on top."""
    workspace = str(settings.WORKSPACE)
    config = Path(workspace) / CONFIG_FILE
    base = load_settings(config) if "://" not in workspace and config.is_file() else Settings()
    chosen = base.with_overrides(
        workspace=workspace,
        source_name=source.name,
        columns=dict(source.columns),
        time_unit=source.time_unit,
        currency=source.currency or None,
        lang=source.lang,
    )
    url = resolve_url(source.url) if source.kind == SourceKind.DATABASE else None
    return replace(chosen, header=source.header, source_url=url)


def engine_source(source: Source) -> str:
    """What ``analyze`` reads: the file, or the table or query in the database."""
    if source.kind == SourceKind.FILE:
        return source.file_path
    return source.table or source.query
