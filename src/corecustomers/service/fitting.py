"""Fit one model on an existing per-customer summary file (``corecustomers fit``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from corecustomers.errors import ConfigError, InputError
from corecustomers.models import BaseModel, record_fit_warnings
from corecustomers.models.selection import MODEL_REGISTRY, model_class
from corecustomers.models.shifted_beta_geo import survival_table

__all__ = ["FitReport", "fit_summary_file", "read_table"]

_NEEDS: dict[str, tuple[str, ...]] = {
    "bgnbd": ("frequency", "recency", "T"),
    "pnbd": ("frequency", "recency", "T"),
    "mbgnbd": ("frequency", "recency", "T"),
    "bgbb": ("frequency", "recency", "periods"),
    "gg": ("frequency", "monetary_value"),
}


@dataclass
class FitReport:
    """A fitted model and what the user should know about the fit."""

    name: str
    model: BaseModel
    rows: int
    used: int
    warnings: list[str] = field(default_factory=list)


def read_table(path: Path) -> pa.Table:
    """A Parquet or CSV table (as written by ``summarize``)."""
    if not path.exists():
        raise InputError(f"file {path} does not exist; write one with `corecustomers summarize`")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pq.read_table(path)
        if suffix in (".csv", ".txt"):
            return pacsv.read_csv(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read {path}: {exc}", file=str(path)) from exc
    raise InputError("give a .parquet or .csv file", file=str(path))


def _column(table: pa.Table, name: str, path: Path) -> np.ndarray[Any, np.dtype[np.float64]]:
    values = table.column(name)
    if values.null_count:
        first = values.to_pylist().index(None)
        raise InputError(
            "the column has an empty value; fill or drop it",
            file=str(path),
            row=first + 2,
            column=name,
        )
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)


def fit_summary_file(path: Path, name: str, *, penalizer: float = 0.0) -> FitReport:
    """Fit the model ``name`` (``bgnbd``, ``pnbd``, ``mbgnbd``, ``bgbb``, ``sbg``, ``gg``).

    The file holds the literature's columns: ``frequency, recency, T`` for the
    continuous-time models; ``frequency, recency, periods`` (and optional ``weights``) for
    BG/BB; ``frequency, monetary_value`` for Gamma-Gamma (only repeat customers with a
    positive spend are used); for sBG either ``duration, churned`` (and ``weights``) or
    ``alive``, the customers still active at the start of each period.
    """
    key = name.strip().lower()
    if key not in MODEL_REGISTRY:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(MODEL_REGISTRY)}")
    table = read_table(path)
    cols = set(table.column_names)
    if key == "sbg":
        if {"duration", "churned"} <= cols:
            needed: tuple[str, ...] = ("duration", "churned")
        elif "alive" in cols:
            needed = ("alive",)
        else:
            raise InputError(
                "sBG needs columns duration and churned (and weights), or a column alive "
                "with the customers still active at the start of each period",
                file=str(path),
            )
    else:
        needed = _NEEDS[key]
    missing = [c for c in needed if c not in cols]
    if missing:
        raise InputError(
            f"the {key} model needs the column(s) {', '.join(missing)}; the file has "
            f"{', '.join(table.column_names)}",
            file=str(path),
        )
    X: dict[str, Any] = {c: _column(table, c, path) for c in needed}
    if "weights" in cols:
        X["weights"] = _column(table, "weights", path)
    if key == "sbg" and needed == ("alive",):
        X = survival_table(X["alive"])
    if key == "gg":
        keep = (X["frequency"] > 0) & (X["monetary_value"] > 0)
        X = {k: v[keep] for k, v in X.items()}
    used = len(next(iter(X.values())))
    model_type: Any = model_class(key)  # every registered model takes ``penalizer``
    model = model_type(penalizer=penalizer)
    with record_fit_warnings() as caught:
        try:
            model.fit(X)
        except ValueError as exc:
            raise InputError(f"cannot fit {key}: {exc}", file=str(path)) from exc
    return FitReport(
        name=key,
        model=model,
        rows=table.num_rows,
        used=used,
        warnings=[str(w) for w in caught],
    )
