"""Template tags of the surveys' panels (the queries live in :mod:`..stats`)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import get_language

from corecustomers.web.customers.queries import sees_personal_data
from corecustomers.web.surveys.models import Survey
from corecustomers.web.surveys.stats import customer_scores, nps_by

register = template.Library()


@register.simple_tag(takes_context=True)
def survey_panel(context: template.Context) -> dict[str, Any] | None:
    """The profile's survey answers; ``p`` is the profile record built for the page's user
    (so the user may see the customer; ``p.can_change`` says whether they may change it)."""
    p, user = context.get("p"), context.get("user")
    key = getattr(p, "internal_key", None)
    if key is None or user is None:
        return None
    zh = (get_language() or "").startswith("zh")
    personal = sees_personal_data(user)
    answers = [
        {
            "at": r.at,
            "survey": r.survey.question_zh if zh else r.survey.question_en,
            "kind": r.survey.kind,
            "score": r.score,
            "high": r.survey.scale[1],
            "channel": r.channel,
            "by": r.recorded_by.username if r.recorded_by else "",
            "comment": r.comment if personal else "",
            "alert": r.alert_id is not None,
        }
        for r in customer_scores(user, int(key))
    ]
    can_change = bool(p.can_change)
    surveys = [
        (s.pk, s.question_zh if zh else s.question_en, s.scale)
        for s in Survey.objects.filter(active=True)
    ]
    return {"answers": answers, "can_change": can_change, "surveys": surveys, "key": p.key}


@register.simple_tag(takes_context=True)
def survey_nps(context: template.Context) -> dict[str, Any] | None:
    user, data = context.get("user"), context.get("data")
    if user is None:
        return None
    order = [t.tier for t in getattr(data, "tiers", [])]
    tiers = nps_by(user, "tier", order)
    if not tiers:
        return None
    return {"tiers": tiers, "segments": nps_by(user, "segment")}
