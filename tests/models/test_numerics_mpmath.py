"""Our log-space evaluations against the textbook closed forms in 60-digit arithmetic.

For each model the reference evaluates the *same* formulas as the papers print them --
untransformed Gauss hypergeometric functions, plain powers and ratios -- with mpmath at
60 significant digits, where overflow and cancellation cannot hurt. Ours use Euler's
transformation, log-space sums and series/continued fractions instead. The grid covers
heavy buyers (x up to 3000), the edges t_x = 0 and t_x = T, a history 0.001 long and one
500 long, and parameter sets on both sides of alpha = beta (Pareto/NBD), with a < 1 and
a > 1 (BG/NBD, MBG/NBD).

Formulas:
* BG/NBD: Fader, Hardie & Lee (2005) eq. (6) (likelihood), eq. (10) (conditional
  expectation); P(alive) from Fader, Hardie & Lee (2008), note 021.
* MBG/NBD: Batislam et al. (2007) likelihood and P(alive) (appendix A, eq. (5)); the
  conditional expectation as corrected by Wagner & Hoppe (2008).
* Pareto/NBD: Fader & Hardie (2005), note 009, eqs. (18)-(20) (likelihood with ``A_0``),
  (36)-(37) (P(alive)), (41) (conditional expectation).

Tolerance: relative 1e-8 everywhere (references below 1e-290, e.g. P(alive) = 1e-3958 for
3000 purchases in the first half of the history, must underflow to below 1e-290), plus an absolute 1e-10 on log-likelihoods only,
because a log-likelihood can pass through zero while its terms (``ln G(r+x)`` ~ 2e4 at
x = 3000) carry ~1e-12 of double-precision rounding each.
"""

from __future__ import annotations

from collections.abc import Callable

import mpmath as mp
import numpy as np
import pytest

from corecustomers.models.beta_geo import BetaGeoModel
from corecustomers.models.modified_beta_geo import ModifiedBetaGeoModel
from corecustomers.models.pareto_nbd import ParetoNBDModel

mp.mp.dps = 60

X_GRID = (0, 1, 5, 50, 500, 3000)
T_GRID = (1e-3, 1.0, 39.0, 500.0)
HORIZONS = (0.5, 52.0)
RTOL = 1e-8
LL_ATOL = 1e-10


def histories() -> list[tuple[int, float, float]]:
    rows: list[tuple[int, float, float]] = []
    for T in T_GRID:
        for x in X_GRID:
            for tx in (0.0, T / 2, T) if x > 0 else (0.0,):
                rows.append((x, tx, T))
    return rows


# -- references: the published formulas, in mpmath --------------------------------------
def bg_reference(
    params: tuple[float, ...], x: int, tx: float, T: float, t: float, *, modified: bool
) -> tuple[mp.mpf, mp.mpf, mp.mpf]:
    r, alpha, a, b = (mp.mpf(v) for v in params)
    x_, tx_, T_, t_ = mp.mpf(x), mp.mpf(tx), mp.mpf(T), mp.mpf(t)
    s = 1 if modified else 0
    common = mp.gamma(r + x_) * alpha**r / mp.gamma(r)
    alive_term = mp.beta(a, b + x_ + s) / mp.beta(a, b) * common / (alpha + T_) ** (r + x_)
    dead_term = mp.beta(a + 1, b + x_ - 1 + s) / mp.beta(a, b) * common / (alpha + tx_) ** (r + x_)
    if x == 0 and not modified:
        dead_term = mp.mpf(0)
    ll = mp.log(alive_term + dead_term)
    odds = (
        0
        if (x == 0 and not modified)
        else a / (b + x_ - 1 + s) * ((alpha + T_) / (alpha + tx_)) ** (r + x_)
    )
    p_alive = 1 / (1 + odds)
    c = a + b + x_ - 1 + s
    z = t_ / (alpha + T_ + t_)
    bracket = 1 - ((alpha + T_) / (alpha + T_ + t_)) ** (r + x_) * mp.hyp2f1(
        r + x_, b + x_ + s, c, z
    )
    expected = c / (a - 1) * bracket * p_alive
    return ll, p_alive, expected


def pareto_reference(
    params: tuple[float, ...], x: int, tx: float, T: float, t: float
) -> tuple[mp.mpf, mp.mpf, mp.mpf]:
    r, alpha, s, beta = (mp.mpf(v) for v in params)
    x_, tx_, T_, t_ = mp.mpf(x), mp.mpf(tx), mp.mpf(T), mp.mpf(t)
    rsx = r + s + x_
    if alpha >= beta:
        hi, second = alpha, s + 1
    else:
        hi, second = beta, r + x_
    diff = abs(alpha - beta)
    a0 = (
        mp.hyp2f1(rsx, second, rsx + 1, diff / (hi + tx_)) / (hi + tx_) ** rsx
        - mp.hyp2f1(rsx, second, rsx + 1, diff / (hi + T_)) / (hi + T_) ** rsx
    )
    head = mp.gamma(r + x_) * alpha**r * beta**s / mp.gamma(r)
    ll = mp.log(head * (1 / ((alpha + T_) ** (r + x_) * (beta + T_) ** s) + s / rsx * a0))
    p_alive = 1 / (1 + s / rsx * (alpha + T_) ** (r + x_) * (beta + T_) ** s * a0)
    expected = (
        (r + x_)
        * (beta + T_)
        / ((alpha + T_) * (s - 1))
        * (1 - ((beta + T_) / (beta + T_ + t_)) ** (s - 1))
        * p_alive
    )
    return ll, p_alive, expected


# -- the comparison --------------------------------------------------------------------
Reference = Callable[[tuple[float, ...], int, float, float, float], tuple[mp.mpf, mp.mpf, mp.mpf]]

CASES: list[tuple[type, dict[str, float], Reference]] = []
for p in (
    {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    {"r": 1.5, "alpha": 0.3, "a": 2.5, "b": 0.8},
    {"r": 0.05, "alpha": 60.0, "a": 1.2, "b": 30.0},
    {"r": 1.0, "alpha": 1.0, "a": 800.0, "b": 1.5},  # huge a: the printed series
):
    CASES.append(
        (BetaGeoModel, p, lambda q, x, tx, T, t: bg_reference(q, x, tx, T, t, modified=False))
    )
for p in (
    {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614},
    {"r": 2.0, "alpha": 1.0, "a": 3.0, "b": 0.5},
    {"r": 0.1, "alpha": 30.0, "a": 0.5, "b": 8.0},
    {"r": 1.0, "alpha": 0.01, "a": 1.00001, "b": 40.0},  # a near 1, z near 1: quadrature
):
    CASES.append(
        (
            ModifiedBetaGeoModel,
            p,
            lambda q, x, tx, T, t: bg_reference(q, x, tx, T, t, modified=True),
        )
    )
for p in (
    {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669},  # alpha < beta, z small
    {"r": 1.5, "alpha": 20.0, "s": 2.5, "beta": 0.5},  # alpha > beta, z near 1 at y = 0
    {"r": 0.2, "alpha": 0.05, "s": 0.8, "beta": 40.0},  # alpha << beta: continued fraction
):
    CASES.append((ParetoNBDModel, p, pareto_reference))


def close(ours: float, ref: mp.mpf, atol: float = 0.0) -> bool:
    if abs(ref) < 1e-290:  # below double precision's (normal) range: must underflow
        return abs(ours) < 1e-290
    return bool(abs(mp.mpf(ours) - ref) <= RTOL * abs(ref) + atol)


@pytest.mark.parametrize(
    ("cls", "params", "reference"),
    CASES,
    ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(CASES)],
)
def test_matches_high_precision_closed_forms(
    cls: type, params: dict[str, float], reference: Reference
) -> None:
    model = cls.from_dict({"params": params})
    rows = histories()
    X = {
        "frequency": np.array([r[0] for r in rows], dtype=float),
        "recency": np.array([r[1] for r in rows]),
        "T": np.array([r[2] for r in rows]),
    }
    ll = model.log_likelihood(X)
    p_alive = model.probability_alive(X)
    expected = {t: model.expected_purchases(X, t) for t in HORIZONS}
    q = tuple(params.values())
    failures = []
    for i, (x, tx, T) in enumerate(rows):
        for t in HORIZONS:
            ref_ll, ref_p, ref_e = reference(q, x, tx, T, t)
            checks = [("E", expected[t][i], ref_e, 0.0)]
            if t == HORIZONS[0]:
                checks += [("ll", ll[i], ref_ll, LL_ATOL), ("P(alive)", p_alive[i], ref_p, 0.0)]
            for name, ours, ref, atol in checks:
                if not (np.isfinite(ours) and close(float(ours), ref, atol)):
                    failures.append(
                        f"{name} x={x} tx={tx} T={T} t={t}: {ours!r} vs {mp.nstr(ref, 17)}"
                    )
    assert not failures, "\n".join(failures[:20])
