"""The extension points later apps use to add header links and page panels
(:mod:`corecustomers.web.pages.extensions`) without editing the shared templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse

from corecustomers.web.customers.models import Customer
from corecustomers.web.pages.extensions import NavEntry, panels

pytestmark = pytest.mark.django_db


@pytest.fixture
def extended(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Any) -> None:
    """The ``loyalty`` app given a header link for managers and a panel in each slot."""
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "profile.html").write_text(
        '<section data-probe="profile">{{ p.key }} for {{ user.username }}</section>'
    )
    (tmp_path / "probe" / "dashboard.html").write_text(
        '<section data-probe="dashboard">{{ data.as_of|date:"Y-m-d" }}</section>'
    )
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0].get("DIRS", []), tmp_path]}
    ]
    config = apps.get_app_config("loyalty")
    monkeypatch.setattr(
        config,
        "nav_entries",
        (NavEntry("pages:alerts", "Probe link", frozenset({"manager"}), frozenset({"alerts"})),),
    )
    monkeypatch.setattr(
        config, "panels", {"profile": ["probe/profile.html"], "dashboard": ["probe/dashboard.html"]}
    )


def test_an_apps_link_shows_for_its_roles_only(extended: None, people: Any) -> None:
    manager, am1 = Client(), Client()
    manager.force_login(people.manager)
    am1.force_login(people.am1)
    page = manager.get(reverse("pages:alerts")).content.decode()
    assert f'<a href="{reverse("pages:alerts")}" aria-current="page">Probe link</a>' in page
    assert "Probe link" not in am1.get(reverse("pages:dashboard")).content.decode()


def test_panels_render_in_their_slot_with_the_pages_context(
    extended: None, imported: Path, people: Any
) -> None:
    client = Client()
    client.force_login(people.admin)
    customer = Customer.objects.order_by("pk").first()
    assert customer is not None
    profile = client.get(reverse("pages:customer", args=[customer.external_id])).content.decode()
    assert f'<section data-probe="profile">{customer.external_id} for admin</section>' in profile
    dashboard = client.get(reverse("pages:dashboard")).content.decode()
    assert '<section data-probe="dashboard">1998-' in dashboard or (
        '<section data-probe="dashboard">1997-' in dashboard
    )


def test_an_unknown_slot_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown panel slot 'sidebar'"):
        panels("sidebar")


def test_other_apps_add_queue_items_and_hold_them_with_a_reason(
    monkeypatch: pytest.MonkeyPatch, people: Any
) -> None:
    import dataclasses
    import datetime as dt

    from corecustomers.web.work.queue import WorkItem, my_work

    def care_day(person: Any, today: dt.date, snoozed: set[str]) -> list[WorkItem]:
        return [WorkItem("care:1", "care", "C9", "C9", "Mid-autumn care", "中秋关怀", today, None)]

    def no_consent(person: Any, items: list[WorkItem], today: dt.date) -> list[WorkItem]:
        return [dataclasses.replace(i, held_en="No consent", held_zh="未同意") for i in items]

    config = apps.get_app_config("contact")
    monkeypatch.setattr(config, "work_item_providers", (care_day,), raising=False)
    monkeypatch.setattr(config, "work_item_checks", (no_consent,), raising=False)
    (item,) = my_work(people.am1, today=dt.date(2026, 9, 25))
    assert (item.kind, item.reason_zh, item.held_en) == ("care", "中秋关怀", "No consent")


def test_the_work_page_names_the_kinds_other_apps_add_in_both_languages() -> None:
    from django.utils import translation

    from corecustomers.web.pages.work_views import _kind_label

    assert _kind_label("care") == "Care day"
    with translation.override("zh-hans"):
        assert (_kind_label("care"), _kind_label("plan")) == ("关怀日", "联系计划")
    assert _kind_label("unheard-of") == "unheard-of"
