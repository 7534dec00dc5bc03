"""The query-only steps of an analysis, started before the rest needs them.

The purchase mix, referrals, earliest adopters and recommendations only query the
transactions (no model fit), and the customers' behaviour (rhythm, trend, breadth) is one
query of all rows. :func:`side_steps_started` starts them on a second thread before the
analysis' features, so that they run beside the features, the scores and the
lifetime-value fits (whose single-threaded optimiser would otherwise leave the second core
idle) and beside the core ranking; :func:`~corecustomers.service.core.identify_core` reads
their results (:class:`StartedSteps`). How two threads share one engine connection:
:mod:`corecustomers.service.concurrency`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa

from corecustomers.data.connect import is_duckdb
from corecustomers.data.features import materialize
from corecustomers.ids import by_id
from corecustomers.insights.adopters import (
    adopters_from_first_purchases,
    early_adopters,
    first_day_of_data,
)
from corecustomers.insights.behaviour import (
    activity_columns,
    customer_behaviour,
    split_activity,
    value_spend_columns,
)
from corecustomers.insights.influence import referrals
from corecustomers.insights.mix import (
    MIX_COLUMNS,
    Ranked,
    mix_table,
    ranked_spends,
    wide_mix_values,
)
from corecustomers.insights.recommend import (
    PurchasePairs,
    purchase_pairs,
    recommend,
    recommend_and_evaluate,
)
from corecustomers.machine import thread_limit
from corecustomers.service.concurrency import Background, Timings, shared_engine

__all__ = [
    "ADOPTERS_STEP",
    "MIX_STEP",
    "RANKING_STEP",
    "RECOMMENDATIONS_STEP",
    "REFERRALS_STEP",
    "RISK_STEP",
    "TIERS_STEP",
    "ActivityWindows",
    "CoreOptions",
    "SideResults",
    "SideSteps",
    "StartedSteps",
    "side_steps_started",
]

#: Recommendations evaluated on the last this many days when no calibration end is given.
RECOMMENDATION_HOLDOUT_DAYS = 90


@dataclass(frozen=True)
class CoreOptions:
    """What to compute beyond tiers (``history`` turns the evaluations off)."""

    evaluate: bool = True
    recommendations: bool = True
    write_snapshot: bool = True
    #: the purchase mix columns (top products, categories, channels); ``history`` leaves
    #: them out when the tier policy does not read them (a snapshot does not hold them)
    mix: bool = True
    #: the churn risk on a thread of its own beside the core ranking whatever the CPUs
    #: (``history``: small frames and few side steps, so the second CPU is mostly idle;
    #: the same results in every arrangement)
    risk_beside: bool = False
    #: read the previous snapshot and the overrides just before the tiers, not first
    #: (``history`` on several processes: a date's workspace state exists only once the
    #: date before it is saved, and everything before the tiers does not need it)
    late_state: bool = False


RANKING_STEP = "Core ranking (BTYD and gradient boosting)"
RISK_STEP = "Churn risk (time-shifted, calibrated)"
TIERS_STEP = "Tiers with reasons"
MIX_STEP = "Purchase mix: top products, categories and channels"
REFERRALS_STEP = "Influence: referrals"
ADOPTERS_STEP = "Earliest adopters"
RECOMMENDATIONS_STEP = "Recommendations"


@dataclass
class SideResults:
    """What the query-only steps computed (None: the step did not run)."""

    mix: pa.Table | None = None
    referrals: pa.Table | None = None
    adopters: pa.Table | None = None
    recommendations: pa.Table | None = None
    evaluation: dict[str, Any] | None = None


@dataclass(frozen=True)
class SideSteps:
    """The steps that only query the transactions (no model fit), run beside the core
    ranking and the churn risk; which of them run depends on the mapped columns."""

    transactions: ir.Table
    end: _dt.date
    as_of: _dt.date
    calibration_end: _dt.date | None
    mix: bool
    referrals: bool
    adopters: bool
    recommendations: bool
    evaluate: bool

    def steps(self) -> list[str]:
        """The side steps that run, in the order of the analysis."""
        chosen = (
            (self.mix, MIX_STEP),
            (self.referrals, REFERRALS_STEP),
            (self.adopters, ADOPTERS_STEP),
            (self.recommendations, RECOMMENDATIONS_STEP),
        )
        return [name for run, name in chosen if run]

    def order(self) -> list[str]:
        """Every step of the block, in the order they are listed (the analysis' order)."""
        side = self.steps()
        before = [s for s in side if s != RECOMMENDATIONS_STEP]
        return [*before, RANKING_STEP, TIERS_STEP, RISK_STEP, *[s for s in side if s not in before]]

    def description(self, parallel: bool) -> str:
        """The block's line in the progress (its steps' own times follow as notes)."""
        others = len(self.steps()) + 1  # and the tiers
        if parallel:
            return f"Core ranking, churn risk and {others} more steps, side by side"
        return f"Core ranking, churn risk and {others} more steps"

    def run(self, timings: Timings, ranked: Mapping[str, Ranked] | None = None) -> SideResults:
        """Run the side steps, each timed in ``timings`` (``ranked``: mix columns ranked
        already, from the spends read with the behaviour: see :func:`_behaviour`).

        The recommendations run first when they run: their (customer, product) pairs,
        read with each pair's purchase spend and first purchase day at ``end``, also
        give the earliest adopters and the spends the purchase mix ranks the products
        by, instead of two more aggregations of the transactions by customer and
        product (the same results).
        """
        tx, end = self.transactions, self.end
        out = SideResults()
        pairs: PurchasePairs | None = None
        if self.recommendations:
            with timings.step(RECOMMENDATIONS_STEP):
                if self.evaluate:  # both from one read of the transactions
                    split = self.calibration_end or (
                        self.as_of - _dt.timedelta(days=RECOMMENDATION_HOLDOUT_DAYS)
                    )
                    days = (end, split, self.as_of)
                    pairs = purchase_pairs(tx, days=days, item="product", detail=end)
                    out.recommendations, out.evaluation = recommend_and_evaluate(
                        tx, as_of=end, k=5, split_date=split, end=self.as_of, pairs=pairs
                    )
                else:
                    pairs = purchase_pairs(tx, days=(end,), item="product", detail=end)
                    out.recommendations = recommend(tx, as_of=end, k=5, pairs=pairs)
        bought = pairs.bought_on() if pairs is not None else None
        del pairs
        if self.adopters:
            with timings.step(ADOPTERS_STEP):
                if bought is None:
                    out.adopters = materialize(early_adopters(tx, as_of=end))
                else:
                    start = first_day_of_data(tx, as_of=end).to_pyarrow().as_py()
                    out.adopters = adopters_from_first_purchases(
                        bought.customers,
                        bought.owner,
                        bought.item,
                        bought.first_day,
                        data_start=start,
                    )
        if self.mix:
            with timings.step(MIX_STEP):
                # on DuckDB, which ranks them where they are (an Arrow table)
                shared = bought is not None and is_duckdb(tx.get_backend())
                spends = {"product": bought.value_spends()} if shared and bought else {}
                out.mix = mix_table(tx, as_of=end, spends=spends, ranked=ranked)
        del bought
        if self.referrals:
            with timings.step(REFERRALS_STEP):
                out.referrals = materialize(referrals(tx, as_of=end))
        return out


@dataclass(frozen=True)
class ActivityWindows:
    """The windows (days) of the frames' activity at the cut that the behaviour query
    also reads (:func:`~corecustomers.insights.behaviour.customer_behaviour`'s
    ``activity`` and ``idle_before``): see
    :func:`~corecustomers.insights.at_cut.activity_windows`."""

    activity: tuple[int, ...] = ()
    idle_before: tuple[int, ...] = ()

    def columns(self) -> list[str]:
        return activity_columns(self.activity, self.idle_before)


@dataclass(frozen=True)
class StartedSteps:
    """The query-only steps of :func:`identify_core`, started early by
    :func:`side_steps_started`: which run, their timings, and their results to come."""

    side: SideSteps
    timings: Timings
    parallel: bool
    work: Background[SideResults]
    #: the behaviour query's table, in a list that :meth:`keep` refills
    behaviour_: Future[list[pa.Table]]
    windows: ActivityWindows = ActivityWindows()

    def read(self) -> pa.Table:
        """The customers' behaviour at the steps' ``end``
        (:func:`~corecustomers.insights.behaviour.customer_behaviour`, materialised) with
        the frames' activity of the :class:`ActivityWindows` (see :meth:`split`): the
        second thread's first step, or computed here when not ``parallel``."""
        if not self.parallel and not self.behaviour_.done():
            table, _ = _behaviour(self.side.transactions, self.side.end, self.windows)
            self.behaviour_.set_result([table])
        return self.behaviour_.result()[0]

    def keep(self, table: pa.Table) -> None:
        """Hold ``table`` (:meth:`read`'s rows reordered) instead of the query's own, so
        that the analysis keeps one copy of the behaviour (on 10M rows, 20 columns of a
        million customers) through the steps side by side."""
        self.read()
        self.behaviour_.result()[0] = table

    def split(self, table: pa.Table) -> tuple[pa.Table, pa.Table | None]:
        """:meth:`read`'s ``table`` (or its rows reordered) as the behaviour and the
        frames' activity (``customer_id`` and the windows' columns; None without any)."""
        return split_activity(table, self.windows.columns())

    def result(self) -> SideResults:
        """The steps' results (run here, on the calling thread, when not ``parallel``)."""
        return self.work.result()


def _behaviour(
    transactions: ir.Table,
    end: _dt.date,
    windows: ActivityWindows,
    mix_values: Mapping[str, list[str]] | None = None,
) -> tuple[pa.Table, pa.Table | None]:
    """The customers' behaviour at ``end`` with the frames' activity of ``windows``, in
    the order of their ids, and their spends on each value of ``mix_values`` (the
    purchase mix's categories and channels: ``customer_id`` and
    :func:`~corecustomers.insights.behaviour.value_spend_columns`, in the same order;
    None without any), which :func:`~corecustomers.insights.mix.ranked_spends` ranks.

    The spends are read in the behaviour's aggregation of the rows (``value_spends``)
    instead of one more of its own, and the rows sorted here, on the side steps'
    thread: the mix ranks customers in id order, and the analysis then finds the
    behaviour aligned with its customers (an equality check, not a lookup of a million
    ids). On 10M rows: ``benchmarks/README.md``, session 22.
    """
    values = dict(mix_values or {})
    expr = customer_behaviour(
        transactions,
        as_of=end,
        activity=windows.activity,
        idle_before=windows.idle_before,
        value_spends=values,
    )
    table = by_id(materialize(expr))
    if not values:
        return table, None
    spends = [c for s, names in values.items() for c in value_spend_columns(s, len(names))]
    return table.drop_columns(spends), table.select(["customer_id", *spends])


@contextmanager
def side_steps_started(
    transactions: ir.Table,
    *,
    end: _dt.date,
    as_of: _dt.date,
    calibration_end: _dt.date | None,
    mapped: frozenset[str] = frozenset(),
    options: CoreOptions | None = None,
    windows: ActivityWindows | None = None,
) -> Iterator[StartedSteps]:
    """Start the query-only steps of :func:`identify_core` (purchase mix, referrals,
    earliest adopters, recommendations) on a second thread now; give what this yields to
    :func:`identify_core` (``started=``) within the block.

    They need only the transactions, so they can run while the caller computes what
    the rest needs: the features, the scores and the lifetime-value fits, whose
    single-threaded optimiser would otherwise leave the second core idle. The customers'
    behaviour, which the core ranking and the churn risk need, is computed there first
    (:meth:`StartedSteps.read`), with the frames' activity of ``windows`` at ``end``. For the
    whole block each thread queries the engine on a connection of its own
    (:func:`~corecustomers.service.concurrency.shared_engine`) and OpenBLAS runs one
    thread (its thread count is process-wide: a fit's own limit would otherwise change
    it under a step beside it). On engines other than DuckDB nothing runs early: the
    steps run when :func:`identify_core` asks for their results.
    """
    options = options or CoreOptions()
    side = SideSteps(
        transactions,
        end=end,
        as_of=as_of,
        calibration_end=calibration_end,
        mix=options.mix and any(source in mapped for source, _ in MIX_COLUMNS),
        referrals="referred_by" in mapped,
        adopters="product" in mapped,
        recommendations="product" in mapped and options.recommendations,
        evaluate=options.evaluate,
    )
    timings = Timings()
    behaviour: Future[list[pa.Table]] = Future()
    windows = windows or ActivityWindows()

    def work() -> SideResults:
        # the behaviour first: the core ranking and the churn risk need it
        try:
            values = wide_mix_values(transactions) if side.mix else {}
            table, spends = _behaviour(transactions, end, windows, values)
            behaviour.set_result([table])
        except BaseException as exc:
            behaviour.set_exception(exc)  # raised where it is awaited
            raise
        del table
        ranked: dict[str, Ranked] = {}
        if spends is not None:
            # now, on this thread, while the analysis goes on with the behaviour; the
            # mix's texts are small, its million spends are freed
            with timings.step(MIX_STEP):
                ranked = ranked_spends(spends, values)
            del spends
        return side.run(timings, ranked)

    with shared_engine(transactions) as parallel, thread_limit(1, "blas"):
        steps = work if parallel else lambda: side.run(timings)
        with Background(steps, parallel=parallel) as running:
            yield StartedSteps(side, timings, parallel, running, behaviour, windows)
