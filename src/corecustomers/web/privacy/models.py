"""The suppression list of erased customers and the record of each fulfilled request.

Neither table holds a raw customer id, name, phone or e-mail: an erased id is kept only as
its keyed hash (HMAC-SHA256 under ``PSEUDONYM_KEY``), which imports compare against.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone


class Suppression(models.Model):
    """An erased customer id, as its keyed hash: imports skip rows whose id hashes to it."""

    key_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.key_hash


class RequestKind(models.TextChoices):
    EXPORT = "export", "export"
    ERASE = "erase", "erasure"


class Fulfilment(models.Model):
    """A privacy request that was carried out: what, for whom (by pseudonym), by whom, when."""

    kind = models.CharField(max_length=10, choices=RequestKind.choices)
    customer_key = models.BigIntegerField(db_index=True)
    subject = models.CharField(max_length=24, help_text="the customer's keyed pseudonym")
    by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True, default="")
    channel = models.CharField(max_length=10, default="web")
    at = models.DateTimeField(default=timezone.now)
    #: Rows per table ("app_label.Model" → count) exported or touched.
    counts = models.JSONField(default=dict)
    #: For an erasure: the fields blanked per table, and how the files were cleaned.
    details = models.JSONField(default=dict)
    #: For an erasure: the keyed hash of the erased id (as on the suppression list), so
    #: that a new request for the same id finds an erasure whose cleaning is unfinished.
    id_hash = models.CharField(max_length=64, blank=True, default="", db_index=True)
    #: For an erasure: the cleaning stages still to do after its database transaction
    #: (:data:`corecustomers.web.privacy.finish.STAGES`); empty once every one is done.
    pending = models.JSONField(default=list)
    #: When the request was carried out in full (an erasure: when its last stage was
    #: done); ``None`` while an erasure's cleaning is still pending.
    completed = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-at", "-id"]

    @property
    def complete(self) -> bool:
        return self.completed is not None and not self.pending
