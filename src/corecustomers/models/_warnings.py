"""What a fit says went wrong, reported per thread.

A model's ``fit`` reports an estimate on the boundary of the parameter space, a fit that
did not converge or spend correlated with frequency as a Python warning
(:class:`~corecustomers.models.BoundaryWarning` ...), which is what a user of the library
sees. The analysis needs them as text for its summary instead, from fits that may run on
two threads at once; :class:`warnings.catch_warnings` cannot give it that, because it
swaps the warnings module's process-wide state: a fit on one thread would record (or
silence) the warnings of a fit on another, and two blocks that end out of order leave
that state broken.

So the models emit through :meth:`FitWarning.warn`, which appends to the list of the
innermost :func:`record_fit_warnings` block of the current context (a context variable:
each thread has its own, and a thread started with a copy of the context records into
the list of the block it was started in) and only outside any such block calls
:func:`warnings.warn`. Decisions never rest on the warnings: what a fit's caller needs to
know (a parameter at its bound, the convergence) is on the optimiser's result and the
fitted model.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

__all__ = ["FitWarning", "record_fit_warnings"]

#: ``boundary``: an estimate at the edge of the parameter space; ``range``: at the edge of
#: the range searched around a start; ``convergence``: no start converged; ``singular``:
#: no standard errors; ``model``: a model's own check (say, spend against frequency).
WarningKind = Literal["boundary", "range", "convergence", "singular", "model"]

_recording: ContextVar[list[FitWarning] | None] = ContextVar(
    "corecustomers_fit_warnings", default=None
)


@dataclass(frozen=True)
class FitWarning:
    """One warning of a fit: its class, its text and what kind of trouble it reports.

    Examples
    --------
    >>> from corecustomers.models import BoundaryWarning
    >>> str(FitWarning(BoundaryWarning, "q ran to its bound", "boundary"))
    'BoundaryWarning: q ran to its bound'
    """

    category: type[Warning]
    message: str
    kind: WarningKind = "model"

    def __str__(self) -> str:
        return f"{self.category.__name__}: {self.message}"

    def warn(self, *, stacklevel: int = 1) -> None:
        """Record the warning in the current :func:`record_fit_warnings` block, or issue
        it with :func:`warnings.warn` (``stacklevel`` counted from the caller) outside one."""
        caught = _recording.get()
        if caught is not None:
            caught.append(self)
        else:
            warnings.warn(self.message, self.category, stacklevel=stacklevel + 1)


@contextmanager
def record_fit_warnings() -> Iterator[list[FitWarning]]:
    """The fits' warnings of this block, in the order they were issued, instead of issued.

    Only the current context's fits (this thread's, and those of threads started with a
    copy of its context inside the block) are recorded; other warnings are left to the
    warnings module. Blocks nest: the inner one records what is issued inside it.

    Examples
    --------
    >>> import numpy as np
    >>> from corecustomers.models import GammaGammaModel
    >>> truth = GammaGammaModel.from_dict({"params": {"p": 6.25, "q": 3.74, "gamma": 15.44}})
    >>> X = truth.sample(np.tile(np.arange(1.0, 9.0), 60), seed=3)
    >>> X["monetary_value"] *= 1.0 + 0.25 * X["frequency"]  # frequent buyers spend more
    >>> with record_fit_warnings() as caught:
    ...     model = GammaGammaModel().fit(X)
    >>> [w.category.__name__ for w in caught]
    ['SpendFrequencyCorrelationWarning']
    """
    caught: list[FitWarning] = []
    token = _recording.set(caught)
    try:
        yield caught
    finally:
        _recording.reset(token)
