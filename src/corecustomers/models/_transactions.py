"""What the continuous-time, non-contractual models (BG/NBD, MBG/NBD, Pareto/NBD) share.

* :func:`transaction_columns` reads and validates ``frequency, recency, T[, weights]`` in
  one place;
* :class:`RFMData` holds the (usually compressed) rows with the index structures the
  likelihoods use to evaluate terms once per distinct value;
* :class:`TransactionModel` is the fitting pipeline (compress, maximise, store) and the
  shared prediction plumbing; each model supplies its log-likelihood and predictions.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import NDArray

from corecustomers.errors import InputError
from corecustomers.models._base import BaseModel, FloatArray, columns
from corecustomers.models._optimize import compress_rows, fit_positive, group_rows, start_vector

__all__ = [
    "START_RANGE",
    "TRANSACTION_COLUMNS",
    "RFMData",
    "TransactionModel",
    "distinct_histories",
    "transaction_columns",
]

#: The columns every transaction model reads (lifetimes' and PyMC-Marketing's names).
TRANSACTION_COLUMNS = ("frequency", "recency", "T")

IntArray = NDArray[np.int64]

#: Rows per likelihood evaluation pass during fitting (see :meth:`RFMData.chunks`).
_CHUNK_ROWS = 16_384

#: From four times ``_WARM_START_MIN`` distinct rows on, a fit on a subsample of a quarter
#: of them (at most ``_WARM_START_ROWS`` customers) provides the starting point for
#: Newton's method on all rows.
_WARM_START_ROWS = 50_000
_WARM_START_MIN = 10_000

#: A fit given a ``start`` searches within this factor of it in each parameter.
START_RANGE = 10.0


def transaction_columns(X: Any) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``frequency, recency, T`` and ``weights`` from any table, validated.

    ``frequency`` is the number of *repeat* transactions (whole numbers >= 0), ``recency``
    the time of the last one since the first (0 when there are none), ``T`` the time since
    the first transaction; ``0 <= recency <= T``. ``weights`` (optional) counts the
    customers a row stands for.

    Raises
    ------
    InputError
        Naming the column and the first offending row.
    """
    cols, w = columns(X, TRANSACTION_COLUMNS, weights="weights")
    x, tx, T = cols["frequency"], cols["recency"], cols["T"]

    def check(bad: NDArray[np.bool_], column: str, message: str) -> None:
        if np.any(bad):
            raise InputError(message, row=int(np.argmax(bad)), column=column)

    check(x < 0, "frequency", "frequency (repeat transactions) must be >= 0")
    check(x != np.round(x), "frequency", "frequency must be a whole number of transactions")
    check(T < 0, "T", "T (time since the first transaction) must be >= 0")
    check(tx < 0, "recency", "recency must be >= 0")
    check(
        tx > T * (1 + 1e-12),
        "recency",
        "recency (time of the last repeat transaction) cannot exceed T; "
        "were recency and T computed from the same observation end?",
    )
    check(
        (x == 0) & (tx != 0),
        "recency",
        "a customer without repeat transactions (frequency 0) must have recency 0",
    )
    check((w < 0) | ~np.isfinite(w), "weights", "weights must be finite and non-negative")
    return x, np.minimum(tx, T), T, w


class RFMData:
    """Rows of ``(x, t_x, T)`` with weights, and per-value indices for the likelihoods.

    Parameters
    ----------
    x, tx, T, w : 1-d arrays of equal length
    """

    def __init__(self, x: FloatArray, tx: FloatArray, T: FloatArray, w: FloatArray) -> None:
        self.x, self.tx, self.T, self.w = x, tx, T, w
        self._chunks: dict[int, list[RFMData]] = {}

    @classmethod
    def from_table(cls, X: Any, *, compress: bool) -> Self:
        """Validated rows of ``X``; with ``compress`` identical rows are merged into weights."""
        x, tx, T, w = transaction_columns(X)
        if compress:
            (x, tx, T), w = compress_rows([x, tx, T], w)
        return cls(x, tx, T, w)

    def chunks(self, size: int) -> list[RFMData]:
        """The rows in consecutive pieces of at most ``size`` rows.

        Evaluating a likelihood piece by piece keeps its dozens of temporary arrays in
        the CPU cache, which is several times faster than one pass over millions of rows.
        The pieces are kept, so fits of several models on the same rows share their
        per-value indices.
        """
        if self.n_rows <= size:
            return [self]
        if size not in self._chunks:
            self._chunks[size] = [
                type(self)(
                    self.x[i : i + size],
                    self.tx[i : i + size],
                    self.T[i : i + size],
                    self.w[i : i + size],
                )
                for i in range(0, self.n_rows, size)
            ]
        return self._chunks[size]

    @property
    def n_rows(self) -> int:
        return int(self.x.size)

    @cached_property
    def x_values(self) -> tuple[FloatArray, IntArray]:
        """Distinct frequencies and, for each row, the index of its frequency."""
        values, index = np.unique(self.x, return_inverse=True)
        return values, index.astype(np.int64)

    @cached_property
    def gap(self) -> FloatArray:
        """``T - t_x``, the time since the last transaction."""
        return np.maximum(self.T - self.tx, 0.0)

    def pairs(self, which: str) -> tuple[FloatArray, FloatArray, IntArray]:
        """Distinct ``(x, y)`` pairs for ``y`` = ``t_x`` or ``T`` and each row's pair index."""
        return self._pairs_tx if which == "tx" else self._pairs_age

    @cached_property
    def _pairs_tx(self) -> tuple[FloatArray, FloatArray, IntArray]:
        return _distinct_pairs(self.x, self.tx)

    @cached_property
    def _pairs_age(self) -> tuple[FloatArray, FloatArray, IntArray]:
        return _distinct_pairs(self.x, self.T)


def distinct_histories(X: Any) -> tuple[RFMData, NDArray[np.intp]]:
    """The distinct histories of the customers of ``X`` and each customer's among them.

    ``X`` holds one customer a row (``frequency, recency, T``, validated as
    :func:`transaction_columns` does; no ``weights``). Returns the distinct rows, sorted,
    with the number of customers of each as weights -- what a model's ``fit`` makes of
    ``X`` (and can be given instead of it) -- and, for each row of ``X``, the index of its
    history: computed once, they serve the fits of several models and their predictions.
    """
    x, tx, T, w = transaction_columns(X)
    if not np.all(w == 1.0):
        raise ValueError("distinct_histories takes one customer a row, without weights")
    (x, tx, T), counts, index = group_rows([x, tx, T])
    return RFMData(x, tx, T, counts), index


def _distinct_pairs(a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray, IntArray]:
    order = np.lexsort((b, a))
    sa, sb = a[order], b[order]
    new = np.ones(a.size, dtype=bool)
    if a.size:
        new[1:] = (sa[1:] != sa[:-1]) | (sb[1:] != sb[:-1])
    group = np.cumsum(new) - 1
    index = np.empty(a.size, dtype=np.int64)
    index[order] = group
    return sa[new], sb[new], index


def as_horizon(t: float | Sequence[float] | FloatArray, name: str = "t") -> FloatArray:
    """A non-negative, finite time horizon as an array."""
    arr = np.asarray(t, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and non-negative")
    return arr


def rng_from(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A NumPy generator from a seed (or the generator itself)."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def observation_lengths(n_customers: int, T: float | Sequence[float] | FloatArray) -> FloatArray:
    """``T`` for each simulated customer: a scalar repeated or an array of ``n_customers``."""
    if n_customers < 0:
        raise ValueError("n_customers must be >= 0")
    arr = np.asarray(T, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n_customers, float(arr))
    if arr.shape != (n_customers,):
        raise ValueError("T must be a number or an array with one entry per customer")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError("T must be finite and non-negative")
    return arr


def last_of_uniform(
    rng: np.random.Generator, window: FloatArray, k: FloatArray, n: FloatArray
) -> FloatArray:
    """Time of the ``k``-th of ``n`` uniform arrivals on ``[0, window]`` (0 when ``k = 0``).

    The ``k``-th order statistic of ``n`` uniforms is ``Beta(k, n - k + 1)``.
    """
    out = np.zeros(window.size)
    pos = k > 0
    if np.any(pos):
        out[pos] = window[pos] * rng.beta(k[pos], n[pos] - k[pos] + 1.0)
    return out


class TransactionModel(BaseModel):
    """Fitting pipeline shared by the continuous-time non-contractual models.

    Subclasses implement :meth:`_terms` (per-row log-likelihood and its gradient) and
    :meth:`_starts`; everything else -- validation, compression, optimisation, standard
    errors, per-customer log-likelihood -- happens here.
    """

    _param_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    # -- to implement ------------------------------------------------------------------
    @staticmethod
    @abstractmethod
    def _terms(
        params: FloatArray, data: RFMData, *, gradient: bool
    ) -> tuple[FloatArray, FloatArray | None]:
        """Per-row log-likelihood and (when asked) its gradient, shape ``(k, n_rows)``."""

    @staticmethod
    @abstractmethod
    def _starts(data: RFMData) -> list[list[float]]:
        """Natural-scale starting points for the optimiser, best guess first."""

    # -- fitting -----------------------------------------------------------------------
    def fit(self, X: Any, *, start: Mapping[str, float] | None = None) -> Self:
        """Maximum-likelihood fit on ``frequency, recency, T`` (and optional ``weights``).

        Identical customers are merged into weighted rows first, so the cost grows with
        the number of distinct histories rather than customers.

        Parameters
        ----------
        X : table or RFMData
            A pyarrow Table, pandas/polars DataFrame, mapping of arrays or structured
            array with the columns ``frequency``, ``recency``, ``T`` and optionally
            ``weights``; or those rows validated and compressed already (the first
            result of :func:`distinct_histories`, shared by the fits of several models).
        start : mapping, optional
            Parameters to start from (every name of the model, each positive), e.g. the
            ``params_`` of the same model fitted on related data -- the same customers
            at a later date. Newton's method is tried from it first, then L-BFGS-B from
            it, within a factor :data:`START_RANGE` of each value. Where the likelihood
            has a maximum in that range the fit reaches the same optimum as without a
            start, in fewer steps; where it rises along a ridge towards the boundary (a
            short history that cannot tell the parameters apart, say Pareto/NBD's ``s``
            and ``beta`` growing together, each step costlier than the last) the fit
            stops at the edge of the range with a ``BoundaryWarning`` instead of
            following the ridge.

        Returns
        -------
        self

        Warns
        -----
        BoundaryWarning
            The estimate lies on the edge of the parameter space.
        ConvergenceWarning
            The optimiser did not converge.
        """
        if not np.isfinite(self.penalizer) or self.penalizer < 0:
            raise ValueError("penalizer must be a non-negative number")
        data = X if isinstance(X, RFMData) else RFMData.from_table(X, compress=True)
        if data.n_rows == 0:
            raise InputError("the model needs at least one customer with a positive weight")
        terms = type(self)._terms
        chunks = data.chunks(_CHUNK_ROWS)

        def objective(params: FloatArray) -> tuple[float, FloatArray]:
            total = 0.0
            total_grad = np.zeros(len(self._param_names))
            for chunk in chunks:
                ll, grad = terms(params, chunk, gradient=True)
                if grad is None:
                    raise RuntimeError("the model's terms gave no gradient with gradient=True")
                # plain ufunc reductions: a BLAS call (``grad @ w``) per chunk costs
                # milliseconds of thread start-up on a busy machine
                total -= float(np.sum(chunk.w * ll))
                total_grad -= np.sum(grad * chunk.w, axis=1)
            return total, total_grad

        starts = type(self)._starts(data)
        warm = True
        hessian = None
        if start is not None:
            starts = [self._start_vector(start), *starts]
        elif data.n_rows >= 4 * _WARM_START_MIN:
            estimate, hessian = self._subsample_estimate(data, starts)
            starts = [estimate, *starts]
        else:
            warm = False
        result = fit_positive(
            objective,
            starts,
            n_observations=float(data.w.sum()),
            penalizer=float(self.penalizer),
            names=self._param_names,
            newton_first=warm,
            radius=math.log(START_RANGE) if start is not None else None,
            hessian=hessian,
        )
        self.params_ = dict(zip(self._param_names, map(float, result.params), strict=True))
        self.standard_errors_ = dict(
            zip(self._param_names, map(float, result.standard_errors), strict=True)
        )
        self.covariance_ = result.covariance
        self.log_likelihood_ = float(result.log_likelihood)
        self.n_customers_ = round(result.n_observations)
        self.converged_ = bool(result.converged)
        for issue in result.warnings:
            issue.warn(stacklevel=2)
        return self

    def _start_vector(self, start: Mapping[str, float]) -> list[float]:
        """``start`` as the optimiser's vector, checked."""
        return start_vector(start, self._param_names, model=type(self).__name__)

    def _subsample_estimate(
        self, data: RFMData, starts: list[list[float]]
    ) -> tuple[list[float], FloatArray | None]:
        """Estimate on a quarter of the rows (at most ``_WARM_START_ROWS`` customers) drawn by
        weight: a start for big fits, with the Hessian of the subsample's mean objective
        there (None when the fit gave none), for Newton's first steps on all rows.

        The draw uses a fixed seed, so fitting the same data twice gives the same answer.
        """
        rng = np.random.default_rng(0)
        size = min(_WARM_START_ROWS, data.n_rows // 4)
        pick = rng.choice(data.n_rows, size=size, p=data.w / data.w.sum())
        (x, tx, T), w = compress_rows([data.x[pick], data.tx[pick], data.T[pick]])
        sub = RFMData(x, tx, T, w)
        terms = type(self)._terms

        def objective(params: FloatArray) -> tuple[float, FloatArray]:
            ll, grad = terms(params, sub, gradient=True)
            if grad is None:
                raise RuntimeError("the model's terms gave no gradient with gradient=True")
            return -float(np.sum(sub.w * ll)), -np.sum(grad * sub.w, axis=1)

        result = fit_positive(  # only a starting point: its warnings are not issued
            objective,
            starts,
            n_observations=float(w.sum()),
            penalizer=float(self.penalizer),
            names=self._param_names,
        )
        hessian = result.hessian if result.hessian.size else None
        return [float(v) for v in result.params], hessian

    # -- predictions -------------------------------------------------------------------
    def expected_purchases(self, X: Any, t: float | Sequence[float] | FloatArray) -> FloatArray:
        """Expected purchases in ``(T, T + t]`` given the history; each model's own."""
        raise NotImplementedError

    def expected_purchases_over(
        self, X: Any, horizons: Sequence[float] | FloatArray
    ) -> Iterator[FloatArray]:
        """:meth:`expected_purchases` of ``X`` for each horizon of ``horizons`` in turn.

        The models override it to validate ``X`` and to compute what does not depend on
        the horizon (``P(alive)``, the distinct histories) once; the numbers are those of
        :meth:`expected_purchases`.
        """
        for t in horizons:
            yield self.expected_purchases(X, t)

    def _theta(self) -> FloatArray:
        self._check_fitted()
        return np.array([self.params_[k] for k in self._param_names], dtype=np.float64)

    def log_likelihood(self, X: Any) -> FloatArray:
        """Log-likelihood of each customer's ``(frequency, recency, T)`` (weights ignored).

        Returns
        -------
        ndarray
            One value per row of ``X``; their sum over the fitting data is
            ``log_likelihood_``.
        """
        data = RFMData.from_table(X, compress=False)
        ll, _ = type(self)._terms(self._theta(), data, gradient=False)
        return ll

    #: Parameters from which :meth:`_contract_example` simulates (typical CDNOW values).
    _example_params: ClassVar[dict[str, float]] = {}

    @classmethod
    def _contract_example(cls) -> dict[str, FloatArray]:
        """A small table this model can fit (for the common contract tests)."""
        truth = cls.from_dict({"params": cls._example_params})
        rng = np.random.default_rng(20050101)
        T = np.round(rng.uniform(20.0, 40.0, 400), 2)
        data = truth.sample(400, T, seed=rng)
        return {k: np.asarray(data[k], dtype=np.float64) for k in TRANSACTION_COLUMNS}

    def sample(
        self,
        n_customers: int,
        T: float | Sequence[float] | FloatArray,
        *,
        seed: int | np.random.Generator | None = None,
    ) -> dict[str, FloatArray]:
        """Simulated customers; implemented by each model."""
        raise NotImplementedError
