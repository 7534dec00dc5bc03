"""Administration use cases: roles, deactivation, teams, API tokens, settings, the audit log.

Each function checks that the acting user is an administrator
(:class:`NotAdministratorError` otherwise), validates (:class:`AdministrationError` naming the
field), and writes the change with its audit entry in one transaction. Pages and (later)
the API call these; creating a user is
:func:`corecustomers.web.accounts.users.create_or_update_user`.

Exceptions::

    AdministrationError (ValueError)   -- a value is invalid; ``field`` names it
    NotAdministratorError (PermissionError) -- the acting user is not an administrator
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from corecustomers.web.accounts.models import ApiToken, Role, Team, User
from corecustomers.web.audit.log import record
from corecustomers.web.audit.models import AuditEntry
from corecustomers.web.customers.models import Customer, ServiceSetting

__all__ = [
    "AdministrationError",
    "AuditFilter",
    "NotAdministratorError",
    "audit_entries",
    "end_sessions",
    "issue_token",
    "revoke_token",
    "save_team",
    "set_active",
    "set_role",
    "set_setting",
]


class AdministrationError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class NotAdministratorError(PermissionError):
    """Only administrators change users, teams, tokens and settings or read the audit log."""


def _require_admin(user: Any) -> None:
    if not (
        getattr(user, "is_authenticated", False)
        and user.is_active
        and (user.is_superuser or getattr(user, "role", "") == "admin")
    ):
        raise NotAdministratorError("administrators only")


def _user(field: str, username: str) -> User:
    found = User.objects.filter(username=username.strip()).first()
    if found is None:
        raise AdministrationError(field, f"no user {username!r}; check the name on the Users page")
    return found


def end_sessions(target: User) -> int:
    """Delete every session of ``target`` (they are logged out everywhere); how many."""
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.get_decoded().get("_auth_user_id") == str(target.pk):
            session.delete()
            ended += 1
    return ended


def set_role(actor: Any, username: str, role: str) -> User:
    _require_admin(actor)
    if role not in Role.values:
        raise AdministrationError("role", f"role is one of {', '.join(Role.values)}")
    with transaction.atomic():
        target = _user("username", username)
        if target.pk == actor.pk and role != "admin":
            raise AdministrationError(
                "role", "you cannot take the administrator role from yourself; ask another admin"
            )
        before = target.role
        if before == role:
            return target
        target.role = role
        target.is_staff = role == "admin"
        target.save(update_fields=["role", "is_staff"])
        record(
            "update",
            object_type="user",
            object_key=target.pk,
            message=f"role of {target.username}",
            before={"role": before},
            after={"role": role},
            user=actor,
        )
    return target


def set_active(actor: Any, username: str, active: bool) -> User:
    """Activate or deactivate a user; deactivating ends their sessions (tokens stop working)."""
    _require_admin(actor)
    with transaction.atomic():
        target = _user("username", username)
        if target.pk == actor.pk and not active:
            raise AdministrationError("username", "you cannot deactivate yourself")
        if target.is_active == active:
            return target
        target.is_active = active
        target.save(update_fields=["is_active"])
        ended = 0 if active else end_sessions(target)
        record(
            "update",
            object_type="user",
            object_key=target.pk,
            message=f"{'activated' if active else 'deactivated'} {target.username}"
            + ("" if active else f"; {ended} session(s) ended"),
            before={"active": not active},
            after={"active": active},
            user=actor,
        )
    return target


def _team_snapshot(team: Team) -> dict[str, Any]:
    return {
        "name": team.name,
        "region": team.region,
        "lead": team.lead.username if team.lead else None,
        "members": sorted(team.members.values_list("username", flat=True)),
    }


def save_team(
    actor: Any, name: str, *, region: str, lead: str | None, members: list[str]
) -> tuple[Team, bool]:
    """Create the team ``name`` or replace its region, lead and members; ``(team, created)``."""
    _require_admin(actor)
    name = name.strip()
    if not name:
        raise AdministrationError("name", "a team needs a name")
    lead_user = _user("lead", lead) if lead and lead.strip() else None
    people = []
    for username in dict.fromkeys(members):
        people.append(_user("members", username))
    with transaction.atomic():
        team, created = Team.objects.get_or_create(name=name)
        before = None if created else _team_snapshot(team)
        team.region = region.strip()
        team.lead = lead_user
        team.save()
        team.members.set(people)
        after = _team_snapshot(team)
        if before != after:
            record(
                "create" if created else "update",
                object_type="team",
                object_key=team.pk,
                message=f"team {team.name}",
                before=before,
                after=after,
                user=actor,
            )
    return team, created


def issue_token(
    actor: Any, username: str, *, scope: str, name: str, expires_days: int | None
) -> tuple[ApiToken, str]:
    """A new API token for ``username``; the raw token is returned once and never stored."""
    _require_admin(actor)
    if scope not in {"read", "write"}:
        raise AdministrationError("scope", "scope is read or write")
    target = _user("username", username)
    if not target.is_active:
        raise AdministrationError("username", f"{target.username} is deactivated; activate first")
    expires = timezone.now() + dt.timedelta(days=expires_days) if expires_days else None
    with transaction.atomic():
        token, raw = ApiToken.issue(target, scope=scope, expires=expires, name=name.strip())
        record(
            "create",
            object_type="token",
            object_key=token.pk,
            message=f"API token {token.prefix}… for {target.username} ({scope})",
            after={"user": target.username, "scope": scope, "name": token.name},
            user=actor,
        )
    return token, raw


def revoke_token(actor: Any, token_id: int) -> ApiToken:
    _require_admin(actor)
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(pk=token_id).first()
        if token is None:
            raise AdministrationError("token", "no such token; it may have been deleted")
        if not token.revoked:
            token.revoked = True
            token.save(update_fields=["revoked"])
            record(
                "revoke",
                object_type="token",
                object_key=token.pk,
                message=f"API token {token.prefix}… of {token.user.username}",
                before={"revoked": False},
                after={"revoked": True},
                user=actor,
            )
    return token


def set_setting(actor: Any, key: str, value: Any) -> None:
    _require_admin(actor)
    if key not in ServiceSetting.DEFAULTS:
        raise AdministrationError(key, f"unknown setting {key!r}")
    with transaction.atomic():
        before = ServiceSetting.get(key)
        if before == value:
            return
        ServiceSetting.objects.update_or_create(key=key, defaults={"value": value})
        record(
            "update",
            object_type="setting",
            object_key=key,
            before={key: before},
            after={key: value},
            user=actor,
        )


@dataclass(frozen=True)
class AuditFilter:
    """Who, what, when and which customer (external id, pseudonym or internal key)."""

    user: str = ""
    action: str = ""
    since: dt.date | None = None
    until: dt.date | None = None
    customer: str = ""


def audit_entries(actor: Any, flt: AuditFilter) -> QuerySet[AuditEntry]:
    """The audit entries under ``flt``, newest first (administrators only)."""
    _require_admin(actor)
    qs = AuditEntry.objects.restrict(actor, "admin")
    if flt.user:
        qs = qs.filter(username=flt.user.strip())
    if flt.action:
        qs = qs.filter(action=flt.action.strip())
    if flt.since:
        qs = qs.filter(at__date__gte=flt.since)
    if flt.until:
        qs = qs.filter(at__date__lte=flt.until)
    if flt.customer:
        key = flt.customer.strip()
        match = Q(external_id=key) | Q(pseudonym=key)
        if key.isdigit():
            match |= Q(pk=int(key))
        keys = list(Customer.objects.filter(match).values_list("pk", flat=True))
        qs = qs.filter(customer_key__in=keys)
    return qs.order_by("-at", "-id")
