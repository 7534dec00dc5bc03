"""RFM scores, segments and ABC classes added to the per-customer features."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from corecustomers.config import Settings
from corecustomers.errors import ConfigError
from corecustomers.segments import (
    abc_classes,
    abc_table,
    assign_segments,
    concentration,
    monetary_values,
    rfm_scores,
    segment_table,
)

__all__ = ["Scored", "score_customers"]


@dataclass(frozen=True)
class Scored:
    """Customers with their scores, and the tables for the summary."""

    customers: pa.Table
    scheme: str
    segment_table: list[dict[str, Any]]
    abc_table: list[dict[str, Any]]
    concentration: dict[str, Any]


def _scheme(settings: Settings) -> str | dict[str, Any]:
    name = settings.rfm_scheme
    if name in ("named", "cn8"):
        return name
    if name in settings.rfm_schemes:
        body = settings.rfm_schemes[name]
        return {"name": name, **dict(body)}
    raise ConfigError(
        f"unknown RFM scheme {name!r}; use named, cn8 or define [rfm.schemes.{name}] "
        "in corecustomers.toml"
    )


def _column(table: pa.Table, name: str) -> np.ndarray[Any, Any]:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False))


def score_customers(features: pa.Table, settings: Settings) -> Scored:
    """Add ``r_score, f_score, m_score, rfm_segment, rfm_segment_label, abc_class``."""
    days = _column(features, "days_since_last_purchase")
    freq = _column(features, "frequency")
    money = monetary_values(features, settings.rfm_monetary)
    r, f, m = rfm_scores(days, freq, money, bins=settings.rfm_bins)
    scheme = _scheme(settings)
    codes, labels = assign_segments(
        r,
        f,
        m,
        scheme=scheme,
        lang=settings.lang,
        bins=settings.rfm_bins,
        days_since_last_purchase=days,
        frequency=freq,
        monetary=money,
        threshold=settings.rfm_threshold,
    )
    if settings.abc_value == "margin":
        if "margin" not in features.column_names:
            raise ConfigError(
                "[abc] value = 'margin' needs a margin column; map it under [columns] "
                "margin = '...' or use value = 'revenue'"
            )
        value = _column(features, "margin")
    else:
        value = _column(features, "total_spend")
    classes = abc_classes(value, a=settings.abc_a, b=settings.abc_b)
    revenue = _column(features, "total_spend")
    customers = (
        features.append_column("r_score", pa.array(r, pa.int64()))
        .append_column("f_score", pa.array(f, pa.int64()))
        .append_column("m_score", pa.array(m, pa.int64()))
        .append_column("rfm_segment", pa.array(codes.tolist(), pa.string()))
        .append_column("rfm_segment_label", pa.array(labels.tolist(), pa.string()))
        .append_column("abc_class", pa.array(np.asarray(classes).tolist(), pa.string()))
    )
    return Scored(
        customers=customers,
        scheme=scheme if isinstance(scheme, str) else str(scheme["name"]),
        segment_table=segment_table(codes, labels, revenue, scheme=scheme, lang=settings.lang),
        abc_table=abc_table(classes, value, lang=settings.lang),
        concentration=concentration(value, frequency=freq),
    )
