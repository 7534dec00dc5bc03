"""The simulated users of :mod:`benchmarks.load` (a locustfile; run by ``benchmarks.load``).

Each simulated user is one account manager (``am01`` ..): it holds its own logged-in
session and write token, waits 1-3 s between actions, and browses its customer list
(the page and the API, first pages and filtered / sorted ones), opens profiles (page and
API, with the interactions panel) and logs interactions through the API. Every response
must be 200 (201 for a new interaction); anything else -- or a connection error -- is an
error. Each request's latency is written to ``CC_LOAD_SAMPLES`` (JSON lines) when locust
stops, so that :mod:`benchmarks.load` computes exact percentiles over all of them.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

from locust import HttpUser, between, events, task

_PEOPLE: list[dict[str, Any]] = json.loads(
    Path(os.environ["CC_LOAD_CREDENTIALS"]).read_text(encoding="utf-8")
)["users"]
_NEXT = itertools.count()
_LOCK = threading.Lock()
_SAMPLES: list[tuple[str, float, int, str]] = []
_SEED = int(os.environ.get("CC_LOAD_SEED", "0"))

LIST_QUERIES = (
    "",
    "?sort=-value_at_stake",
    "?tier=key",
    "?alert=yes&sort=-value_at_stake",
    "?page=2",
)
API_QUERIES = (
    "",
    "sort=-value_at_stake",
    "tier=key",
    "alert=yes&sort=-value_at_stake",
    "offset=50",
)
KINDS = ("visit", "call", "message", "email")


def _record(
    request_type: str,
    name: str,
    response_time: float,
    response_length: int,
    response: Any = None,
    exception: BaseException | None = None,
    **_: Any,
) -> None:
    status = int(getattr(response, "status_code", 0) or 0)
    _SAMPLES.append((name, float(response_time), status, repr(exception) if exception else ""))


def _write(**_: Any) -> None:
    out = os.environ.get("CC_LOAD_SAMPLES")
    if out:
        with open(out, "w", encoding="utf-8") as handle:
            for name, ms, status, error in _SAMPLES:
                handle.write(json.dumps([name, ms, status, error]) + "\n")


events.request.add_listener(_record)
events.quitting.add_listener(_write)


class AccountManager(HttpUser):
    wait_time = between(1, 3)

    def on_start(self) -> None:
        with _LOCK:
            number = next(_NEXT)
        me = _PEOPLE[number % len(_PEOPLE)]
        self.rng = random.Random(_SEED * 1000 + number)
        self.ids: list[str] = me["ids"]
        self.cookies = {"sessionid": me["session"]}
        self.bearer = {"Authorization": f"Bearer {me['token']}"}

    def _customer(self) -> str:
        return quote(self.rng.choice(self.ids), safe="")

    def _get(self, path: str, name: str, *, api: bool) -> None:
        headers = self.bearer if api else {}
        cookies = {} if api else self.cookies
        with self.client.get(
            path, name=name, headers=headers, cookies=cookies, catch_response=True,
            allow_redirects=False,
        ) as response:  # fmt: skip
            if response.status_code != 200:
                response.failure(f"{response.status_code} from {path}")

    @task(3)
    def page_list(self) -> None:
        self._get(f"/customers/{self.rng.choice(LIST_QUERIES)}", "page.list", api=False)

    @task(2)
    def api_list(self) -> None:
        query = self.rng.choice(API_QUERIES)
        self._get(f"/api/v1/customers?limit=50&{query}".rstrip("&"), "api.list", api=True)

    @task(3)
    def page_profile(self) -> None:
        self._get(f"/customers/{self._customer()}/", "page.profile", api=False)

    @task(2)
    def api_profile(self) -> None:
        key = self._customer()
        self._get(f"/api/v1/customers/{key}", "api.profile", api=True)
        self._get(f"/api/v1/customers/{key}/interactions", "api.interactions", api=True)

    @task(2)
    def log_interaction(self) -> None:
        key = self._customer()
        body = {
            "kind": self.rng.choice(KINDS),
            "channel": "phone",
            "notes": "load benchmark: asked about the new season",
        }
        with self.client.post(
            f"/api/v1/customers/{key}/interactions", json=body, headers=self.bearer,
            name="api.log_interaction", catch_response=True,
        ) as response:  # fmt: skip
            if response.status_code != 201:
                response.failure(f"{response.status_code}: {response.text[:200]}")
