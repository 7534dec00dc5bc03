"""Activate the language a user chose (before Django's LocaleMiddleware reads the browser's)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

LANGUAGE_SESSION_KEY = "corecustomers_language"


class UserLanguageMiddleware:
    """Put the user's saved language into the request so that ``LocaleMiddleware`` uses it.

    The language lives in the session (set on the language switch and at login from the
    user's preference); without one the browser's ``Accept-Language`` decides.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = (
            request.session.get(LANGUAGE_SESSION_KEY) if hasattr(request, "session") else None
        )
        if language:
            # LocaleMiddleware reads the language cookie: give it the session's choice.
            request.COOKIES["django_language"] = language
        return self.get_response(request)
