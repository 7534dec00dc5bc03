"""How a use case reports its steps; the CLI shows them as Rich progress, tests ignore them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

__all__ = ["NullProgress", "Progress"]


class Progress(Protocol):
    """A sink for named steps; ``step`` wraps work that may take more than a second."""

    def step(self, description: str) -> AbstractContextManager[None]:
        """Context manager around one step."""
        ...

    def note(self, message: str) -> None:
        """A line of information for the user (never an error)."""
        ...


class NullProgress:
    """Reports nothing."""

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        """Run the step silently."""
        yield

    def note(self, message: str) -> None:
        """Drop the message."""
