"""The HTML report of an analysis: ``report.html``.

:func:`render_report` turns the analysis summary and the scored customers into one
self-contained HTML document (inline CSS, inline SVG charts, no script, nothing loaded from
the network) in English or Simplified Chinese; :func:`write_report` writes it to a file.

Sections, in order: headline numbers; revenue concentration (Pareto curve with the 80/20
reference); RFM segments; the R × F grid; ABC classes; the top customers; customer lifetime
value (when the customers carry ``clv``); fitted models (when the summary has ``models``);
holdout validation (when it has ``holdout``); data quality; the settings used. Each chart
sits in an element with a stable ``data-chart`` attribute: ``lorenz``, ``segments``,
``rf-heatmap``, ``abc``, ``clv``, ``holdout-tracking``, ``holdout-frequency``.
"""

from __future__ import annotations

from corecustomers.report._render import render_report, write_report

__all__ = ["render_report", "write_report"]
