"""Changing a customer: the account team, the relationship level and the notes.

Pages and the API call these use cases; each checks access, validates, and writes the
change and its audit entry (before and after; the customer by internal key) in one
transaction.

Who may change what (decided here, for every caller):

* **admin** -- everything.
* **manager** -- customers of own teams or regions. The owner, support members and
  sponsor must be people of one of the manager's teams (members or lead); the team must be
  one of the manager's teams.
* **account manager** -- customers on whose account team they are: the support members,
  the relationship level and the notes. Taking or giving ownership, naming the sponsor and
  moving the customer to another team is the manager's (:class:`ChangeNotAllowedError`).
* **analyst** -- nothing (no personal data, so no notes either).

A customer the user cannot see at all is :class:`CustomerNotFoundError` (404, so existence
does not leak); one the user sees but may not change is :class:`ChangeNotAllowedError`.

Exceptions::

    ChangeError (ValueError)         -- a value is invalid; ``field`` names it (422)
    └── ChangeNotAllowedError        -- the user may not make this change (403)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Q

from corecustomers.web.accounts.models import Team, User
from corecustomers.web.audit.log import record
from corecustomers.web.customers.models import AccountMember, Customer, Relationship
from corecustomers.web.customers.queries import CustomerNotFoundError

__all__ = [
    "MAX_NOTES",
    "MAX_SUPPORT",
    "ChangeError",
    "ChangeNotAllowedError",
    "account_team_snapshot",
    "set_account_team",
    "set_notes",
]

MAX_NOTES = 20_000
MAX_SUPPORT = 20
#: Roles whose people can serve on an account team.
SERVING_ROLES = ("admin", "manager", "account_manager")


class ChangeError(ValueError):
    """A value of a change is invalid; ``field`` names it and the message says what to do."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class ChangeNotAllowedError(ChangeError):
    """The user sees the customer but may not make this change."""


def _changeable(user: Any, customer: Customer) -> Customer:
    """``customer`` reloaded under lock if ``user`` may change it, else the right error."""
    if not Customer.objects.restrict(user, "view").filter(pk=customer.pk).exists():
        raise CustomerNotFoundError(customer.external_id)
    found = (
        Customer.objects.restrict(user, "change").select_for_update().filter(pk=customer.pk).first()
    )
    if found is None:
        raise ChangeNotAllowedError(
            "customer", "you may look at this customer but not change it; ask a manager"
        )
    return found


def _is_admin(user: Any) -> bool:
    return bool(user.is_superuser or getattr(user, "role", "") == "admin")


def _manager_teams(user: Any) -> list[Team]:
    return list(Team.objects.filter(Q(members=user) | Q(lead=user)).distinct())


def account_team_snapshot(customer: Customer) -> dict[str, Any]:
    """The account team, team and relationship of ``customer`` as plain JSON."""
    members = AccountMember.objects.filter(customer=customer).select_related("user")
    by_role: dict[str, list[str]] = {"owner": [], "support": [], "sponsor": []}
    for member in members.order_by("user__username"):
        by_role.setdefault(member.role, []).append(member.user.username)
    return {
        "owner": by_role["owner"][0] if by_role["owner"] else None,
        "support": by_role["support"],
        "sponsor": by_role["sponsor"][0] if by_role["sponsor"] else None,
        "team": customer.team.name if customer.team_id else None,  # type: ignore[attr-defined]
        "relationship": customer.relationship or None,
    }


def _people(field: str, names: Iterable[str]) -> dict[str, User]:
    wanted = list(names)
    found = {
        u.username: u
        for u in User.objects.filter(username__in=wanted, is_active=True, role__in=SERVING_ROLES)
    }
    unknown = [n for n in wanted if n not in found]
    if unknown:
        raise ChangeError(
            field,
            f"no active user {', '.join(repr(n) for n in unknown)} who can serve on an "
            "account team (administrators, managers and account managers can); "
            "check the user name on the Users page",
        )
    return found


def _clean_name(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def set_account_team(
    user: Any,
    customer: Customer,
    *,
    owner: str | None,
    support: list[str],
    sponsor: str | None,
    team: str | None,
    relationship: str | None,
) -> None:
    """Replace the account team, team and relationship level of ``customer``.

    Every argument is the new value in full (``None`` or an empty list clears it); names
    are user names, ``team`` a team's name, ``relationship`` one of ``vendor``,
    ``partner``, ``alliance``. ``customer`` is updated in place. Raises
    :class:`CustomerNotFoundError`, :class:`ChangeNotAllowedError` or :class:`ChangeError`
    (naming the field).
    """
    owner = _clean_name(owner)
    sponsor = _clean_name(sponsor)
    team = _clean_name(team)
    relationship = _clean_name(relationship)
    support_names: list[str] = []
    for name in support:
        cleaned = name.strip()
        if not cleaned:
            raise ChangeError("support", "a support member's user name is empty")
        if cleaned in support_names:
            raise ChangeError("support", f"{cleaned!r} is listed twice; list each person once")
        support_names.append(cleaned)
    if len(support_names) > MAX_SUPPORT:
        raise ChangeError("support", f"at most {MAX_SUPPORT} support members")
    if owner is not None and owner in support_names:
        raise ChangeError("support", f"{owner!r} is the owner; do not list them as support too")
    if relationship is not None and relationship not in Relationship.values:
        raise ChangeError(
            "relationship",
            f"relationship is one of {', '.join(Relationship.values)}, or empty for none",
        )
    people = {
        **_people("owner", [owner] if owner else []),
        **_people("support", support_names),
        **_people("sponsor", [sponsor] if sponsor else []),
    }
    team_row: Team | None = None
    if team is not None:
        team_row = Team.objects.filter(name=team).first()
        if team_row is None:
            raise ChangeError("team", f"no team {team!r}; create it on the Teams page first")

    with transaction.atomic():
        given, customer = customer, _changeable(user, customer)
        before = account_team_snapshot(customer)
        after = {
            "owner": owner,
            "support": sorted(support_names),
            "sponsor": sponsor,
            "team": team,
            "relationship": relationship,
        }
        _check_role_rules(user, before, after, people, team_row)
        if before == after:
            return
        AccountMember.objects.filter(customer=customer).delete()
        members = (
            [AccountMember(customer=customer, user=people[owner], role="owner")] if owner else []
        )
        members += [
            AccountMember(customer=customer, user=people[n], role="support") for n in support_names
        ]
        if sponsor:
            members.append(AccountMember(customer=customer, user=people[sponsor], role="sponsor"))
        AccountMember.objects.bulk_create(members)
        customer.team = team_row
        customer.relationship = relationship or ""
        customer.save(update_fields=["team", "relationship", "updated"])
        given.team, given.relationship = customer.team, customer.relationship
        record(
            "account_team",
            object_type="customer",
            object_key=customer.pk,
            customer_key=customer.pk,
            before=before,
            after=after,
            user=user,
        )


def _check_role_rules(
    user: Any,
    before: dict[str, Any],
    after: dict[str, Any],
    people: dict[str, User],
    team_row: Team | None,
) -> None:
    if _is_admin(user):
        return
    role = getattr(user, "role", "")
    if role == "manager":
        teams = _manager_teams(user)
        reachable = {user.pk}
        for t in teams:
            reachable |= set(t.members.values_list("pk", flat=True))
            if t.lead_id is not None:  # type: ignore[attr-defined]
                reachable.add(t.lead_id)  # type: ignore[attr-defined]
        for field in ("owner", "sponsor"):
            name = after[field]
            if name and name != before[field] and people[name].pk not in reachable:
                raise ChangeNotAllowedError(
                    field, f"{name!r} is not in your teams; managers assign within their teams"
                )
        for name in set(after["support"]) - set(before["support"]):
            if people[name].pk not in reachable:
                raise ChangeNotAllowedError(
                    "support", f"{name!r} is not in your teams; managers assign within their teams"
                )
        if after["team"] != before["team"] and (
            team_row is not None and team_row.pk not in {t.pk for t in teams}
        ):
            raise ChangeNotAllowedError(
                "team", f"{after['team']!r} is not one of your teams; ask an administrator"
            )
        return
    if role == "account_manager":
        for field, what in (
            ("owner", "ownership is given by a manager"),
            ("sponsor", "the executive sponsor is named by a manager"),
            ("team", "moving a customer to another team is a manager's decision"),
        ):
            if after[field] != before[field]:
                raise ChangeNotAllowedError(field, f"{what}; ask your manager")
        return
    raise ChangeNotAllowedError("customer", "your role cannot change customers")


def set_notes(user: Any, customer: Customer, notes: str) -> None:
    """Replace the notes of ``customer`` (audited with the text before and after)."""
    if len(notes) > MAX_NOTES:
        raise ChangeError("notes", f"notes are at most {MAX_NOTES} characters; shorten them")
    if "\x00" in notes:
        raise ChangeError("notes", "notes cannot contain NUL characters")
    with transaction.atomic():
        given, customer = customer, _changeable(user, customer)
        if not getattr(user, "sees_personal_data", True):
            raise ChangeNotAllowedError("notes", "your role does not see notes")
        before = customer.notes
        if before == notes:
            return
        customer.notes = given.notes = notes
        customer.save(update_fields=["notes", "updated"])
        record(
            "notes",
            object_type="customer",
            object_key=customer.pk,
            customer_key=customer.pk,
            before={"notes": before},
            after={"notes": notes},
            user=user,
        )
