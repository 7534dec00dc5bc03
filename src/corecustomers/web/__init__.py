"""The web service: the customer archive, account teams, roles and audit (Django 5.2).

``corecustomers.web`` sits on top of :mod:`corecustomers.service`: its pages, its JSON API
(django-ninja, ``/api/v1``) and its background jobs call the same use cases as the command
line. Nothing here runs at import; :func:`configure` points Django at a database and a
workspace and sets it up, once per process.

Apps (each a Django app with its own models and migrations):

* ``accounts`` -- users with a role, teams, API tokens.
* ``customers`` -- master data, the account team of each customer, the latest analysis
  state and its history, the analyses imported.
* ``audit`` -- the append-only audit trail.
* ``jobs`` -- background jobs (imports now; analysis runs later) and their progress.
"""

from __future__ import annotations

from corecustomers.web.runtime import ServiceConfig, configure

__all__ = ["ServiceConfig", "configure"]
