"""The JSON API (django-ninja) at ``/api/v1``; its OpenAPI schema at ``/api/v1/openapi.json``.

Conventions every endpoint follows: lists are ``{"items": [...], "count": N}`` with
``limit``/``offset``; customer ids are URL-encoded in paths; every 4xx has the body
``{"error": {"code", "message", "field"}}``; a POST that creates something honours an
``Idempotency-Key`` header; every list starts from ``.restrict(user, action)``.
"""
