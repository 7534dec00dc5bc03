"""The one decision whether a customer may be contacted: ``check(customer, purpose, channel, at)``.

Every planned contact -- a My-work item, a campaign message, a care message, a survey
invitation -- asks here, when it is planned and again when it is sent. The rules, in order
(the first that fails is the reason):

1. ``do_not_contact`` -- the customer's do-not-contact flag stops everything but service.
2. ``no_address`` -- a message channel needs the address (e-mail; phone for SMS and app).
3. ``no_consent`` / ``withdrawn`` / ``refused`` -- service contacts rest on the contract and
   go unless the customer objected on that channel; every other purpose needs a granted
   consent for that purpose × channel (marketing only on a ``consent`` basis, PIPL).
4. ``no_sensitive_consent`` -- a message that uses sensitive personal data also needs the
   separate ``sensitive_data`` consent.
5. ``recently_complained`` -- a complaint in the last ``contact_complaint_days`` days stops
   the purposes in ``contact_complaint_purposes``.
6. ``budget_week`` / ``budget_month`` -- one budget per customer across all channels for
   the purposes in ``contact_budget_purposes``: outbox messages planned or sent, and the
   account team's calls, visits, letters … (interactions) in the same calendar week/month.
7. ``quiet_hours`` -- no SMS, call or app message in the quiet hours (service excepted);
   the decision says when the quiet hours end (``retry_at``).

:class:`Checker` loads what the rules need for many customers in a few queries (a campaign
over 10,000 customers) and counts the contacts it allows, so that one plan never exceeds
a budget either.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from corecustomers.web.contact.models import (
    BUDGET_STATUSES,
    Consent,
    ContactProfile,
    OutboxMessage,
)
from corecustomers.web.contact.policy import label, setting
from corecustomers.web.customers.models import Customer
from corecustomers.web.work.models import Interaction

__all__ = ["Checker", "Decision", "check", "periods"]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason_code: str
    reason_en: str
    reason_zh: str
    #: When a contact held by the quiet hours may go.
    retry_at: dt.datetime | None = None


ALLOWED = Decision(True, "allowed", "Allowed.", "允许。")


def _zone() -> dt.tzinfo:
    return ZoneInfo(str(settings.TIME_ZONE))


def periods(at: dt.datetime) -> tuple[dt.datetime, dt.datetime, dt.datetime, dt.datetime]:
    """The calendar week (Monday) and month around ``at``: week start, end, month start, end."""
    local = at.astimezone(_zone())
    day = local.date()
    week_start = day - dt.timedelta(days=day.weekday())
    month_start = day.replace(day=1)
    next_month = (month_start + dt.timedelta(days=32)).replace(day=1)

    def moment(d: dt.date) -> dt.datetime:
        return dt.datetime.combine(d, dt.time()).replace(tzinfo=_zone())

    return (
        moment(week_start),
        moment(week_start + dt.timedelta(days=7)),
        moment(month_start),
        moment(next_month),
    )


def _clock(text: str) -> dt.time:
    hours, _, minutes = str(text).partition(":")
    return dt.time(int(hours), int(minutes or 0))


class Checker:
    """The rules for a set of customers, loaded once (see the module docstring).

    ``at`` is the moment the contacts are planned for; contacts that the checker allows
    with ``count=True`` are added to the budget it keeps, so a plan of many messages per
    customer stays within it. ``exclude_messages`` leaves outbox messages out of the
    counts (the messages being sent, which their own plan already counted).
    """

    def __init__(
        self,
        customers: Iterable[Customer],
        at: dt.datetime,
        *,
        exclude_messages: Collection[int] = (),
    ) -> None:
        self.customers = {c.pk: c for c in customers}
        self.at = at
        self._periods = periods(at)
        ids = list(self.customers)
        self.consents: dict[tuple[int, str, str], tuple[str, str]] = {}
        self.dnc: dict[int, str] = {}
        self.complained: set[int] = set()
        self.week: Counter[int] = Counter()
        self.month: Counter[int] = Counter()
        self.budget = {k: int(v) for k, v in dict(setting("contact_budget")).items()}
        self.budget_purposes = set(setting("contact_budget_purposes"))
        self.complaint_purposes = set(setting("contact_complaint_purposes"))
        quiet = dict(setting("contact_quiet_hours"))
        self.quiet = (_clock(quiet["start"]), _clock(quiet["end"])) if quiet else None
        self.quiet_channels = set(setting("contact_quiet_channels"))
        for chunk in _chunks(ids):
            self._load(chunk, exclude_messages)

    def _load(self, ids: list[int], exclude_messages: Collection[int]) -> None:
        rows = Consent.objects.filter(customer_id__in=ids).values_list(
            "customer_id", "purpose", "channel", "status", "lawful_basis"
        )
        for cid, purpose, channel, status, basis in rows:
            self.consents[(cid, purpose, channel)] = (status, basis)
        self.dnc.update(
            ContactProfile.objects.filter(customer_id__in=ids, do_not_contact=True).values_list(
                "customer_id", "reason"
            )
        )
        days = int(setting("contact_complaint_days"))
        self.complained.update(
            Interaction.objects.filter(
                customer_id__in=ids,
                kind="complaint",
                at__gt=self.at - dt.timedelta(days=days),
                at__lte=self.at,
            ).values_list("customer_id", flat=True)
        )
        week_start, week_end, month_start, month_end = self._periods
        start, end = min(week_start, month_start), max(week_end, month_end)
        messages = OutboxMessage.objects.filter(
            customer_id__in=ids,
            status__in=BUDGET_STATUSES,
            purpose__in=self.budget_purposes,
            planned_for__gte=start,
            planned_for__lt=end,
        )
        if exclude_messages:
            messages = messages.exclude(pk__in=list(exclude_messages))
        kinds = list(setting("contact_budget_interaction_kinds"))
        interactions = Interaction.objects.filter(
            customer_id__in=ids, kind__in=kinds, at__gte=start, at__lt=end
        ).exclude(channel="outbox")  # the outbox's own record of a sent message
        for cid, when in [
            *messages.values_list("customer_id", "planned_for"),
            *interactions.values_list("customer_id", "at"),
        ]:
            self._count(cid, when)

    def _count(self, cid: int, when: dt.datetime) -> None:
        week_start, week_end, month_start, month_end = self._periods
        if week_start <= when < week_end:
            self.week[cid] += 1
        if month_start <= when < month_end:
            self.month[cid] += 1

    def check(
        self,
        customer_id: int,
        purpose: str,
        channel: str,
        *,
        uses_sensitive_data: bool = False,
        count: bool = False,
        at: dt.datetime | None = None,
    ) -> Decision:
        """The decision for one contact (see the module docstring for the rules)."""
        at = at or self.at
        customer = self.customers[customer_id]
        p_en, p_zh = label(purpose), label(purpose, True)
        c_en, c_zh = label(channel), label(channel, True)
        service = purpose == "service"
        if customer_id in self.dnc and not service:
            why = self.dnc[customer_id]
            return Decision(
                False,
                "do_not_contact",
                f"Do not contact: {why}" if why else "Do not contact.",
                f"请勿联系：{why}" if why else "请勿联系。",
            )
        if channel == "email" and not customer.email:
            return Decision(False, "no_address", "No e-mail address.", "没有电子邮件地址。")
        if channel in {"sms", "app"} and not customer.phone:
            return Decision(False, "no_address", "No phone number.", "没有手机号码。")
        status, basis = self.consents.get((customer_id, purpose, channel), ("", ""))
        if service:
            if status in {"withdrawn", "refused"}:
                return Decision(
                    False,
                    status,
                    f"The customer objected to service contacts by {c_en}.",
                    f"客户拒绝通过{c_zh}的服务联系。",
                )
        elif status != "granted" or (purpose == "marketing" and basis != "consent"):
            code = status if status in {"withdrawn", "refused"} else "no_consent"
            verb_en = {"withdrawn": "withdrew", "refused": "refused"}.get(code, "")
            en = (
                f"The customer {verb_en} consent to {p_en} by {c_en}."
                if verb_en
                else f"No consent to {p_en} by {c_en}."
            )
            verb_zh = {"withdrawn": "已撤回", "refused": "已拒绝"}.get(code, "未同意")
            return Decision(False, code, en, f"客户{verb_zh}通过{c_zh}接收{p_zh}联系。")
        if uses_sensitive_data and self.consents.get(
            (customer_id, "sensitive_data", "any"), ("", "")
        ) != ("granted", "consent"):
            return Decision(
                False,
                "no_sensitive_consent",
                "No separate consent to use sensitive personal data.",
                "未单独同意处理敏感个人信息。",
            )
        if purpose in self.complaint_purposes and customer_id in self.complained:
            return Decision(
                False,
                "recently_complained",
                f"The customer complained recently: no {p_en} contact for now.",
                f"客户近期有投诉：暂不进行{p_zh}联系。",
            )
        if purpose in self.budget_purposes:
            week, month = self.budget.get("week"), self.budget.get("month")
            if week is not None and self.week[customer_id] >= week:
                return Decision(
                    False,
                    "budget_week",
                    f"Contact budget used: {week} contact(s) this week.",
                    f"联系额度已用完：本周已联系{week}次。",
                )
            if month is not None and self.month[customer_id] >= month:
                return Decision(
                    False,
                    "budget_month",
                    f"Contact budget used: {month} contact(s) this month.",
                    f"联系额度已用完：本月已联系{month}次。",
                )
        if not service and channel in self.quiet_channels and self.quiet is not None:
            end = self._quiet_end(at)
            if end is not None:
                hhmm = end.astimezone(_zone()).strftime("%H:%M")
                return Decision(
                    False,
                    "quiet_hours",
                    f"Quiet hours: not before {hhmm}.",
                    f"免打扰时段：{hhmm}之前不联系。",
                    retry_at=end,
                )
        if count and purpose in self.budget_purposes:
            self._count(customer_id, at)
        return ALLOWED

    def _quiet_end(self, at: dt.datetime) -> dt.datetime | None:
        """When the quiet hours around ``at`` end (``None``: not in quiet hours, or none set)."""
        if self.quiet is None:
            return None
        start, end = self.quiet
        local = at.astimezone(_zone())
        now = local.time()
        day = local.date()
        if start == end:
            return None
        if start < end:  # the same day, e.g. 12:00-14:00
            if start <= now < end:
                return dt.datetime.combine(day, end).replace(tzinfo=_zone())
            return None
        if now >= start:  # over midnight: the evening part
            return dt.datetime.combine(day + dt.timedelta(days=1), end).replace(tzinfo=_zone())
        if now < end:  # the morning part
            return dt.datetime.combine(day, end).replace(tzinfo=_zone())
        return None


def _chunks(ids: list[int], size: int = 5000) -> Iterable[list[int]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def check(
    customer: Customer,
    purpose: str,
    channel: str,
    at: dt.datetime | None = None,
    *,
    uses_sensitive_data: bool = False,
) -> Decision:
    """Whether ``customer`` may be contacted for ``purpose`` by ``channel`` at ``at`` (now)."""
    at = at or timezone.now()
    return Checker([customer], at).check(
        customer.pk, purpose, channel, uses_sensitive_data=uses_sensitive_data
    )


def customers_by_pk(ids: Iterable[int]) -> list[Customer]:
    return list(Customer.objects.filter(Q(pk__in=list(ids))))
