"""Import customer master data (names, contacts, birthdays, company, region, owner).

:func:`import_master_data` is the one use case behind the page, the API, the background
job and ``corecustomers import-customers``:

1. **Read and check** the file (outside any transaction, reporting progress): headers in
   English or Chinese, every row checked (:mod:`corecustomers.web.customers.master_file`),
   then against the database -- the owner must be an active user, the team must exist, a
   manager may only change customers of own teams and regions. Every bad row is listed
   with its row number (header = row 1), the column and the reason.
2. **Dry run**: stop here; nothing is written.
3. **Apply** exactly the good rows in *one* transaction: new customers are created (with
   their pseudonym), existing ones updated where a value differs, the owner set as the
   account team's ``owner``; one audit entry per created or changed customer with the
   before/after of the changed fields (``customer_key`` = ``Customer.pk``). If anything
   fails, nothing is applied.

Idempotent by external id: re-importing updates, never duplicates, and importing the same
file again changes nothing and writes no audit entry. A blank cell leaves the stored value
as it is. Master data and analysis state meet on the external id: the result lists the
customers in the file that no analysis has seen, and counts the analysed customers that
have no master data.

Examples
--------
From Python (a path, or a ``pyarrow.Table`` with the same headers)::

    from corecustomers.web.customers.masterdata import import_master_data
    result = import_master_data("customers.xlsx", dry_run=True)
    print(result.bad_rows[:5], result.created, result.updated)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from corecustomers.errors import CoreCustomersError
from corecustomers.web.accounts.models import Team, User
from corecustomers.web.audit.context import acting, current_actor
from corecustomers.web.audit.log import record, record_many
from corecustomers.web.bulk import insert_rows, update_rows
from corecustomers.web.customers.identity import pseudonym
from corecustomers.web.customers.master_file import (
    BadRow,
    MasterDataError,
    MasterFile,
    MasterRecord,
    read_master_file,
)
from corecustomers.web.customers.models import AccountMember, Customer, CustomerHistory

__all__ = [
    "IMPORT_ROLES",
    "BadRow",
    "ImportNotAllowedError",
    "MasterDataError",
    "MasterDataImport",
    "import_master_data",
]

Progress = Callable[[float, str], None]

#: The roles that may import master data.
IMPORT_ROLES = frozenset({"admin", "manager"})
#: The customer fields a file sets directly (owner and team are relations).
DIRECT_FIELDS = (
    "name",
    "company",
    "phone",
    "email",
    "birthday",
    "region",
    "industry",
    "relationship",
    "notes",
)
#: How many ids the result lists (the counts are always complete).
LISTED = 200
_CHUNK = 2000


class ImportNotAllowedError(CoreCustomersError):
    """The user's role may not import master data."""


@dataclass(frozen=True)
class MasterDataImport:
    """What an import found and (unless ``dry_run``) did."""

    file: str
    dry_run: bool
    rows: int
    good_rows: int
    bad_rows: tuple[BadRow, ...]
    created: int
    updated: int
    unchanged: int
    owners_set: int
    columns: Mapping[str, str]
    ignored_columns: tuple[str, ...]
    not_in_analysis: tuple[str, ...]
    not_in_analysis_count: int
    analysed_without_master_data: int
    #: Rows of erased customers (on the privacy suppression list): skipped, values unseen.
    suppressed: int = 0

    @property
    def bad_row_count(self) -> int:
        """How many rows are bad (a row with several problems counts once)."""
        return len({bad.row for bad in self.bad_rows})

    @property
    def changed(self) -> int:
        return self.created + self.updated

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "good_rows": self.good_rows,
            "bad_row_count": self.bad_row_count,
            "bad_rows": [bad.to_json() for bad in self.bad_rows],
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "owners_set": self.owners_set,
            "columns": dict(self.columns),
            "ignored_columns": list(self.ignored_columns),
            "not_in_analysis": list(self.not_in_analysis),
            "not_in_analysis_count": self.not_in_analysis_count,
            "analysed_without_master_data": self.analysed_without_master_data,
            "suppressed": self.suppressed,
        }


@dataclass(eq=False)
class _Change:
    """One customer to create (``key`` set once written) or update, with what changes.

    ``values`` are the database values to write (field names, ``team`` as the team's
    key); ``before``/``after`` what the audit entry shows.
    """

    key: int | None
    record: MasterRecord
    values: dict[str, Any]
    before: dict[str, Any]
    after: dict[str, Any]
    owner: int | None = None
    created: bool = False


@dataclass
class _Plan:
    changes: list[_Change] = field(default_factory=list)
    unchanged: int = 0
    bad: list[BadRow] = field(default_factory=list)
    good: list[MasterRecord] = field(default_factory=list)
    analysed: set[str] = field(default_factory=set)
    without_master: set[str] = field(default_factory=set)


def import_master_data(
    source: str | Path | pa.Table,
    *,
    dry_run: bool = False,
    user: Any = None,
    progress: Progress | None = None,
    today: dt.date | None = None,
    name: str | None = None,
) -> MasterDataImport:
    """Import the master data in ``source`` (see the module docstring).

    Parameters
    ----------
    source
        A CSV, Excel or Parquet file, or a ``pyarrow.Table`` (header = row 1).
    dry_run
        Check and report only; write nothing.
    user
        Who imports (an admin or a manager; a manager changes only customers of own teams
        and regions); ``None`` for the command line and the system (no restriction).
    progress
        ``progress(fraction, message)``, called while reading and checking.
    today
        The date birthdays must not be after (default: today in the business time zone).
    name
        What to call the source in the result and the audit (default: the file's name);
        an upload is stored under a random name, so its job passes the uploaded one.

    Raises
    ------
    MasterDataError
        The file is not a table or has no customer id column.
    ImportNotAllowedError
        ``user``'s role may not import master data.
    """
    if user is not None and not _may_import(user):
        raise ImportNotAllowedError(
            "only administrators and managers may import customer master data; "
            "ask one of them to run the import"
        )
    report = progress or (lambda fraction, message: None)
    parsed = read_master_file(source, today=today or timezone.localdate(), progress=report)
    if name:
        parsed = replace(parsed, name=name)
    parsed, suppressed = _without_suppressed(parsed)
    report(0.5, f"checking {len(parsed.records):,} rows against the customers")
    if dry_run:
        plan = _plan(parsed, user)
        result = replace(_result(parsed, plan, dry_run=True, user=user), suppressed=suppressed)
        report(1.0, "dry run: nothing was written")
        return result
    report(0.6, f"applying {len(parsed.records):,} good rows in one transaction")
    with _as(user), transaction.atomic():
        plan = _plan(parsed, user)
        _apply(plan, parsed)
        result = replace(_result(parsed, plan, dry_run=False, user=user), suppressed=suppressed)
    report(1.0, f"{result.created:,} created, {result.updated:,} updated")
    return result


def _without_suppressed(parsed: MasterFile) -> tuple[MasterFile, int]:
    """``parsed`` without the rows of erased customers (privacy suppression list)."""
    from corecustomers.web.privacy.suppression import suppressed_ids

    gone = suppressed_ids(r.external_id for r in parsed.records)
    if not gone:
        return parsed, 0
    kept = tuple(r for r in parsed.records if r.external_id not in gone)
    return replace(parsed, records=kept), len(parsed.records) - len(kept)


def _as(user: Any) -> AbstractContextManager[Any]:
    """Audit as ``user`` when the caller acts for nobody in particular (a Python call)."""
    actor = current_actor()
    if user is None or actor.resolved_user() is not None:
        return nullcontext()
    return acting(replace(actor, user=user))


def _may_import(user: Any) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and (user.is_superuser or getattr(user, "role", None) in IMPORT_ROLES)
    )


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _plan(parsed: MasterFile, user: Any) -> _Plan:
    """Check the good rows against the database and work out every change."""
    plan = _Plan(bad=list(parsed.bad))
    records = parsed.records
    usernames = {r.values["owner"] for r in records if "owner" in r.values}
    users = {u.username: u for u in User.objects.filter(username__in=usernames, is_active=True)}
    team_names = {r.values["team"] for r in records if "team" in r.values}
    teams = {t.name: t for t in Team.objects.filter(name__in=team_names)}
    ids = [r.external_id for r in records]
    existing: dict[str, dict[str, Any]] = {}
    owners: dict[int, str] = {}
    allowed: set[int] | None = None if user is None or _is_admin(user) else set()
    analysed_pks: set[int] = set()
    for chunk in _chunks(ids):
        found = list(
            Customer.objects.filter(external_id__in=chunk).values(
                "pk", "external_id", "in_master_data", "team_id", "team__name", *DIRECT_FIELDS
            )
        )
        existing.update((c["external_id"], c) for c in found)
        pks = [c["pk"] for c in found]
        owners.update(
            AccountMember.objects.filter(customer_id__in=pks, role="owner").values_list(
                "customer_id", "user__username"
            )
        )
        analysed_pks.update(
            CustomerHistory.objects.filter(customer_id__in=pks)
            .values_list("customer_id", flat=True)
            .distinct()
        )
        if allowed is not None:
            allowed.update(
                Customer.objects.restrict(user, "change")
                .filter(pk__in=pks)
                .values_list("pk", flat=True)
            )
    headers = parsed.columns
    for rec in records:
        problems: list[BadRow] = []
        owner_name = rec.values.get("owner")
        if owner_name is not None and owner_name not in users:
            problems.append(
                BadRow(
                    rec.row,
                    headers["owner"],
                    "unknown_owner",
                    f"there is no active user {owner_name!r}: give a username "
                    "(create the user first with `corecustomers createuser`)",
                    owner_name,
                )
            )
        team_name = rec.values.get("team")
        if team_name is not None and team_name not in teams:
            problems.append(
                BadRow(
                    rec.row,
                    headers["team"],
                    "unknown_team",
                    f"there is no team {team_name!r}: create it under Administration → Teams "
                    "first, or fix the name",
                    team_name,
                )
            )
        current = existing.get(rec.external_id)
        if current is not None and allowed is not None and current["pk"] not in allowed:
            problems.append(
                BadRow(
                    rec.row,
                    headers["external_id"],
                    "not_allowed",
                    "you may not change this customer (not one of your teams or regions)",
                    rec.external_id,
                )
            )
        if problems:
            plan.bad.extend(problems)
            continue
        plan.good.append(rec)
        owner = users.get(owner_name) if owner_name is not None else None
        team = teams.get(team_name) if team_name is not None else None
        if current is None:
            plan.changes.append(_new_customer(rec, owner, team))
            continue
        if current["pk"] in analysed_pks:
            plan.analysed.add(rec.external_id)
            if not current["in_master_data"]:
                plan.without_master.add(rec.external_id)
        change = _update(current, rec, owner, owners.get(current["pk"]), team)
        if change is None:
            plan.unchanged += 1
        else:
            plan.changes.append(change)
    plan.bad.sort(key=lambda bad: bad.row)
    return plan


def _is_admin(user: Any) -> bool:
    return bool(user.is_superuser or getattr(user, "role", None) == "admin")


def _shown(value: Any) -> Any:
    """A field's value as the audit entry keeps it (JSON)."""
    return value.isoformat() if isinstance(value, dt.date) else value


def _new_customer(rec: MasterRecord, owner: User | None, team: Team | None) -> _Change:
    values: dict[str, Any] = {
        name: rec.values[name] for name in DIRECT_FIELDS if name in rec.values
    }
    after = {name: _shown(value) for name, value in values.items()}
    if team is not None:
        values["team"], after["team"] = team.pk, team.name
    if owner is not None:
        after["owner"] = owner.username
    return _Change(
        None, rec, values, {}, after, owner=owner.pk if owner is not None else None, created=True
    )


def _update(
    current: Mapping[str, Any],
    rec: MasterRecord,
    owner: User | None,
    current_owner: str | None,
    team: Team | None,
) -> _Change | None:
    values: dict[str, Any] = {}
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name in DIRECT_FIELDS:
        if name in rec.values and current[name] != rec.values[name]:
            values[name] = rec.values[name]
            before[name], after[name] = _shown(current[name]), _shown(rec.values[name])
    if team is not None and current["team_id"] != team.pk:
        values["team"] = team.pk
        before["team"], after["team"] = current["team__name"], team.name
    if not current["in_master_data"]:
        values["in_master_data"] = True
        before["in_master_data"], after["in_master_data"] = False, True
    new_owner = owner if owner is not None and owner.username != current_owner else None
    if new_owner is not None:
        before["owner"], after["owner"] = current_owner, new_owner.username
    if not after:
        return None
    return _Change(
        current["pk"],
        rec,
        values,
        before,
        after,
        owner=new_owner.pk if new_owner is not None else None,
    )


#: What a new customer row is written with (beyond its id, pseudonym and the file's values).
_NEW_COLUMNS = ("external_id", "pseudonym", *DIRECT_FIELDS, "team", "in_master_data")
_BLANK: dict[str, Any] = {name: "" for name in DIRECT_FIELDS} | {"birthday": None, "team": None}


def _apply(plan: _Plan, parsed: MasterFile) -> None:
    """Write the plan (inside the caller's transaction)."""
    now = timezone.now()
    new = [c for c in plan.changes if c.created]
    old = [c for c in plan.changes if not c.created]
    insert_rows(
        Customer,
        [*_NEW_COLUMNS, "created", "updated"],
        (
            (
                c.record.external_id,
                pseudonym(c.record.external_id),
                *(c.values.get(name, _BLANK[name]) for name in (*DIRECT_FIELDS, "team")),
                True,
                now,
                now,
            )
            for c in new
        ),
    )
    keys: dict[str, int] = {}
    for chunk in _chunks([c.record.external_id for c in new]):
        keys.update(Customer.objects.filter(external_id__in=chunk).values_list("external_id", "pk"))
    for change in new:
        change.key = keys[change.record.external_id]
    groups: dict[tuple[str, ...], list[_Change]] = {}
    for change in old:
        if change.values:
            groups.setdefault(tuple(sorted(change.values)), []).append(change)
    for names, changes in groups.items():
        update_rows(
            Customer,
            [*names, "updated"],
            ((*(c.values[n] for n in names), now, c.key) for c in changes),
        )
    owned = [c for c in plan.changes if c.owner is not None]
    for chunk in _chunks([c.key for c in owned if not c.created]):
        AccountMember.objects.filter(customer_id__in=chunk, role="owner").delete()
    insert_rows(
        AccountMember,
        ["customer", "user", "role", "since"],
        ((c.key, c.owner, "owner", now) for c in owned),
    )
    record_many(_audit_entries(plan.changes))
    if plan.changes:
        record(
            "import",
            object_type="master_data",
            object_key=parsed.name[:64],
            message=(
                f"imported customer master data from {parsed.name}: {len(new):,} created, "
                f"{len(old):,} updated, {len({b.row for b in plan.bad}):,} bad rows skipped"
            ),
            row_count=len(plan.changes),
        )


def _audit_entries(changes: Iterable[_Change]) -> Iterator[dict[str, Any]]:
    for change in changes:
        yield {
            "action": "create" if change.created else "update",
            "object_type": "customer",
            "object_key": change.key,
            "customer_key": change.key,
            "message": (
                f"master data import, row {change.record.row}: "
                + ("new customer" if change.created else "changed " + ", ".join(change.after))
            ),
            "before": change.before or None,
            "after": change.after,
        }


def _result(parsed: MasterFile, plan: _Plan, *, dry_run: bool, user: Any) -> MasterDataImport:
    """The result; counts of analysed customers as they are (or, for a dry run, would be)."""
    missing = [r.external_id for r in plan.good if r.external_id not in plan.analysed]
    scope = Customer.objects.all() if user is None else Customer.objects.restrict(user, "view")
    without = scope.filter(
        Exists(CustomerHistory.objects.filter(customer=OuterRef("pk"))), in_master_data=False
    ).count()
    if dry_run:
        without -= len(plan.without_master)
    created = sum(1 for c in plan.changes if c.created)
    return MasterDataImport(
        file=parsed.name,
        dry_run=dry_run,
        rows=parsed.rows,
        good_rows=len(plan.good),
        bad_rows=tuple(plan.bad),
        created=created,
        updated=len(plan.changes) - created,
        unchanged=plan.unchanged,
        owners_set=sum(1 for c in plan.changes if c.owner is not None),
        columns=parsed.columns,
        ignored_columns=parsed.ignored_columns,
        not_in_analysis=tuple(missing[:LISTED]),
        not_in_analysis_count=len(missing),
        analysed_without_master_data=max(without, 0),
    )
