"""Hold-out experiments: an action (a playbook action, a contact plan, a campaign) with a
share of eligible customers held out, and each customer's stored, reproducible group."""

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

__all__ = ["DEFAULT_SHARE", "Assignment", "Experiment", "ExperimentKind"]


class ExperimentKind(models.TextChoices):
    MASS = "mass", _("Mass action (messages, offers)")
    PERSONAL = "personal", _("Personal contact (visits, calls)")


#: The hold-out share an action starts with, by kind: 10 % of a mass action's customers get
#: nothing; a personal visit to a strategic customer at risk is never withheld by default.
DEFAULT_SHARE = {"mass": 0.10, "personal": 0.0}


class Experiment(models.Model):
    """An action measured against a hold-out group (opt-in: ``enabled``)."""

    #: The action's code: ``action:<next-best action code>``, ``plan:<tier>:<channel>``, …
    code = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=200, blank=True, default="")
    kind = models.CharField(max_length=10, choices=ExperimentKind.choices, default="mass")
    enabled = models.BooleanField(default=False)
    holdout_share = models.FloatField()
    #: Part of the hash: a new seed draws new groups (for customers not yet assigned).
    seed = models.CharField(max_length=40, default="1")
    cost_per_action = models.FloatField(default=0.0)
    window_days = models.IntegerField(default=90)
    created = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = RestrictedManager["Experiment"]()

    class Meta:
        ordering: ClassVar[list[str]] = ["code"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=Q(holdout_share__gte=0) & Q(holdout_share__lt=1),
                name="holdout_share_between_0_and_1",
            ),
            models.CheckConstraint(condition=Q(window_days__gt=0), name="window_days_positive"),
        ]

    def __str__(self) -> str:
        return self.code

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        # every signed-in person reads the experiments (the report is scoped by customer);
        # managers and administrators set them up
        if action == "view":
            return None
        return None if user.role == "manager" and action == "change" else False


class Assignment(models.Model):
    """A customer's group in an experiment, with the state it started from (the baseline)."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="assignments")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    tier = models.CharField(max_length=40, blank=True, default="")
    held_out = models.BooleanField()
    #: The hash draw in [0, 1) that decided the group (reproducible: seed, action, customer).
    draw = models.FloatField()
    assigned_at = models.DateTimeField(default=timezone.now)
    baseline_as_of = models.DateField(null=True)
    baseline_spend = models.FloatField(null=True)
    baseline_orders = models.IntegerField(null=True)

    objects = RestrictedManager["Assignment"]()

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["experiment", "customer"], name="one_group_each")
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["experiment", "tier", "held_out"]),
        ]

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        condition = customer_scope(user, action)
        if condition is None or condition is False:
            return condition
        return Q(customer__in=Customer.objects.filter(condition).values("pk"))
