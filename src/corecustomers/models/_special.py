"""Special functions for the BTYD likelihoods, evaluated stably in log space.

Two Gauss hypergeometric functions appear in the non-contractual models:

* the Pareto/NBD likelihood needs ``G(y) = int_y^inf (alpha+t)^-(r+x) (beta+t)^-(s+1) dt``
  (Fader & Hardie 2005, "A Note on Deriving the Pareto/NBD Model and Related
  Expressions", eqs. (18)-(20): ``A_0 = (r+s+x) [G(t_x) - G(T)]``). The note writes ``G``
  with ``2F1(r+s+x, s+1 or r+x; r+s+x+1; z)``, choosing the branch by the sign of
  ``alpha - beta`` so that ``0 <= z < 1``. Euler's transformation
  ``2F1(a, b; c; z) = (1-z)^(c-a-b) 2F1(c-a, c-b; c; z)`` (Abramowitz & Stegun 15.3.3)
  turns either branch into ``H = 2F1(1, d; c; z)`` with ``0 < d < c``, whose terms
  decrease monotonically. For heavy buyers (``x`` in the thousands) ``H`` stays
  ``O(1)`` where the untransformed ``2F1`` overflows -- the reason lifetimes returns NaN
  there. :func:`log_h1` evaluates ``log H`` and its partial derivatives, by the power
  series for ``z <= 1/2`` and by Gauss's continued fraction (convergent in the cut
  plane, and much faster than the series near ``z = 1``) otherwise.
* the BG/NBD and MBG/NBD conditional expectations need
  ``1 - (1-z)^(r+x) 2F1(r+x, b+x; c; z)`` (Fader, Hardie & Lee 2005, eq. (10)). Euler's
  transformation turns it into ``1 - (1-z)^(a-1) 2F1(c-r-x, a-1; c; z)`` whose parameters
  do not grow with ``x``; :func:`bg_expectation_bracket` evaluates
  ``[1 - (1-z)^(a-1) 2F1(A, a-1; C; z)] / (a-1)`` without cancellation for small ``z`` and
  without a pole at ``a = 1``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import hyp2f1

from corecustomers.models._base import FloatArray

__all__ = [
    "bg_expectation_bracket",
    "expm1_ratio",
    "log1mexp",
    "log_h1",
]

_TINY = 1e-300
_SERIES_MAX_Z = 0.5
_MAX_TERMS = 20_000
_BLOCK = 6
_CHUNK = 8192  # rows per pass: a dozen work arrays of this length fit in L2
_CF_MAX_DEPTH = 8_000


def log1mexp(x: FloatArray) -> FloatArray:
    """``log(1 - exp(x))`` for ``x <= 0``, accurate near 0 and for large ``-x``.

    Maechler (2012), "Accurately Computing log(1 - exp(-|a|))", R package Rmpfr vignette.
    """
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(x > -np.log(2.0), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def expm1_ratio(k: float, log_q: FloatArray) -> FloatArray:
    """``expm1(k * log_q) / k``, continuous at ``k = 0`` where it equals ``log_q``."""
    log_q = np.asarray(log_q, dtype=np.float64)
    if k == 0.0:
        return log_q.copy()
    return np.asarray(np.expm1(k * log_q) / k)


def log_h1(
    d: ArrayLike, c: ArrayLike, z: ArrayLike, *, derivatives: bool = True
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``log 2F1(1, d; c; z)`` and its partial derivatives, for ``0 < d < c``, ``0 <= z < 1``.

    Parameters
    ----------
    d, c, z : array_like
        Broadcast together.
    derivatives : bool
        When False the three derivative arrays are returned as zeros.

    Returns
    -------
    log_h, dlog_h_dd, dlog_h_dc, dlog_h_dz : ndarray

    Notes
    -----
    For ``z <= 1/2``: the series ``sum_n (d)_n / (c)_n z^n`` (A&S 15.1.1), summed until the
    next term is below ``1e-17`` of the sum; the terms fall at least as fast as ``z^n``.
    For ``z > 1/2``: Gauss's continued fraction (see Cuyt et al. 2008, *Handbook of
    Continued Fractions for Special Functions*, ch. 15) for
    ``2F1(a+1, b; c+1; z) / 2F1(a, b; c; z)`` with ``a = 0``, ``b = d``, ``c -> c - 1``,
    evaluated backwards from a depth of ``30 / sqrt(1 - z)`` levels, which the
    tests check reaches double precision; derivatives are propagated through the
    recurrence.
    """
    d, c, z = np.broadcast_arrays(
        np.asarray(d, dtype=np.float64),
        np.asarray(c, dtype=np.float64),
        np.asarray(z, dtype=np.float64),
    )
    shape = d.shape
    d, c, z = d.ravel(), c.ravel(), z.ravel()
    out = [np.zeros(d.size) for _ in range(4)]
    series = z <= _SERIES_MAX_Z
    if np.any(series):
        idx = np.flatnonzero(series)
        res = _h1_series(d[idx], c[idx], z[idx], derivatives)
        for o, r_ in zip(out, res, strict=True):
            o[idx] = r_
    rest = np.flatnonzero(~series)
    if rest.size:
        depth = np.minimum(
            np.ceil(30.0 / np.sqrt(np.maximum(1.0 - z[rest], 1e-16))), _CF_MAX_DEPTH
        ).astype(np.int64)
        # rows in buckets of similar depth share one backward recurrence
        bucket = np.ceil(np.log2(depth)).astype(np.int64)
        for bkt in np.unique(bucket):
            sel = rest[bucket == bkt]
            n_levels = int(depth[bucket == bkt].max())
            res = _h1_continued_fraction(d[sel], c[sel], z[sel], n_levels, derivatives)
            for o, r_ in zip(out, res, strict=True):
                o[sel] = r_
    log_h, dd, dc, dz = (o.reshape(shape) for o in out)
    return log_h, dd, dc, dz


def _h1_series(
    d: FloatArray, c: FloatArray, z: FloatArray, derivatives: bool
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Power series of ``2F1(1, d; c; z)``, in chunks of rows that stay in the CPU cache."""
    if d.size <= _CHUNK:
        return _h1_series_chunk(d, c, z, derivatives)
    out = [np.empty(d.size) for _ in range(4)]
    for start in range(0, d.size, _CHUNK):
        sl = slice(start, start + _CHUNK)
        for o, part in zip(out, _h1_series_chunk(d[sl], c[sl], z[sl], derivatives), strict=True):
            o[sl] = part
    return out[0], out[1], out[2], out[3]


def _h1_series_chunk(
    d: FloatArray, c: FloatArray, z: FloatArray, derivatives: bool
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Power series of ``2F1(1, d; c; z)`` with derivative sums, vectorised.

    Rows are summed in blocks of ``_BLOCK`` terms on compact working arrays (no scatter
    per term); converged rows are written out and dropped between blocks. Overshooting
    by a few terms is harmless: the terms only get smaller (ratio < z <= 1/2).
    """
    n_rows = d.size
    out = [np.zeros(n_rows) for _ in range(4)]
    rows = np.arange(n_rows)
    dd, cc, zz = d.copy(), c.copy(), z.copy()
    total = np.ones(n_rows)
    term = np.ones(n_rows)
    s_d = np.zeros(n_rows)  # sum_n t_n * sum_{k<n} 1/(d+k)
    s_c = np.zeros(n_rows)  # sum_n t_n * sum_{k<n} 1/(c+k)
    s_z = np.zeros(n_rows)  # sum_n n t_n / z, accumulated as coefficients (finite at z = 0)
    psi_d = np.zeros(n_rows)
    psi_c = np.zeros(n_rows)
    ia = np.empty(n_rows)
    ib = np.empty(n_rows)
    ratio = np.empty(n_rows)
    tmp = np.empty(n_rows)
    n = 0
    while rows.size and n < _MAX_TERMS:
        for _ in range(_BLOCK):
            np.add(dd, n, out=ia)
            np.add(cc, n, out=ib)
            np.reciprocal(ib, out=ib)
            np.multiply(ia, ib, out=ratio)  # (d+n)/(c+n)
            if derivatives:
                np.reciprocal(ia, out=ia)
                np.multiply(term, ratio, out=tmp)
                tmp *= n + 1
                s_z += tmp  # (n+1) coeff_{n+1} z^n
                psi_d += ia
                psi_c += ib
            term *= ratio
            term *= zz
            total += term
            if derivatives:
                np.multiply(term, psi_d, out=tmp)
                s_d += tmp
                np.multiply(term, psi_c, out=tmp)
                s_c += tmp
            n += 1
        done = (n + 2) * term <= 1e-17 * total
        if np.any(done) or n >= _MAX_TERMS:
            if n >= _MAX_TERMS:
                done[:] = True
            where = rows[done]
            out[0][where] = total[done]
            out[1][where] = s_d[done]
            out[2][where] = s_c[done]
            out[3][where] = s_z[done]
            keep = ~done
            rows = rows[keep]
            dd, cc, zz, total, term = dd[keep], cc[keep], zz[keep], total[keep], term[keep]
            s_d, s_c, s_z, psi_d, psi_c = (
                s_d[keep],
                s_c[keep],
                s_z[keep],
                psi_d[keep],
                psi_c[keep],
            )
            ia, ib, ratio, tmp = (np.empty(rows.size) for _ in range(4))
    h = out[0]
    return np.log(h), out[1] / h, -out[2] / h, out[3] / h


def _cf_coefficient(j: int, d: FloatArray, cp: FloatArray) -> tuple[FloatArray, ...]:
    """Level ``j`` partial numerator (over z) of Gauss's fraction and its d/dd, d/dcp."""
    if j % 2 == 1:
        m = (j - 1) // 2
        num = -(cp + m) * (d + m)
        den = (cp + 2 * m) * (cp + 2 * m + 1)
        k = num / den
        dk_dd = -(cp + m) / den
        dden = (cp + 2 * m + 1) + (cp + 2 * m)
        dk_dc = (-(d + m) * den - num * dden) / den**2
    else:
        m = j // 2
        num = (d - cp - m) * m
        den = (cp + 2 * m - 1) * (cp + 2 * m)
        k = num / den
        dk_dd = m / den
        dden = (cp + 2 * m) + (cp + 2 * m - 1)
        dk_dc = (-m * den - num * dden) / den**2
    return k, dk_dd, dk_dc


def _h1_continued_fraction(
    d: FloatArray, c: FloatArray, z: FloatArray, depth: int, derivatives: bool
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``2F1(1, d; c; z) = 1 / (1 + k_1 z / (1 + k_2 z / (1 + ...)))``, backwards."""
    cp = c - 1.0
    v = np.ones(d.size)
    v_d = np.zeros(d.size)
    v_c = np.zeros(d.size)
    v_z = np.zeros(d.size)
    for j in range(depth, 0, -1):
        k, k_d, k_c = _cf_coefficient(j, d, cp)
        inv = 1.0 / v
        if derivatives:
            common = -k * z * inv * inv
            v_d, v_c, v_z = (
                k_d * z * inv + common * v_d,
                k_c * z * inv + common * v_c,
                k * inv + common * v_z,
            )
        v = 1.0 + k * z * inv
    # H = 1 / v  ->  d log H = -dv / v
    return -np.log(v), -v_d / v, -v_c / v, -v_z / v


def bg_expectation_bracket(A: float, a: float, C: FloatArray, log1mz: FloatArray) -> FloatArray:
    """``[1 - (1-z)^(a-1) 2F1(A, a-1; C; z)] / (a-1)`` for ``0 <= z < 1``, ``C > 0``.

    With ``A = C - r - x`` this equals ``[1 - (1-z)^(r+x) 2F1(r+x, C-a+1; C; z)] / (a-1)``
    (Euler's transformation, A&S 15.3.3), the bracket of Fader, Hardie & Lee (2005)
    eq. (10) (BG/NBD: ``C = a+b+x-1``) and of Wagner & Hoppe (2008) (MBG/NBD:
    ``C = a+b+x``).

    Parameters
    ----------
    A, a : float
    C : array
    log1mz : array
        ``log(1 - z)`` (pass it rather than ``z`` to keep precision for small ``z``).

    Notes
    -----
    Writing ``F = 1 + (a-1) S`` with ``S = sum_{n>=1} (A)_n (a)_{n-1} / ((C)_n n!) z^n``,
    the bracket is ``-expm1((a-1) log(1-z)) / (a-1) - (1-z)^(a-1) S``: no cancellation as
    ``z -> 0`` and no pole at ``a = 1``. The series converges quickly unless ``C`` is small
    and ``z`` near 1; only there SciPy's ``hyp2f1`` (which switches to the ``1 - z``
    transformations) is used, on the untransformed bracket (at ``a = 1`` exactly, on
    ``a = 1 + 1e-8``, good to about 1e-8).
    """
    C, log1mz = np.broadcast_arrays(
        np.asarray(C, dtype=np.float64), np.asarray(log1mz, dtype=np.float64)
    )
    shape = C.shape
    C, log1mz = C.ravel(), log1mz.ravel()
    z = -np.expm1(log1mz)
    am1 = a - 1.0
    s, ok = _bg_series(A, a, C, z)
    out = -expm1_ratio(am1, log1mz) - np.exp(am1 * log1mz) * s
    far = np.flatnonzero(~ok)
    if far.size:  # small C and z near 1: the series is too slow; SciPy transforms in 1 - z
        e = am1 if am1 != 0.0 else 1e-8
        f = hyp2f1(A + e - am1, e, C[far], z[far])
        out[far] = (1.0 - np.exp(e * log1mz[far]) * f) / e
    return out.reshape(shape)


def _bg_series(
    A: float, a: float, C: FloatArray, z: FloatArray, max_terms: int = 3_000
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """``S = sum_{n>=1} (A)_n (a)_{n-1} / ((C)_n n!) z^n`` and where it converged.

    The terms fall fast once ``n`` passes ``|A|``, ``a`` and -- whatever ``z`` -- when ``C``
    is large (heavy buyers), so rows that need more than ``max_terms`` terms are left to
    the caller.
    """
    total = np.zeros(C.size)
    converged = np.zeros(C.size, dtype=bool)
    term = A / C * z  # n = 1
    total += term
    active = np.arange(C.size)
    cc, zz, t = C, z, term
    for n in range(1, max_terms):
        t = t * (A + n) * (a + n - 1.0) / ((cc + n) * (n + 1.0)) * zz
        total[active] += t
        # stop once the terms are negligible and shrinking
        shrinking = np.abs((A + n + 1) * (a + n) / ((cc + n + 1) * (n + 2.0)) * zz) < 1.0
        done = shrinking & (np.abs(t) <= 1e-17 * np.abs(total[active]) + _TINY)
        if np.any(done):
            converged[active[done]] = True
            keep = ~done
            active, cc, zz, t = active[keep], cc[keep], zz[keep], t[keep]
            if active.size == 0:
                break
    return total, converged
