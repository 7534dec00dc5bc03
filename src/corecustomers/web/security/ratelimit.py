"""The API's rate limit: a token bucket per user, answering 429 with ``Retry-After``.

Each caller of ``/api/`` -- the user behind a Bearer token or a browser session, or the
address of an unauthenticated one -- has a bucket of ``CORECUSTOMERS_API_BURST`` requests
(default 500) that refills at ``CORECUSTOMERS_API_RATE`` requests a minute (default 3000,
50 a second); ``CORECUSTOMERS_API_RATE=0`` turns the limit off. The defaults are generous
on purpose: a till sending 50 redemptions at once, or a script paging through every
customer, passes; a runaway loop or a scraper at full speed is slowed to the refill rate.
Logins have their own, much tighter limit (:mod:`corecustomers.web.accounts.throttle`).

The buckets live in the process (the service runs one, with threads); several server
processes each count on their own, so the effective limit is then that many times higher.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

__all__ = ["ApiRateLimitMiddleware", "Limiter", "reset"]

#: Buckets kept before full (idle) ones are dropped.
MAX_BUCKETS = 10_000
#: Token hashes remembered with their user (what a bucket is keyed by).
MAX_TOKENS = 10_000


@dataclass
class _Bucket:
    tokens: float
    at: float


class Limiter:
    """Token buckets by key; thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str, *, per_minute: float, burst: int) -> float:
        """Take one request from ``key``'s bucket: 0 when allowed, else seconds to wait."""
        rate = per_minute / 60.0
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_BUCKETS:
                    self._prune(now, rate, burst)
                bucket = self._buckets[key] = _Bucket(float(burst), now)
            bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.at) * rate)
            bucket.at = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / rate

    def _prune(self, now: float, rate: float, burst: int) -> None:
        full = [key for key, b in self._buckets.items() if b.tokens + (now - b.at) * rate >= burst]
        for key in full or list(self._buckets)[: MAX_BUCKETS // 2]:
            del self._buckets[key]

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()


_limiter = Limiter()
_token_users: dict[str, int] = {}


def reset() -> None:
    """Forget every bucket (tests; a changed setting takes effect on the next request)."""
    _limiter.clear()
    _token_users.clear()


def _caller(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() == "bearer" and raw.strip():
        from corecustomers.web.accounts.models import ApiToken, hash_token

        digest = hash_token(raw.strip())
        user_id = _token_users.get(digest)
        if user_id is None:
            user_id = (
                ApiToken.objects.filter(key_hash=digest).values_list("user_id", flat=True).first()
            )
            if user_id is not None:
                if len(_token_users) >= MAX_TOKENS:
                    _token_users.clear()
                _token_users[digest] = user_id
        if user_id is not None:
            return f"user:{user_id}"
    else:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return f"user:{user.pk}"
    return "address:" + str(request.META.get("REMOTE_ADDR", ""))


class ApiRateLimitMiddleware:
    """Refuse ``/api/`` requests over the caller's rate with 429 and ``Retry-After``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        per_minute = float(getattr(settings, "API_RATE_PER_MINUTE", 0) or 0)
        if per_minute > 0 and request.path.startswith("/api/"):
            burst = max(1, int(getattr(settings, "API_BURST", 1)))
            wait = _limiter.take(_caller(request), per_minute=per_minute, burst=burst)
            if wait > 0:
                return _too_many(wait, per_minute)
        return self.get_response(request)


def _too_many(wait: float, per_minute: float) -> HttpResponse:
    seconds = max(1, math.ceil(wait))
    response = JsonResponse(
        {
            "error": {
                "code": "rate_limited",
                "message": (
                    f"too many requests: wait {seconds} s and send it again (the limit is "
                    f"{per_minute:g} requests a minute per user, with bursts; "
                    "an administrator sets it with CORECUSTOMERS_API_RATE and "
                    "CORECUSTOMERS_API_BURST)"
                ),
                "field": None,
            }
        },
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response
