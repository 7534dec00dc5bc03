"""The HTML report of an analysis: ``report.html``.

:func:`render_report` turns the analysis summary and the scored customers into one
self-contained HTML document (inline CSS, inline SVG charts, no script, nothing loaded from
the network) in English or Simplified Chinese; :func:`write_report` writes it to a file.

Sections, in order: headline numbers; revenue concentration (Pareto curve with the 80/20
reference); RFM segments; the R × F grid; ABC classes; the top customers; customer lifetime
value (when the customers carry ``clv``); customer tiers (战略 / 重点 / 普通客户) with the top
core customers, their reasons and next-best actions (``tiers``); tier migration since the
previous snapshot (``migration``, ``migration_series``); early warnings with the alert list
and its holdout check (``alerts``); next-best actions (``actions``); recommendations
against a popularity baseline (``recommendations``); fitted models (``models``); holdout
validation (``holdout``); the capture comparison of the rankings (``capture``); data
quality; the settings used. An optional section appears only when its summary key exists.
Each chart sits in an element with a stable ``data-chart`` attribute: ``lorenz``,
``segments``, ``rf-heatmap``, ``abc``, ``clv``, ``tiers``, ``migration``,
``migration-series``, ``alerts-holdout``, ``actions``, ``recommendations``,
``holdout-tracking``, ``holdout-frequency``, ``capture``.
"""

from __future__ import annotations

from corecustomers.report._render import render_report, write_report

__all__ = ["render_report", "write_report"]
