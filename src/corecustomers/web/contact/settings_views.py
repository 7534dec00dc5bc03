"""The contact settings page (administrators): budget, quiet hours, plans, care days, templates.

Each setting is edited as JSON in the shape of its default (see :mod:`.policy`), checked
before it is stored: a wrong shape is refused naming the setting and what to write.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from corecustomers.web.audit.log import record
from corecustomers.web.contact.festivals import OCCASIONS
from corecustomers.web.contact.models import CONTACT_PURPOSES, MESSAGE_CHANNELS, MessageTemplate
from corecustomers.web.contact.policy import DEFAULTS, setting
from corecustomers.web.contact.wording import load
from corecustomers.web.customers.models import ServiceSetting

__all__ = ["SettingError", "check_setting", "settings_page"]


class SettingError(ValueError):
    pass


def _clock(value: Any) -> bool:
    text = str(value)
    hours, _, minutes = text.partition(":")
    return hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60


def check_setting(key: str, value: Any) -> None:
    """Refuse a value whose shape differs from the default's (the message says what to write)."""
    default = DEFAULTS[key]
    if type(value) is not type(default):
        raise SettingError(f"{key}: write a {type(default).__name__} like the default")
    if key == "contact_budget" and not all(
        k in {"week", "month"} and isinstance(v, int) and v >= 0 for k, v in value.items()
    ):
        raise SettingError(f'{key}: {{"week": N, "month": N}} with whole numbers >= 0')
    if (
        key == "contact_quiet_hours"
        and value
        and not (set(value) == {"start", "end"} and _clock(value["start"]) and _clock(value["end"]))
    ):
        raise SettingError(f'{key}: {{"start": "HH:MM", "end": "HH:MM"}}')
    if key == "contact_care_days":
        for code, rule in value.items():
            if code not in OCCASIONS:
                raise SettingError(
                    f"{key}: unknown occasion {code!r}; one of {', '.join(OCCASIONS)}"
                )
            if not isinstance(rule, dict) or not set(rule.get("channels", [])) <= set(
                MESSAGE_CHANNELS
            ):
                raise SettingError(
                    f"{key}.{code}: channels are some of {', '.join(MESSAGE_CHANNELS)}"
                )
    if key == "contact_plans":
        for tier, entries in value.items():
            for entry in entries if isinstance(entries, list) else [None]:
                if not (
                    isinstance(entry, dict)
                    and entry.get("purpose", "service") in CONTACT_PURPOSES
                    and isinstance(entry.get("every_days"), int)
                    and entry["every_days"] > 0
                ):
                    raise SettingError(
                        f'{key}.{tier}: a list of {{"channel", "purpose", "every_days" > 0}}'
                    )
    if key == "contact_default_language" and value not in {"zh", "en"}:
        raise SettingError(f'{key}: "zh" or "en"')


@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if not (user.is_superuser or user.role == "admin"):
        raise PermissionDenied
    errors: dict[str, str] = {}
    texts = {key: json.dumps(setting(key), ensure_ascii=False, indent=1) for key in DEFAULTS}
    if request.method == "POST" and request.POST.get("form") == "template":
        return _save_template(request)
    if request.method == "POST":
        changed = []
        for key in DEFAULTS:
            raw = request.POST.get(key)
            if raw is None:
                continue
            texts[key] = raw
            try:
                value = json.loads(raw)
                check_setting(key, value)
            except json.JSONDecodeError as exc:
                errors[key] = _("%(key)s is not valid JSON: %(error)s") % {"key": key, "error": exc}
                continue
            except SettingError as exc:
                errors[key] = str(exc)
                continue
            if value != setting(key):
                ServiceSetting.objects.update_or_create(key=key, defaults={"value": value})
                changed.append(key)
        if not errors:
            if changed:
                record(
                    "settings",
                    object_type="contact_settings",
                    after={"changed": changed},
                    user=user,
                )
            messages.success(request, _("Contact settings saved."))
            return redirect("contact:care-settings")
    context = {
        "fields": [(key, texts[key], errors.get(key, "")) for key in DEFAULTS],
        "templates": sorted(load().values(), key=lambda w: w.code),
        "occasions": list(OCCASIONS.values()),
    }
    return render(request, "contact/settings.html", context, status=422 if errors else 200)


def _save_template(request: HttpRequest) -> HttpResponse:
    code = request.POST.get("code", "")
    templates = load()
    if code not in templates:
        messages.error(request, _("Not saved: no template %(code)s.") % {"code": code})
        return redirect("contact:care-settings")
    fields = {
        name: request.POST.get(name, "").strip()
        for name in ("subject_en", "body_en", "subject_zh", "body_zh")
    }
    empty = [name for name, value in fields.items() if not value]
    if empty:
        messages.error(request, _("Not saved: %(field)s is empty.") % {"field": empty[0]})
        return redirect("contact:care-settings")
    MessageTemplate.objects.update_or_create(
        code=code,
        defaults={
            **fields,
            "purpose": templates[code].purpose,
            "uses_sensitive_data": request.POST.get("uses_sensitive_data") == "on",
        },
    )
    record(
        "settings", object_type="message_template", object_key=code, after=fields, user=request.user
    )
    messages.success(request, _("Template %(code)s saved.") % {"code": code})
    return redirect("contact:care-settings")
