"""The pages through the real app (Django's test client): dashboard, customers, profile.

Each role sees what its scope allows: account managers their book, a customer outside the
scope answers 404, analysts see no names or phones anywhere in the HTML; forms need CSRF;
customer text is escaped.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import reverse

from corecustomers.web.audit.models import AuditEntry
from corecustomers.web.customers.models import (
    AccountMember,
    Analysis,
    Customer,
    CustomerState,
    TierOverride,
)

PASSWORD = "correct-horse-battery-9"  # the conftest's password of every test user

pytestmark = pytest.mark.django_db

NAME, PHONE = "王小明", "13800000001"


@pytest.fixture
def book(imported: Path, people: Any) -> list[Customer]:
    """am1 owns the three customers with the highest core score, am2 the next two."""
    top = list(Customer.objects.order_by("-state__core_score", "pk")[:5])
    for customer in top[:3]:
        AccountMember.objects.create(customer=customer, user=people.am1, role="owner")
    for customer in top[3:]:
        AccountMember.objects.create(customer=customer, user=people.am2, role="owner")
    top[0].name, top[0].phone, top[0].company = NAME, PHONE, "星辰贸易"
    top[0].save()
    return top


def login(name: str, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    assert client.login(username=name, password=PASSWORD)
    return client


def profile_url(key: str) -> str:
    return reverse("pages:customer", kwargs={"key": key})


def test_login_page_says_what_went_wrong(people: Any) -> None:
    client = Client()
    response = client.post("/login/", {"username": "am1", "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct" in response.content.decode()
    response = client.post("/login/", {"username": "am1", "password": PASSWORD})
    assert response.status_code == 302


def test_pages_need_a_login(people: Any) -> None:
    for url in ("/", "/customers/", "/customers.csv", profile_url("x"), "/administration/users/"):
        response = Client().get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url


def test_dashboard_empty_state_says_what_to_do(people: Any) -> None:
    html = login("admin").get("/").content.decode()
    assert 'data-empty="no-analysis"' in html
    assert "corecustomers import-analysis DIR" in html


def test_dashboard_counts_equal_the_summary_and_link_to_the_list(book: Any, people: Any) -> None:
    summary = Analysis.objects.get().summary
    client = login("admin")
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    n = sum(int(row["customers"]) for row in summary["tiers"]["table"])
    assert f"{n:,d}" in html
    core = [t for t in summary["tiers"]["core_tiers"]]
    core_n = sum(int(r["customers"]) for r in summary["tiers"]["table"] if r["tier"] in core)
    assert f"{core_n:,d}" in html
    assert 'data-chart="tiers"' in html and "<svg" in html
    # every tier row links to the filtered list, and that list has exactly that count
    for row in summary["tiers"]["table"]:
        assert f'href="/customers/?tier={row["tier"]}"' in html
        listed = client.get("/customers/", {"tier": row["tier"]}).content.decode()
        assert f"{int(row['customers']):,d} customer" in listed
    assert "/customers/?alert=yes" in html


def test_account_manager_dashboard_counts_own_book(book: Any, people: Any) -> None:
    html = login("am1").get("/").content.decode()
    assert "the customers you look after" in html
    # three customers in am1's book, shown in the headline card
    assert '<span class="kpi-value">3</span>' in html


def test_customer_list_per_role(book: Any, people: Any) -> None:
    mine = login("am1").get("/customers/").content.decode()
    for customer in book[:3]:
        assert profile_url(customer.external_id) in mine
    for customer in book[3:]:
        assert profile_url(customer.external_id) not in mine
    assert "3 customers" in mine
    everyone = login("admin").get("/customers/").content.decode()
    assert f"{Customer.objects.count():,d} customers" in everyone
    assert 'rel="next"' in everyone  # more than one page


def test_search_filters_sort_and_pagination(book: Any, people: Any) -> None:
    client = login("am1")
    html = client.get("/customers/", {"q": PHONE}).content.decode()
    assert "1 customer" in html and NAME in html
    assert AuditEntry.objects.filter(action="search", username="am1").exists()
    html = login("am2").get("/customers/", {"q": NAME}).content.decode()
    assert 'data-empty="no-match"' in html and profile_url(book[0].external_id) not in html
    admin = login("admin")
    html = admin.get("/customers/", {"owner": "am1", "sort": "-clv"}).content.decode()
    assert "3 customers" in html
    second = admin.get("/customers/", {"page": "2"}).content.decode()
    assert "Page 2 of" in second


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "name"}, "sort"),
        ({"alert": "maybe"}, "alert"),
        ({"abc": "Z"}, "abc"),
        ({"relationship": "friend"}, "relationship"),
        ({"tier": "platinum"}, "platinum"),
        ({"page": "x"}, "page"),
    ],
)
def test_bad_filter_values_give_a_message_not_a_500(
    book: Any, people: Any, params: dict[str, str], field: str
) -> None:
    response = login("admin").get("/customers/", params)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-field="filter-error"' in html and field in html


def test_csv_export_of_the_current_filter(book: Any, people: Any) -> None:
    response = login("am1").get("/customers.csv", {"alert": ""})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["key"] for r in rows) == sorted(c.external_id for c in book[:3])
    export = AuditEntry.objects.get(action="export", username="am1")
    assert export.row_count == 3
    tier = CustomerState.objects.get(customer=book[0]).tier
    filtered = login("admin").get("/customers.csv", {"tier": tier})
    text = b"".join(filtered.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and {r["tier"] for r in rows} == {tier}
    assert len(rows) == CustomerState.objects.filter(tier=tier).count()


def test_profile_shows_tier_reason_history_chart_and_team(book: Any, people: Any) -> None:
    customer = book[0]
    state = CustomerState.objects.get(customer=customer)
    response = login("am1").get(profile_url(customer.external_id))
    html = response.content.decode()
    assert response.status_code == 200
    assert NAME in html and PHONE in html
    assert state.tier_reason_en and state.tier_reason_en.split(" ")[0] in html
    assert 'data-chart="score-history"' in html and "<svg" in html
    assert 'data-field="account-team"' in html and "am1" in html
    assert AuditEntry.objects.filter(action="view", customer_key=customer.pk).count() == 1


def test_profile_in_chinese_uses_the_chinese_reason(book: Any, people: Any) -> None:
    customer = book[0]
    state = CustomerState.objects.get(customer=customer)
    client = login("am1")
    client.post("/language/", {"language": "zh-hans", "next": "/"})
    html = client.get(profile_url(customer.external_id)).content.decode()
    assert 'lang="zh-CN"' in html
    assert "客户档案" in html and "账户团队" in html
    assert state.tier_reason_zh and state.tier_reason_zh in html


def test_out_of_scope_profile_is_404_for_reading_and_posting(book: Any, people: Any) -> None:
    url = profile_url(book[0].external_id)
    client = login("am2")
    assert client.get(url).status_code == 404
    assert client.post(url, {"form": "notes", "notes": "x"}).status_code == 404
    assert client.get(profile_url("no-such-customer")).status_code == 404
    assert "Not found" in client.get(url).content.decode()


@pytest.mark.parametrize(
    "external_id", ["A/B 1", "客户 七号", "x%2Fy", "ends-with/override", "with?query#frag"]
)
def test_profile_urls_carry_any_external_id(people: Any, external_id: str) -> None:
    customer = Customer.objects.create(
        external_id=external_id, pseudonym="p-" + str(abs(hash(external_id)))[:16], name="Odd"
    )
    url = profile_url(external_id)
    assert url == "/customers/" + quote(external_id, safe="/") + "/"
    html = login("admin").get(url).content.decode()
    assert customer.name in html
    # the list links to the same address
    listing = login("admin").get("/customers/", {"q": external_id}).content.decode()
    assert f'href="{url}"' in listing


def test_analyst_sees_no_name_or_phone_anywhere(book: Any, people: Any) -> None:
    client = login("analyst")
    pages = [
        client.get("/"),
        client.get("/customers/"),
        client.get("/customers/", {"q": book[0].pseudonym}),
        client.get(profile_url(book[0].pseudonym)),
    ]
    for response in pages:
        html = response.content.decode()
        assert response.status_code == 200
        assert NAME not in html and PHONE not in html and "星辰贸易" not in html
        assert f">{book[0].external_id}<" not in html
    profile = pages[-1].content.decode()
    assert 'data-field="personal-hidden"' in profile and 'id="notes"' not in profile
    assert 'name="form"' not in profile  # no change forms
    assert client.get(profile_url(book[0].external_id)).status_code == 404
    export = b"".join(client.get("/customers.csv").streaming_content).decode()  # type: ignore[attr-defined]
    assert NAME not in export and PHONE not in export


def test_customer_text_is_escaped(book: Any, people: Any) -> None:
    customer = book[0]
    customer.name = "<script>alert(1)</script>"
    customer.notes = "<img src=x onerror=alert(2)>"
    customer.save()
    client = login("admin")
    for html in (
        client.get(profile_url(customer.external_id)).content.decode(),
        client.get("/customers/", {"q": "script"}).content.decode(),
    ):
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<img src=x" not in html


def test_forms_need_csrf(book: Any, people: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.login(username="am1", password=PASSWORD)
    url = profile_url(book[0].external_id)
    response = client.post(url, {"form": "notes", "notes": "forged"})
    assert response.status_code == 403
    book[0].refresh_from_db()
    assert book[0].notes == ""
    page = client.get(url)
    token = page.cookies["csrftoken"].value
    response = client.post(
        url, {"form": "notes", "notes": "met at the fair", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    book[0].refresh_from_db()
    assert book[0].notes == "met at the fair"
    for admin_url in ("/administration/users/", "/administration/settings/"):
        admin = Client(enforce_csrf_checks=True)
        admin.login(username="admin", password=PASSWORD)
        assert admin.post(admin_url, {}).status_code == 403


def test_override_set_and_removed_from_the_profile(book: Any, people: Any) -> None:
    customer = book[1]
    summary = Analysis.objects.get().summary
    lowest = summary["tiers"]["table"][-1]["tier"]
    client = login("am1")
    url = profile_url(customer.external_id)
    response = client.post(
        url, {"form": "override", "tier": lowest, "reason": "moved abroad", "until": ""}
    )
    assert response.status_code == 302
    row = TierOverride.objects.get(customer=customer)
    assert (row.tier, row.by, row.reason) == (lowest, "am1", "moved abroad")
    html = client.get(url).content.decode()
    assert 'data-field="override"' in html and "moved abroad" in html
    assert "Yes, remove the manual tier" in html  # asks first
    bad = client.post(url, {"form": "override", "tier": "platinum", "reason": ""})
    assert bad.status_code == 400 and "field-error" in bad.content.decode()
    assert client.post(url, {"form": "remove_override"}).status_code == 302
    assert TierOverride.objects.get(customer=customer).removed
    audit = list(
        AuditEntry.objects.filter(customer_key=customer.pk).values_list("action", flat=True)
    )
    assert "override" in audit and "override_removed" in audit


def test_account_team_and_notes_forms(book: Any, people: Any) -> None:
    customer = book[0]
    url = profile_url(customer.external_id)
    admin = login("admin")
    response = admin.post(
        url,
        {
            "form": "team",
            "owner": "am1",
            "support": "am2",
            "sponsor": "manager",
            "team": "East",
            "relationship": "partner",
        },
    )
    assert response.status_code == 302
    roles = set(
        AccountMember.objects.filter(customer=customer).values_list("user__username", "role")
    )
    assert roles == {("am1", "owner"), ("am2", "support"), ("manager", "sponsor")}
    html = admin.get(url).content.decode()
    assert "Partner" in html
    bad = admin.post(url, {"form": "team", "owner": "nobody-here"})
    assert bad.status_code == 400 and "nobody-here" in bad.content.decode()
    # an account manager may not hand over ownership: a clear message, nothing changed
    refused = login("am1").post(url, {"form": "team", "owner": "am2", "support": ""})
    assert refused.status_code == 403 and "ask your manager" in refused.content.decode()
    assert AccountMember.objects.get(customer=customer, role="owner").user.username == "am1"
    assert login("am1").post(url, {"form": "notes", "notes": "prefers calls"}).status_code == 302
    customer.refresh_from_db()
    assert customer.notes == "prefers calls"
    entry = AuditEntry.objects.filter(action="notes", customer_key=customer.pk).get()
    assert entry.after == {"notes": "prefers calls"}


def test_dashboard_and_list_numbers_use_the_business_format(book: Any, people: Any) -> None:
    analysis = Analysis.objects.get()
    summary = dict(analysis.summary)
    summary["currency"] = "¥"
    Analysis.objects.filter(pk=analysis.pk).update(summary=summary)
    html = login("admin").get("/").content.decode()
    assert "¥" in html
    share = summary["concentration"]["top_20pct_share"]
    assert f"{share * 100:.1f}%" in html
    assert json.dumps(summary)  # the summary stays plain JSON


@pytest.mark.parametrize(
    ("role", "sees_own", "sees_other", "count"),
    [
        ("admin", True, True, None),
        ("manager", True, False, 1),
        ("am1", True, False, 3),
        ("am2", False, True, 2),
        ("analyst", None, None, None),
    ],
)
def test_every_page_for_every_role(
    book: Any,
    people: Any,
    role: str,
    sees_own: bool | None,
    sees_other: bool | None,
    count: int | None,
) -> None:
    """Each page answers each role; a profile outside the role's scope is 404."""
    book[0].team = people.east  # the manager leads East: this one customer is theirs
    book[0].save()
    client = login(role)
    for url in ("/", "/customers/", "/customers/?sort=-value_at_stake", "/customers/?alert=yes"):
        assert client.get(url).status_code == 200, url
    assert client.get("/customers.csv").status_code == 200
    total = Customer.objects.count()
    listed = client.get("/customers/").content.decode()
    assert f"{count if count is not None else total:,d} customer" in listed
    if sees_own is None:  # the analyst: by pseudonym only
        assert client.get(profile_url(book[0].pseudonym)).status_code == 200
        assert client.get(profile_url(book[0].external_id)).status_code == 404
        return
    own = client.get(profile_url(book[0].external_id)).status_code
    other = client.get(profile_url(book[3].external_id)).status_code
    assert own == (200 if sees_own else 404)
    assert other == (200 if sees_other else 404)


def test_every_dashboard_number_leads_to_a_list_of_that_many(book: Any, people: Any) -> None:
    """Movement, core and coverage figures link to filtered lists with the same counts."""
    from corecustomers.web.customers.queries import dashboard

    summary = Analysis.objects.get().summary
    order = [row["tier"] for row in summary["tiers"]["table"]]
    states = CustomerState.objects.order_by("customer_id")
    top, middle, lowest = order[0], order[1], order[-1]
    # some core customers were core before (kept), some fell to the lowest tier (lost),
    # some moved down within the core (downgraded)
    for state in states.filter(tier=top)[:4]:
        state.previous_tier = top
        state.save()
    for state in states.filter(tier=lowest)[:3]:
        state.previous_tier = middle
        state.save()
    for state in states.filter(tier=middle)[:2]:
        state.previous_tier = top
        state.save()
    data = dashboard(people.admin)
    assert data.flows["kept"] >= 4 and data.flows["lost"] == 3 and data.flows["downgraded"] >= 2
    client = login("admin")
    html = client.get("/").content.decode()
    for movement, expected in data.flows.items():
        assert f'href="/customers/?movement={movement}"' in html
        listed = client.get("/customers/", {"movement": movement}).content.decode()
        assert f"{expected:,d} customer" in listed, movement
    core = client.get("/customers/", {"core": "yes"}).content.decode()
    assert f"{data.core_customers:,d} customer" in core
    uncovered = client.get("/customers/", {"core": "yes", "owner": "none"}).content.decode()
    assert f"{data.core_without_owner:,d} customer" in uncovered
    assert client.get("/customers/", {"movement": "vanished"}).status_code == 400


def test_trend_uses_the_report_migration_chart_for_the_whole_base(book: Any, people: Any) -> None:
    analysis = Analysis.objects.get()
    summary = dict(analysis.summary)
    core = summary["tiers"]["core_tiers"]
    summary["migration_series"] = {
        "dates": ["1998-03-31", "1998-06-30", "1998-09-30"],
        "series": {
            "won": [10, 12],
            "kept": [100, 105],
            "downgraded": [3, 4],
            "lost": [5, 6],
            "core": [110, 117],
            "tier_sizes": {tier: [50, 55, 58] for tier in core},
        },
    }
    Analysis.objects.filter(pk=analysis.pk).update(summary=summary)
    admin = login("admin").get("/").content.decode()
    assert 'data-chart="migration-series"' in admin and "1998-09-30" in admin
    # an account manager's trend counts only their own book
    mine = login("am1").get("/").content.decode()
    assert 'data-chart="migration-series"' not in mine and 'data-chart="core-trend"' in mine
    # a malformed series falls back to the plain line instead of failing
    summary["migration_series"] = {"dates": ["x"], "series": "nonsense"}
    Analysis.objects.filter(pk=analysis.pk).update(summary=summary)
    assert 'data-chart="core-trend"' in login("admin").get("/").content.decode()


def test_profile_shows_the_purchase_mix_when_the_analysis_has_it(book: Any, people: Any) -> None:
    state = CustomerState.objects.get(customer=book[0])
    state.pattern = {
        **state.pattern,
        "top_products": [
            {"value": "乌龙茶 <b>", "share": 0.625},
            {"value": "Green tea", "share": 0.25},
        ],
        "top_channels": json.dumps([{"value": "App", "share": 1.0}]),
    }
    state.recommendations = ["Tea set", "Teapot"]
    state.save()
    html = login("am1").get(profile_url(book[0].external_id)).content.decode()
    products = html.split('data-mix="top_products"', 1)[1].split("</ul>", 1)[0]
    assert "乌龙茶 &lt;b&gt;" in products and "62.5%" in products and "Green tea" in products
    channels = html.split('data-mix="top_channels"', 1)[1].split("</ul>", 1)[0]
    assert "App" in channels and "100.0%" in channels
    assert 'data-mix="top_categories"' not in html  # absent from the analysis: not shown
    assert "Tea set" in html and "Teapot" in html
