"""Who the core customers are: RFM scores, segment schemes, ABC classes and concentration.

Pure NumPy and pyarrow on the per-customer features (one row per customer, the columns of
``docs/CONTRACTS.md``); nothing here touches a database, a dataframe library or a plot.

* :mod:`~corecustomers.segments.rfm` -- tie-aware RFM scores (:func:`rfm_scores`).
* :mod:`~corecustomers.segments.schemes` -- the ``named`` (11 segments), ``cn8`` (八类客户)
  and user-defined segment schemes (:func:`assign_segments`).
* :mod:`~corecustomers.segments.abc` -- ABC classes and the concentration of value
  (:func:`abc_classes`, :func:`concentration`).
* :mod:`~corecustomers.segments.tables` -- the summary tables (:func:`segment_table`,
  :func:`abc_table`).
* :mod:`~corecustomers.segments.policy`, :mod:`~corecustomers.segments.tiers` -- tier
  policies (presets for retail, catering, finance, B2B, utilities) and tiers with reasons,
  bands, grace and overrides (:func:`assign_tiers`).
* :mod:`~corecustomers.segments.playbook` -- the next-best action (:func:`next_best_actions`).
* :mod:`~corecustomers.segments.migration` -- tier migration between snapshots
  (:func:`compare_snapshots`).

Examples
--------
>>> import pyarrow as pa
>>> from corecustomers.segments import segment_customers
>>> features = pa.table({
...     "customer_id": ["a", "b", "c", "d"],
...     "days_since_last_purchase": [2, 15, 120, 400],
...     "frequency": [6, 0, 3, 0],
...     "total_spend": [640.0, 25.0, 310.0, 18.0],
... })
>>> segment_customers(features, lang="zh").column("segment_label").to_pylist()
['冠军客户', '有望客户', '风险客户', '流失客户']
"""

from __future__ import annotations

from corecustomers.segments.abc import ABC_CLASSES, ABC_LABELS, abc_classes, concentration
from corecustomers.segments.migration import compare_snapshots, migration_series
from corecustomers.segments.playbook import (
    DEFAULT_PLAYBOOK,
    Playbook,
    action_counts,
    next_best_actions,
    playbook_from_config,
)
from corecustomers.segments.policy import (
    DEFAULT_POLICY,
    PRESET_NAMES,
    TierPolicy,
    get_preset,
    policy_from_config,
    rank_pct,
)
from corecustomers.segments.rfm import (
    Monetary,
    RFMScores,
    monetary_values,
    quantile_scores,
    rfm_scores,
    rfm_table,
)
from corecustomers.segments.schemes import (
    CN8,
    NAMED,
    Lang,
    Scheme,
    SegmentAssignment,
    SegmentRule,
    Threshold,
    assign_segments,
    get_scheme,
    rescale_scores,
    scheme_from_config,
    segment_customers,
)
from corecustomers.segments.tables import abc_table, segment_table
from corecustomers.segments.tiers import Override, assign_tiers, load_overrides, save_overrides

__all__ = [
    "ABC_CLASSES",
    "ABC_LABELS",
    "CN8",
    "DEFAULT_PLAYBOOK",
    "DEFAULT_POLICY",
    "NAMED",
    "PRESET_NAMES",
    "Lang",
    "Monetary",
    "Override",
    "Playbook",
    "RFMScores",
    "Scheme",
    "SegmentAssignment",
    "SegmentRule",
    "Threshold",
    "TierPolicy",
    "abc_classes",
    "abc_table",
    "action_counts",
    "assign_segments",
    "assign_tiers",
    "compare_snapshots",
    "concentration",
    "get_preset",
    "get_scheme",
    "load_overrides",
    "migration_series",
    "monetary_values",
    "next_best_actions",
    "playbook_from_config",
    "policy_from_config",
    "quantile_scores",
    "rank_pct",
    "rescale_scores",
    "rfm_scores",
    "rfm_table",
    "save_overrides",
    "scheme_from_config",
    "segment_customers",
    "segment_table",
]
