"""The assignment page: bulk assignment of unowned customers and the hand-over of a book.

Managers and administrators only (403 for the others). Each form is previewed first --
the plan is shown, nothing written -- and applied with a second button that posts the same
fields with ``apply``. The use cases are :func:`corecustomers.web.work.assignment.bulk_assign`
and :func:`~corecustomers.web.work.assignment.hand_over_book`.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from corecustomers.web.accounts.models import Team, User
from corecustomers.web.customers import queries
from corecustomers.web.pages.present import number_format, tiers
from corecustomers.web.work.assignment import (
    AssignmentError,
    AssignmentFilter,
    AssignmentForbiddenError,
    bulk_assign,
    hand_over_book,
)
from corecustomers.web.work.policy import setting

__all__ = ["assign_page"]

#: Moves shown in a preview (the totals count them all).
SHOWN = 200


def _managed(user: Any) -> list[str]:
    """The colleagues ``user`` may give customers to (and take a book from)."""
    people = User.objects.filter(is_active=True, role__in=("account_manager", "manager"))
    if not (user.is_superuser or user.role == "admin"):
        teams = Team.objects.filter(Q(members=user) | Q(lead=user))
        people = people.filter(Q(teams__in=teams) | Q(pk=user.pk)).distinct()
    return sorted(set(people.values_list("username", flat=True)))


def _teams(user: Any) -> list[str]:
    teams = Team.objects.all()
    if not (user.is_superuser or user.role == "admin"):
        teams = teams.filter(Q(members=user) | Q(lead=user)).distinct()
    return list(teams.order_by("name").values_list("name", flat=True))


class BulkForm(forms.Form):
    tier = forms.ChoiceField(label=gettext_lazy("Tier"), required=False)
    region = forms.CharField(label=gettext_lazy("Region"), required=False, max_length=100)
    team = forms.ChoiceField(label=gettext_lazy("Team of the customers"), required=False)
    assignees = forms.MultipleChoiceField(
        label=gettext_lazy("Give them to"), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, user: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        shown = tiers()
        self.fields["tier"].choices = [("", _("Any tier"))] + [
            (code, shown.styles[code].label) for code in shown.order
        ]
        self.fields["team"].choices = [("", _("Any team"))] + [(t, t) for t in _teams(user)]
        self.fields["assignees"].choices = [(n, n) for n in _managed(user)]


class HandOverForm(forms.Form):
    leaver = forms.ChoiceField(label=gettext_lazy("Whose book"))
    to = forms.MultipleChoiceField(
        label=gettext_lazy("Hand it to"), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, user: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = [(n, n) for n in _managed(user)]
        self.fields["leaver"].choices = [("", "–"), *names]
        self.fields["to"].choices = names


def _rows(user: Any, moves: list[Any]) -> list[dict[str, Any]]:
    personal = queries.sees_personal_data(user)
    return [
        {
            "label": f"{m.external_id} {m.name}".strip() if personal else m.pseudonym,
            "tier": m.tier,
            "value_at_stake": m.value_at_stake,
            "to": m.to,
        }
        for m in moves[:SHOWN]
    ]


def _error(form: forms.Form, exc: AssignmentError) -> None:
    known = {"assignees", "to", "leaver"}
    target = "leaver" if exc.field == "from" else exc.field
    form.add_error(target if target in known and target in form.fields else None, str(exc))


@login_required
@require_http_methods(["GET", "POST"])
def assign_page(request: HttpRequest) -> HttpResponse:
    """Bulk assignment and hand-over, each previewed before it is applied."""
    user: Any = request.user
    if not (user.is_superuser or user.role in {"admin", "manager"}):
        raise PermissionDenied
    which = request.POST.get("form", "")
    apply = request.POST.get("apply") == "1"
    bulk = BulkForm(user, request.POST if which == "bulk" else None)
    hand = HandOverForm(user, request.POST if which == "hand_over" else None)
    context: dict[str, Any] = {"bulk": bulk, "hand": hand, "max_book": setting("max_book_size")}
    status = 200
    try:
        if which == "bulk" and bulk.is_valid():
            data = bulk.cleaned_data
            flt = AssignmentFilter(tier=data["tier"], region=data["region"], team=data["team"])
            plan = bulk_assign(user, flt, data["assignees"], dry_run=not apply)
            if plan.applied:
                messages.success(
                    request, _("%(count)s customers assigned.") % {"count": len(plan.moves)}
                )
                return redirect("pages:work-assign")
            context["bulk_plan"] = plan
            context["bulk_rows"] = _rows(user, plan.moves)
            context["bulk_hidden"] = [
                ("tier", data["tier"]),
                ("region", data["region"]),
                ("team", data["team"]),
                *(("assignees", name) for name in data["assignees"]),
            ]
        elif which == "hand_over" and hand.is_valid():
            data = hand.cleaned_data
            plan_h = hand_over_book(user, data["leaver"], data["to"], dry_run=not apply)
            if plan_h.applied:
                messages.success(
                    request,
                    _("The book of %(name)s was handed over: %(count)s customers.")
                    % {"name": plan_h.leaver, "count": len(plan_h.moves)},
                )
                return redirect("pages:work-assign")
            context["hand_plan"] = plan_h
            context["hand_rows"] = _rows(user, plan_h.moves)
            context["hand_hidden"] = [
                ("leaver", data["leaver"]),
                *(("to", name) for name in data["to"]),
            ]
        elif which:
            status = 400
    except AssignmentForbiddenError as exc:
        raise PermissionDenied from exc
    except AssignmentError as exc:
        _error(bulk if which == "bulk" else hand, exc)
        status = 400
    context.update({"fmt": number_format(), "tiers": tiers(), "shown": SHOWN})
    return render(request, "pages/work_assign.html", context, status=status)
