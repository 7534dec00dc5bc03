"""The customers app's background jobs."""

from __future__ import annotations

from typing import Any

from corecustomers.web.customers.analysis_import import import_analysis
from corecustomers.web.customers.overrides import sync_overrides
from corecustomers.web.jobs.models import Job
from corecustomers.web.jobs.runner import JobProgress, register

__all__ = ["register_jobs"]


def _import_analysis(job: Job, progress: JobProgress) -> dict[str, Any]:
    result = import_analysis(job.params["folder"], progress=progress).to_json()
    # the service reads the workspace after each import: overrides set on the command line
    result["overrides"] = sync_overrides()
    return result


def register_jobs() -> None:
    register("import_analysis", _import_analysis)
    register("sync_overrides", sync_overrides)
