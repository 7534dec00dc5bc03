"""The one error body of the API: ``{"error": {"code", "message", "field"}}``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

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


#: The error responses every endpoint declares, so that the schema tells the truth.
ERRORS: dict[int, Any] = {401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 422: ErrorBody}


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
        message = str(exc)
        if exc.status_code == 400:
            message += ": send a JSON object with 'Content-Type: application/json'"
        return _body(api, request, exc.status_code, codes.get(exc.status_code, "error"), message)
