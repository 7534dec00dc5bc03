"""Login throttling (django-axes): a user name is locked for a while after repeated failures.

After ``CORECUSTOMERS_LOGIN_ATTEMPTS`` failed logins (default 5) for one user name from one
address, that pair is locked for ``CORECUSTOMERS_LOGIN_LOCK_MINUTES`` (default 15): the
login page answers 429 with ``Retry-After`` and says when to try again. A successful login
resets the count.
"""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

__all__ = ["LoginThrottle", "locked_out"]


class LoginThrottle(AxesStandaloneBackend):
    """Axes' check, skipped where there is no request to throttle (``Client.login``, shell)."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    response = render(
        request,
        "pages/locked.html",
        {"minutes": minutes, "attempts": settings.AXES_FAILURE_LIMIT},
        status=429,
    )
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response
