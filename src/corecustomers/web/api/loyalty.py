"""The JSON API of loyalty (mounted at ``/api/v1/``; see :mod:`corecustomers.web.api.app`)."""

from __future__ import annotations

from ninja import Router

router = Router()
