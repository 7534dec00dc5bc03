"""Consent, do-not-contact, message templates, campaigns and the outbox.

* :class:`ConsentEvent` -- the append-only history: every grant, refusal or withdrawal of a
  purpose × channel, with its evidence (source, wording version, time, who recorded it) and
  its lawful basis (PIPL). Never changed or deleted.
* :class:`Consent` -- the current answer per customer × purpose × channel: the latest event,
  kept in its own row so that a campaign over many customers reads it in one query.
* :class:`ContactProfile` -- per customer: the do-not-contact flag and the language
  messages are written in; :class:`DoNotContactEvent` is that flag's history.
* :class:`MessageTemplate` -- a bilingual template per occasion (birthday, 中秋 …).
* :class:`Campaign` and :class:`OutboxMessage` -- planned messages, each checked when it
  is planned and again when it is sent, delivered through an adapter with a deduplication
  key (the SMTP ``Message-ID``).

PIPL (个人信息保护法) asks for *separate* consent for marketing and for processing
sensitive personal data: marketing is its own purpose that only a ``consent`` basis opens,
and ``sensitive_data`` is a purpose of its own (channel ``any``) that a message needing such
data must have on top of the consent for its purpose and channel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from corecustomers.web.access import Action, RestrictedManager
from corecustomers.web.customers.models import Customer, customer_scope

if TYPE_CHECKING:
    from corecustomers.web.accounts.models import User

__all__ = [
    "Campaign",
    "Channel",
    "Consent",
    "ConsentError",
    "ConsentEvent",
    "ConsentStatus",
    "ContactProfile",
    "DoNotContactEvent",
    "LawfulBasis",
    "MessageStatus",
    "MessageTemplate",
    "OutboxMessage",
    "Purpose",
]


class ConsentError(RuntimeError):
    """A history row was asked to change: consent history is append-only."""


class Purpose(models.TextChoices):
    SERVICE = "service", _("Service")
    MARKETING = "marketing", _("Marketing")
    SURVEYS = "surveys", _("Surveys")
    CARE = "care", _("Care")
    SENSITIVE_DATA = "sensitive_data", _("Sensitive personal data")


#: The purposes a contact is made for (``sensitive_data`` is an extra consent, not a purpose).
CONTACT_PURPOSES = ("service", "marketing", "surveys", "care")


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", _("E-mail")
    CALL = "call", _("Phone call")
    APP = "app", _("WeChat / app message")
    LETTER = "letter", _("Letter")
    VISIT = "visit", _("Visit")
    ANY = "any", _("Any channel")


CONTACT_CHANNELS = ("sms", "email", "call", "app", "letter", "visit")
#: The channels the outbox sends through an adapter.
MESSAGE_CHANNELS = ("email", "sms", "app")


class ConsentStatus(models.TextChoices):
    GRANTED = "granted", _("Granted")
    REFUSED = "refused", _("Refused")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class LawfulBasis(models.TextChoices):
    """PIPL art. 13's bases; marketing and sensitive data need ``consent`` (separate)."""

    CONSENT = "consent", _("Consent")
    CONTRACT = "contract", _("Needed for a contract with the customer")
    LEGAL_DUTY = "legal_duty", _("Legal duty")
    EMERGENCY = "emergency", _("Emergency (health, safety)")
    PUBLIC_INFO = "public_info", _("Information the customer made public")
    OTHER_LAW = "other_law", _("Other ground in law")


def _through_customer(user: User, action: Action) -> Q | Literal[False] | None:
    condition = customer_scope(user, action)
    if condition is None or condition is False:
        return condition
    return Q(customer__in=Customer.objects.filter(condition).values("pk"))


class _AppendOnly(models.Model):
    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ConsentError("consent history is append-only: record a new event instead")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ConsentError("consent history is append-only and cannot be deleted")


class ConsentEvent(_AppendOnly):
    """One grant, refusal or withdrawal, with its evidence (never changed)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(max_length=10, choices=ConsentStatus.choices)
    lawful_basis = models.CharField(max_length=20, choices=LawfulBasis.choices)
    source = models.CharField(max_length=40)  # web form, paper form, call, api, unsubscribe …
    wording_version = models.CharField(max_length=40, blank=True, default="")
    evidence = models.CharField(max_length=500, blank=True, default="")
    at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_by_name = models.CharField(max_length=150, blank=True, default="")

    objects = RestrictedManager["ConsentEvent"]()

    class Meta:
        ordering: ClassVar[list[str]] = ["-at", "-pk"]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["customer", "at"])]

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        return _through_customer(user, action)


class Consent(models.Model):
    """The current answer for a customer × purpose × channel (the latest event's)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consents")
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(max_length=10, choices=ConsentStatus.choices)
    lawful_basis = models.CharField(max_length=20, choices=LawfulBasis.choices)
    since = models.DateTimeField()
    event = models.ForeignKey(ConsentEvent, on_delete=models.PROTECT, related_name="+")

    objects = RestrictedManager["Consent"]()

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["customer", "purpose", "channel"], name="one_consent_each"
            )
        ]

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        return _through_customer(user, action)


class ContactProfile(models.Model):
    """Per customer: do not contact at all (but for service), and the message language."""

    customer = models.OneToOneField(
        Customer, primary_key=True, on_delete=models.CASCADE, related_name="contact_profile"
    )
    do_not_contact = models.BooleanField(default=False)
    reason = models.CharField(max_length=300, blank=True, default="")
    since = models.DateTimeField(null=True, blank=True)
    language = models.CharField(max_length=10, blank=True, default="")  # "en" / "zh"; "": default

    objects = RestrictedManager["ContactProfile"]()

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        return _through_customer(user, action)


class DoNotContactEvent(_AppendOnly):
    """The do-not-contact flag set or lifted (never changed)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    active = models.BooleanField()
    reason = models.CharField(max_length=300)
    source = models.CharField(max_length=40)
    at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_by_name = models.CharField(max_length=150, blank=True, default="")

    objects = RestrictedManager["DoNotContactEvent"]()

    class Meta:
        ordering: ClassVar[list[str]] = ["-at", "-pk"]

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        return _through_customer(user, action)


class MessageTemplate(models.Model):
    """A bilingual message for an occasion; ``$name`` … placeholders (see ``wording``)."""

    code = models.CharField(max_length=40, unique=True)
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    subject_en = models.CharField(max_length=200)
    body_en = models.TextField()
    subject_zh = models.CharField(max_length=200)
    body_zh = models.TextField()
    uses_sensitive_data = models.BooleanField(default=False)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.code


class Campaign(models.Model):
    """Messages planned together: one purpose, a channel preference, a template."""

    name = models.CharField(max_length=200)
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    channels = models.JSONField(default=list)
    template = models.CharField(max_length=40)
    planned_for = models.DateTimeField()
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    counts = models.JSONField(default=dict)


class MessageStatus(models.TextChoices):
    HELD = "held", _("Held")
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    REJECTED = "rejected", _("Rejected at send time")
    FAILED = "failed", _("Failed")


#: Statuses that use a customer's contact budget (planned or gone out).
BUDGET_STATUSES = ("queued", "sending", "sent")


class OutboxMessage(models.Model):
    """One message to one customer: planned (or held, with why), sent, or refused."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    occasion = models.CharField(max_length=40, blank=True, default="")
    template = models.CharField(max_length=40, blank=True, default="")
    uses_sensitive_data = models.BooleanField(default=False)
    language = models.CharField(max_length=10, default="zh")
    recipient = models.CharField(max_length=254, blank=True, default="")
    subject = models.CharField(max_length=300, blank=True, default="")
    body = models.TextField(blank=True, default="")
    planned_for = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=10, choices=MessageStatus.choices, db_index=True)
    reason_code = models.CharField(max_length=40, blank=True, default="")
    reason_en = models.CharField(max_length=300, blank=True, default="")
    reason_zh = models.CharField(max_length=300, blank=True, default="")
    #: The deduplication key: the same on every attempt (``Message-ID`` for SMTP).
    dedup_key = models.CharField(max_length=100, unique=True)
    attempts = models.IntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    possible_duplicate = models.BooleanField(default=False)
    adapter = models.CharField(max_length=20, blank=True, default="")
    provider_ref = models.CharField(max_length=300, blank=True, default="")
    error = models.CharField(max_length=500, blank=True, default="")
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)

    objects = RestrictedManager["OutboxMessage"]()

    class Meta:
        ordering: ClassVar[list[str]] = ["-planned_for", "-pk"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["customer", "planned_for"]),
            models.Index(fields=["status", "planned_for"]),
        ]

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        """The messages of the customers in scope; none for analysts (names, addresses)."""
        if user.role == "analyst":
            return False
        return _through_customer(user, action)
