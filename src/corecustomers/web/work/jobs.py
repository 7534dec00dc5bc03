"""The work app's jobs, and routing queued after every analysis import."""

from __future__ import annotations

from typing import Any

from corecustomers.web.customers.signals import analysis_imported
from corecustomers.web.jobs.models import Job
from corecustomers.web.jobs.runner import JobProgress, register, submit
from corecustomers.web.work.export import EXPORT_JOB, export_interactions
from corecustomers.web.work.notify import send_pending_emails
from corecustomers.web.work.routing import escalate_overdue, route_alerts

__all__ = ["connect"]


def _route(job: Job, progress: JobProgress) -> dict[str, Any]:
    routed: dict[str, Any] = dict(route_alerts(str(job.params["run_id"])).to_json())
    routed["emails"] = send_pending_emails()
    return routed


def _escalate(job: Job, progress: JobProgress) -> dict[str, Any]:
    return {"escalated": escalate_overdue(), "emails": send_pending_emails()}


def _queue_routing(sender: Any, *, run_id: str, **kwargs: Any) -> None:
    submit("route_alerts", {"run_id": run_id}, channel="system")


def connect() -> None:
    register("route_alerts", _route)
    register("escalate_alerts", _escalate)
    register("send_emails", lambda job, progress: send_pending_emails())
    register(EXPORT_JOB, lambda job, progress: export_interactions())
    analysis_imported.connect(_queue_routing, dispatch_uid="work.route_alerts")
