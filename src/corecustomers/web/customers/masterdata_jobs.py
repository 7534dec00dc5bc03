"""Master-data imports as background jobs, and the uploaded files they read.

An upload is stored under ``settings.UPLOAD_FOLDER`` with a random name (the original name
is kept in the job for display only), refused when over ``settings.UPLOAD_LIMIT_BYTES`` or
when it is not a table with a customer id column -- before any job is created. The job
kind ``import_customers`` runs :func:`~corecustomers.web.customers.masterdata.import_master_data`
as the user who submitted it, with progress in the job row. A dry run's upload is kept so
that the same file can then be applied without uploading it again; uploads older than
:data:`KEEP` are removed when a new one arrives.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings

from corecustomers.web.customers.master_file import MasterDataError, inspect_master_file
from corecustomers.web.customers.masterdata import import_master_data
from corecustomers.web.jobs.models import Job
from corecustomers.web.jobs.runner import JobProgress, register, submit
from corecustomers.web.security.uploads import content_problem

__all__ = [
    "KIND",
    "SUFFIXES",
    "UploadError",
    "register_masterdata_jobs",
    "store_upload",
    "submit_import",
    "upload_limit",
]

log = logging.getLogger(__name__)

KIND = "import_customers"
#: The file types an upload may be (the reader is chosen by the suffix).
SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls", ".ods", ".parquet")
#: How long uploads are kept (a dry run's file can be applied within this time).
KEEP = dt.timedelta(days=7)


class UploadError(MasterDataError):
    """An upload is refused: too large, of the wrong type, or not a table."""


def upload_limit() -> int:
    return int(settings.UPLOAD_LIMIT_BYTES)


def _folder() -> Path:
    folder = Path(settings.UPLOAD_FOLDER)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _too_large(limit: int) -> UploadError:
    return UploadError(
        f"the file is larger than the upload limit of {limit / 1_048_576:.0f} MB: split it "
        "into smaller files, or import it with `corecustomers import-customers FILE`"
    )


def store_upload(chunks: Iterable[bytes], filename: str, *, size: int | None = None) -> Path:
    """Store an uploaded file under a random name and check that it is a table.

    Raises
    ------
    UploadError
        The file is over the size limit, not CSV/Excel/Parquet, or not a table with a
        customer id column (the stored copy is removed again).
    """
    suffix = Path(filename or "").suffix.lower()
    if suffix not in SUFFIXES:
        raise UploadError(
            f"{filename or 'the file'!s} is not a CSV, Excel or Parquet file: give a file "
            f"ending in {', '.join(SUFFIXES)}"
        )
    limit = upload_limit()
    if size is not None and size > limit:
        raise _too_large(limit)
    _prune()
    path = _folder() / f"{secrets.token_hex(16)}{suffix}"
    written = 0
    try:
        with path.open("xb") as handle:
            for chunk in chunks:
                written += len(chunk)
                if written > limit:
                    raise _too_large(limit)
                handle.write(chunk)
        if written == 0:
            raise UploadError(f"{filename} is empty: choose the file again")
        problem = content_problem(path, suffix, limit=limit)
        if problem is not None:
            raise UploadError(f"{filename} is not a table: {problem}")
        try:
            inspect_master_file(path)
        except MasterDataError as exc:
            # the message names the file as the user knows it, not where it is kept
            shown = str(exc).replace(str(path), filename).replace(path.name, filename)
            raise UploadError(shown) from exc
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _prune() -> None:
    cutoff = time.time() - KEEP.total_seconds()
    for old in _folder().iterdir():
        try:
            if old.is_file() and old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:  # another process removed it first
            continue


def submit_import(
    path: Path,
    *,
    name: str,
    dry_run: bool,
    user: Any,
    channel: str = "web",
    idempotency_key: str | None = None,
) -> tuple[Job, bool]:
    """Queue an import of a stored upload; ``(job, created)`` as :func:`submit` returns."""
    return submit(
        KIND,
        {"path": str(path), "name": name, "dry_run": bool(dry_run)},
        user=user,
        channel=channel,
        idempotency_key=idempotency_key,
    )


def _run(job: Job, progress: JobProgress) -> dict[str, Any]:
    params = job.params
    path = Path(params["path"])
    if not path.is_file():
        raise MasterDataError(
            f"the uploaded file {params.get('name') or path.name} is no longer kept "
            f"(uploads are kept {KEEP.days} days): upload it again"
        )
    result = import_master_data(
        path,
        dry_run=bool(params.get("dry_run")),
        user=job.created_by,
        progress=progress,
        name=params.get("name") or None,
    )
    return result.to_json()


def register_masterdata_jobs() -> None:
    """Make ``import_customers`` a job kind (called from the customers app's ``ready()``)."""
    register(KIND, _run)
