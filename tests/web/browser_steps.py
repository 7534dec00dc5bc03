"""Steps the browser tests share: logging in, and following a link or a form to the next page.

A Playwright click returns once the browser has started what the click does, not once the
next page has loaded. Reading the page at once may read the page before it, or the next
page half parsed: a search's result table was once counted with no rows (CI, issue 8's
run of 2026-12-06). `follow` waits until the page the click leads to has loaded.
"""

from __future__ import annotations

from typing import Any

PASSWORD = "correct-horse-battery-9"


def follow(page: Any, target: Any) -> None:
    """Clicks `target` (a link or a submit button) and returns when the next page has loaded.

    The page being left is marked first; the wait ends when a document without the mark has
    loaded, so the page before can never be read as the next one (even when the next page has
    the same address, as after a form that redirects back to itself).
    """
    page.evaluate("document.documentElement.dataset.leaving = 'yes'")
    target.click()
    page.wait_for_selector("html:not([data-leaving])", state="attached")
    page.wait_for_load_state("load")


def log_in(browser: Any, base: str, username: str, width: int = 1200, height: int = 900) -> Any:
    """A new browser context logged in as `username`, on the home page."""
    context = browser.new_context(locale="en-US", viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(base + "/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/")
    page.wait_for_load_state("load")
    return page
