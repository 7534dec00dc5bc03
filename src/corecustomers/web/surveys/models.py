"""Surveys (NPS 0-10, satisfaction 1-5) and the answers customers give, by link or by call."""

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

__all__ = ["Survey", "SurveyKind", "SurveyResponse"]


class SurveyKind(models.TextChoices):
    NPS = "nps", _("Net Promoter Score (0-10)")
    SATISFACTION = "satisfaction", _("Satisfaction (1-5)")


#: The scale of each kind: (lowest, highest).
SCALES = {"nps": (0, 10), "satisfaction": (1, 5)}


class Survey(models.Model):
    """One question asked again and again (a customer's answers form a series over time)."""

    code = models.SlugField(max_length=40, unique=True)
    kind = models.CharField(max_length=20, choices=SurveyKind.choices)
    question_en = models.CharField(max_length=300)
    question_zh = models.CharField(max_length=300)
    active = models.BooleanField(default=True)
    created = models.DateTimeField(default=timezone.now)

    objects = RestrictedManager["Survey"]()

    class Meta:
        ordering: ClassVar[list[str]] = ["code"]

    def __str__(self) -> str:
        return self.code

    @property
    def scale(self) -> tuple[int, int]:
        return SCALES[self.kind]

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        # every signed-in person sees the questions; administrators (above) change them
        return None if action == "view" else False


class SurveyResponse(models.Model):
    """A customer's answer: the score, how it came (link or call), the tier at that moment.

    ``invitation_key`` is the outbox message's deduplication key for an answer by link: a
    link answers once (a second submit changes nothing).
    """

    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="responses")
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="survey_responses"
    )
    score = models.IntegerField()
    comment = models.TextField(blank=True, default="")
    channel = models.CharField(max_length=10)  # "link" or "call"
    recorded_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now, db_index=True)
    tier = models.CharField(max_length=40, blank=True, default="")
    segment = models.CharField(max_length=100, blank=True, default="")
    core = models.BooleanField(default=False)
    invitation_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    #: Set once the alert job has looked at the answer (raised an alert or not).
    checked_at = models.DateTimeField(null=True, blank=True, db_index=True)
    alert = models.ForeignKey(
        "work.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = RestrictedManager["SurveyResponse"]()

    class Meta:
        ordering: ClassVar[list[str]] = ["-at", "-pk"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["customer", "survey", "at"]),
        ]

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        condition = customer_scope(user, action)
        if condition is None or condition is False:
            return condition
        return Q(customer__in=Customer.objects.filter(condition).values("pk"))
