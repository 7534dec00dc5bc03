"""The contract every model shares (scikit-learn-like).

``__init__`` stores keyword hyper-parameters only; ``fit(X) -> self``; fitted state ends in
``_``; :class:`~corecustomers.errors.NotFittedError` before ``fit``; refitting replaces all
state; ``to_dict`` / ``from_dict`` round-trip a fitted model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import NDArray

from corecustomers.errors import NotFittedError

FloatArray = NDArray[np.float64]

__all__ = ["BaseModel", "FloatArray", "columns"]


def columns(
    X: Any, names: tuple[str, ...], *, weights: str | None = None
) -> tuple[dict[str, FloatArray], FloatArray]:
    """Pull the named columns out of any table as float64 arrays; validate in one place.

    ``X`` may be a ``pyarrow.Table``, a pandas or polars DataFrame, a mapping of
    arrays or a NumPy structured array. Returns the columns and the weights (ones when
    ``weights`` is None or the column is absent).
    """
    out: dict[str, FloatArray] = {}
    for name in names:
        try:
            col = X[name]
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise ValueError(
                f"the model needs a column {name!r}; the table has none "
                f"(expected columns: {', '.join(names)})"
            ) from exc
        if hasattr(col, "to_numpy") and not isinstance(col, np.ndarray):
            col = col.to_numpy()
        arr = np.asarray(col, dtype=np.float64)
        if arr.ndim != 1:
            raise ValueError(f"column {name!r} must be one-dimensional")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"column {name!r} has missing or infinite values; drop or fill them")
        out[name] = arr
    n = len(next(iter(out.values()))) if out else 0
    w: FloatArray = np.ones(n)
    if weights is not None:
        try:
            wc = X[weights]
        except (KeyError, IndexError, ValueError, TypeError):
            wc = None
        if wc is not None:
            if hasattr(wc, "to_numpy") and not isinstance(wc, np.ndarray):
                wc = wc.to_numpy()
            w = np.asarray(wc, dtype=np.float64)
    return out, w


class BaseModel:
    """Common fitted state and serialisation for every model.

    Subclasses set ``_param_names`` (the literature's names, in order) and implement
    ``fit``.
    """

    _param_names: ClassVar[tuple[str, ...]] = ()

    params_: dict[str, float]
    standard_errors_: dict[str, float]
    covariance_: FloatArray
    log_likelihood_: float
    n_customers_: int
    converged_: bool

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(X) first "
                "or load parameters with from_dict()"
            )

    def get_params(self) -> dict[str, Any]:
        """Hyper-parameters given to ``__init__``."""
        return {k: v for k, v in vars(self).items() if not k.endswith("_")}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description of the fitted model."""
        self._check_fitted()
        return {
            "model": type(self).__name__,
            "hyper_parameters": self.get_params(),
            "params": dict(self.params_),
            "standard_errors": dict(self.standard_errors_),
            "covariance": np.asarray(self.covariance_).tolist(),
            "log_likelihood": float(self.log_likelihood_),
            "n_customers": int(self.n_customers_),
            "converged": bool(self.converged_),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild a fitted model from :meth:`to_dict` output."""
        if data.get("model", cls.__name__) != cls.__name__:
            raise ValueError(f"this is a {data['model']}, not a {cls.__name__}")
        model = cls(**data.get("hyper_parameters", {}))
        model.params_ = {k: float(data["params"][k]) for k in cls._param_names}
        model.standard_errors_ = {k: float(v) for k, v in data.get("standard_errors", {}).items()}
        model.covariance_ = np.asarray(data.get("covariance", []), dtype=np.float64)
        model.log_likelihood_ = float(data.get("log_likelihood", np.nan))
        model.n_customers_ = int(data.get("n_customers", 0))
        model.converged_ = bool(data.get("converged", True))
        return model

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"
