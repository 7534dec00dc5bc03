"""Read each service setting once per request (see :func:`.models.settings_read_once`)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from corecustomers.web.customers.models import settings_read_once

__all__ = ["SettingsReadOnceMiddleware"]


class SettingsReadOnceMiddleware:
    """Keep the settings a request reads for the rest of that request.

    A page's scope checks (every ``restrict`` of an account manager reads
    ``account_managers_see_unassigned``) and the panels of other apps ask for the same
    settings many times; they cannot change meanwhile unless the request saves one, which
    forgets what was read.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with settings_read_once():
            return self.get_response(request)
