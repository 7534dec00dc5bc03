"""Render the report to one self-contained HTML document, and write it to a file."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, get_args

import jinja2
import pyarrow as pa

from corecustomers.data.atomic import replacing
from corecustomers.errors import ConfigError
from corecustomers.report._sections import build_report
from corecustomers.units import Lang


@functools.cache
def _environment() -> jinja2.Environment:
    """The template environment, built on first use (nothing happens at import)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("corecustomers.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_report(
    summary: Mapping[str, Any],
    customers: pa.Table,
    *,
    lang: Lang = "en",
    quarantine: Sequence[Mapping[str, Any]] | None = None,
) -> str:
    """Render the analysis as one self-contained HTML document.

    The document has its CSS inline and its charts as inline SVG; it loads nothing from the
    network, runs no script (a Content-Security-Policy forbids both) and reads the same
    offline. Every string taken from the data (customer ids, segment labels, quarantined
    values, messages) is escaped.

    Parameters
    ----------
    summary
        The analysis summary (``summary.json``; keys in ``docs/CONTRACTS.md``). Optional keys
        may be absent: ``models``, ``holdout``, ``calibration_end``, ``warnings``,
        ``quarantine_reasons``, ``settings``, ``tiers``, ``migration``,
        ``migration_series``, ``alerts``, ``core_score``, ``capture``, ``actions``,
        ``recommendations``. The sections for ``models``, ``holdout`` and the
        core-customer keys appear only when their key is present.
    customers
        The scored customers, one row per customer, with at least ``customer_id,
        frequency, monetary_value, total_spend, days_since_last_purchase, r_score, f_score,
        m_score, rfm_segment, abc_class``. With a ``clv`` column the report adds the
        lifetime-value section; ``p_alive``, ``expected_purchases`` and ``clv`` also become
        columns of the top-customers table. The core-customer lists use ``tier``,
        ``core``, ``core_score``, ``tier_reason_en`` / ``tier_reason_zh``,
        ``previous_tier``, ``alert``, ``alert_reason_en`` / ``alert_reason_zh``,
        ``value_at_stake``, ``action_en`` / ``action_zh``, ``action_code``, ``channel``,
        ``due`` and ``recommended_products`` when present.
    lang
        ``"en"`` (English) or ``"zh"`` (Simplified Chinese) for every label; the HTML
        ``lang`` attribute is set to ``en`` or ``zh-CN``.
    quarantine
        A sample of quarantined rows, each ``{"source_row", "reason", "message", "raw"}``,
        shown as examples in the data-quality section (the counts come from ``summary``).

    Returns
    -------
    str
        The HTML document.

    Raises
    ------
    ConfigError
        ``lang`` is not ``"en"`` or ``"zh"``.
    InputError
        ``customers`` lacks a column the report needs.

    Examples
    --------
    >>> import pyarrow as pa
    >>> from corecustomers.report import render_report
    >>> customers = pa.table({
    ...     "customer_id": ["c1", "c2"], "frequency": [3, 0], "monetary_value": [20.0, 0.0],
    ...     "total_spend": [80.0, 15.0], "days_since_last_purchase": [4, 90],
    ...     "r_score": [5, 1], "f_score": [5, 1], "m_score": [5, 1],
    ...     "rfm_segment": ["champions", "lost"], "abc_class": ["A", "C"],
    ... })
    >>> html = render_report({"as_of": "2024-06-30", "customers": 2, "revenue": 95.0},
    ...                      customers, lang="zh")
    >>> html.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in html
    True
    """
    if lang not in get_args(Lang):
        raise ConfigError(f"report language {lang!r} is not supported; use 'en' or 'zh'")
    report = build_report(summary, customers, lang, list(quarantine or ()))
    return _environment().get_template("report.html.j2").render(report=report)


def write_report(
    path: str | os.PathLike[str],
    summary: Mapping[str, Any],
    customers: pa.Table,
    *,
    lang: Lang = "en",
    quarantine: Sequence[Mapping[str, Any]] | None = None,
) -> Path:
    """Render the report (see :func:`render_report`) and write it to ``path`` as UTF-8.

    The parent directory is created if needed; the file is written to a temporary name
    beside it and moved into place, so a reader never sees half a report.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    html = render_report(summary, customers, lang=lang, quarantine=quarantine)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with replacing(target, prefix=f".{target.name}.", mode=0o644) as partial:
        partial.write_text(html, encoding="utf-8")
    return target
