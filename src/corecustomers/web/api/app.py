"""The one ``NinjaAPI`` of the process (ninja refuses a second one with the same namespace)."""

from __future__ import annotations

from ninja import NinjaAPI

from corecustomers import __version__
from corecustomers.web.api.auth import BearerToken, SessionAuth
from corecustomers.web.api.customers import install_customer_errors
from corecustomers.web.api.customers import router as customers_router
from corecustomers.web.api.errors import install_handlers
from corecustomers.web.api.jobs import router as jobs_router
from corecustomers.web.api.overview import router as overview_router
from corecustomers.web.api.parsing import StrictParser

api = NinjaAPI(
    title="corecustomers",
    version=__version__,
    description=(
        "The customer archive of corecustomers. Authenticate with "
        "`Authorization: Bearer TOKEN` (`corecustomers token NAME`) or a browser session."
    ),
    auth=[BearerToken(), SessionAuth()],
    parser=StrictParser(),
    urls_namespace="api-v1",
)
install_handlers(api)
install_customer_errors(api)
api.add_router("/jobs", jobs_router, tags=["jobs"])
api.add_router("/imports", "corecustomers.web.api.imports.router", tags=["imports"])
api.add_router("/sources", "corecustomers.web.api.sources.router", tags=["sources"])
api.add_router("/runs", "corecustomers.web.api.runs.router", tags=["runs"])
api.add_router("", "corecustomers.web.api.work.router", tags=["work"])  # before customers
api.add_router("", "corecustomers.web.api.loyalty.router", tags=["loyalty"])
api.add_router("", "corecustomers.web.api.contact.router", tags=["contact"])
api.add_router("", "corecustomers.web.api.surveys.router", tags=["surveys"])
api.add_router("", "corecustomers.web.api.experiments.router", tags=["experiments"])
api.add_router("", "corecustomers.web.api.privacy.router", tags=["privacy"])
api.add_router("", customers_router, tags=["customers"])
api.add_router("", overview_router, tags=["overview"])
