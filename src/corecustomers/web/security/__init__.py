"""Hardening and observability of the service: security headers, API rate limits, upload
checks, structured logs, and the health endpoints (``/healthz``, ``/readyz``)."""
