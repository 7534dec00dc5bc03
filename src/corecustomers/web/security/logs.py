"""Structured logs: every line carries the request id; a JSON form for log collectors; an
access log that keeps customers out.

``CORECUSTOMERS_LOG_FORMAT``
    ``text`` (default: one readable line) or ``json`` (one JSON object a line, with
    ``time``, ``level``, ``logger``, ``message``, ``request_id`` and the access fields).
``CORECUSTOMERS_ACCESS_LOG``
    ``1`` (default) writes one ``corecustomers.access`` line per request; ``0`` turns it off.

The access line names the URL *pattern* (``customers/<path:key>/``), never the path or the
query string, which hold customer ids and searched names; a customer id in the URL is
logged as its keyed pseudonym (``customer``), so one customer's requests can still be
followed by whoever holds the key. The same redaction applies to Django's own
``django.request`` lines ("Internal Server Error: /customers/C1/").
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.functional import empty

__all__ = [
    "AccessLogMiddleware",
    "JsonFormatter",
    "RedactPathFilter",
    "RequestContextFilter",
    "TextFormatter",
]

access_log = logging.getLogger("corecustomers.access")

#: URL parameters that hold a customer's id (pages: ``key``; API: ``customer_id``).
CUSTOMER_PARAMETERS = ("key", "customer_id", "external_id", "customer")
#: Extra record attributes a JSON line carries when present.
FIELDS = (
    "request_id",
    "method",
    "route",
    "status",
    "duration_ms",
    "user_id",
    "customer",
    "bytes",
)


class RequestContextFilter(logging.Filter):
    """Put the current request's id (or ``-`` outside a request) on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            from corecustomers.web.audit.context import current_actor

            record.request_id = current_actor().request_id or "-"
        return True


def _route(request: Any) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "(unmatched)"
    return str(getattr(match, "route", "") or "/")


class RedactPathFilter(logging.Filter):
    """Replace the request path in Django's request log lines by the URL pattern."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if request is not None and isinstance(record.args, tuple):
            paths = {getattr(request, "path", None), getattr(request, "path_info", None)}
            paths.discard(None)
            record.args = tuple(_route(request) if arg in paths else arg for arg in record.args)
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = "-"
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line (UTF-8 text as is, so Chinese stays readable)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def _customer(request: HttpRequest) -> str | None:
    match = getattr(request, "resolver_match", None)
    kwargs = getattr(match, "kwargs", None) or {}
    for name in CUSTOMER_PARAMETERS:
        value = kwargs.get(name)
        if value:
            from corecustomers.web.customers.identity import PSEUDONYM_PREFIX, pseudonym

            text = str(value)
            # an analyst's address already holds the pseudonym
            return text if text.startswith(PSEUDONYM_PREFIX) else pseudonym(text)
    return None


class AccessLogMiddleware:
    """One ``corecustomers.access`` line per request: pattern, status, time, user."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        if getattr(settings, "ACCESS_LOG", True):
            self._log(request, response, (time.perf_counter() - started) * 1000)
        return response

    def _log(self, request: HttpRequest, response: HttpResponse, duration_ms: float) -> None:
        user = getattr(request, "auth_user", None)
        if user is None:
            # the session's user only if the request already loaded it (no extra query)
            lazy = getattr(request, "user", None)
            wrapped = getattr(lazy, "_wrapped", lazy)
            user = None if wrapped is empty else wrapped
        user_id = user.pk if user is not None and getattr(user, "is_authenticated", False) else None
        route = _route(request)
        size = None if response.streaming else len(response.content)
        access_log.info(
            "%s %s %s %.1f ms",
            request.method,
            route,
            response.status_code,
            duration_ms,
            extra={
                "request_id": getattr(request, "request_id", None),
                "method": request.method,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(duration_ms, 1),
                "user_id": user_id,
                "customer": _customer(request),
                "bytes": size,
            },
        )
