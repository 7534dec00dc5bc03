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
  do not grow with ``x``; :func:`bg_alive_expectation` picks, row by row, whichever form
  has the smaller parameters and sums it without cancellation for small ``z`` and
  without a pole at ``a = 1``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.integrate import quad
from scipy.special import betaln, hyp2f1

from corecustomers.models._base import FloatArray

__all__ = [
    "bg_alive_expectation",
    "expm1_ratio",
    "log1mexp",
    "log_h1",
]

_TINY = 1e-300
_CANCELLED = 1e6  # a series' largest term over its sum beyond which digits are lost
_SERIES_MAX_Z = 0.5
_MAX_TERMS = 20_000
_BLOCK = 6
_CHUNK = 8192  # rows per pass: a dozen work arrays of this length fit in L2
_CF_MAX_DEPTH = 8_000
_FIRST_SERIES_BLOCK = 16  # terms: most rows of bg_alive_expectation need 10-30
_DOUBLING_FROM = 64  # terms per block from which _cumulative_product doubles its step
_SERIES_CHUNK = 4096  # rows per pass of _series: a (terms, rows) block stays in L2


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


def _cf_coefficients(
    depth: int, d: FloatArray, cp: FloatArray, derivatives: bool
) -> tuple[FloatArray, FloatArray | None, FloatArray | None]:
    """Partial numerators (over ``z``) of levels ``1..depth`` of Gauss's fraction.

    Level ``2m+1``: ``-(c'+m)(d+m) / ((c'+2m)(c'+2m+1))``; level ``2m``:
    ``(d-c'-m) m / ((c'+2m-1)(c'+2m))``; with their derivatives in ``d`` and ``c'``.
    Shapes ``(depth, rows)``.
    """
    j = np.arange(1, depth + 1, dtype=np.float64)[:, None]
    odd = (j % 2) == 1
    m = np.where(odd, (j - 1) / 2, j / 2)
    num = np.where(odd, -(cp + m) * (d + m), (d - cp - m) * m)
    den = np.where(odd, (cp + 2 * m) * (cp + 2 * m + 1), (cp + 2 * m - 1) * (cp + 2 * m))
    k = num / den
    if not derivatives:
        return k, None, None
    dden = np.where(odd, 2 * cp + 4 * m + 1, 2 * cp + 4 * m - 1)
    dk_dd = np.where(odd, -(cp + m), m) / den
    dnum_dc = np.where(odd, -(d + m), -m)
    dk_dc = (dnum_dc * den - num * dden) / den**2
    return k, dk_dd, dk_dc


def _h1_continued_fraction(
    d: FloatArray, c: FloatArray, z: FloatArray, depth: int, derivatives: bool
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``2F1(1, d; c; z) = 1 / (1 + k_1 z / (1 + k_2 z / (1 + ...)))``, backwards.

    Rows are taken in blocks so the ``(depth, rows)`` coefficient tables stay small.
    """
    out = [np.empty(d.size) for _ in range(4)]
    block = max(1, 400_000 // depth)
    for start in range(0, d.size, block):
        sl = slice(start, start + block)
        res = _h1_cf_block(d[sl], c[sl], z[sl], depth, derivatives)
        for o, part in zip(out, res, strict=True):
            o[sl] = part
    return out[0], out[1], out[2], out[3]


def _h1_cf_block(
    d: FloatArray, c: FloatArray, z: FloatArray, depth: int, derivatives: bool
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    k, k_d, k_c = _cf_coefficients(depth, d, c - 1.0, derivatives)
    kz = k * z
    v = np.ones(d.size)
    v_d = np.zeros(d.size)
    v_c = np.zeros(d.size)
    v_z = np.zeros(d.size)
    if not derivatives:
        for level in range(depth - 1, -1, -1):
            v = 1.0 + kz[level] / v
        return -np.log(v), v_d, v_c, v_z
    if k_d is None or k_c is None:
        raise RuntimeError("the derivative coefficients were not computed with derivatives=True")
    k_dz = k_d * z
    k_cz = k_c * z
    for level in range(depth - 1, -1, -1):
        inv = 1.0 / v
        common = -kz[level] * inv * inv
        v_d = k_dz[level] * inv + common * v_d
        v_c = k_cz[level] * inv + common * v_c
        v_z = k[level] * inv + common * v_z
        v = 1.0 + kz[level] * inv
    # H = 1 / v  ->  d log H = -dv / v
    return -np.log(v), -v_d / v, -v_c / v, -v_z / v


def bg_alive_expectation(
    r: float, a: float, b_post: FloatArray, m: FloatArray, C: FloatArray, log1mz: FloatArray
) -> FloatArray:
    """Expected purchases in the next ``t`` of a BG/NBD or MBG/NBD customer known to be alive.

    ``C/(a-1) [1 - (1-z)^m 2F1(m, b'; C; z)]`` with ``m = r+x``, posterior dropout
    ``p ~ Beta(a, b')`` (``b' = b+x`` for the BG/NBD, ``b+x+1`` for the MBG/NBD),
    ``C = a + b' - 1`` and ``z = t/(alpha+T+t)``: Fader, Hardie & Lee (2005) eq. (10) without
    its P(alive) factor, and Wagner & Hoppe (2008) for the MBG/NBD.

    Parameters
    ----------
    r, a : float
    b_post, m, C, log1mz : arrays (broadcast)
        ``b'``, ``r + x``, ``C`` and ``log(1 - z)``.

    Notes
    -----
    With ``L = log(1-z)``, two series give the bracket without cancellation as ``z -> 0``:

    * as printed, ``1 - e^(mL) F = -expm1(mL) - e^(mL) S_1`` with
      ``S_1 = sum_{n>=1} (m)_n (b')_n / ((C)_n n!) z^n``;
    * after Euler's transformation (A&S 15.3.3),
      ``(1-z)^m F(m, b'; C; z) = (1-z)^(a-1) F(C-m, a-1; C; z)``, so the bracket over
      ``a - 1`` is ``-expm1((a-1)L)/(a-1) - e^((a-1)L) S_2`` with
      ``S_2 = sum_{n>=1} (C-m)_n (a)_(n-1) / ((C)_n n!) z^n`` -- no pole at ``a = 1``.

    Each row uses the series whose parameters are smaller next to ``C`` (heavy buyers:
    Euler's; a very large ``a``: the printed one). Where that series would need more than
    500 terms (small ``C``, ``z`` near 1) SciPy's ``hyp2f1``, which transforms to
    ``1 - z``, evaluates the same form; if that is not finite either, or would cancel
    (``|a - 1| < 1e-4``), the expectation over
    the posterior, ``E[(1 - (1 + p t/(alpha+T))^-m) / p]`` with ``p ~ Beta(a, b')``, is
    integrated with the Jacobi weight (QUADPACK's QAWS).
    """
    b_post, m, C, log1mz = np.broadcast_arrays(
        np.asarray(b_post, dtype=np.float64),
        np.asarray(m, dtype=np.float64),
        np.asarray(C, dtype=np.float64),
        np.asarray(log1mz, dtype=np.float64),
    )
    shape = C.shape
    b_post, m, C, log1mz = b_post.ravel(), m.ravel(), C.ravel(), log1mz.ravel()
    z = -np.expm1(log1mz)
    am1 = a - 1.0
    out = np.full(C.size, np.nan)
    euler = np.abs((C - m) * am1) <= m * b_post
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for rows, use_euler in ((np.flatnonzero(euler), True), (np.flatnonzero(~euler), False)):
            if rows.size == 0:
                continue
            cc, mm, bb, lz, zz = C[rows], m[rows], b_post[rows], log1mz[rows], z[rows]
            if use_euler:
                s2, ok = _series(cc - mm, a, cc, zz, shift_second=True)
                val = cc * (-expm1_ratio(am1, lz) - np.exp(am1 * lz) * s2)
            else:
                s1, ok = _series(mm, bb, cc, zz, shift_second=False)
                val = cc / am1 * (-np.expm1(mm * lz) - np.exp(mm * lz) * s1)
            slow = ~ok  # small C and z near 1: SciPy's hyp2f1 transforms in 1 - z
            if np.any(slow):
                if use_euler and abs(am1) < 1e-4:
                    val[slow] = np.nan  # 1 - (1-z)^(a-1) F cancels: leave it to quadrature
                elif use_euler:
                    f = hyp2f1(cc[slow] - mm[slow], am1, cc[slow], zz[slow])
                    val[slow] = cc[slow] * (1.0 - np.exp(am1 * lz[slow]) * f) / am1
                else:
                    f = hyp2f1(mm[slow], bb[slow], cc[slow], zz[slow])
                    val[slow] = cc[slow] / am1 * (1.0 - np.exp(mm[slow] * lz[slow]) * f)
            out[rows] = val
    # given alive, at most the purchases of a customer who never drops out: m k with
    # k = t/(alpha+T) = z/(1-z); a value above it (or below 0) lost its digits
    most = m * np.expm1(-log1mz)
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(~np.isfinite(out) | (out < 0) | (out > most * (1.0 + 1e-9)))
    for i in bad:
        out[i] = _alive_expectation_quad(a, float(b_post[i]), float(m[i]), float(log1mz[i]))
    return out.reshape(shape)


def _series(
    p: FloatArray,
    q: float | FloatArray,
    C: FloatArray,
    z: FloatArray,
    *,
    shift_second: bool,
    max_terms: int = 500,
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """``sum_{n>=1} (p)_n (q)_n / ((C)_n n!) z^n`` -- or with ``(q)_(n-1)`` when
    ``shift_second`` -- and where it converged to a finite value.

    A row has converged once the ratio of its next term to the last one is below 1 and
    the last term is below ``1e-17`` of the sum; rows that need more than ``max_terms``
    terms, or whose terms stop being finite, are reported as not converged.

    The terms are summed in blocks of rows x several terms (:func:`_series_block`)
    rather than one term per pass: the median row needs ~20 terms but a few need
    hundreds, and a pass per term for those few costs far more in interpreter overhead
    than their arithmetic. Convergence is checked at the end of each block, so a row
    may add terms past the point where one-term-at-a-time summing would stop; they
    are smaller still than the ``1e-17`` of the sum that stops it.
    """
    q_arr = np.broadcast_to(np.asarray(q, dtype=np.float64), C.shape)
    total = np.zeros(C.size)
    converged = np.zeros(C.size, dtype=bool)
    for start in range(0, C.size, _SERIES_CHUNK):
        sl = slice(start, start + _SERIES_CHUNK)
        total[sl], converged[sl] = _series_chunk(
            p[sl], q_arr[sl], C[sl], z[sl], shift_second=shift_second, max_terms=max_terms
        )
    return total, converged


def _series_chunk(
    p: FloatArray,
    q: FloatArray,
    C: FloatArray,
    z: FloatArray,
    *,
    shift_second: bool,
    max_terms: int,
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """:func:`_series` on rows few enough for a block of terms to stay in the CPU cache."""
    total = np.zeros(C.size)
    converged = np.zeros(C.size, dtype=bool)
    term = p / C * z * (1.0 if shift_second else q)  # n = 1
    # compact state of the rows still summing; q is shifted so that both forms
    # have the term ratio (p+n)(q+n) z / ((C+n)(n+1))
    active = np.arange(C.size)
    pp, qq, cc, zz = p, q - 1.0 if shift_second else q, C, z
    last, partial = term, term.copy()
    # a negative p (Euler's form when m > C) makes the terms alternate in sign and grow
    # before they shrink: their largest is kept, and a sum far below it lost its digits
    peak = np.abs(term) if np.any(p < 0) else None
    # two (terms, rows) tables, reused from block to block: a fresh table of a few
    # hundred kB per block is mapped and zeroed by the OS and costs more than its sums
    work = np.empty((2, _FIRST_SERIES_BLOCK * C.size))
    n = 1  # terms summed so far
    while active.size and n < max_terms:
        k = min(max(_FIRST_SERIES_BLOCK, n - 1), max_terms - n)
        if k * active.size > work.shape[1]:
            work = np.empty((2, k * active.size))
        last, partial, block_peak = _series_block(
            pp, qq, cc, zz, last, partial, n, k, work, peak is not None
        )
        if peak is not None and block_peak is not None:
            np.maximum(peak, block_peak, out=peak)
        n += k
        with np.errstate(over="ignore", invalid="ignore"):
            nxt = (pp + n) * (qq + n) / ((cc + n) * (n + 1.0)) * zz
            done = (np.abs(nxt) < 1.0) & (np.abs(last) <= 1e-17 * np.abs(partial) + _TINY)
        broken = ~(np.isfinite(last) & np.isfinite(partial))
        if peak is not None:  # more than 6 of the 16 digits cancelled: not trusted
            broken |= peak > _CANCELLED * np.abs(partial)
        stop = done | broken
        if n >= max_terms:
            stop[:] = True
        if np.any(stop):
            total[active[stop]] = partial[stop]
            converged[active[done & ~broken]] = True
            keep = ~stop
            active = active[keep]
            pp, qq, cc, zz = pp[keep], qq[keep], cc[keep], zz[keep]
            last, partial = last[keep], partial[keep]
            if peak is not None:
                peak = peak[keep]
    return total, converged & np.isfinite(total)


def _series_block(
    p: FloatArray,
    q: FloatArray,
    C: FloatArray,
    z: FloatArray,
    last: FloatArray,
    partial: FloatArray,
    n: int,
    k: int,
    work: FloatArray,
    peaks: bool = False,
) -> tuple[FloatArray, FloatArray, FloatArray | None]:
    """Terms ``n+1 .. n+k`` of each row added to ``partial``, from term ``n``, ``last``.

    The ``(k, rows)`` table of term ratios ``(p+j)(q+j) z / ((C+j)(j+1))`` for
    ``j = n .. n+k-1`` is turned into the terms by a cumulative product down the
    columns; returns the last term and the new sum. ``work`` holds at least
    ``(2, k * rows)`` numbers to build the tables in. With ``peaks``, also each row's
    largest term of the block in magnitude (else None).

    Every step is element by element in a column, in an order that depends on ``n``
    and ``k`` only, so a row gets the same bits whichever rows it is evaluated with
    (:func:`~corecustomers.models.beta_geo.conditional_expectation` relies on it).
    """
    rows = p.size
    j = np.arange(n, n + k, dtype=np.float64)[:, None]
    ratio = np.add(p, j, out=work[0, : k * rows].reshape(k, rows))
    other = np.add(q, j, out=work[1, : k * rows].reshape(k, rows))
    ratio *= other
    np.add(C, j, out=other)
    other *= j + 1.0
    ratio /= other
    ratio *= z
    ratio[0] *= last
    with np.errstate(over="ignore", invalid="ignore"):
        terms = _cumulative_product(ratio, other)
        last = terms[-1].copy()
        peak = np.abs(terms).max(axis=0) if peaks else None
        return last, partial + _column_sums(terms), peak


def _cumulative_product(table: FloatArray, scratch: FloatArray) -> FloatArray:
    """``np.cumprod(table, axis=0)``, several times faster, in ``table`` or ``scratch``.

    NumPy's accumulation down the first axis takes ~25 times as long as multiplying
    row by row on a ``(16, 4096)`` table. Short tables go row by row; long ones (the
    few rows of a slowly converging series) in ``log2`` steps that each multiply every
    row by the one ``step`` rows above (Hillis & Steele 1986), since a Python-level step
    costs more than the arithmetic of a few hundred columns.
    """
    k = table.shape[0]
    if k < _DOUBLING_FROM:
        for i in range(1, k):
            np.multiply(table[i], table[i - 1], out=table[i])
        return table
    step = 1
    while step < k:
        scratch[:step] = table[:step]
        np.multiply(table[step:], table[:-step], out=scratch[step:])
        table, scratch = scratch, table
        step *= 2
    return table


def _column_sums(table: FloatArray) -> FloatArray:
    """The sum down each column of ``table`` (overwritten), in ``log2`` halvings.

    ``table.sum(axis=0)`` would add a single column pairwise but many columns in
    sequence; these halvings add every column the same way.
    """
    m = table.shape[0]
    while m > 1:
        half = m // 2
        np.add(table[:half], table[m - half : m], out=table[:half])
        m -= half
    return table[0]


def _alive_expectation_quad(a: float, b_post: float, m: float, log1mz: float) -> float:
    """``E[(1 - (1 + p k)^-m) / p]`` for ``p ~ Beta(a, b')``, ``k = z/(1-z)``, by quadrature.

    ``h(p) = (1 - (1 + p k)^-m) / p`` is smooth and at most ``m k``. A small ``b'`` uses
    QUADPACK's QAWS with the Jacobi weight ``p^(a-1) (1-p)^(b'-1)``; otherwise the Beta
    density is integrated in log space between its ``1e-16`` and ``1 - 1e-16`` quantiles
    (the tails change the answer by less than ``2e-16 m k``).
    """
    k = float(np.expm1(-log1mz))  # t / (alpha + T)
    if k == 0.0:
        return 0.0
    log_beta = float(betaln(a, b_post))

    def h(p: float) -> float:  # (1 - (1 + p k)^-m) / p, smooth on [0, 1]
        if p == 0.0:
            return m * k
        return float(-np.expm1(-m * np.log1p(p * k)) / p)

    # extreme posteriors may cost QUADPACK its last digits; the answer stays finite.
    # full_output: QUADPACK's complaint comes back in the result instead of as an
    # IntegrationWarning, which could only be silenced process-wide
    if a < 1.0 and b_post <= 50.0:
        value = quad(
            h,
            0.0,
            1.0,
            weight="alg",
            wvar=(a - 1.0, b_post - 1.0),
            epsrel=1e-11,
            limit=200,
            full_output=1,
        )[0]
        return float(value * np.exp(-log_beta))

    def weighted(p: float) -> float:
        log_pdf = -log_beta
        if a != 1.0:
            log_pdf += (a - 1.0) * np.log(p) if p > 0.0 else -np.inf * (a - 1.0)
        if b_post != 1.0:
            log_pdf += (b_post - 1.0) * np.log1p(-p) if p < 1.0 else -np.inf
        return float(np.exp(log_pdf) * h(p)) if np.isfinite(log_pdf) else 0.0

    mean = a / (a + b_post)
    sd = float(np.sqrt(a * b_post / ((a + b_post) ** 2 * (a + b_post + 1.0))))
    lo, hi = max(mean - 40.0 * sd, 0.0), min(mean + 40.0 * sd, 1.0)
    points = [mean]
    value = quad(weighted, lo, hi, points=points, epsrel=1e-11, limit=200, full_output=1)[0]
    return float(value)
