"""The load benchmark's work inside the service's own Django process.

``python -m benchmarks.load_tasks credentials '{"db": URL, "workspace": DIR, "users": N}'``
prints one ``@@RESULT {json}`` line (like :mod:`benchmarks.service_tasks`): for each of the
first ``N`` account managers that :func:`benchmarks.service_tasks.people` made (``am01`` ..
``am50``, 2,000 customers each), a logged-in session, a write token and up to 200 customer
ids from their own book -- what one simulated user browses and logs interactions on.
"""

from __future__ import annotations

import json
import random
import sys
import time
from typing import Any

from benchmarks.service_tasks import _setup
from benchmarks.tasks import RESULT_PREFIX

__all__ = ["credentials"]


def credentials(arguments: dict[str, Any]) -> dict[str, Any]:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from corecustomers.web.accounts.models import ApiToken, User
    from corecustomers.web.customers.models import Customer

    began = time.perf_counter()
    rng = random.Random(int(arguments.get("seed", 0)))
    out: list[dict[str, Any]] = []
    names = [f"am{i + 1:02d}" for i in range(int(arguments["users"]))]
    for name in names:
        person = User.objects.get(username=name)
        store = SessionStore()
        store[SESSION_KEY] = str(person.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = person.get_session_auth_hash()
        store.create()
        token = ApiToken.issue(person, scope="write", name="load benchmark")[1]
        ids = list(
            Customer.objects.restrict(person, "view")
            .order_by("pk")
            .values_list("external_id", flat=True)
        )
        if not ids:
            raise RuntimeError(f"{name} has no customers: build the database again")
        out.append(
            {
                "name": name,
                "session": store.session_key,
                "token": token,
                "ids": rng.sample(ids, min(200, len(ids))),
            }
        )
    return {"seconds": time.perf_counter() - began, "users": out}


TASKS = {"credentials": credentials}


def main(argv: list[str]) -> int:
    name, arguments = argv[0], json.loads(argv[1])
    _setup(arguments)
    result = TASKS[name](arguments)
    print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
