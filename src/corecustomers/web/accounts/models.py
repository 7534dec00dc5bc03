"""Users, roles, teams and API tokens.

Roles (one per user):

``admin``
    everything, including administration and the audit log.
``manager``
    the customers of their teams (a team's customers, or every customer of a team's
    region); assigns work.
``account_manager``
    the customers on whose account team they are; unassigned customers too when the
    setting ``account_managers_see_unassigned`` is on.
``analyst``
    aggregates and pseudonymised customer rows: no names, phones, e-mails or notes.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import ClassVar

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["ApiToken", "Role", "Team", "User"]


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    MANAGER = "manager", _("Manager")
    ACCOUNT_MANAGER = "account_manager", _("Account manager")
    ANALYST = "analyst", _("Analyst")


class User(AbstractUser):
    """A person who logs in; ``role`` decides what they see (see the module docstring)."""

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.ACCOUNT_MANAGER)
    language = models.CharField(
        max_length=10,
        blank=True,
        default="",
        help_text="en or zh-hans; empty = from the browser",
    )

    @property
    def is_admin_role(self) -> bool:
        return self.is_superuser or self.role == Role.ADMIN

    @property
    def sees_personal_data(self) -> bool:
        """Analysts see pseudonymised rows only."""
        return self.is_superuser or self.role != Role.ANALYST


class Team(models.Model):
    """An account team group: its members, its lead and (optionally) a region it covers."""

    name = models.CharField(max_length=100, unique=True)
    region = models.CharField(max_length=100, blank=True, default="")
    lead = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="teams_led"
    )
    members = models.ManyToManyField(User, blank=True, related_name="teams")

    class Meta:
        ordering: ClassVar[list[str]] = ["name"]

    def __str__(self) -> str:
        return self.name


class Scope(models.TextChoices):
    READ = "read", _("Read")
    WRITE = "write", _("Read and write")


def hash_token(raw: str) -> str:
    """The stored form of a token: its SHA-256 (tokens are random, so no salt is needed)."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class ApiToken(models.Model):
    """An API token of a user: only its hash is stored; shown once when created."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, default="")
    prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.READ)
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField(null=True, blank=True)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created"]

    @classmethod
    def issue(
        cls,
        user: User,
        *,
        scope: str = "read",
        expires: timezone.datetime | None = None,
        name: str = "",
    ) -> tuple[ApiToken, str]:
        """Create a token; returns the row and the raw token (shown once, never stored)."""
        raw = "cc_" + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            name=name,
            prefix=raw[:10],
            key_hash=hash_token(raw),
            scope=scope,
            expires=expires,
        )
        return token, raw

    def is_valid(self) -> bool:
        return (
            not self.revoked
            and self.user.is_active
            and (self.expires is None or self.expires > timezone.now())
        )
