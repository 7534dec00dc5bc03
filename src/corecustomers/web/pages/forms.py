"""The pages' forms: real labels, field errors by name, values cleaned for the use cases."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from corecustomers.web.accounts.models import Role, Scope
from corecustomers.web.customers.models import Relationship

__all__ = [
    "AccountTeamForm",
    "AuditFilterForm",
    "NotesForm",
    "OverrideForm",
    "RoleForm",
    "SettingsForm",
    "TeamForm",
    "TokenForm",
    "UserForm",
]


class OverrideForm(forms.Form):
    tier = forms.ChoiceField(label=_("Tier"))
    reason = forms.CharField(
        label=_("Why"), max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )
    until = forms.DateField(
        label=_("Until (optional)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(
        self, *args: Any, tiers: list[str], labels: dict[str, str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        labels = labels or {}
        self.fields["tier"].choices = [(t, labels.get(t, t)) for t in tiers]  # type: ignore[attr-defined]

    def clean_until(self) -> dt.date | None:
        until: dt.date | None = self.cleaned_data.get("until")
        if until is not None and until < dt.date.today():
            raise forms.ValidationError(_("The end date is in the past; choose a later date."))
        return until


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.replace("，", ",").split(",") if part.strip()]


class AccountTeamForm(forms.Form):
    owner = forms.CharField(label=_("Owner (user name)"), required=False, max_length=150)
    support = forms.CharField(
        label=_("Support (user names, separated by commas)"), required=False, max_length=2000
    )
    sponsor = forms.CharField(
        label=_("Executive sponsor (user name)"), required=False, max_length=150
    )
    team = forms.CharField(label=_("Team"), required=False, max_length=100)
    relationship = forms.ChoiceField(
        label=_("Relationship level"),
        required=False,
        choices=[("", _("Not set")), *Relationship.choices],
    )

    def clean_support(self) -> list[str]:
        return _names(self.cleaned_data.get("support") or "")


class NotesForm(forms.Form):
    notes = forms.CharField(
        label=_("Notes"),
        required=False,
        max_length=20_000,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 5}),
    )


class UserForm(forms.Form):
    username = forms.CharField(label=_("User name"), max_length=150)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.ACCOUNT_MANAGER)
    email = forms.EmailField(label=_("E-mail (optional)"), required=False)
    teams = forms.CharField(
        label=_("Teams (names, separated by commas)"), required=False, max_length=1000
    )
    password = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean_teams(self) -> list[str]:
        return _names(self.cleaned_data.get("teams") or "")


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class TeamForm(forms.Form):
    name = forms.CharField(label=_("Team name"), max_length=100)
    region = forms.CharField(label=_("Region (optional)"), required=False, max_length=100)
    lead = forms.CharField(label=_("Lead (user name, optional)"), required=False, max_length=150)
    members = forms.CharField(
        label=_("Members (user names, separated by commas)"), required=False, max_length=4000
    )

    def clean_members(self) -> list[str]:
        return _names(self.cleaned_data.get("members") or "")


class TokenForm(forms.Form):
    username = forms.CharField(label=_("For user"), max_length=150)
    name = forms.CharField(label=_("Name (what it is for)"), required=False, max_length=100)
    scope = forms.ChoiceField(label=_("Scope"), choices=Scope.choices)
    expires_days = forms.IntegerField(
        label=_("Expires after (days, optional)"), required=False, min_value=1, max_value=3650
    )


class AuditFilterForm(forms.Form):
    user = forms.CharField(label=_("User"), required=False, max_length=150)
    action = forms.CharField(label=_("Action"), required=False, max_length=40)
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    customer = forms.CharField(
        label=_("Customer (id or internal key)"), required=False, max_length=200
    )
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)


class SettingsForm(forms.Form):
    account_managers_see_unassigned = forms.BooleanField(
        label=_("Account managers also see customers nobody is assigned to"), required=False
    )
