"""The request the current code runs for: its id, user and channel, in a context variable."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

__all__ = ["Actor", "acting", "current_actor"]


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (or the request whose user it is), the channel and a request id."""

    user: Any = None
    channel: str = "system"
    request_id: str = ""
    request: Any = None

    def resolved_user(self) -> Any:
        """The user; for a request, the token's user (API) or the session's."""
        if self.request is not None:
            return getattr(self.request, "auth_user", None) or getattr(self.request, "user", None)
        return self.user


_NOBODY = Actor()
_actor: contextvars.ContextVar[Actor | None] = contextvars.ContextVar(
    "corecustomers_actor", default=None
)


def current_actor() -> Actor:
    return _actor.get() or _NOBODY


@contextmanager
def acting(actor: Actor) -> Iterator[Actor]:
    """Run a block as ``actor`` (a request, a background job, a command)."""
    token = _actor.set(actor)
    try:
        yield actor
    finally:
        _actor.reset(token)
