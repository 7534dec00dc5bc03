"""Give every request an id (``X-Request-ID``) and make it the current audit actor."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from corecustomers.web.audit.context import Actor, acting

__all__ = ["RequestIdMiddleware"]


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        channel = "api" if request.path.startswith("/api/") else "web"
        actor = Actor(channel=channel, request_id=request_id, request=request)
        with acting(actor):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
