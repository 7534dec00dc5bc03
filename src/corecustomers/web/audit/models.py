"""One audit entry per change, profile view, search or export; never edited or deleted.

Entries refer to a customer by the internal key (``Customer.pk``), not the external id, so
that erasing a customer's personal data later does not break the trail.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from django.db import models
from django.db.models import Q
from django.utils import timezone

from corecustomers.web.access import Action, RestrictedManager

if TYPE_CHECKING:
    from corecustomers.web.accounts.models import User

__all__ = ["AuditEntry", "AuditError", "Channel"]


class AuditError(RuntimeError):
    """An audit entry was asked to change: the trail is append-only."""


class Channel(models.TextChoices):
    WEB = "web", "web"
    API = "api", "api"
    CLI = "cli", "command line"
    SYSTEM = "system", "system"


class AuditEntry(models.Model):
    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True, default="")
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB)
    action = models.CharField(max_length=40, db_index=True)
    object_type = models.CharField(max_length=60, blank=True, default="", db_index=True)
    object_key = models.CharField(max_length=64, blank=True, default="")
    customer_key = models.BigIntegerField(null=True, blank=True, db_index=True)
    message = models.TextField(blank=True, default="")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    query = models.JSONField(null=True, blank=True)
    row_count = models.IntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True, default="")

    objects = RestrictedManager["AuditEntry"]()

    class Meta:
        ordering: ClassVar[list[str]] = ["-at", "-id"]
        verbose_name_plural = "audit entries"

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        return False  # administrators only (RestrictedQuerySet lets them through)

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AuditError("audit entries are append-only: write a new entry instead")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditError("audit entries are append-only and cannot be deleted")
