"""The set-based steps of routing: whole runs in a few statements, not a query per customer.

A 1M-customer analysis flags tens of thousands of customers; :func:`.routing.route_alerts`
handles them in three groups (a flagged customer's *pair* is it and its reason code,
``alert_code`` or ``early_warning``):

* :func:`update_open` -- pairs with an open alert: one ``UPDATE`` gives those alerts the
  run's value at stake, as-of date and run id;
* :func:`to_reopen` -- pairs with only closed alerts: their customers, which the routing
  reopens one chunk at a time (they are few: each is an alert someone closed);
* :func:`raise_new` -- pairs without any alert: one ``INSERT … SELECT`` raises them all,
  assigned to the owner, else the lead of the customer's team, with the tier's deadline,
  and one more writes the notification of each that has an assignee.

The statements are plain SQL that PostgreSQL and SQLite both run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone

from corecustomers.web.accounts.models import Team
from corecustomers.web.customers.models import AccountMember, Customer, CustomerState
from corecustomers.web.work.models import OPEN_STATUSES, Alert, Notification

__all__ = ["DEFAULT_CODE", "raise_new", "to_reopen", "update_open"]

#: The reason code of an alert whose analysis gave none.
DEFAULT_CODE = "early_warning"


def _flagged(run_id: str) -> QuerySet[CustomerState]:
    code = Coalesce(NullIf(F("alert_code"), Value("")), Value(DEFAULT_CODE))
    return CustomerState.objects.filter(run_id=run_id, alert=True).annotate(code=code)


def _pair(alerts: QuerySet[Alert]) -> Exists:
    return Exists(alerts.filter(customer_id=OuterRef("customer_id"), reason_code=OuterRef("code")))


def update_open(run_id: str) -> int:
    """The open alerts of the run's flagged pairs take the run's values; how many."""
    flagged = _flagged(run_id).filter(
        customer_id=OuterRef("customer_id"), code=OuterRef("reason_code")
    )
    return (
        Alert.objects.filter(status__in=OPEN_STATUSES)
        .filter(Exists(flagged))
        .update(
            value_at_stake=Subquery(flagged.values("value_at_stake")[:1]),
            as_of=Subquery(flagged.values("as_of")[:1]),
            run_id=run_id,
        )
    )


def to_reopen(run_id: str) -> list[int]:
    """The flagged customers whose pair has closed alerts and no open one."""
    open_alerts = Alert.objects.filter(status__in=OPEN_STATUSES)
    return list(
        _flagged(run_id)
        .filter(~_pair(open_alerts), _pair(Alert.objects.all()))
        .order_by("-value_at_stake", "customer_id")
        .values_list("customer_id", flat=True)
    )


def _case(column: str, values: dict[str, Any], default: Any) -> tuple[str, list[Any]]:
    """``CASE column WHEN %s THEN %s … ELSE %s END`` and its parameters."""
    sql: list[str] = ["CASE", column]
    params: list[Any] = []
    for key, value in values.items():
        sql.append("WHEN %s THEN %s")
        params += [key, value]
    sql.append("ELSE %s END")
    params.append(default)
    return " ".join(sql), params


def raise_new(
    run_id: str, now: dt.datetime, deadline: Callable[[str], tuple[dt.datetime, str]]
) -> tuple[int, int]:
    """Raise an alert for each flagged pair without any; (raised, of them unassigned).

    ``deadline(tier)`` gives the due moment and SLA note of a tier.
    """
    fresh = _flagged(run_id).filter(~_pair(Alert.objects.all()))
    tiers = sorted(set(fresh.values_list("tier", flat=True).distinct()))
    if not tiers:
        return 0, 0
    ops, quote = connection.ops, connection.ops.quote_name
    dues = {tier: deadline(tier) for tier in tiers}
    due_sql, due_params = _case(
        "s.tier", {t: ops.adapt_datetimefield_value(d[0]) for t, d in dues.items()}, None
    )
    note_sql, note_params = _case("s.tier", {t: d[1] for t, d in dues.items()}, "")
    state, alert = quote(CustomerState._meta.db_table), quote(Alert._meta.db_table)
    member, customer = quote(AccountMember._meta.db_table), quote(Customer._meta.db_table)
    team = quote(Team._meta.db_table)
    code = f"COALESCE(NULLIF(s.alert_code, ''), '{DEFAULT_CODE}')"
    stamp = ops.adapt_datetimefield_value(now)
    sql = f"""
        INSERT INTO {alert} (customer_id, reason_code, reason_en, reason_zh, tier,
            value_at_stake, run_id, as_of, status, outcome, note, assignee_id, raised_at,
            due_at, sla_note, reopened)
        SELECT s.customer_id, {code}, s.alert_reason_en, s.alert_reason_zh, s.tier,
            s.value_at_stake, %s, s.as_of, 'open', '', '',
            COALESCE(
                (SELECT m.user_id FROM {member} m
                 WHERE m.customer_id = s.customer_id AND m.role = 'owner'),
                (SELECT t.lead_id FROM {customer} c JOIN {team} t ON t.id = c.team_id
                 WHERE c.id = s.customer_id)
            ),
            %s, {due_sql}, {note_sql}, 0
        FROM {state} s
        WHERE s.run_id = %s AND s.alert = %s AND NOT EXISTS (
            SELECT 1 FROM {alert} a WHERE a.customer_id = s.customer_id AND a.reason_code = {code}
        )
    """  # names are the models' quoted tables; every value is a parameter
    with connection.cursor() as cursor:
        cursor.execute(sql, [run_id, stamp, *due_params, *note_params, run_id, True])
        raised = cursor.rowcount
    new = Alert.objects.filter(run_id=run_id, raised_at=now, reopened=0, status="open")
    unassigned = new.filter(assignee__isnull=True).count()
    _notify_new(new, dues)
    return raised, unassigned


def _notify_new(new: QuerySet[Alert], dues: dict[str, tuple[dt.datetime, str]]) -> None:
    """One notification per new alert with an assignee (the text of ``routing._announce``)."""
    ops, quote = connection.ops, connection.ops.quote_name
    days = {t: timezone.localtime(d[0]).date().isoformat() for t, d in dues.items()}
    day_sql, day_params = _case("a.tier", days, "-")
    alert, customer = quote(Alert._meta.db_table), quote(Customer._meta.db_table)
    notification = quote(Notification._meta.db_table)
    ids_sql, ids_params = new.filter(Q(assignee__isnull=False)).values("pk").query.sql_with_params()
    who = "TRIM(c.external_id || ' ' || c.name)"
    sql = f"""
        INSERT INTO {notification} (user_id, kind, message_en, message_zh, alert_id,
            customer_id, created, email_error)
        SELECT a.assignee_id, 'alert',
            'New alert: ' || {who} || ' (' || a.tier || '). ' || a.reason_en
                || ' Act by ' || {day_sql} || '.',
            '新预警：' || {who} || '（' || a.tier || '）。' || a.reason_zh
                || ' 请在' || {day_sql} || '前处理。',
            a.id, a.customer_id, %s, ''
        FROM {alert} a JOIN {customer} c ON c.id = a.customer_id
        WHERE a.id IN ({ids_sql})
    """  # names are the models' quoted tables; every value is a parameter
    params = [*day_params, *day_params, ops.adapt_datetimefield_value(timezone.now())]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *ids_params])
