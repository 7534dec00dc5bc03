"""The profile panel's forms for the manual member level and gifts (pages, both languages,
CSRF, scope)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from tests.web.loyalty.loyalty_helpers import member, rules

pytestmark = pytest.mark.django_db


def _owned(people: Any) -> Any:
    from corecustomers.web.customers.models import AccountMember

    c = member(region="east", name="Ada")
    AccountMember.objects.create(customer=c, user=people.am1, role="owner")
    return c


def _client(user: Any, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def test_the_manual_level_form_sets_and_clears_for_managers_only(people: Any) -> None:
    from corecustomers.web.audit.models import AuditEntry
    from corecustomers.web.loyalty.models import Account, Level

    rules()
    Level.objects.create(code="gold", name_en="Gold", name_zh="金卡会员", rank=3)
    c = _owned(people)
    profile = f"/customers/{quote(c.external_id, safe='')}/"
    manager, am1 = _client(people.manager), _client(people.am1)
    html = manager.get(profile).content.decode()
    assert 'data-form="manual-level"' in html and 'value="gold"' in html
    assert 'data-form="manual-level"' not in am1.get(profile).content.decode()
    zh = manager.get(profile, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "手动保持会员等级" in zh and "金卡会员" in zh
    until = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    url = f"/loyalty/level/{c.pk}/"
    # CSRF: a form post without the token is refused
    assert _client(people.manager, csrf=True).post(url, {}).status_code == 403
    done = manager.post(url, {"level": "gold", "until": until, "reason": "store opening"})
    assert done.status_code == 302
    account = Account.objects.get(customer=c)
    assert account.manual_level is not None and account.manual_level.code == "gold"
    assert account.manual_until == dt.date.fromisoformat(until)
    # no reason: refused with a message, nothing changes
    manager.post(url, {"level": "", "reason": ""})
    assert Account.objects.get(customer=c).manual_level is not None
    # an account manager: not theirs to send (404); another's customer: 404
    assert am1.post(url, {"level": "", "reason": "x"}).status_code == 404
    assert _client(people.am2).post(url, {"level": "", "reason": "x"}).status_code == 404
    cleared = manager.post(url, {"level": "", "reason": "over"}, follow=True)
    assert "The manual level is cleared." in cleared.content.decode()
    assert Account.objects.get(customer=c).manual_level is None
    assert AuditEntry.objects.filter(action="level", customer_key=c.pk).count() == 2


def test_the_gift_form_gives_once_per_rendering(people: Any) -> None:
    from corecustomers.web.loyalty.models import Gift
    from corecustomers.web.work.models import Interaction

    rules()
    tea = Gift.objects.create(name="Tea set", cost=88, stock=3)
    c = _owned(people)
    profile = f"/customers/{quote(c.external_id, safe='')}/"
    am1 = _client(people.am1)
    html = am1.get(profile).content.decode()
    assert 'data-form="gift"' in html and "Tea set (3 in stock)" in html
    zh = am1.get(profile, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "赠送礼品" in zh and "Tea set（库存 3）" in zh
    url = f"/loyalty/gift/{c.pk}/"
    first = am1.post(url, {"gift": tea.pk, "key": "form-1", "reason": "thanks"}, follow=True)
    assert "Given: Tea set (2 left)." in first.content.decode()
    twice = am1.post(url, {"gift": tea.pk, "key": "form-1"}, follow=True)
    assert "given already" in twice.content.decode()
    assert Gift.objects.get(pk=tea.pk).stock == 2
    assert Interaction.objects.filter(customer=c, kind="gift").count() == 1
    assert _client(people.am2).post(url, {"gift": tea.pk, "key": "x"}).status_code == 404
    assert _client(people.am1, csrf=True).post(url, {"gift": tea.pk}).status_code == 403
    assert Gift.objects.get(pk=tea.pk).stock == 2
