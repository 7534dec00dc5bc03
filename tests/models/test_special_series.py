"""The blocked series of :func:`corecustomers.models._special.bg_alive_expectation`.

``_special._series`` sums ``sum_{n>=1} (p)_n (q)_n / ((C)_n n!) z^n`` in blocks of terms
(a table of rows x terms per Python-level pass). Here it is compared with

* the one-term-per-pass loop it replaced (kept below as the reference): the same terms
  and stopping test (applied at the end of each block instead of after every term), so
  the same rows converge, to sums that differ only by the rounding of up to 500
  products and additions: within ``1e-14`` relative (5e-15 measured);
* mpmath's ``hyp2f1`` at 40 digits, through the whole expectation, for ``z`` from 0 to
  0.99 on both of its branches (the printed form and Euler's), where ours must be within
  ``1e-12`` relative: ``-expm1((a-1)L)/(a-1) - e^((a-1)L) S_2`` loses up to ~2 digits to
  cancellation near ``z = 1`` (the worst case here is off by 7e-14, before and after
  the series were blocked).
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from numpy.typing import NDArray

from corecustomers.models import _special
from corecustomers.models._special import _alive_expectation_quad, _series, bg_alive_expectation

FloatArray = NDArray[np.float64]


def one_term_per_pass(
    p: FloatArray,
    q: float | FloatArray,
    C: FloatArray,
    z: FloatArray,
    *,
    shift_second: bool,
    max_terms: int = 500,
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """The loop ``_series`` was before it summed in blocks (commit 860de2c)."""
    q_arr = np.broadcast_to(np.asarray(q, dtype=np.float64), C.shape)
    total = np.zeros(C.size)
    converged = np.zeros(C.size, dtype=bool)
    term = p / C * z * (1.0 if shift_second else q_arr)
    total += term
    active = np.arange(C.size)
    pp, qq, cc, zz, t = p, q_arr, C, z, term
    q_off = -1.0 if shift_second else 0.0
    for n in range(1, max_terms):
        with np.errstate(over="ignore", invalid="ignore"):  # as under bg_alive_expectation
            t = t * (pp + n) * (qq + n + q_off) / ((cc + n) * (n + 1.0)) * zz
        total[active] += t
        nxt = np.abs((pp + n + 1) * (qq + n + 1 + q_off) / ((cc + n + 1) * (n + 2.0)) * zz)
        done = (nxt < 1.0) & (np.abs(t) <= 1e-17 * np.abs(total[active]) + 1e-300)
        broken = ~np.isfinite(t)
        if np.any(done | broken):
            converged[active[done & ~broken]] = True
            keep = ~(done | broken)
            active, pp, qq, cc, zz, t = (
                active[keep],
                pp[keep],
                qq[keep],
                cc[keep],
                zz[keep],
                t[keep],
            )
            if active.size == 0:
                break
    return total, converged & np.isfinite(total)


def series_grid() -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, NDArray[np.bool_]]:
    """``(p, q, C, z)`` of both branches as ``bg_alive_expectation`` forms them, and
    whether a row is of Euler's form (``shift_second``).

    Purchases ``x`` from 0 to 3000, ``a`` below and above 1, ``b`` small and large,
    ``z`` on a grid from 0 to 0.99 that is dense near 1, where the series are long.
    """
    rows = []
    z_grid = np.concatenate(
        [[0.0, 1e-9, 1e-4], np.linspace(0.01, 0.9, 25), 1 - np.geomspace(0.1, 0.01, 15)]
    )
    for r, a, b in ((0.24, 0.79, 2.43), (0.2, 0.39, 5.37), (2.0, 3.5, 0.4), (0.05, 12.0, 30.0)):
        for x in (0.0, 1.0, 2.0, 7.0, 40.0, 3000.0):
            m, b_post = r + x, b + x
            C = a + b_post - 1.0
            for z in z_grid:
                rows.append((C - m, a, C, z, True))  # Euler's form
                rows.append((m, b_post, C, z, False))  # as printed
    arr = np.array(rows)
    return arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4].astype(bool)


@pytest.mark.parametrize("shift_second", [True, False])
def test_blocks_sum_what_one_term_per_pass_sums(shift_second: bool) -> None:
    p, q, C, z, euler = series_grid()
    sel = euler == shift_second
    p, q, C, z = p[sel], q[sel], C[sel], z[sel]
    got, got_ok = _series(p, q, C, z, shift_second=shift_second)
    want, want_ok = one_term_per_pass(p, q, C, z, shift_second=shift_second)
    # the same rows converge within 500 terms (not so: z near 1, and the printed form
    # for heavy buyers, which bg_alive_expectation leaves to Euler's) ...
    np.testing.assert_array_equal(got_ok, want_ok)
    assert 0 < np.count_nonzero(~got_ok) < got_ok.size / 2
    # ... to the same sums
    np.testing.assert_allclose(got[got_ok], want[want_ok], rtol=1e-14, atol=0.0)


def test_a_row_gets_the_same_bits_whatever_rows_it_is_summed_with() -> None:
    p, q, C, z, euler = series_grid()
    p, q, C, z = p[euler], q[euler], C[euler], z[euler]
    together, ok = _series(p, q, C, z, shift_second=True)
    for i in range(0, p.size, 7):
        alone, alone_ok = _series(
            p[i : i + 1], q[i : i + 1], C[i : i + 1], z[i : i + 1], shift_second=True
        )
        assert alone_ok[0] == ok[i]
        assert alone[0] == together[i] or not ok[i]


def test_more_rows_than_a_chunk_are_summed_alike() -> None:
    p, q, C, z, euler = series_grid()
    reps = _special._SERIES_CHUNK // int(np.count_nonzero(euler)) + 2
    p, q, C, z = (np.tile(v[euler], reps) for v in (p, q, C, z))
    got, ok = _series(p, q, C, z, shift_second=True)
    one, one_ok = _series(
        p[: p.size // reps],
        q[: p.size // reps],
        C[: p.size // reps],
        z[: p.size // reps],
        shift_second=True,
    )
    np.testing.assert_array_equal(ok, np.tile(one_ok, reps))
    np.testing.assert_array_equal(got[ok], np.tile(one, reps)[ok])


def test_terms_that_overflow_do_not_count_as_converged() -> None:
    # (p)_n (q)_n / (C)_n n! grows like n^(p+q-C-1) = n^600 before z^n wins
    p = np.array([400.0, 1.0])
    q = np.array([400.0, 1.0])
    C = np.array([199.0, 2.0])
    z = np.array([0.9, 0.5])
    total, ok = _series(p, q, C, z, shift_second=False)
    assert ok.tolist() == [False, True]
    assert total[1] == pytest.approx(
        2.0 * np.log(2.0) - 1.0, rel=1e-15
    )  # 2F1(1,1;2;z) = -log(1-z)/z


def alive_expectation_mpmath(a: float, b_post: float, m: float, C: float, z: float) -> float:
    """``C/(a-1) [1 - (1-z)^m 2F1(m, b'; C; z)]`` as printed (FHL 2005 eq. (10))."""
    with mp.workdps(40):
        a_, z_ = mp.mpf(a), mp.mpf(z)
        f = mp.hyp2f1(mp.mpf(m), mp.mpf(b_post), mp.mpf(C), z_)
        return float(mp.mpf(C) / (a_ - 1) * (1 - (1 - z_) ** mp.mpf(m) * f))


@pytest.mark.parametrize(("r", "a", "b"), [(0.2, 0.39, 5.37), (2.0, 3.5, 0.4)])
def test_the_expectation_matches_mpmath_from_z_0_to_0_99(r: float, a: float, b: float) -> None:
    x = np.array([0.0, 1.0, 3.0, 20.0, 300.0])[:, None]
    z = np.concatenate([[1e-6, 0.05, 0.3, 0.6, 0.8, 0.9], 1 - np.geomspace(0.07, 0.01, 5)])
    m, b_post = r + x, b + x
    C = a + b_post - 1.0
    m, b_post, C, zz = np.broadcast_arrays(m, b_post, C, z[None, :])
    got = bg_alive_expectation(r, a, b_post, m, C, np.log1p(-zz))
    want = np.vectorize(lambda bp, mm, cc, zv: alive_expectation_mpmath(a, bp, mm, cc, zv))(
        b_post, m, C, zz
    )
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0.0)
    euler = np.abs((C - m) * (a - 1.0)) <= m * b_post
    assert euler.any() and (~euler).any()  # both of its series are exercised


@pytest.mark.parametrize("a", [1.0, 2.0, 0.5])
@pytest.mark.parametrize("x", [0.0, 1.0])
def test_a_series_that_cancels_is_not_trusted(a: float, x: float) -> None:
    """Euler's form with m = r + x far above C (r = 316, b = 1) alternates in sign with
    terms near 1e50: such a sum lost its digits (it gave 3.6e37 expected purchases in a
    day, found by tests/models/test_properties_transaction.py) and is left to the other
    evaluations; the results stay below the never-dropping-out bound m t/(alpha+T) and
    equal the posterior expectation integrated by quadrature."""
    r, alpha, b, T = 316.22776601683796, 1.0, 1.0, 0.0
    t = np.array([0.5, 1.0, 2.0, 10.0])
    m = np.full(t.size, r + x)
    b_post = np.full(t.size, b + x)
    log1mz = np.log1p(-t / (alpha + T + t))
    got = bg_alive_expectation(r, a, b_post, m, a + b_post - 1.0, log1mz)
    assert np.all(np.diff(got) > 0)
    assert np.all(got <= m * t / (alpha + T))
    want = [_alive_expectation_quad(a, b + x, r + x, float(v)) for v in log1mz]
    np.testing.assert_allclose(got, want, rtol=1e-7)
