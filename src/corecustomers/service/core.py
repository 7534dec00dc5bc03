"""Identify the core customers: behaviour, potential, influence, early adopters, the core
ranking, tiers with reasons, early warnings, recommendations, next-best action, and the
snapshot that lets tiers be compared over time.

Every step is optional in the sense that a missing input (no product column, no
``referred_by``, no fitted model) leaves its columns out or falls back, and says so in the
summary; a customer always gets a tier, a reason and an action.

The query-only steps (purchase mix, referrals, earliest adopters, recommendations) run on
a second thread, started before the analysis' features (:func:`side_steps_started`), so
that they run beside the features, scores and model fits too; after the behaviour the core
ranking runs on the calling thread, the tiers follow it on the second one once its steps
are done, and the churn risk follows the ranking, or
with more than two CPUs runs on a third thread (:data:`RISK_BESIDE_FROM_CPUS`,
:mod:`corecustomers.service.concurrency`). Their results are assembled in the order the
steps had when they ran one after another, and are the same.
"""

from __future__ import annotations

import datetime as _dt
import logging
import tempfile
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corecustomers.config import Settings
from corecustomers.ids import same_ids
from corecustomers.insights.alert_evaluation import (
    AlertChoice,
    alertable,
    calibration_table,
    choose_alerting,
    evaluate_alert_list,
    value_calibration,
)
from corecustomers.insights.alerts import AlertSettings, early_warnings, evaluate_alerts
from corecustomers.insights.at_cut import activity_windows, frames_at
from corecustomers.insights.fitted import FittedValue
from corecustomers.insights.influence import influence
from corecustomers.insights.potential import potential_value
from corecustomers.insights.ranking import CoreScores, rank_customers
from corecustomers.insights.risk import ChurnRisk, active_in, churn_risk
from corecustomers.insights.shifted import shifted_rows
from corecustomers.machine import cpus
from corecustomers.segments.migration import compare_snapshots, migration_series
from corecustomers.segments.playbook import action_counts, next_best_actions, playbook_from_config
from corecustomers.segments.policy import TierPolicy, policy_from_config
from corecustomers.segments.tiers import decide_tiers
from corecustomers.service.concurrency import Background, Once
from corecustomers.service.memory import give_back_memory
from corecustomers.service.progress import NullProgress, Progress
from corecustomers.service.side_steps import (
    RANKING_STEP,
    RISK_STEP,
    TIERS_STEP,
    ActivityWindows,
    CoreOptions,
    SideResults,
    StartedSteps,
    side_steps_started,
)
from corecustomers.service.valuation import horizon_units
from corecustomers.store import DEFAULT_SOURCE, SNAPSHOT_COLUMNS, Workspace
from corecustomers.units import days_per

__all__ = [
    "CoreOptions",
    "CoreSummary",
    "StartedSteps",
    "activity_windows_of",
    "identify_core",
    "side_steps_started",
]

log = logging.getLogger(__name__)

#: Tier state carried between runs, stored beside the contract columns of a snapshot.
SNAPSHOT_STATE = ("below_since", "below_runs", "tier_basis")

#: The report's migration series covers at most this many latest snapshots.
SERIES_SNAPSHOTS = 12


@dataclass
class CoreSummary:
    """What identifying the core customers adds to ``summary.json`` (each key's JSON).

    Filled by :func:`identify_core` only; :meth:`to_json` gives the summary's keys, those
    not computed in this run left out.
    """

    core_score: dict[str, Any] = field(default_factory=dict)
    capture: dict[str, Any] | None = None
    history: dict[str, Any] | None = None
    recommendations: dict[str, Any] | None = None
    tiers: dict[str, Any] = field(default_factory=dict)
    alerts: dict[str, Any] = field(default_factory=dict)
    migration: dict[str, Any] | None = None
    actions: dict[str, int] | None = None
    migration_series: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The summary's keys, in the order the analysis computes them."""
        out = {
            "core_score": self.core_score,
            "capture": self.capture,
            "history": self.history,
            "recommendations": self.recommendations,
            "tiers": self.tiers,
            "alerts": self.alerts,
            "migration": self.migration,
            "actions": self.actions,
            "migration_series": self.migration_series,
        }
        return {k: v for k, v in out.items() if v is not None}


def _align(
    left: pa.Table, right: pa.Table, *, skip: tuple[str, ...] = (), fill: bool = False
) -> pa.Table:
    """``left`` with ``right``'s columns, matched by ``customer_id``, left order kept.

    ``right`` without ``customer_id`` must be row-aligned with ``left``. With ``fill``,
    customers absent from ``right`` get 0 / False instead of null.
    """
    if "customer_id" not in right.column_names:
        if right.num_rows != left.num_rows:
            raise ValueError("a table without customer_id must have one row per customer")
        right = right.append_column("customer_id", left.column("customer_id"))
    index = _index(left.column("customer_id"), right.column("customer_id"))
    out = left
    for name in right.column_names:
        if name == "customer_id" or name in skip:
            continue
        column = right.column(name) if index is None else right.column(name).take(index)
        if fill and column.null_count:
            zero = False if pa.types.is_boolean(column.type) else 0
            column = pc.fill_null(column, pa.scalar(zero, column.type))
        if name in out.column_names:
            out = out.set_column(out.column_names.index(name), name, column)
        else:
            out = out.append_column(name, column)
    return out


def _index(
    ids: pa.Array | pa.ChunkedArray, other: pa.Array | pa.ChunkedArray
) -> pa.Array | pa.ChunkedArray | None:
    """Each of ``ids``' position in ``other`` (null when absent), or None when ``other``
    is ``ids`` itself in the same order: the analysis' tables are mostly aligned already,
    and a lookup of a million ids costs half a second (the customer tables hold each id
    once, so the positions would be 0, 1, 2, ... anyway)."""
    if same_ids(ids, other):
        return None
    return pc.index_in(ids.cast(pa.string()), value_set=other.cast(pa.string()))


def _in_order_of(table: pa.Table, ids: pa.Array | pa.ChunkedArray) -> pa.Table:
    """``table`` (one row per customer) with its rows in the order of ``ids`` when it
    holds exactly those customers; otherwise as it is."""
    index = _index(ids, table.column("customer_id"))
    if index is None or table.num_rows != len(ids) or index.null_count:
        return table
    return table.take(index)


#: The churn risk runs on a thread of its own, beside the core ranking, from this many
#: CPUs on; with fewer, after the ranking on the calling thread. On 2 cores the block is
#: CPU-bound already and a third thread only adds contention: analyze on 10M rows, in
#: one round under the heavy lock, took 199.1 s with the risk beside the ranking against
#: 179.3 s after it (block 139.6 s against 123.3 s, peak RSS 5.22 GB against 4.66 GB;
#: 23:38-23:44 UTC, load 1.6-2.7); more cores are not measured yet. A history's small
#: frames gain from it on 2 cores (:attr:`CoreOptions.risk_beside`): the monthly history
#: of the 20k demo 71.95 s -> 62.12 s (session 11, one round, load 1.7-1.8).
RISK_BESIDE_FROM_CPUS: Final = 3


#: From this many customers on the analysis gives freed memory back to the system between
#: its big steps (:func:`~corecustomers.service.memory.give_back_memory`); below, its
#: tables are small and each call's full garbage collection and trim (~0.1 s) is not:
#: a monthly history of the 20k demo made 108 calls costing 11.0 s.
GIVE_BACK_FROM: Final = 200_000


def _give_back(customers: int) -> None:
    """:func:`give_back_memory` when the analysis has :data:`GIVE_BACK_FROM` customers."""
    if customers >= GIVE_BACK_FROM:
        give_back_memory()


def _policy(settings: Settings, columns: list[str]) -> TierPolicy:
    return policy_from_config(dict(settings.tiers) or None, columns=columns)


def _alert_settings(settings: Settings) -> AlertSettings:
    return AlertSettings.from_config(dict(settings.alerts))


def activity_windows_of(
    settings: Settings, *, first_day: _dt.date | None = None, end: _dt.date | None = None
) -> ActivityWindows:
    """The windows of the frames at the cut ``end`` (:func:`frames_at`) that the
    behaviour query reads beside its own columns (:func:`side_steps_started`'s
    ``windows``), the data starting on ``first_day`` (when known): none without a
    lifetime-value model, whose fit the frames need."""
    if settings.model == "none":
        return ActivityWindows()
    history = None
    if first_day is not None and end is not None and first_day <= end:
        history = (end - first_day).days
    activity, idle_before = activity_windows(
        horizon_days=horizon_units(settings) * days_per(settings.time_unit),
        risk_window_days=_alert_settings(settings).risk_window_days,
        history_days=history,
    )
    return ActivityWindows(activity, idle_before)


def identify_core(
    customers: pa.Table,
    settings: Settings,
    *,
    fitted: FittedValue | None,
    run_id: str,
    transactions: ir.Table,
    end: _dt.date,
    as_of: _dt.date,
    calibration_end: _dt.date | None,
    workspace: Workspace | None,
    mapped: frozenset[str] = frozenset(),
    source: str = "",
    source_name: str | None = None,
    options: CoreOptions | None = None,
    progress: Progress | None = None,
    started: StartedSteps | None = None,
    on_final: Callable[[pa.Table], None] | None = None,
) -> tuple[pa.Table, CoreSummary]:
    """Add the issue-4 columns to ``customers``; return them with their figures.

    ``customers`` are the analysis' per-customer features at ``end`` with their scores and
    (when ``fitted`` is given) the lifetime-value predictions of ``fitted``, which the
    ranking and the other steps use instead of computing or fitting again.

    ``end`` is the date the customers' features describe (the calibration end when there
    is one, else the as-of date); the snapshot is stored under it, in the history of
    ``source_name`` (default ``"default"``), and the previous snapshot is read only from
    that history. The result's ``history`` says which one was compared with.

    ``started`` are the query-only steps started earlier by :func:`side_steps_started`
    over the same transactions and dates (within its block); without them they are
    started here.
    """
    with ExitStack() as stack:
        if started is None:
            started = stack.enter_context(
                side_steps_started(
                    transactions,
                    end=end,
                    as_of=as_of,
                    calibration_end=calibration_end,
                    mapped=mapped,
                    options=options,
                    windows=activity_windows_of(settings, end=end),
                )
            )
        # for the rows the shifted cuts read, removed once everything is computed
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="corecustomers-")))
        return _identify_core(
            customers,
            settings,
            fitted=fitted,
            run_id=run_id,
            transactions=transactions,
            end=end,
            as_of=as_of,
            calibration_end=calibration_end,
            workspace=workspace,
            source=source,
            source_name=source_name,
            options=options,
            progress=progress,
            started=started,
            folder=folder,
            on_final=on_final,
        )


def _identify_core(
    customers: pa.Table,
    settings: Settings,
    *,
    fitted: FittedValue | None,
    run_id: str,
    transactions: ir.Table,
    end: _dt.date,
    as_of: _dt.date,
    calibration_end: _dt.date | None,
    workspace: Workspace | None,
    source: str,
    source_name: str | None,
    options: CoreOptions | None,
    progress: Progress | None,
    started: StartedSteps,
    folder: Path,
    on_final: Callable[[pa.Table], None] | None = None,
) -> tuple[pa.Table, CoreSummary]:
    """:func:`identify_core` with its query-only steps ``started`` (``folder``: for files
    that must outlive the queries reading them)."""
    options = options or CoreOptions()
    progress = progress or NullProgress()
    summary = CoreSummary()
    features = customers
    tx = transactions
    side, parallel = started.side, started.parallel
    alerting = _alert_settings(settings)
    # the workspace is read here, on the calling thread, before the steps side by side,
    # and before waiting for the behaviour: it is a database of its own, read while the
    # behaviour's query runs on the analysis' connection (a nightly run reads a million
    # rows of the previous snapshot); with ``late_state``, just before the tiers
    state = Once(lambda: _workspace_state(workspace, source_name, end, summary))
    if not options.late_state:
        state()
    # the rows the ranking's and the risk's shifted cuts read (a sample's above
    # SHIFTED_CUSTOMERS customers), kept in a folder that outlives their queries; drawn
    # first, while the behaviour's query may still run on the side steps' thread
    shifted = shifted_rows(tx, features.column("customer_id"), folder=folder)
    with progress.step("Behaviour: rhythm, trend, breadth"):
        # in the customers' order: every later reader (the frames, the risk, the early
        # warnings) then finds each customer's row without a lookup of a million ids
        # the frames' activity with it: both reordered at once
        read = _in_order_of(started.read(), customers.column("customer_id"))
        started.keep(read)
        behaviour, activity = started.split(read)
        del read
        customers = _align(customers, behaviour, skip=("days_since_last_purchase",))
    ranked: Future[CoreScores] = Future()
    timings = started.timings
    behaved = customers
    holdout_end = as_of if calibration_end is not None and options.evaluate else None
    # the customers at the cut as the ranking and the risk read them, built once by the
    # first of them to ask (the ranking, unless the risk runs beside it on a third thread)
    at_cut = Once(
        lambda: (
            frames_at(
                tx,
                features=features,
                fitted=fitted,
                breadth=behaviour,
                cut=end,
                holdout_end=holdout_end,
                time_unit=settings.time_unit,
                risk_window_days=alerting.risk_window_days,
                activity=activity,
            )
            if fitted is not None
            else None
        )
    )

    def beside() -> tuple[SideResults, pa.Table, TierPolicy, pa.Table | None]:
        """The query-only steps, then the tiers and their reason texts once the ranking
        is done (the texts while the churn risk still runs on the calling thread: a
        million customers' texts are seconds of one core, which the risk leaves idle)."""
        done = started.result()
        ranking = ranked.result()  # the ranking runs on the calling thread
        previous, overrides = state().previous, state().overrides
        with timings.step(TIERS_STEP):
            tiered = _align(behaved, done.mix) if done.mix is not None else behaved
            tiered = _align(tiered, potential_value(tiered))
            if done.referrals is not None:
                tiered = _align(tiered, influence(tiered, done.referrals))
            if done.adopters is not None:
                tiered = _align(tiered, done.adopters, fill=True)
            tiered = _align(tiered, ranking.table.select(["customer_id", "core_score"]))
            policy = _policy(settings, tiered.column_names)
            decided = decide_tiers(
                tiered,
                policy,
                previous=previous,
                overrides=overrides,
                as_of=end,
                currency=settings.currency,
                lang=settings.lang,
                horizon_months=settings.horizon_months,
            )
            del tiered
            table = decided.table()
        # the recommendations in the tiers' order, here while the churn risk still runs
        # on the calling thread, which then joins them without a lookup of a million ids
        recommended = (
            None
            if done.recommendations is None
            else _align(table.select(["customer_id"]), done.recommendations)
        )
        return done, table, policy, recommended

    def at_risk() -> tuple[ChurnRisk, AlertChoice]:
        """The churn risk and the alert threshold chosen on it."""
        with timings.step(RISK_STEP):
            risk = churn_risk(
                tx,
                features=features,
                fitted=fitted,
                behaviour=behaviour,
                cut=end,
                window_days=alerting.risk_window_days,
                time_unit=settings.time_unit,
                score=alerting.risk_score,
                alertable=alertable(alerting),
                shifted=shifted,
                frame=None if (frames := at_cut()) is None else frames.risk,
            )
            return risk, choose_alerting(risk, alerting)

    # the core ranking on this thread, the query-only steps beside it on a second
    # (started earlier: side_steps_started; see corecustomers.service.concurrency), then
    # the tiers there; the churn risk after the ranking or, with enough CPUs, on a
    # third: results as in sequence (the same bits in every arrangement), steps listed
    # below. One BLAS thread throughout (side_steps_started): OpenBLAS's thread count is
    # process-wide and a threaded dot product adds in another order.
    with (
        progress.step(side.description(parallel)),
        Background(
            at_risk,
            parallel=parallel and (options.risk_beside or cpus() >= RISK_BESIDE_FROM_CPUS),
        ) as risky,
        Background(beside, parallel=parallel) as background,
    ):
        with timings.step(RANKING_STEP):
            try:
                scores = rank_customers(
                    tx,
                    features=features,
                    fitted=fitted,
                    cut=end,
                    time_unit=settings.time_unit,
                    holdout_end=holdout_end,
                    behaviour=behaviour,
                    shifted=shifted,
                    frame=None if (frames := at_cut()) is None else frames.ranking,
                )
            except BaseException as exc:
                ranked.set_exception(exc)  # the tiers beside wait for it
                raise
            ranked.set_result(scores)
        risk, choice = risky.result()
        done, customers, policy, recommended = background.result()
    summary.core_score = scores.to_dict()
    summary.capture = scores.capture
    # what the block built and nothing after it reads goes (the threads' futures and
    # closures hold the ranking and the tier inputs), and the freed memory back to the
    # system
    del risky, background, beside, at_risk, scores
    at_cut.release()
    _give_back(features.num_rows)
    for description in side.order():
        if description in timings.seconds:
            progress.note(f"{description}: {timings.seconds[description]:.1f} s")
    core_tiers = list(policy.codes[:-1])
    previous, name = state().previous, state().name
    with progress.step("Early warnings"):
        risk_values = _risk_for(customers, risk)
        # the churn risk's frames, the biggest of what the block leaves, are not needed
        # beyond its values and figures
        risk_figures = risk.to_dict()
        del risk
        warned = early_warnings(
            customers,
            behaviour,
            previous=previous,
            thresholds=alerting.thresholds,
            core_tiers=core_tiers,
            risk=risk_values,
            method=choice.method,
            min_risk=choice.min_risk,
            max_share_of_core=alerting.max_share_of_core,
            min_idle_days=alerting.min_idle_days,
            min_overdue_ratio=alerting.min_overdue_ratio,
            risk_window_days=alerting.risk_window_days,
            value_if_kept=True,
        )
        customers = _align(customers, warned)
        del warned, risk_values
        # the previous rule set's list, a baseline of the holdout evaluation only
        rule_hits = np.zeros(customers.num_rows, dtype=bool)
        if calibration_end is not None and options.evaluate:
            rules = early_warnings(
                customers,
                behaviour,
                previous=previous,
                thresholds=alerting.thresholds,
                core_tiers=core_tiers,
            )
            rule_hits = np.asarray(rules.column("alert").to_pylist(), dtype=bool)
            del rules
    _give_back(features.num_rows)
    if recommended is not None:
        customers = _align(customers, recommended)
        summary.recommendations = done.evaluation
    playbook = playbook_from_config(dict(settings.playbook) or None, policy=policy)
    customers = next_best_actions(customers, playbook, as_of=end, lang=settings.lang)
    # the table is final: what the next-best actions freed goes back, and its files start
    # beside the figures and the snapshot (on a million customers the CSV is the run's
    # last work, so each second it starts earlier is a second off the run)
    _give_back(features.num_rows)
    if on_final is not None:
        on_final(customers)
    _summarise(customers, summary, policy, core_tiers, previous, calibration_end, end)
    summary.alerts.update(
        _alert_figures(
            customers,
            alerting=alerting,
            risk=risk_figures,
            choice=choice,
            rule_hits=rule_hits,
            fitted=fitted,
            transactions=tx,
            end=end,
            as_of=as_of,
            evaluate=calibration_end is not None and options.evaluate,
        )
    )
    summary.actions = action_counts(customers)
    if workspace is not None and options.write_snapshot:
        with progress.step(f"Saving the snapshot of {end}"):
            keep = [
                c
                for c in (*SNAPSHOT_COLUMNS, *SNAPSHOT_STATE)
                if c in customers.column_names and c not in ("as_of", "run_id", "policy_version")
            ]
            workspace.write_snapshot(
                end,
                customers.select(keep),
                run_id=run_id or uuid.uuid4().hex[:12],
                policy_version=policy.policy_version,
                source=source,
                settings=settings.to_dict(),
                source_name=name,
            )
        if options.evaluate:
            dates = [d for d in workspace.snapshot_dates(name) if d <= end][-SERIES_SNAPSHOTS:]
            if len(dates) >= 2:
                summary.migration_series = migration_series(
                    [(d, workspace.read_snapshot(d, source_name=name)) for d in dates],
                    tiers=list(policy.codes),
                    core_tiers=core_tiers,
                )
    return customers, summary


@dataclass(frozen=True)
class _State:
    """What an analysis reads of its workspace: its source's name there, the snapshot
    before its date (None: none) and the overrides in force on it."""

    name: str = DEFAULT_SOURCE
    previous: pa.Table | None = None
    overrides: tuple[dict[str, Any], ...] = ()


def _workspace_state(
    workspace: Workspace | None, source_name: str | None, end: _dt.date, summary: CoreSummary
) -> _State:
    """The workspace's state before ``end`` (and the history note in ``summary``)."""
    if workspace is None:
        return _State()
    name = workspace.resolve_source(source_name or DEFAULT_SOURCE)
    before = workspace.latest_before(end, name)
    previous = None if before is None else workspace.read_snapshot(before, source_name=name)
    overrides = tuple(
        {k: o[k] for k in ("customer_id", "tier", "by", "reason", "until")}
        for o in workspace.overrides(active_on=end, source_name=name)
    )
    summary.history = _history_note(workspace, name, before)
    return _State(name, previous, overrides)


def _history_note(workspace: Workspace, name: str, before: _dt.date | None) -> dict[str, Any]:
    """Which snapshot this run compared with, for summary.json and the console."""
    if before is not None:
        message = (
            f"Compared with the snapshot of {before} of the source {name!r} "
            "(previous tiers and grace periods come from it)."
        )
    else:
        others = [n for n in workspace.source_names() if n != name]
        message = f"No earlier snapshot of the source {name!r}: this run starts its history."
        if others:
            message += (
                f" The workspace also holds {', '.join(repr(o) for o in others)}; give "
                "--source-name to continue one of them."
            )
    return {
        "source_name": name,
        "previous_as_of": before.isoformat() if before else None,
        "message": message,
    }


def _summarise(
    customers: pa.Table,
    summary: CoreSummary,
    policy: TierPolicy,
    core_tiers: list[str],
    previous: pa.Table | None,
    calibration_end: _dt.date | None,
    end: _dt.date,
) -> None:
    tiers = np.asarray(customers.column("tier").to_pylist(), dtype=object)
    value = np.nan_to_num(
        np.asarray(customers.column("total_spend").to_numpy(zero_copy_only=False), dtype=float)
    )
    clv = (
        np.nan_to_num(np.asarray(customers.column("clv").to_numpy(zero_copy_only=False), float))
        if "clv" in customers.column_names
        else None
    )
    table = []
    for tier in policy.tiers:
        mask = tiers == tier.code
        table.append(
            {
                "tier": tier.code,
                "label": tier.label("en"),
                "label_zh": tier.label("zh"),
                "customers": int(mask.sum()),
                "revenue": float(value[mask].sum()),
                "clv": float(clv[mask].sum()) if clv is not None else None,
            }
        )
    summary.tiers = {
        "policy_version": policy.policy_version,
        "core_tiers": core_tiers,
        "table": table,
    }
    alert = np.asarray(customers.column("alert").to_pylist(), dtype=bool)
    core = np.isin(tiers, core_tiers)
    alerts: dict[str, Any] = {
        "core_customers": int(core.sum()),
        "alerted": int(alert.sum()),
        "value_at_stake": float(
            np.nansum(
                np.asarray(customers.column("value_at_stake").to_pylist(), dtype=float)[alert]
            )
        ),
    }
    if calibration_end is not None and "frequency_holdout" in customers.column_names:
        holdout = customers.column("frequency_holdout").to_numpy(zero_copy_only=False)
        alerts["holdout"] = evaluate_alerts(alert, core, holdout)
    summary.alerts = alerts
    if previous is not None:
        summary.migration = compare_snapshots(
            previous,
            customers.append_column("as_of", pa.array([end] * customers.num_rows, pa.date32()))
            if "as_of" not in customers.column_names
            else customers,
            tiers=list(policy.codes),
            core_tiers=core_tiers,
            list_customers=20,
        )


def _risk_for(customers: pa.Table, risk: ChurnRisk) -> np.ndarray[Any, np.dtype[np.float64]]:
    """``risk.risk`` in the order of ``customers``."""
    at = _index(customers.column("customer_id"), risk.customer_id)
    if at is None:
        return np.asarray(risk.risk, dtype=np.float64).copy()
    where = np.asarray(pc.fill_null(at, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    out = np.full(len(where), np.nan)
    out[where >= 0] = risk.risk[where[where >= 0]]
    return out


def _column(customers: pa.Table, name: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.asarray(
        pc.fill_null(customers.column(name).cast(pa.float64()), np.nan).to_numpy(
            zero_copy_only=False
        ),
        dtype=np.float64,
    )


def _alert_figures(
    customers: pa.Table,
    *,
    alerting: AlertSettings,
    risk: dict[str, Any],
    choice: AlertChoice,
    rule_hits: np.ndarray[Any, np.dtype[np.bool_]],
    fitted: FittedValue | None,
    transactions: ir.Table,
    end: _dt.date,
    as_of: _dt.date,
    evaluate: bool,
) -> dict[str, Any]:
    """``alerts``' settings, risk (the churn risk's figures, :meth:`ChurnRisk.to_dict`),
    choice and (with a holdout) ``evaluation``."""
    from corecustomers.insights.alerts import alert_budget

    core = np.asarray(customers.column("core").to_pylist(), dtype=bool)
    out: dict[str, Any] = {
        "max_share_of_core": alerting.max_share_of_core,
        "budget": alert_budget(int(core.sum()), alerting.max_share_of_core),
        "min_idle_days": alerting.min_idle_days,
        "min_overdue_ratio": alerting.min_overdue_ratio,
        "risk": risk,
        "choice": choice.to_dict(),
    }
    if not evaluate or "frequency_holdout" not in customers.column_names:
        return out
    ids = [str(i) for i in customers.column("customer_id").to_pylist()]
    held = np.nan_to_num(_column(customers, "frequency_holdout"))
    inactive = held <= 0
    alert = np.asarray(customers.column("alert").to_pylist(), dtype=bool)
    p_alive = _column(customers, "p_alive") if "p_alive" in customers.column_names else None
    evaluation = evaluate_alert_list(
        ids=ids,
        alert=alert,
        core=core,
        inactive=inactive,
        stake=np.nan_to_num(_column(customers, "value_at_stake")),
        risk=_column(customers, "churn_risk"),
        p_alive=p_alive,
        idle=_column(customers, "days_since_last_purchase"),
        rules=rule_hits,
    )
    window = alerting.risk_window_days
    holdout_days = (as_of - end).days
    risk_values = _column(customers, "churn_risk")
    if not np.isnan(risk_values).all():
        span = min(window, holdout_days)
        labels = active_in(transactions, [(end, end + _dt.timedelta(days=span))])
        at = pc.index_in(
            customers.column("customer_id").cast(pa.string()),
            value_set=labels.column("customer_id").cast(pa.string()),
        )
        where = np.asarray(pc.fill_null(at, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
        counts = np.asarray(labels.column("w0").to_numpy(zero_copy_only=False), dtype=float)
        bought = np.where(where >= 0, counts[np.maximum(where, 0)], 0.0) > 0
        table = calibration_table(risk_values, ~bought)
        evaluation["calibration"] = {
            "window_days": span,
            "note": None
            if span == window
            else (
                f"the holdout ({holdout_days} days) is shorter than the risk window "
                f"({window} days): the observed share is over the holdout"
            ),
            "deciles": table,
            "max_gap": max(abs(r["predicted"] - r["observed"]) for r in table) if table else None,
        }
    if fitted is not None and p_alive is not None:
        position = pc.index_in(
            customers.column("customer_id").cast(pa.string()), value_set=fitted.customer_id
        )
        take = np.asarray(position.to_numpy(zero_copy_only=False), dtype=np.intp)
        days = float(holdout_days)
        evaluation["value_models"] = {
            "holdout_days": holdout_days,
            **value_calibration(
                p_alive=p_alive,
                active=~inactive,
                predicted_purchases=fitted.purchases_in(days)[take],
                actual_purchases=held,
                predicted_value=fitted.value(days)[take],
            ),
        }
    return {**out, "evaluation": evaluation}
