"""The one task the queue knows: run a job row by its id."""

from __future__ import annotations

from django_tasks import task

from corecustomers.web.jobs.runner import run_job

__all__ = ["run_job_task"]


@task()
def run_job_task(job_id: str) -> str:
    job = run_job(job_id)
    return str(job.status)
