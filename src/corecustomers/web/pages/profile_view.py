"""What the profile page (客户档案) shows, built from the :class:`Profile` record."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from corecustomers.report import charts
from corecustomers.report.labels import label
from corecustomers.web.customers.models import Relationship
from corecustomers.web.customers.records import Profile
from corecustomers.web.pages import forms
from corecustomers.web.pages.present import number_format, page_lang, tiers

__all__ = ["profile_context"]

#: Purchase-mix entries of ``Profile.pattern`` and their headings.
MIX_KEYS = ("top_products", "top_categories", "top_channels")


@dataclass(frozen=True)
class MixItem:
    name: str
    share: float | None


def _mix(value: Any) -> list[MixItem]:
    """Top products / categories / channels as ``(name, share)``, whatever shape they came in:
    a list of ``{"value"|"name": ..., "share": ...}``, a mapping name → share, a JSON text of
    either, or names separated by ``|``.

    >>> [(m.name, m.share) for m in _mix('[{"value": "Tea", "share": 0.5}]')]
    [('Tea', 0.5)]
    >>> [(m.name, m.share) for m in _mix({"App": 0.25})], _mix("a|b")[1].name
    ([('App', 0.25)], 'b')
    """
    if not value:
        return []
    if isinstance(value, str):
        if value.lstrip()[:1] in {"[", "{"}:
            try:
                return _mix(json.loads(value))
            except json.JSONDecodeError:
                pass
        return [MixItem(part.strip(), None) for part in value.split("|") if part.strip()]
    items: list[MixItem] = []
    if isinstance(value, dict):
        value = [{"name": k, "share": v} for k, v in value.items()]
    for entry in value if isinstance(value, list) else []:
        if isinstance(entry, dict):
            name = entry.get("name") or entry.get("item") or entry.get("value") or ""
            share = entry.get("share")
            items.append(
                MixItem(str(name), float(share) if isinstance(share, int | float) else None)
            )
        else:
            items.append(MixItem(str(entry), None))
    return [item for item in items if item.name]


def profile_context(user: Any, record: Profile, bound: dict[str, Any]) -> dict[str, Any]:
    lang = page_lang()
    fmt = number_format()
    tier_table = tiers(lang)
    dates = [point.as_of.isoformat() for point in record.history]
    score_chart = clv_chart = None
    if record.history:
        score_chart = charts.line(
            dates,
            [p.core_score for p in record.history],
            title=_("Core score at each analysis"),
            value_text=lambda v: fmt.decimal(v, 2),
            tick_text=lambda v: fmt.decimal(v, 0),
            key="score-history",
        )
        clv_chart = charts.line(
            dates,
            [p.clv for p in record.history],
            title=_("Lifetime value at each analysis"),
            value_text=fmt.money,
            tick_text=lambda v: fmt.money(v, 0),
            key="clv-history",
            colour="#d97706",
        )
    zh = lang == "zh"
    reason = (record.tier_reason_zh if zh else record.tier_reason_en) or (
        record.tier_reason_en or record.tier_reason_zh
    )
    support = [m.username for m in record.account_team if m.role == "support"]
    single = {m.role: m.username for m in record.account_team if m.role != "support"}
    labels = {code: tier_table.label(code) for code in tier_table.order}
    known = list(tier_table.order)  # the latest policy's tiers, as overrides.known_tiers
    override_form = bound.get("override_form") or forms.OverrideForm(
        tiers=known,
        labels=labels,
        initial={"tier": record.override.tier if record.override else record.tier},
    )
    if "override_form" in bound:
        override_form.fields["tier"].choices = [(t, labels.get(t, t)) for t in known]
    team_form = bound.get("team_form") or forms.AccountTeamForm(
        initial={
            "owner": single.get("owner", ""),
            "support": ", ".join(support),
            "sponsor": single.get("sponsor", ""),
            "team": record.team or "",
            "relationship": record.relationship,
        }
    )
    notes_form = bound.get("notes_form") or forms.NotesForm(initial={"notes": record.notes or ""})
    role_labels = {"owner": _("Owner"), "support": _("Support"), "sponsor": _("Executive sponsor")}
    return {
        "p": record,
        "fmt": fmt,
        "tiers": tier_table,
        "reason": reason,
        "action": (record.action_zh if zh else record.action_en)
        or record.action_en
        or record.action_zh,
        "channel": label(lang, f"channel.{record.action_channel}") or record.action_channel
        if record.action_channel
        else "",
        "alert_reason": (record.alert_reason_zh if zh else record.alert_reason_en)
        or record.alert_reason_en
        or record.alert_reason_zh,
        "abc_label": label(lang, f"abc.{record.abc_class}") if record.abc_class else "",
        "relationship_label": (
            Relationship(record.relationship).label
            if record.relationship in Relationship.values
            else ""
        ),
        "score_chart": score_chart,
        "clv_chart": clv_chart,
        "history": list(reversed(record.history)),
        "mix": [
            (key, heading, _mix(record.pattern.get(key)))
            for key, heading in zip(
                MIX_KEYS, (_("Top products"), _("Top categories"), _("Channels")), strict=True
            )
            if record.pattern.get(key)
        ],
        "team_rows": [(role_labels.get(m.role, m.role), m) for m in record.account_team],
        "override_form": override_form,
        "team_form": team_form,
        "notes_form": notes_form,
        "open_form": next(iter(bound), ""),
    }
