"""The Content-Security-Policy of every response, and the stricter one of a stored report.

The pages carry no inline script, no inline ``<style>`` and no ``style=`` attribute (the
charts size themselves from the stylesheet), and the API docs page loads Swagger UI from
our own static files; so one fixed policy fits them all: everything from our own origin,
nothing inline, no plug-ins, no framing, forms posting only to us.

A template that truly needs an inline script or style writes
``nonce="{{ request.csp_nonce }}"`` on the element; the nonce is made per request and added
to the policy only when a template used it, so pages without one keep the plain policy.

An analysis report (``report.html`` of a run) is a stored document with its own inline
stylesheet: :func:`stored_document` serves it with a policy that allows exactly the styles
in that file (their SHA-256 hashes), no script at all, and ``sandbox`` (the document runs
in an origin of its own, so nothing in it could reach the service even if it tried).

Why a middleware of ours and not django-csp: the policy is one constant (no per-view
variations to manage), the only exception is computed from a file's content (hashes of its
styles, which django-csp does not do), and it spares the service a dependency whose
settings format changed completely in its last major version.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse

__all__ = ["HEADER", "ContentSecurityPolicyMiddleware", "page_policy", "stored_document"]

HEADER = "Content-Security-Policy"


class Nonce:
    """A per-request nonce, made when a template first asks for it."""

    def __init__(self) -> None:
        self._value = ""

    @property
    def used(self) -> bool:
        return bool(self._value)

    def __str__(self) -> str:
        if not self._value:
            self._value = secrets.token_urlsafe(18)
        return self._value


def page_policy(nonce: str = "", *, https: bool = False) -> str:
    """The policy of the pages, the API and its docs (``nonce``: one a template used)."""
    extra = f" 'nonce-{nonce}'" if nonce else ""
    directives = [
        "default-src 'self'",
        f"script-src 'self'{extra}",
        f"style-src 'self'{extra}",
        # Swagger UI draws its icons from data: URIs in its stylesheet
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
    if https:
        directives.append("upgrade-insecure-requests")
    return "; ".join(directives)


class ContentSecurityPolicyMiddleware:
    """Give every response the page policy, unless the view set a policy of its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        nonce = Nonce()
        request.csp_nonce = nonce  # type: ignore[attr-defined]
        response = self.get_response(request)
        if HEADER not in response:
            response[HEADER] = page_policy(
                str(nonce) if nonce.used else "", https=bool(getattr(settings, "HTTPS", False))
            )
        return response


_STYLE_ELEMENT = re.compile(r"<style(?:\s[^>]*)?>(.*?)</style\s*>", re.IGNORECASE | re.DOTALL)
_STYLE_ATTRIBUTE = re.compile(r"""\sstyle\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)


def _hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def document_policy(content: str) -> str:
    """The policy of a stored HTML document: its own styles (by hash), nothing else.

    Examples
    --------
    >>> policy = document_policy("<style>p{color:red}</style><p>x</p>")
    >>> "script-src" in policy, "'unsafe-inline'" in policy, "sandbox" in policy
    (False, False, True)
    """
    hashes = sorted({_hash(body) for body in _STYLE_ELEMENT.findall(content)})
    attributes = sorted(
        {_hash(html.unescape(a or b)) for a, b in _STYLE_ATTRIBUTE.findall(content)}
    )
    styles = hashes + (["'unsafe-hashes'", *attributes] if attributes else [])
    return "; ".join(
        [
            "default-src 'none'",
            "style-src " + (" ".join(styles) if styles else "'none'"),
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
            "sandbox",
        ]
    )


def stored_document(path: Path) -> FileResponse:
    """``path`` (an HTML file we wrote, such as a run's report) with :func:`document_policy`."""
    policy = document_policy(path.read_text(encoding="utf-8", errors="replace"))
    response = FileResponse(path.open("rb"), content_type="text/html; charset=utf-8")
    response[HEADER] = policy
    return response
