"""A background job: what to do, for whom, how far it got and how it ended.

The task queue (django-tasks with its database backend) only carries the job's id; the
job row is the truth about progress and outcome, so that a page or ``GET /api/v1/jobs/{id}``
can follow it, and a job whose worker died can be found and run again (handlers are
idempotent: a rerun completes the job exactly once).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, ClassVar, Literal

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from corecustomers.web.access import Action, RestrictedManager

if TYPE_CHECKING:
    from corecustomers.web.accounts.models import User

__all__ = ["Job", "Status"]


class Status(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=40, db_index=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    params = models.JSONField(default=dict)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    progress = models.FloatField(default=0.0)
    message = models.CharField(max_length=500, blank=True, default="")
    attempts = models.IntegerField(default=0)
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    channel = models.CharField(max_length=10, default="web")
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)

    objects = RestrictedManager["Job"]()

    class Meta:
        ordering: ClassVar[list[str]] = ["-created"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="one_job_per_idempotency_key",
            )
        ]

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        """A user sees the jobs they started."""
        if action in {"view", "change"}:
            return Q(created_by=user)
        return False

    @property
    def done(self) -> bool:
        return self.status in {"succeeded", "failed"}
