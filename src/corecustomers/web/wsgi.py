"""The WSGI application the server (waitress) serves."""

from __future__ import annotations

from django.core.wsgi import get_wsgi_application

from corecustomers.web.runtime import configure

configure()
application = get_wsgi_application()
