"""Snapshots over time: build a history in one command, compare two dates, manage overrides.

``history`` reads and validates the source once, then for each date of the series
(month, quarter or week ends) computes the customers as of that date — features, scores,
lifetime value, tiers with the previous date's snapshot as state — and stores the
snapshot in the workspace. Each snapshot is the one ``analyze --as-of`` stores for that
date after the previous one (``tests/service/test_history.py``); what the dates share is
done once: the source is read once, its rows are aggregated to (customer, day) once and
every cut's features -- each date's, and the core ranking's and churn risk's shifted
cuts -- read those days (:func:`corecustomers.data.features.sharing_purchase_days`),
every query shape is compiled once and reused with each date's cut
(:mod:`corecustomers.data.compiled`), and each date's model fit starts from the previous
date's estimates. ``compare`` reads two snapshots and reports the tier
migration between them.

All three work on one source's history (``settings.source_name``; ``history`` defaults
to the file name without a date stamp, ``compare`` and ``add_override`` to the
workspace's only source).
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as _dt
from pathlib import Path
from typing import Any, Literal

from corecustomers.config import Settings
from corecustomers.errors import ConfigError, InputError
from corecustomers.insights.mix import MIX_COLUMNS
from corecustomers.segments.migration import compare_snapshots, migration_series
from corecustomers.segments.policy import policy_from_config
from corecustomers.service.analysis import (
    open_workspace,
    prepare,
    source_name_of,
    staging_dir,
    write_json,
)
from corecustomers.service.core import CoreOptions
from corecustomers.service.history_jobs import (
    analyse_dates,
    jobs_for,
    parallel_ok,
    run_dates,
    start_workers_early,
)
from corecustomers.service.progress import NullProgress, Progress
from corecustomers.store import Workspace

__all__ = ["Every", "add_override", "compare", "history", "period_ends"]

Every = Literal["week", "month", "quarter"]


def period_ends(start: _dt.date, end: _dt.date, every: Every) -> list[_dt.date]:
    """The ends of the weeks (Sundays), months or quarters from ``start`` to ``end``.

    Examples
    --------
    >>> [d.isoformat() for d in period_ends(_dt.date(2024, 1, 15), _dt.date(2024, 4, 30), "month")]
    ['2024-01-31', '2024-02-29', '2024-03-31', '2024-04-30']
    """
    if end < start:
        raise ConfigError(f"--from {start} is after --to {end}")
    out: list[_dt.date] = []
    if every == "week":
        day = start + _dt.timedelta(days=(6 - start.weekday()) % 7)
        while day <= end:
            out.append(day)
            day += _dt.timedelta(days=7)
        return out
    step = {"month": 1, "quarter": 3}.get(every)
    if step is None:
        raise ConfigError(f"--every must be week, month or quarter, got {every!r}")
    year, month = start.year, start.month
    if every == "quarter":
        month = ((month - 1) // 3) * 3 + 3
    while True:
        day = _dt.date(year, month, calendar.monthrange(year, month)[1])
        if day > end:
            break
        if day >= start:
            out.append(day)
        month += step
        if month > 12:
            year, month = year + 1, month - 12
    return out


def history(
    source: str,
    settings: Settings,
    *,
    every: Every = "month",
    start: _dt.date | None = None,
    end: _dt.date | None = None,
    out_dir: Path,
    progress: Progress | None = None,
    today: _dt.date | None = None,
) -> dict[str, Any]:
    """Store one snapshot per period end between ``start`` and ``end``; return the series.

    Writes ``out_dir/quarantine.csv`` and ``out_dir/history.json`` (the migration series).
    The transaction model is the configured one, or BG/NBD when it is ``auto`` (one fit
    per date instead of three); evaluations on holdouts are left to ``analyze``. So each
    snapshot equals the one ``analyze --as-of`` stores for its date, run after the
    previous date's, with the same settings and an explicit model (with ``auto``,
    ``analyze`` chooses among three models where the history fits BG/NBD).
    """
    progress = progress or NullProgress()
    out_dir.mkdir(parents=True, exist_ok=True)
    model = "bgnbd" if settings.model == "auto" else settings.model
    settings = dataclasses.replace(settings, model=model, calibration_end=None)
    start_workers_early(settings)
    with staging_dir() as staging:
        prepared = prepare(
            source,
            settings,
            staging_dir=staging,
            quarantine_path=out_dir / "quarantine.csv",
            progress=progress,
            today=today,
        )
        first = prepared.counts.first_date
        last = prepared.as_of
        if first is None:  # prepare() refuses a source without valid rows; kept for -O
            raise InputError("no valid transactions to analyse", file=prepared.raw.name)
        dates = period_ends(start or first, min(end or last, last), every)
        dates = [d for d in dates if d >= first]
        if not dates:
            raise InputError(
                f"no {every} end between {start or first} and {min(end or last, last)} "
                f"within the data ({first} to {last}); widen --from/--to",
                file=prepared.raw.name,
            )
        options = CoreOptions(
            evaluate=False,
            recommendations=False,
            mix=_policy_reads_mix(settings),
            risk_beside=True,
        )
        name = source_name_of(prepared, settings)
        jobs = jobs_for(settings, len(dates)) if parallel_ok(prepared.transactions) else 1
        with (
            open_workspace(settings) as workspace,
            # a snapshot per date, each committed, checkpointed into the file once
            workspace.checkpoint_once(),
        ):
            if jobs > 1:
                written = run_dates(
                    prepared,
                    settings,
                    dates,
                    options=dataclasses.replace(options, late_state=True),
                    workspace=workspace,
                    jobs=jobs,
                    folder=staging,
                    progress=progress,
                )
            else:
                written = list(
                    analyse_dates(
                        prepared,
                        settings,
                        dates,
                        options=options,
                        workspace=workspace,
                        last=dates[-1],
                        each=lambda day: progress.step(f"Snapshot {day}"),
                    )
                )
            series = _series(workspace, dates, settings, name)
    result = {
        "every": every,
        "source_name": name,
        "snapshots": written,
        "migration_series": series,
    }
    path = out_dir / "history.json"
    write_json(path, result)
    return result


def _policy_reads_mix(settings: Settings) -> bool:
    """Whether a tier condition reads a purchase-mix column (else a snapshot, which does
    not hold them, is the same without them)."""
    used = set(policy_from_config(dict(settings.tiers) or None).columns_used())
    return any(out in used for _, out in MIX_COLUMNS)


def _policy_tiers(settings: Settings) -> tuple[list[str], list[str]]:
    policy = policy_from_config(dict(settings.tiers) or None)
    return list(policy.codes), list(policy.codes[:-1])


def _series(
    workspace: Workspace, dates: list[_dt.date], settings: Settings, name: str
) -> dict[str, Any]:
    tiers, core = _policy_tiers(settings)
    # the series reads the contract columns only: the extra columns stay undecoded
    snaps = [(d, workspace.read_snapshot(d, extra="json", source_name=name)) for d in dates]
    return migration_series(snaps, tiers=tiers, core_tiers=core)


def compare(
    settings: Settings, *, start: _dt.date, end: _dt.date, list_customers: int = 20
) -> dict[str, Any]:
    """The tier migration between the snapshots of ``start`` and ``end`` of one source."""
    tiers, core = _policy_tiers(settings)
    with open_workspace(settings) as workspace:
        name = workspace.resolve_source(settings.source_name)
        dates = workspace.snapshot_dates(name)
        for day in (start, end):
            if day not in dates:
                shown = ", ".join(d.isoformat() for d in dates[-12:]) or "none"
                raise InputError(
                    f"there is no snapshot of {day} of the source {name!r} in the workspace "
                    f"{settings.workspace} (snapshots: {shown}); run `corecustomers analyze "
                    f"--as-of {day}` or `corecustomers history` first"
                )
        before = workspace.read_snapshot(start, source_name=name)
        after = workspace.read_snapshot(end, source_name=name)
    result = compare_snapshots(
        before, after, tiers=tiers, core_tiers=core, list_customers=list_customers
    )
    result["source_name"] = name
    return result


def add_override(
    settings: Settings,
    customer_id: str,
    *,
    tier: str | None,
    by: str | None,
    reason: str | None,
    until: _dt.date | None,
    remove: bool = False,
) -> str:
    """Record (or remove) a manual tier override; returns a sentence saying what was done.

    The override belongs to ``settings.source_name``; left out, to the workspace's only
    source, or to every source while the workspace holds no snapshot yet.
    """
    with open_workspace(settings) as workspace:
        name = settings.source_name
        if name is None:
            sources = workspace.source_names()
            if len(sources) > 1:
                raise ConfigError(
                    f"the workspace holds the snapshots of {len(sources)} sources "
                    f"({', '.join(sources)}); name the customer's source with --source-name"
                )
            name = sources[0] if sources else None
        where = f" in the source {name!r}" if name else ""
        if remove:
            found = workspace.remove_override(customer_id, source_name=name)
            if not found and name is not None and settings.source_name is None:
                found = workspace.remove_override(customer_id, source_name=None)
            return (
                f"Removed the override of {customer_id}{where}."
                if found
                else f"{customer_id} had no override{where}."
            )
        tiers, _ = _policy_tiers(settings)
        if tier not in tiers:
            raise ConfigError(f"unknown tier {tier!r}; the policy's tiers are {', '.join(tiers)}")
        if not by or not reason:
            raise ConfigError("an override needs --by (who) and --reason (why)")
        workspace.add_override(
            customer_id, tier, by=by, reason=reason, until=until, source_name=name
        )
    return f"{customer_id} is {tier}{where} until {until or 'removed'} (by {by}: {reason})."
