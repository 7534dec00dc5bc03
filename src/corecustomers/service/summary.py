"""``summary.json``: the typed results of an analysis' steps, assembled once.

Each step returns its own result -- the run's overview (source, rows, customers, scores;
:class:`Overview`), the valuation (:class:`~corecustomers.service.valuation.Valuation`)
and the core customers (:class:`~corecustomers.service.core.CoreSummary`) -- and
``analyze`` assembles them into one :class:`AnalysisSummary`, whose :meth:`to_json` is
the only place that builds the summary's JSON. The report and the service read that JSON
(``summary.json``; the service's reader is ``web/customers/analysis_import.py``), so its
keys stay what they were: additions are fine, renames need that reader changed too.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

from corecustomers import __version__
from corecustomers.service.core import CoreSummary
from corecustomers.service.valuation import Valuation

__all__ = ["AnalysisSummary", "Overview"]


@dataclass(frozen=True)
class Overview:
    """What a run read and scored, before any model: the summary's first keys."""

    source: str
    source_name: str
    source_kind: str
    encoding: str | None
    amount_format: dict[str, Any]
    columns: dict[str, str]
    as_of: _dt.date
    calibration_end: _dt.date | None
    time_unit: str
    currency: str
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    rows_after_as_of: int
    quarantine_reasons: dict[str, int]
    warnings: list[dict[str, Any]]
    customers: int
    revenue: float
    concentration: dict[str, Any]
    segments: dict[str, Any]
    abc: dict[str, Any]
    settings: dict[str, Any]

    @property
    def rows_analysed(self) -> int:
        """Accepted rows up to the as-of date."""
        return self.rows_accepted - self.rows_after_as_of


@dataclass(frozen=True)
class AnalysisSummary:
    """One run's summary: its identity and the results of its steps."""

    run_id: str
    generated_at: _dt.datetime
    overview: Overview
    valuation: Valuation
    core: CoreSummary

    @property
    def as_of(self) -> str:
        """The as-of date (ISO)."""
        return self.overview.as_of.isoformat()

    @property
    def source_name(self) -> str:
        """The history the run's snapshot belongs to."""
        return self.overview.source_name

    def to_json(self) -> dict[str, Any]:
        """``summary.json`` as a JSON-ready dict (see the README's "Outputs")."""
        o = self.overview
        out: dict[str, Any] = {
            "corecustomers_version": __version__,
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "source": o.source,
            "source_name": o.source_name,
            "source_kind": o.source_kind,
            "encoding": o.encoding,
            "amount_format": o.amount_format,
            "columns": o.columns,
            "as_of": o.as_of.isoformat(),
            "calibration_end": o.calibration_end.isoformat() if o.calibration_end else None,
            "time_unit": o.time_unit,
            "currency": o.currency,
            "rows_read": o.rows_read,
            "rows_accepted": o.rows_accepted,
            "rows_quarantined": o.rows_quarantined,
            "rows_after_as_of": o.rows_after_as_of,
            "rows_analysed": o.rows_analysed,
            "quarantine_reasons": o.quarantine_reasons,
            "warnings": [*o.warnings, *self.valuation.warnings],
            "customers": o.customers,
            "revenue": o.revenue,
            "concentration": o.concentration,
            "segments": o.segments,
            "abc": o.abc,
            "settings": o.settings,
            "run_id": self.run_id,
        }
        if self.valuation.models is not None:
            out["models"] = self.valuation.models
        if self.valuation.holdout is not None:
            out["holdout"] = self.valuation.holdout
        out.update(self.core.to_json())
        return out
