"""Alerts with an owner and an SLA, notifications, interactions and follow-ups."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from corecustomers.web.access import Action, RestrictedManager
from corecustomers.web.customers.models import Customer, customer_scope

if TYPE_CHECKING:
    from corecustomers.web.accounts.models import User

__all__ = [
    "OPEN_STATUSES",
    "Alert",
    "AlertStatus",
    "FollowUp",
    "Interaction",
    "InteractionKind",
    "Notification",
    "Snooze",
]


def _through_customer(user: User, action: Action) -> Q | Literal[False] | None:
    condition = customer_scope(user, action)
    if condition is None or condition is False:
        return condition
    return Q(customer__in=Customer.objects.filter(condition).values("pk"))


class AlertStatus(models.TextChoices):
    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    RESOLVED = "resolved", _("Resolved")
    DISMISSED = "dismissed", _("Dismissed")


OPEN_STATUSES = ("open", "in_progress")


class Alert(models.Model):
    """An early warning about a customer, routed to a person, with a deadline (SLA)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="alerts")
    reason_code = models.CharField(max_length=100)
    reason_en = models.TextField(blank=True, default="")
    reason_zh = models.TextField(blank=True, default="")
    tier = models.CharField(max_length=40, blank=True, default="")
    value_at_stake = models.FloatField(null=True)
    run_id = models.CharField(max_length=64, blank=True, default="")
    as_of = models.DateField(null=True)
    status = models.CharField(
        max_length=12, choices=AlertStatus.choices, default=AlertStatus.OPEN, db_index=True
    )
    outcome = models.CharField(max_length=60, blank=True, default="")
    note = models.TextField(blank=True, default="")
    assignee = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    raised_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    sla_note = models.CharField(max_length=300, blank=True, default="")
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalated_to = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reopened = models.IntegerField(default=0)

    objects = RestrictedManager["Alert"]()

    class Meta:
        ordering: ClassVar[list[str]] = ["-value_at_stake", "pk"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["customer", "reason_code"],
                condition=Q(status__in=OPEN_STATUSES),
                name="one_open_alert_per_reason",
            )
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["assignee", "status", "value_at_stake"]),
        ]

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        return _through_customer(user, action)


class Notification(models.Model):
    """A message to one user (shown in the app; e-mailed once when they have an address)."""

    user = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=40)
    message_en = models.TextField()
    message_zh = models.TextField(blank=True, default="")
    alert = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_error = models.CharField(max_length=500, blank=True, default="")

    objects = RestrictedManager["Notification"]()

    class Meta:
        ordering: ClassVar[list[str]] = ["-created", "-pk"]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["user", "read_at"])]

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        return Q(user=user) if action in {"view", "change"} else False


class InteractionKind(models.TextChoices):
    VISIT = "visit", _("Visit")
    CALL = "call", _("Call")
    MESSAGE = "message", _("Message")
    LETTER = "letter", _("Letter")
    EMAIL = "email", _("E-mail")
    GIFT = "gift", _("Gift")
    EVENT = "event", _("Event")
    COMPLAINT = "complaint", _("Complaint")
    SERVICE_REQUEST = "service_request", _("Service request")


class Interaction(models.Model):
    """A visit, call, message … with a customer: who, when, the outcome, the next step."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="interactions")
    kind = models.CharField(max_length=20, choices=InteractionKind.choices)
    channel = models.CharField(max_length=40, blank=True, default="")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.SET_NULL, related_name="interactions"
    )
    outcome = models.CharField(max_length=60, blank=True, default="")
    notes = models.TextField(blank=True, default="")
    next_step = models.CharField(max_length=300, blank=True, default="")
    next_step_due = models.DateField(null=True, blank=True)
    alert = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.SET_NULL, related_name="interactions"
    )
    created = models.DateTimeField(default=timezone.now)

    objects = RestrictedManager["Interaction"]()

    class Meta:
        ordering: ClassVar[list[str]] = ["-at", "-pk"]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["customer", "at"])]

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        return _through_customer(user, action)


class FollowUp(models.Model):
    """Something to do for a customer by a date (after a complaint, a next step …)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="follow_ups")
    owner = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due = models.DateField(db_index=True)
    reason = models.CharField(max_length=300)
    source = models.ForeignKey(
        Interaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_ups"
    )
    done_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    objects = RestrictedManager["FollowUp"]()

    class Meta:
        ordering: ClassVar[list[str]] = ["due", "pk"]

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        return _through_customer(user, action)


class Snooze(models.Model):
    """An item of someone's queue put aside until a date, with the reason."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    item = models.CharField(max_length=120)
    until = models.DateField()
    reason = models.CharField(max_length=300)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["user", "item"], name="one_snooze_per_item")
        ]
