"""Template tags of the account team's day: the unread count in the header, and the profile's
"Log an interaction" form and interaction timeline (included by ``profile.html``).

The profile panels read through ``restrict`` for the user of the page, like its view.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.translation import gettext as _

from corecustomers.web.work.models import Interaction, InteractionKind, Notification

register = template.Library()

#: How many interactions the profile's timeline shows (newest first).
TIMELINE_SIZE = 50


def _user(context: template.Context) -> Any:
    request = context.get("request")
    return getattr(request, "user", None) or context.get("user")


@register.simple_tag(takes_context=True)
def unread_notifications(context: template.Context) -> int:
    """How many notifications the logged-in user has not read (one query)."""
    user = _user(context)
    if user is None or not user.is_authenticated:
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


@register.inclusion_tag("pages/_work_profile_top.html", takes_context=True)
def log_interaction_panel(context: template.Context, profile: Any) -> dict[str, Any]:
    """The short "Log an interaction" form, for a user who may change the customer (the
    profile record says so: it was built for the page's user)."""
    from corecustomers.web.pages.work_views import InteractionForm

    user = _user(context)
    request = context.get("request")
    result: dict[str, Any] = {"csrf_token": context.get("csrf_token"), "work_log": None}
    if user is None or not profile.can_change:
        return result
    result["work_log"] = {
        "form": InteractionForm(initial={"kind": "visit"}, auto_id="log_%s"),
        "next": request.get_full_path() if request is not None else "",
        "action": reverse("pages:log-interaction", kwargs={"key": profile.key}),
    }
    return result


@register.inclusion_tag("pages/_work_timeline.html", takes_context=True)
def interaction_timeline(context: template.Context, profile: Any) -> dict[str, Any]:
    """The customer's interactions the user may see, newest first."""
    from corecustomers.web.pages.work_views import channel_label, outcome_label

    user = _user(context)
    rows = (
        Interaction.objects.restrict(user, "view")
        .filter(customer_id=profile.internal_key)
        .select_related("user")
        .order_by("-at", "-pk")[:TIMELINE_SIZE]
        if user is not None
        else []
    )
    kinds = dict(InteractionKind.choices)
    return {
        "timeline": [
            {
                "kind": row.kind,
                "kind_label": kinds.get(row.kind, row.kind),
                "channel": channel_label(row.channel) if row.channel else "",
                "outcome": outcome_label(row.outcome) if row.outcome else "",
                "at": row.at,
                "user": row.user.username if row.user else _("someone no longer here"),
                "notes": row.notes,
                "next_step": row.next_step,
                "next_step_due": row.next_step_due,
            }
            for row in rows
        ]
    }
