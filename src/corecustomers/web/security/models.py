"""The worker's heartbeat: a row per running worker, written every few seconds.

``/readyz`` reads it to tell whether a worker is alive (the web process and the worker are
separate processes, possibly on separate machines; the database is what they share).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

__all__ = ["WorkerBeat"]


class WorkerBeat(models.Model):
    worker = models.CharField(max_length=200, unique=True)
    started = models.DateTimeField(default=timezone.now)
    beat = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.worker} at {self.beat:%Y-%m-%d %H:%M:%S}"
