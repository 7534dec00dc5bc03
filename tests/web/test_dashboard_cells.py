"""The dashboard's per-analysis cells equal a direct computation after every change.

The dashboards of the whole base and of a manager are read from
:class:`DashboardCell` / :class:`TrendCell` (``customers/cells.py``), kept by database
triggers. Each test imports the CDNOW analysis, changes something (an owner, an
override, a customer's region or team, a later analysis), and compares every figure of
the dashboard with a computation from the states, history and owners in Python.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.db import connection

from corecustomers.web.customers import cells
from corecustomers.web.customers.analysis_import import import_analysis
from corecustomers.web.customers.models import (
    AccountMember,
    Analysis,
    Customer,
    CustomerHistory,
    CustomerState,
    DashboardCell,
)
from corecustomers.web.customers.overrides import remove_override, set_override
from corecustomers.web.customers.queries import dashboard

pytestmark = pytest.mark.django_db


def _direct(user: Any) -> dict[str, Any]:
    """The dashboard's figures computed from the rows, without the cells or their SQL."""
    analyses = list(Analysis.objects.order_by("as_of", "imported_at"))
    latest = analyses[-1]
    tiers = latest.summary["tiers"]
    order = [row["tier"] for row in tiers["table"]]
    core = list(tiers["core_tiers"])
    visible = set(Customer.objects.restrict(user, "view").values_list("pk", flat=True))
    states = [
        s for s in CustomerState.objects.filter(run_id=latest.run_id) if s.customer_id in visible
    ]
    owned = set(AccountMember.objects.filter(role="owner").values_list("customer_id", flat=True))
    per_tier = {}
    for tier in order:
        mine = [s for s in states if s.tier == tier]
        per_tier[tier] = {
            "customers": len(mine),
            "revenue": sum(s.total_spend for s in mine),
            "clv": sum(s.clv or 0.0 for s in mine),
            "alerts": sum(1 for s in mine if s.alert),
            "value_at_stake": sum(s.value_at_stake or 0.0 for s in mine if s.alert),
        }
    rank = {t: i for i, t in enumerate(order)}
    flows = {"won": 0, "kept": 0, "downgraded": 0, "lost": 0}
    for s in states:
        before = s.previous_tier or ""
        if before in core:
            if rank[s.tier] <= rank[before]:
                flows["kept"] += 1
            elif rank[s.tier] == len(order) - 1:
                flows["lost"] += 1
            else:
                flows["downgraded"] += 1
        elif s.tier in core:
            flows["won"] += 1
    trend = []
    for analysis in analyses:
        analysis_core = analysis.summary["tiers"]["core_tiers"]
        points = CustomerHistory.objects.filter(as_of=analysis.as_of, tier__in=analysis_core)
        trend.append(sum(1 for c in points.values_list("customer_id", flat=True) if c in visible))
    return {
        "customers": len(states),
        "per_tier": per_tier,
        "flows": flows,
        "without_owner_by_tier": {
            tier: sum(1 for s in states if s.tier == tier and s.customer_id not in owned)
            for tier in core
        },
        "core_customers": sum(1 for s in states if s.tier in core),
        "trend": trend,
    }


def _assert_equal(user: Any, *, whole_base_trend: bool = False) -> None:
    board = dashboard(user)
    expected = _direct(user)
    assert board.customers == expected["customers"]
    assert board.core_customers == expected["core_customers"]
    assert board.flows == expected["flows"]
    assert board.without_owner_by_tier == expected["without_owner_by_tier"]
    assert board.core_without_owner == sum(expected["without_owner_by_tier"].values())
    for t in board.tiers:
        want = expected["per_tier"][t.tier]
        assert t.customers == want["customers"], t.tier
        assert t.alerts == want["alerts"], t.tier
        assert t.revenue == pytest.approx(want["revenue"], rel=1e-9, abs=1e-6)
        assert t.clv == pytest.approx(want["clv"], rel=1e-9, abs=1e-6)
        assert t.value_at_stake == pytest.approx(want["value_at_stake"], rel=1e-9, abs=1e-6)
    if not whole_base_trend:  # the whole base's trend comes from the summaries
        assert [p["core_customers"] for p in board.trend] == expected["trend"]


def _cells_total() -> int:
    return sum(DashboardCell.objects.values_list("n", flat=True))


@pytest.fixture
def regions(imported: Path, people: Any) -> Any:
    """Customers in the manager's region (east), in the team East elsewhere, and others."""
    pks = list(
        Customer.objects.filter(state__isnull=False).order_by("pk").values_list("pk", flat=True)
    )
    Customer.objects.filter(pk__in=pks[0:300]).update(region="east")
    Customer.objects.filter(pk__in=pks[300:500]).update(region="north", team=people.east)
    Customer.objects.filter(pk__in=pks[500:700]).update(region="west", team=people.west)
    for pk in pks[0:700:9]:
        AccountMember.objects.create(customer_id=pk, user=people.am1, role="owner")
    people.pks = pks
    return people


def test_the_import_builds_the_cells_from_its_states(imported: Path, people: Any) -> None:
    assert not cells.is_stale()
    assert _cells_total() == CustomerState.objects.count() > 0
    board = dashboard(people.admin)
    assert board.whole_base and board.customers == CustomerState.objects.count()
    _assert_equal(people.admin, whole_base_trend=True)
    _assert_equal(people.manager)  # nobody in east yet: an empty dashboard
    assert dashboard(people.manager).customers == 0


def test_owners_added_moved_and_removed_keep_the_cells_true(regions: Any) -> None:
    pks = regions.pks
    cells.ensure_fresh()  # the regions changed: rebuilt once
    assert not cells.is_stale()
    for user in (regions.admin, regions.manager, regions.analyst):
        _assert_equal(user, whole_base_trend=user is not regions.manager)
    new = [AccountMember(customer_id=pk, user=regions.am2, role="owner") for pk in pks[1:40:3]]
    AccountMember.objects.bulk_create(new)  # several at once
    AccountMember.objects.create(customer_id=pks[800], user=regions.am1, role="support")
    member = AccountMember.objects.filter(role="owner").order_by("pk").first()
    assert member is not None
    member.customer_id = pks[350]  # an owner moved to another customer
    member.save()
    AccountMember.objects.filter(customer_id=pks[9]).update(role="support")  # demoted
    AccountMember.objects.filter(customer_id__in=pks[18:100]).delete()
    # Kept by the owner triggers, without a rebuild.
    assert not cells.is_stale()
    for user in (regions.admin, regions.manager):
        _assert_equal(user, whole_base_trend=user is regions.admin)


def test_an_override_and_a_change_of_region_or_team(regions: Any) -> None:
    pks = regions.pks
    customer = Customer.objects.get(pk=pks[5])
    set_override(customer, tier="key", reason="strategic", until=None, user=regions.admin)
    _assert_equal(regions.manager)
    remove_override(customer, user=regions.admin)
    _assert_equal(regions.manager)
    Customer.objects.filter(pk__in=pks[0:50]).update(region="south")  # out of the scope
    moved = Customer.objects.get(pk=pks[600])
    moved.team = regions.east  # into the scope
    moved.save()
    assert cells.is_stale()
    _assert_equal(regions.manager)
    assert not cells.is_stale()  # the dashboard rebuilt them
    table = connection.ops.quote_name(Customer._meta.db_table)
    with connection.cursor() as cursor:  # raw SQL is covered too
        cursor.execute(f"UPDATE {table} SET region = 'east' WHERE id = %s", [pks[900]])
    _assert_equal(regions.manager)
    _assert_equal(regions.admin, whole_base_trend=True)


def test_a_later_analysis_and_a_deleted_customer(regions: Any, tmp_path: Path) -> None:
    folder = tmp_path / "later"
    shutil.copytree(regions_folder(), folder)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    as_of = dt.date.fromisoformat(summary["as_of"]) + dt.timedelta(days=90)
    summary["as_of"], summary["run_id"] = as_of.isoformat(), summary["run_id"] + "-later"
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    rows = pq.read_table(folder / "customers.parquet")
    tiers = rows.column("tier").to_pylist()
    order = [row["tier"] for row in summary["tiers"]["table"]]
    moved = [
        order[(order.index(t) + 1) % len(order)] if i % 4 == 0 and t in order else t
        for i, t in enumerate(tiers)
    ]
    rows = rows.set_column(rows.schema.get_field_index("tier"), "tier", pa.array(moved))
    pq.write_table(rows.slice(0, rows.num_rows - 100), folder / "customers.parquet")
    import_analysis(folder)
    assert not cells.is_stale()
    assert Analysis.objects.count() == 2
    _assert_equal(regions.manager)
    _assert_equal(regions.admin, whole_base_trend=True)
    # An erasure-like delete of a customer with a state, history and an owner.
    gone = Customer.objects.get(pk=regions.pks[0])
    gone.delete()
    _assert_equal(regions.manager)
    _assert_equal(regions.admin, whole_base_trend=True)


def regions_folder() -> Path:
    first = Analysis.objects.order_by("as_of").first()
    assert first is not None
    return Path(first.folder)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks between connections: PostgreSQL"
)
def test_a_busy_writer_leaves_the_dashboard_true(regions: Any) -> None:
    """While another connection holds the cells' status row (it is writing states), a
    stale dashboard is computed from the states instead of waiting; then rebuilt."""
    import psycopg

    settings = connection.settings_dict
    other = psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        password=settings["PASSWORD"] or None,
    )
    try:
        Customer.objects.filter(pk__in=regions.pks[0:20]).update(region="south")  # stale
        assert cells.is_stale()
        # The other connection writes a history point and keeps its transaction open.
        other.execute(
            f"UPDATE {cells.HISTORY} SET tier = tier WHERE customer_id = %s", [regions.pks[1]]
        )
        assert cells.rebuild(wait=False) is False
        _assert_equal(regions.manager)  # from the states
        _assert_equal(regions.admin, whole_base_trend=True)
        assert cells.is_stale()
        other.rollback()
        _assert_equal(regions.manager)  # rebuilt now
        assert not cells.is_stale()
    finally:
        other.close()


def test_bulk_owner_changes_in_one_statement_keep_the_cells_true(regions: Any) -> None:
    """Whole books assigned, moved, demoted and removed, each in one statement (the
    PostgreSQL triggers run once per statement over its transition tables)."""
    pks = regions.pks
    cells.ensure_fresh()
    book = pks[700:1100]
    AccountMember.objects.bulk_create(
        [AccountMember(customer_id=pk, user=regions.am2, role="owner") for pk in book],
        batch_size=len(book),  # one INSERT
    )
    assert not cells.is_stale()
    _assert_equal(regions.admin, whole_base_trend=True)
    _assert_equal(regions.manager)
    # a book handed over (the owner stays an owner: no cell moves), some demoted, some
    # moved to customers without an owner, and the rest removed -- one statement each
    assert AccountMember.objects.filter(user=regions.am2).update(user=regions.am1) == len(book)
    AccountMember.objects.filter(customer_id__in=book[:100]).update(role="support")
    table = connection.ops.quote_name(AccountMember._meta.db_table)
    moves = dict(zip(book[100:150], pks[1200:1250], strict=True))  # to unowned customers
    cases = " ".join(f"WHEN {a} THEN {b}" for a, b in moves.items())
    with connection.cursor() as cursor:  # a raw UPDATE moving 50 owners at once
        cursor.execute(
            f"UPDATE {table} SET customer_id = CASE customer_id {cases} END "
            f"WHERE role = 'owner' AND customer_id IN ({', '.join(map(str, moves))})"
        )
        assert cursor.rowcount == len(moves)
    _assert_equal(regions.admin, whole_base_trend=True)
    _assert_equal(regions.manager)
    AccountMember.objects.filter(customer_id__in=[*book, *moves.values()]).delete()
    assert not cells.is_stale()
    for user in (regions.admin, regions.manager, regions.analyst):
        _assert_equal(user, whole_base_trend=user is not regions.manager)
    assert sum(DashboardCell.objects.values_list("owned", flat=True)) == (
        AccountMember.objects.filter(role="owner", customer__state__isnull=False).count()
    )


def test_a_bulk_change_of_regions_and_teams_keeps_the_dashboard_true(regions: Any) -> None:
    """Every customer's region and team changed by one statement, then a statement that
    changes neither: the cells are rebuilt once, and only when something moved."""
    from django.db.models import Case, IntegerField, Value, When
    from django.db.models.functions import Mod

    cells.ensure_fresh()
    changed = Customer.objects.annotate(k=Mod("pk", 3)).update(
        region=Case(
            When(k=0, then=Value("east")), When(k=1, then=Value("south")), default=Value("")
        ),
        team=Case(
            When(k=2, then=Value(regions.east.pk)), default=None, output_field=IntegerField()
        ),
    )
    assert changed == Customer.objects.count()
    assert cells.is_stale()
    for user in (regions.admin, regions.manager, regions.am1):
        _assert_equal(user, whole_base_trend=user is regions.admin)
    assert not cells.is_stale()
    # names and companies of every customer, region and team as they are: nothing moves
    Customer.objects.update(company="Company")
    table = connection.ops.quote_name(Customer._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET region = region, team_id = team_id")
    assert not cells.is_stale()
    _assert_equal(regions.manager)
