"""The Content-Security-Policy in a real browser: Debian's Chromium, driven by Playwright,
visits the main pages, the API docs (Swagger UI from our static files) and a run's stored
report, and sees each rendered with its stylesheet and not one CSP violation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from corecustomers.web.customers.models import AccountMember, Customer
from corecustomers.web.jobs.models import Job
from corecustomers.web.sources.models import SourceRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery-9"


class Watched:
    """A logged-in page that records every CSP violation and script error it meets."""

    def __init__(self, browser: Any, base: str, username: str) -> None:
        self.base = base
        self.problems: list[str] = []
        context = browser.new_context(locale="en-US", viewport={"width": 1200, "height": 900})
        self.page = context.new_page()
        self.page.on("console", self._console)
        self.page.on("response", self._response)
        self.page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        self.page.goto(base + "/login/")
        self.page.get_by_label("User name").fill(username)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_url(base + "/")

    def _console(self, message: Any) -> None:
        text = message.text
        if "Failed to load resource" in text:
            return  # a missing resource: recorded by _response with its address
        if message.type == "error" or "Content Security Policy" in text:
            self.problems.append(f"{self.page.url}: {text}")

    def _response(self, response: Any) -> None:
        # the browser asks for /favicon.ico by itself; the service has none
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.problems.append(f"{response.url}: {response.status}")

    def visit(self, path: str) -> Any:
        response = self.page.goto(self.base + path)
        assert response is not None and response.status == 200, path
        assert "default-src" in (response.headers.get("content-security-policy") or ""), path
        self.page.wait_for_load_state("networkidle")
        return response

    def style(self, selector: str, prop: str) -> str:
        return str(
            self.page.eval_on_selector(
                selector, f"e => getComputedStyle(e).getPropertyValue('{prop}')"
            )
        )


@pytest.fixture
def report_run(imported: Path, people: Any) -> SourceRun:
    """A finished run whose folder is the imported analysis (with its report.html)."""
    job = Job.objects.create(kind="run_analysis", status="succeeded", created_by=people.admin)
    return SourceRun.objects.create(source_name="cdnow", job=job, folder=str(imported))


def test_no_csp_violation_on_the_main_pages_the_api_docs_and_a_report(
    browser: Any, live_server: Any, report_run: SourceRun, people: Any
) -> None:
    top = Customer.objects.order_by("-state__core_score", "pk").first()
    assert top is not None
    AccountMember.objects.create(customer=top, user=people.am1, role="owner")

    am1 = Watched(browser, live_server.url, "am1")
    for path in ["/", "/customers/", f"/customers/{top.external_id}/", "/work/", "/alerts/"]:
        am1.visit(path)
        # the stylesheet applied (the body's font is the service's stack, not the default)
        assert "Times" not in am1.style("body", "font-family"), path
    am1.visit(f"/customers/{top.external_id}/")
    assert am1.page.locator("figure.chart svg").count() >= 1
    width = am1.page.eval_on_selector("figure.chart svg", "e => e.getBoundingClientRect().width")
    assert width > 100  # the chart sized by the stylesheet, not by a (refused) style attribute

    admin = Watched(browser, live_server.url, "admin")
    for path in [
        "/administration/users/",
        "/administration/teams/",
        "/administration/tokens/",
        "/administration/audit/",
        "/imports/",
        "/sources/",
    ]:
        admin.visit(path)

    admin.visit("/api/v1/docs")
    admin.page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    assert admin.page.locator(".swagger-ui .opblock").count() > 10
    admin.page.locator(".swagger-ui .opblock-summary").first.click()  # expands: scripts run
    admin.page.wait_for_selector(".swagger-ui .opblock-body", timeout=10_000)

    response = admin.visit(f"/sources/runs/{report_run.job_id}/report/")
    assert "sandbox" in response.headers["content-security-policy"]
    # the report's own stylesheet (inline, allowed by its hash) applied
    assert admin.style(".container", "max-width") == "1120px"
    assert admin.page.locator(".chart svg").count() >= 1

    assert am1.problems == []
    assert admin.problems == []
