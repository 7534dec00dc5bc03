"""The fits' warnings: returned by the optimiser, issued by the model, and recorded per
thread by ``record_fit_warnings`` (fits side by side keep theirs apart)."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from corecustomers.models import (
    BoundaryWarning,
    FitWarning,
    GammaGammaModel,
    SpendFrequencyCorrelationWarning,
    record_fit_warnings,
)
from corecustomers.models._optimize import fit_positive

TRUTH = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def _spend(seed: int, *, correlated: bool = False, q: float = TRUTH["q"]) -> dict[str, Any]:
    truth = GammaGammaModel.from_dict({"params": {**TRUTH, "q": q}})
    sample = truth.sample(np.tile(np.arange(1.0, 9.0), 60), seed=seed)
    if correlated:  # frequent buyers spend more
        sample["monetary_value"] *= 1.0 + 0.25 * sample["frequency"]
    return sample


def test_the_optimiser_returns_its_warnings_and_bounds_instead_of_issuing_them() -> None:
    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:  # a runs down to 0
        a, b = theta
        return float(np.log(a) + (b - 2.0) ** 2), np.array([1.0 / a, 2.0 * (b - 2.0)])

    # pytest turns warnings into errors: nothing may be issued here
    result = fit_positive(objective, [(1.0, 1.0)], n_observations=1.0, names=("a", "b"))
    assert result.at_lower_bound == ("a",) and result.at_upper_bound == ()
    assert not result.converged
    assert [w.kind for w in result.warnings] == ["boundary"]
    assert result.warnings[0].category is BoundaryWarning
    assert "(a -> 0)" in result.warnings[0].message
    assert result.params[1] == pytest.approx(2.0)


def test_a_model_issues_its_warnings_outside_a_record() -> None:
    with pytest.warns(SpendFrequencyCorrelationWarning, match="correlated"):
        GammaGammaModel().fit(_spend(3, correlated=True))


def test_the_record_holds_the_warnings_instead_and_blocks_nest() -> None:
    with record_fit_warnings() as outer:
        with record_fit_warnings() as inner:
            GammaGammaModel().fit(_spend(3, correlated=True))
        assert [w.category for w in inner] == [SpendFrequencyCorrelationWarning]
        assert outer == []
        inner[0].warn()  # issued again: to the enclosing record
    assert outer == inner
    assert str(outer[0]).startswith("SpendFrequencyCorrelationWarning: spend per transaction")


def test_q_on_its_bound_is_read_from_the_fit_not_from_a_warning() -> None:
    sample = _spend(1, q=0.6)  # q < 1: no population mean spend
    with record_fit_warnings() as caught:
        model = GammaGammaModel().fit(sample)
    assert not model.converged_ and model.params_["q"] > 1
    bounds = [w for w in caught if w.category is BoundaryWarning]
    assert len(bounds) == 1 and "population mean spend" in bounds[0].message
    assert "(q - 1 -> 0)" not in bounds[0].message  # said once, in the model's words


def test_fits_on_two_threads_keep_their_warnings_apart() -> None:
    """Two fits at once, each recording: each record holds its own fit's warnings only
    (``warnings.catch_warnings`` would let one thread's record take the other's)."""
    rounds = 5
    start = threading.Barrier(2)
    got: dict[str, list[list[FitWarning]]] = {"warns": [], "clean": []}
    errors: list[BaseException] = []

    def fit(name: str, sample: dict[str, Any]) -> None:
        try:
            for _ in range(rounds):
                start.wait(timeout=30)
                with record_fit_warnings() as caught:
                    GammaGammaModel().fit(sample)
                got[name].append(list(caught))
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [
        threading.Thread(target=fit, args=("warns", _spend(3, correlated=True))),
        threading.Thread(target=fit, args=("clean", _spend(4))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert got["clean"] == [[]] * rounds
    assert [[w.category for w in ws] for ws in got["warns"]] == [
        [SpendFrequencyCorrelationWarning]
    ] * rounds
