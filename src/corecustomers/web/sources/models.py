"""A registered data source (the engine's named source) and the runs of its analysis.

* :class:`Source` -- where the transactions come from (a stored upload or a file path, or
  a database URL reference with a table or a query), the column mapping the CLI uses, and
  a schedule. Its ``name`` is the engine's ``source_name``: the snapshots of its runs --
  from a page, the schedule or ``corecustomers analyze --source-name NAME`` -- form one
  history in the workspace. No credential is stored: ``url`` holds ``env:NAME`` (an
  environment variable holding the URL), ``file:/path`` (a secrets file holding it) or a
  URL without a password.
* :class:`SourceRun` -- one analysis run of a source: its job (the truth about progress
  and outcome), its output folder, and once the engine finished, its run id and as-of date.

Access: administrators and managers register, change and run sources; analysts see the
list (never the URL); account managers see none.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, ClassVar, Literal

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from corecustomers.web.access import Action, RestrictedManager

if TYPE_CHECKING:
    from corecustomers.web.accounts.models import User

__all__ = ["RUN_ROLES", "Schedule", "Source", "SourceKind", "SourceRun", "Trigger"]

#: The roles that register and run sources (administrators always may).
RUN_ROLES = frozenset({"admin", "manager"})
#: The roles that may list sources (without their URLs).
VIEW_ROLES = frozenset({"admin", "manager", "analyst"})


class SourceKind(models.TextChoices):
    FILE = "file", _("File")
    DATABASE = "database", _("Database")


class Schedule(models.TextChoices):
    NONE = "none", _("No schedule")
    DAILY = "daily", _("Daily")
    WEEKLY = "weekly", _("Weekly")
    MONTHLY = "monthly", _("Monthly")


class Trigger(models.TextChoices):
    WEB = "web", _("Page")
    API = "api", _("API")
    CLI = "cli", _("Command line")
    SCHEDULE = "schedule", _("Schedule")


class Source(models.Model):
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=SourceKind.choices)
    #: the file read at each run: a stored upload, or a path given on the command line
    file_path = models.CharField(max_length=1000, blank=True, default="")
    #: the uploaded file's own name, for display
    file_name = models.CharField(max_length=255, blank=True, default="")
    #: ``env:NAME``, ``file:/path`` or a URL without a password (never shown)
    url = models.CharField(max_length=1000, blank=True, default="")
    table = models.CharField(max_length=300, blank=True, default="")
    query = models.TextField(blank=True, default="")
    #: the engine's column mapping: field → header or 1-based position
    columns = models.JSONField(default=dict, blank=True)
    header = models.BooleanField(null=True, blank=True)
    time_unit = models.CharField(max_length=10, default="week")
    currency = models.CharField(max_length=10, blank=True, default="")
    lang = models.CharField(max_length=5, default="en")
    schedule = models.CharField(max_length=10, choices=Schedule.choices, default=Schedule.NONE)
    schedule_time = models.TimeField(default=dt.time(2, 0))
    #: weekly: ISO weekday (1 Monday … 7 Sunday); monthly: day of the month (1 … 28)
    schedule_day = models.PositiveSmallIntegerField(default=1)
    #: the last scheduled time a run was submitted for (each due time exactly once)
    last_due = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    changed = models.DateTimeField(default=timezone.now)

    objects = RestrictedManager["Source"]()

    class Meta:
        ordering: ClassVar[list[str]] = ["name"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        role = getattr(user, "role", None)
        if action == "view" and role in VIEW_ROLES:
            return None
        if action == "change" and role in RUN_ROLES:
            return None
        return False


class SourceRun(models.Model):
    source = models.ForeignKey(Source, null=True, on_delete=models.SET_NULL, related_name="runs")
    #: the source's name, kept when the source is removed
    source_name = models.CharField(max_length=100, db_index=True)
    job = models.OneToOneField("jobs.Job", on_delete=models.CASCADE, related_name="source_run")
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.WEB)
    #: the scheduled time this run is for (scheduled runs only)
    due = models.DateTimeField(null=True, blank=True)
    folder = models.CharField(max_length=1000)
    run_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    as_of = models.DateField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    objects = RestrictedManager["SourceRun"]()

    class Meta:
        ordering: ClassVar[list[str]] = ["-created"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["source_name", "due"],
                condition=Q(due__isnull=False),
                name="one_run_per_due_time",
            )
        ]

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        return Source.access_filter(user, action)
