"""API authentication: ``Authorization: Bearer TOKEN`` first, then the browser session.

The token authenticator comes first because ninja's session authenticator raises on a
failed CSRF check, which would stop the chain before a valid token is tried.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import APIKeyCookie, HttpBearer

from corecustomers.web.accounts.models import ApiToken, hash_token

__all__ = ["BearerToken", "SessionAuth", "can_write"]


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        row = ApiToken.objects.select_related("user").filter(key_hash=hash_token(token)).first()
        if row is None or not row.is_valid():
            return None
        now = timezone.now()
        if row.last_used is None or (now - row.last_used).total_seconds() > 60:
            ApiToken.objects.filter(pk=row.pk).update(last_used=now)
        request.auth_user = row.user  # type: ignore[attr-defined]
        request.token_scope = row.scope  # type: ignore[attr-defined]
        return row.user


class SessionAuth(APIKeyCookie):
    """The logged-in browser session, with Django's CSRF check on unsafe methods."""

    param_name = "sessionid"

    def _get_key(self, request: HttpRequest) -> str | None:
        # Without a logged-in session there is nothing to check: the answer is then 401, not
        # a CSRF 403. With one, ninja's CSRF check runs (it answers 403 when it fails).
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            request.auth_user = user  # type: ignore[attr-defined]
            request.token_scope = "write"  # type: ignore[attr-defined]
            return user
        return None


def can_write(request: HttpRequest) -> bool:
    """Whether the caller's credentials allow changes (a read token does not)."""
    return getattr(request, "token_scope", "read") == "write"
