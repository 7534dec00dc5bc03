"""The surveys' jobs: check new answers for alerts (then e-mail the notifications), and
write the survey scores into the workspace for the engine.

``survey_checks`` is queued after every committed answer unless one is already waiting (a
burst of answers gives one job, which reads every unchecked answer when it runs): a
detractor reaches the owner within one job cycle. It then queues the scores export.
"""

from __future__ import annotations

from typing import Any

from corecustomers.web.jobs.models import Job
from corecustomers.web.jobs.runner import JobProgress, register, submit

__all__ = ["CHECK_JOB", "EXPORT_JOB", "connect", "queue_checks"]

CHECK_JOB = "survey_checks"
EXPORT_JOB = "export_survey_scores"


def _check(job: Job, progress: JobProgress) -> dict[str, Any]:
    from corecustomers.web.surveys.alerts import check_new
    from corecustomers.web.work.notify import send_pending_emails

    result = check_new()
    result["emails"] = send_pending_emails()
    # once per check job: a check run again after its worker was killed (the export it
    # queued may have run meanwhile) does not queue a second export
    queued = Job.objects.filter(kind=EXPORT_JOB, status="queued").exists()
    if not queued and not Job.objects.filter(kind=EXPORT_JOB, params__check=str(job.pk)).exists():
        submit(EXPORT_JOB, {"check": str(job.pk)}, channel="system")
    return result


def _export(job: Job, progress: JobProgress) -> dict[str, Any]:
    from corecustomers.web.surveys.export import export_scores

    return export_scores()


def queue_checks() -> None:
    """Queue the check job unless one is already waiting (call after a commit)."""
    if not Job.objects.filter(kind=CHECK_JOB, status="queued").exists():
        submit(CHECK_JOB, {}, channel="system")


def connect() -> None:
    register(CHECK_JOB, _check)
    register(EXPORT_JOB, _export)
