"""The uplift page: every action's hold-out against its treated customers per tier, and (for
managers and administrators) the form that opts an action in to a hold-out."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from corecustomers.web.audit.log import record
from corecustomers.web.experiments.models import DEFAULT_SHARE, Experiment, ExperimentKind
from corecustomers.web.experiments.uplift import report


class ExperimentForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Action code (e.g. action:winback_offer, plan:ordinary:email)"),
        max_length=100,
    )
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=ExperimentKind.choices)
    holdout_percent = forms.FloatField(
        label=gettext_lazy("Held out (%)"), min_value=0, max_value=50, required=False
    )
    cost_per_action = forms.FloatField(
        label=gettext_lazy("Cost per action"), min_value=0, required=False
    )
    window_days = forms.IntegerField(
        label=gettext_lazy("Measured over (days)"), min_value=1, max_value=730, initial=90
    )
    enabled = forms.BooleanField(label=gettext_lazy("Hold out (opt in)"), required=False)


def _may_change(user: Any) -> bool:
    return bool(user.is_superuser or user.role in {"admin", "manager"})


@login_required
@require_http_methods(["GET", "POST"])
def uplift_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    if getattr(user, "role", "") == "account_manager" and not user.is_superuser:
        raise PermissionDenied
    if request.method == "POST":
        if not _may_change(user):
            raise PermissionDenied
        form = ExperimentForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            share = data["holdout_percent"]
            values = {
                "kind": data["kind"],
                "holdout_share": DEFAULT_SHARE[data["kind"]] if share is None else share / 100,
                "cost_per_action": data["cost_per_action"] or 0.0,
                "window_days": data["window_days"],
                "enabled": data["enabled"],
            }
            experiment, created = Experiment.objects.update_or_create(
                code=data["code"].strip(), defaults=values
            )
            record(
                "create" if created else "change",
                object_type="experiment",
                object_key=experiment.pk,
                after={**values, "code": experiment.code},
                user=user,
            )
            messages.success(request, _("Saved."))
            return redirect("experiments:uplift")
        field, errors = next(iter(form.errors.items()))
        messages.error(
            request, _("Not saved: %(field)s: %(error)s") % {"field": field, "error": errors[0]}
        )
    days_raw = request.GET.get("days", "")
    days = int(days_raw) if days_raw.isdigit() and 0 < int(days_raw) <= 730 else None
    rows = report(user, days=days)
    context = {
        "rows": rows,
        "experiments": list(Experiment.objects.restrict(user, "view")),
        "form": ExperimentForm() if _may_change(user) else None,
        "days": days,
    }
    return render(request, "experiments/uplift.html", context)
