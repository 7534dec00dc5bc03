"""The lifetimes baseline, run by the interpreter of ``benchmarks/.venv-lifetimes``.

A standalone script (it must not import corecustomers or the benchmarks package):
``python benchmarks/lifetimes_tasks.py NAME JSON`` prints one line ``@@RESULT {...}``
like :mod:`benchmarks.tasks`. Loading the Parquet file into pandas is timed separately
(``load_seconds``) from lifetimes' own work (``compute_seconds``); ``seconds`` is their
sum, the same file-to-summary span the corecustomers tasks time.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

RESULT_PREFIX = "@@RESULT "

Result = dict[str, Any]


def _transactions(path: str) -> Any:
    import pandas as pd

    return pd.read_parquet(path, columns=["customer_id", "timestamp", "amount"])


def _write(frame: Any, out: str) -> None:
    frame.index.name = "customer_id"
    frame.reset_index().to_parquet(out, index=False)


def summary(*, path: str, as_of: str, out: str) -> Result:
    """``summary_data_from_transaction_data`` at daily resolution."""
    from lifetimes.utils import summary_data_from_transaction_data

    start = time.perf_counter()
    tx = _transactions(path)
    loaded = time.perf_counter()
    result = summary_data_from_transaction_data(
        tx,
        "customer_id",
        "timestamp",
        monetary_value_col="amount",
        observation_period_end=as_of,
        freq="D",
    )
    done = time.perf_counter()
    _write(result, out)
    return {
        "seconds": done - start,
        "load_seconds": loaded - start,
        "compute_seconds": done - loaded,
        "rows": len(tx),
        "customers": len(result),
    }


def calibration(*, path: str, calibration_end: str, as_of: str, out: str) -> Result:
    """``calibration_and_holdout_data`` at daily resolution."""
    from lifetimes.utils import calibration_and_holdout_data

    start = time.perf_counter()
    tx = _transactions(path)
    loaded = time.perf_counter()
    result = calibration_and_holdout_data(
        tx,
        "customer_id",
        "timestamp",
        calibration_period_end=calibration_end,
        observation_period_end=as_of,
        freq="D",
        monetary_value_col="amount",
    )
    done = time.perf_counter()
    result = result.rename(
        columns={
            "frequency_cal": "frequency",
            "recency_cal": "recency",
            "T_cal": "T",
            "monetary_value_cal": "monetary_value",
        }
    )
    _write(result, out)
    return {
        "seconds": done - start,
        "load_seconds": loaded - start,
        "compute_seconds": done - loaded,
        "rows": len(tx),
        "customers": len(result),
    }


def fit(*, model: str, path: str) -> Result:
    """``BetaGeoFitter`` or ``ParetoNBDFitter`` with default settings (the fit is timed)."""
    import pandas as pd
    from lifetimes import BetaGeoFitter, ParetoNBDFitter

    data = pd.read_parquet(path, columns=["frequency", "recency", "T"])
    fitter = BetaGeoFitter() if model == "bgnbd" else ParetoNBDFitter()
    start = time.perf_counter()
    fitter.fit(data["frequency"], data["recency"], data["T"])
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "customers": len(data),
        "params": {k: float(v) for k, v in fitter.params_.items()},
        "log_likelihood": float(fitter._negative_log_likelihood_ * -len(data)),
    }


TASKS: dict[str, Callable[..., Result]] = {
    "summary": summary,
    "calibration": calibration,
    "fit": fit,
}


def main(argv: list[str]) -> int:
    name, arguments = argv[0], json.loads(argv[1])
    result = TASKS[name](**arguments)
    print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
