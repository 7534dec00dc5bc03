"""The JSON API of experiments (mounted at ``/api/v1/``; see :mod:`corecustomers.web.api.app`).

* ``GET /uplift`` -- the uplift report per action × tier over the caller's customers
  (``action``: one action; ``days``: the window, else each action's own).
* ``GET /experiments`` -- the actions with a hold-out set-up.
* ``PUT /experiments/{code}`` -- opt an action in (or out) of a hold-out (managers and
  administrators); the share defaults by kind (10 % mass, 0 % personal).

Account managers have no uplift report (it compares groups across books): 403.
"""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from corecustomers.web.api.customers import READ, WRITE, user_of, writer_of
from corecustomers.web.api.errors import ApiError
from corecustomers.web.audit.log import record
from corecustomers.web.experiments.models import DEFAULT_SHARE, Experiment
from corecustomers.web.experiments.uplift import report

__all__ = ["router"]

router = Router()


class EstimateOut(Schema):
    treated: float | None
    held_out: float | None
    difference: float | None = Field(..., description="treated minus held out")
    low: float | None = Field(..., description="95 % confidence interval, lower end")
    high: float | None


class UpliftRowOut(Schema):
    action: str
    tier: str
    treated: int
    held_out: int
    pending: int = Field(..., description="assigned but not yet measured by a later run")
    revenue: EstimateOut
    revenue_uplift: EstimateOut = Field(..., description="relative: treated / held out - 1")
    purchases: EstimateOut
    retention: EstimateOut
    cost: float
    incremental_revenue: float | None
    cost_per_incremental_revenue: float | None
    window_days: int


class UpliftOut(Schema):
    items: list[UpliftRowOut]


class UpliftQuery(Schema):
    action: str | None = Field(None, max_length=100)
    days: int | None = Field(None, ge=1, le=730)


class ExperimentOut(Schema):
    code: str
    name: str
    kind: Literal["mass", "personal"]
    enabled: bool
    holdout_share: float
    cost_per_action: float
    window_days: int
    assigned: int


class ExperimentListOut(Schema):
    items: list[ExperimentOut]


class ExperimentIn(Schema):
    name: str = Field("", max_length=200)
    kind: Literal["mass", "personal"] = "mass"
    enabled: bool = True
    holdout_share: float | None = Field(None, ge=0, le=0.5, description="default by kind")
    cost_per_action: float = Field(0.0, ge=0, le=1e9)
    window_days: int = Field(90, ge=1, le=730)


def _no_account_managers(user: Any) -> None:
    if getattr(user, "role", "") == "account_manager" and not user.is_superuser:
        raise ApiError(403, "forbidden", "the uplift report is for managers and analysts")


def _experiment_out(e: Experiment) -> dict[str, Any]:
    return {
        "code": e.code,
        "name": e.name,
        "kind": e.kind,
        "enabled": e.enabled,
        "holdout_share": e.holdout_share,
        "cost_per_action": e.cost_per_action,
        "window_days": e.window_days,
        "assigned": e.assignments.count(),
    }


@router.get(
    "/uplift",
    response={200: UpliftOut, **READ},
    summary="Uplift per action × tier: treated against held-out customers",
    description="Revenue, purchases and retention over the window after assignment, measured "
    "from the later analysis runs; 95 % confidence intervals (Welch; the relative revenue "
    "uplift from the log of the ratio of means); the cost of the treated actions.",
)
def get_uplift(request: HttpRequest, query: Query[UpliftQuery]) -> Any:
    user = user_of(request)
    _no_account_managers(user)
    if query.action and not Experiment.objects.filter(code=query.action).exists():
        raise ApiError(404, "not_found", f"no action {query.action!r} with a hold-out", "action")
    return {"items": [r.to_json() for r in report(user, action=query.action, days=query.days)]}


@router.get(
    "/experiments", response={200: ExperimentListOut, **READ}, summary="Actions with a hold-out"
)
def list_experiments(request: HttpRequest) -> Any:
    user = user_of(request)
    _no_account_managers(user)
    return {"items": [_experiment_out(e) for e in Experiment.objects.restrict(user, "view")]}


@router.put(
    "/experiments/{code}",
    response={200: ExperimentOut, **WRITE},
    summary="Opt an action in to (or out of) a hold-out",
)
def put_experiment(request: HttpRequest, code: str, body: ExperimentIn) -> Any:
    user = writer_of(request)
    if not (user.is_superuser or user.role in {"admin", "manager"}):
        raise ApiError(403, "forbidden", "only a manager or an administrator sets up hold-outs")
    if not code.strip() or len(code) > 100 or "\x00" in code or "\x00" in body.name:
        raise ApiError(422, "invalid", "code: 1 to 100 characters, no NUL", "code")
    share = DEFAULT_SHARE[body.kind] if body.holdout_share is None else body.holdout_share
    values = {
        "name": body.name,
        "kind": body.kind,
        "enabled": body.enabled,
        "holdout_share": share,
        "cost_per_action": body.cost_per_action,
        "window_days": body.window_days,
    }
    experiment, created = Experiment.objects.update_or_create(code=code, defaults=values)
    record(
        "create" if created else "change",
        object_type="experiment",
        object_key=experiment.pk,
        after={**values, "code": code},
        user=user,
    )
    return _experiment_out(experiment)
