"""The MBG/NBD model: BG/NBD where a customer may also drop out right after the first buy.

Batislam, E. P., Denizel, M. & Filiztekin, A. (2007), "Empirical validation and
comparison of models for customer base analysis", *International Journal of Research in
Marketing* 24(3), 201-209. Also called the "periodic death opportunity" model
(Jerath, Fader & Hardie 2011).

Same story as :mod:`~corecustomers.models.beta_geo` (purchases Poisson(``lambda``) while
active, ``lambda ~ Gamma(r, alpha)``, dropout probability ``p ~ Beta(a, b)``), except that
the first dropout opportunity is at time 0, right after the initial purchase. So a
customer with no repeat purchases is not certainly alive, which fixes the BG/NBD's
``P(alive) = 1`` for ``x = 0``. With ``A = G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))``:

* Likelihood (Batislam et al. 2007; BTYDplus ``mbgnbd.LL``):
  ``L = B(a, b+x+1)/B(a, b) A + B(a+1, b+x)/B(a, b) A ((alpha+T)/(alpha+t_x))^(r+x)``.
* ``P(alive | x, t_x, T) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x))``,
  Batislam et al. (2007) appendix A, eq. (5).
* ``E[Y(t) | x, t_x, T] = (a+b+x)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x)
  2F1(r+x, b+x+1; a+b+x; t/(alpha+T+t))] P(alive)`` as corrected by Wagner, U. & Hoppe,
  D. (2008), "Erratum on the MBG/NBD Model", *IJRM* 25(3), 225-226.
* ``E[X(t)] = b/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))]``, the
  conditional expectation at ``x = t_x = T = 0``.
* ``P(X(t) = n) = B(a, b+n+1)/B(a,b) NB(n) + B(a+1, b+n)/B(a,b) P(NB >= n)``, which
  follows from the story as FHL (2005) eq. (8) does for the BG/NBD.

As in the BTYDplus R package (``mbgnbd.*``) and lifetimes' ``ModifiedBetaGeoFitter``,
the log-likelihood keeps every constant.
"""

from __future__ import annotations

from corecustomers.models._base import FloatArray
from corecustomers.models._transactions import RFMData
from corecustomers.models.beta_geo import BetaGeoFamily, beta_geo_terms

__all__ = ["ModifiedBetaGeoModel"]


class ModifiedBetaGeoModel(BetaGeoFamily):
    """MBG/NBD model (Batislam, Denizel & Filiztekin 2007).

    The methods, parameters (``r, alpha, a, b``) and fitted attributes are those of
    :class:`~corecustomers.models.beta_geo.BetaGeoModel`; only the dropout story, and
    hence every formula, differs (see the module docstring).

    Attributes
    ----------
    params_ : dict
        ``r, alpha`` (gamma purchase-rate heterogeneity), ``a, b`` (beta dropout
        probability).
    standard_errors_, covariance_, log_likelihood_, n_customers_, converged_
        As for :class:`~corecustomers.models.beta_geo.BetaGeoModel`.

    Parameters
    ----------
    penalizer : float, default 0.0
        Coefficient of the L2 penalty ``penalizer * sum(params**2)`` added to the mean
        negative log-likelihood (lifetimes' ``penalizer_coef``).

    Examples
    --------
    >>> from corecustomers.models.modified_beta_geo import ModifiedBetaGeoModel
    >>> m = ModifiedBetaGeoModel.from_dict(
    ...     {"params": {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}})
    >>> p = m.probability_alive({"frequency": [0], "recency": [0.0], "T": [0.0]})
    >>> round(float(p[0]), 4)  # b / (a + b): may drop out right after the first purchase
    0.6443
    """

    _modified = True

    @staticmethod
    def _terms(
        params: FloatArray, data: RFMData, *, gradient: bool
    ) -> tuple[FloatArray, FloatArray | None]:
        return beta_geo_terms(params, data, modified=True, gradient=gradient)
