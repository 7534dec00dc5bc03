"""``GET /flagged-customers``, ``GET /dashboard`` and ``GET /me``: the caller's view of the base.

``GET /flagged-customers`` is the analysis' side of the alerts: the customers the latest
analysis flags, with why and the next-best action. The alerts people work on (routed to an
owner, with a status and a deadline) are ``GET /alerts`` and ``PATCH /alerts/{id}``
(:mod:`corecustomers.web.api.work`).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router

from corecustomers.web.accounts.models import Team
from corecustomers.web.api.auth import can_write
from corecustomers.web.api.customers import READ, user_of
from corecustomers.web.api.paging import PageQuery
from corecustomers.web.api.schemas import AlertListOut, DashboardOut, MeOut
from corecustomers.web.customers.alerts import alert_page
from corecustomers.web.customers.queries import dashboard, sees_personal_data

__all__ = ["router"]

router = Router()


@router.get(
    "/flagged-customers",
    response={200: AlertListOut, **READ},
    summary="Customers the latest analysis flags, most value at stake first",
    description="The analysis' early warnings per customer, with the reason and the "
    "next-best action. The routed alerts (owner, status, deadline) are `GET /alerts`.",
)
def list_flagged_customers(request: HttpRequest, page: Query[PageQuery]) -> Any:
    return alert_page(user_of(request), limit=page.limit, offset=page.offset)


@router.get(
    "/dashboard",
    response={200: DashboardOut, **READ},
    summary="The management dashboard of the customers you may see",
)
def get_dashboard(request: HttpRequest) -> Any:
    return dashboard(user_of(request))


@router.get("/me", response={200: MeOut, **READ}, summary="Who you are and what you may do")
def get_me(request: HttpRequest) -> Any:
    user = user_of(request)
    teams = Team.objects.filter(members=user) | Team.objects.filter(lead=user)
    return MeOut(
        username=user.username,
        full_name=user.get_full_name(),
        role="admin" if user.is_superuser else user.role,
        teams=sorted(set(teams.values_list("name", flat=True))),
        language=user.language,
        sees_personal_data=sees_personal_data(user),
        scope="write" if can_write(request) else "read",
    )
