"""Snapshots over time: build a history in one command, compare two dates, manage overrides.

``history`` reads and validates the source once, then for each date of the series
(month, quarter or week ends) computes the customers as of that date — features, scores,
lifetime value, tiers with the previous date's snapshot as state — and stores the
snapshot in the workspace. ``compare`` reads two snapshots and reports the tier
migration between them.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as _dt
from pathlib import Path
from typing import Any, Literal

from corecustomers.config import Settings
from corecustomers.errors import ConfigError, InputError
from corecustomers.segments.migration import compare_snapshots, migration_series
from corecustomers.segments.policy import policy_from_config
from corecustomers.service.analysis import (
    _staging,
    analyse_prepared,
    open_workspace,
    prepare,
    write_json,
)
from corecustomers.service.core import CoreOptions
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
    per date instead of three); evaluations on holdouts are left to ``analyze``.
    """
    progress = progress or NullProgress()
    out_dir.mkdir(parents=True, exist_ok=True)
    model = "bgnbd" if settings.model == "auto" else settings.model
    settings = dataclasses.replace(settings, model=model, calibration_end=None)
    with _staging() as staging:
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
        assert first is not None
        dates = period_ends(start or first, min(end or last, last), every)
        dates = [d for d in dates if d >= first]
        if not dates:
            raise InputError(
                f"no {every} end between {start or first} and {min(end or last, last)} "
                f"within the data ({first} to {last}); widen --from/--to",
                file=prepared.raw.name,
            )
        written: list[dict[str, Any]] = []
        options = CoreOptions(evaluate=False, recommendations=False)
        with open_workspace(settings) as workspace:
            for day in dates:
                at = dataclasses.replace(prepared, as_of=day, calibration_end=None)
                with progress.step(f"Snapshot {day}"):
                    customers, summary = analyse_prepared(
                        at, settings, workspace=workspace, options=options
                    )
                written.append(
                    {
                        "as_of": day.isoformat(),
                        "customers": customers.num_rows,
                        "tiers": {r["tier"]: r["customers"] for r in summary["tiers"]["table"]},
                        "alerted": summary["alerts"]["alerted"],
                    }
                )
            series = _series(workspace, dates, settings)
    result = {"every": every, "snapshots": written, "migration_series": series}
    path = out_dir / "history.json"
    write_json(path, result)
    return result


def _policy_tiers(settings: Settings) -> tuple[list[str], list[str]]:
    policy = policy_from_config(dict(settings.tiers) or None)
    return list(policy.codes), list(policy.codes[:-1])


def _series(workspace: Workspace, dates: list[_dt.date], settings: Settings) -> dict[str, Any]:
    tiers, core = _policy_tiers(settings)
    snaps = [(d, workspace.read_snapshot(d)) for d in dates]
    return migration_series(snaps, tiers=tiers, core_tiers=core)


def compare(
    settings: Settings, *, start: _dt.date, end: _dt.date, list_customers: int = 20
) -> dict[str, Any]:
    """The tier migration between the snapshots of ``start`` and ``end``."""
    tiers, core = _policy_tiers(settings)
    with open_workspace(settings) as workspace:
        dates = workspace.snapshot_dates()
        for day in (start, end):
            if day not in dates:
                shown = ", ".join(d.isoformat() for d in dates[-12:]) or "none"
                raise InputError(
                    f"there is no snapshot of {day} in the workspace {settings.workspace} "
                    f"(snapshots: {shown}); run `corecustomers analyze --as-of {day}` or "
                    "`corecustomers history` first"
                )
        before = workspace.read_snapshot(start)
        after = workspace.read_snapshot(end)
    return compare_snapshots(
        before, after, tiers=tiers, core_tiers=core, list_customers=list_customers
    )


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
    """Record (or remove) a manual tier override; returns a sentence saying what was done."""
    with open_workspace(settings) as workspace:
        if remove:
            found = workspace.remove_override(customer_id)
            return (
                f"Removed the override of {customer_id}."
                if found
                else f"{customer_id} had no override."
            )
        tiers, _ = _policy_tiers(settings)
        if tier not in tiers:
            raise ConfigError(f"unknown tier {tier!r}; the policy's tiers are {', '.join(tiers)}")
        if not by or not reason:
            raise ConfigError("an override needs --by (who) and --reason (why)")
        workspace.add_override(customer_id, tier, by=by, reason=reason, until=until)
    return f"{customer_id} is {tier} until {until or 'removed'} (by {by}: {reason})."
