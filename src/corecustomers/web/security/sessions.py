"""A user who is deactivated, by whatever path, is logged out everywhere at once.

The Administration page already ends the sessions when it deactivates someone
(:func:`~corecustomers.web.accounts.administration.set_active`); this signal does the same
for every other way a user row is saved inactive (``createuser``, a shell, a future API),
so no session outlives its user. Two more layers hold without it: Django's
``ModelBackend`` refuses the session of an inactive user on every request, and an API
token of an inactive user is refused (:meth:`ApiToken.is_valid`).
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save

__all__ = ["connect"]


def _end_sessions_of_inactive(sender: Any, instance: Any, **kwargs: Any) -> None:
    if instance.is_active or kwargs.get("raw"):
        return
    from corecustomers.web.accounts.administration import end_sessions

    end_sessions(instance)


def connect() -> None:
    from django.contrib.auth import get_user_model

    post_save.connect(
        _end_sessions_of_inactive,
        sender=get_user_model(),
        dispatch_uid="corecustomers-end-sessions-of-inactive-users",
    )
