"""The one error body of the API: ``{"error": {"code", "message", "field"}}``."""

from __future__ import annotations

from typing import Any

from django.db import DataError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

from corecustomers.web.api.parsing import NulCharacterError

__all__ = ["ApiError", "ErrorBody", "ErrorDetail", "install_handlers"]


class ErrorDetail(Schema):
    code: str
    message: str
    field: str | None = None


class ErrorBody(Schema):
    error: ErrorDetail


class ApiError(Exception):
    """Raise from an endpoint to answer ``status`` with the error body."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


#: The error responses every endpoint declares, so that the schema tells the truth
#: (400: a request body that cannot be parsed, which ninja answers before any handler).
ERRORS: dict[int, Any] = {
    400: ErrorBody,
    401: ErrorBody,
    403: ErrorBody,
    404: ErrorBody,
    422: ErrorBody,
    429: ErrorBody,  # over the caller's rate (web.security.ratelimit), with Retry-After
}


def _body(
    api: NinjaAPI,
    request: HttpRequest,
    status: int,
    code: str,
    message: str,
    field: str | None = None,
) -> HttpResponse:
    return api.create_response(
        request, {"error": {"code": code, "message": message, "field": field}}, status=status
    )


def install_handlers(api: NinjaAPI) -> None:
    @api.exception_handler(ApiError)
    def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        return _body(api, request, exc.status, exc.code, exc.message, exc.field)

    @api.exception_handler(ValidationError)
    def _validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        first = exc.errors[0] if exc.errors else {}
        loc = [str(part) for part in first.get("loc", ()) if part not in {"body", "query", "path"}]
        message = str(first.get("msg", "invalid input"))
        field = ".".join(loc) or None
        return _body(
            api, request, 422, "invalid", f"{field}: {message}" if field else message, field
        )

    @api.exception_handler(AuthenticationError)
    def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return _body(
            api,
            request,
            401,
            "unauthenticated",
            "log in, or send 'Authorization: Bearer TOKEN' "
            "(create one with `corecustomers token NAME`)",
        )

    @api.exception_handler(HttpError)
    def _http(request: HttpRequest, exc: HttpError) -> HttpResponse:
        codes = {
            400: "bad_request",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            409: "conflict",
        }
        cause = exc.__cause__
        if exc.status_code == 400 and isinstance(cause, NulCharacterError):
            return _body(api, request, 422, "invalid", str(cause), cause.field)
        message = str(exc)
        if exc.status_code == 400:
            message += ": send a JSON object with 'Content-Type: application/json'"
        return _body(api, request, exc.status_code, codes.get(exc.status_code, "error"), message)

    @api.exception_handler(DataError)
    def _data(request: HttpRequest, exc: DataError) -> HttpResponse:
        # the last net under the checks of each endpoint: a value the database refuses
        return _body(
            api,
            request,
            422,
            "invalid",
            "a value you sent cannot be stored or searched (a NUL character, a number out "
            "of range or a text too long): check the values and send them again",
        )
