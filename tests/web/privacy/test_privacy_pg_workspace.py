"""A workspace in PostgreSQL (by URL): the erasure replaces the person's identifiers in its
tables as whole values and rewrites the changed tables (VACUUM FULL)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from tests.web.privacy.privacy_helpers import EMAIL, ERASED_ID, NAME, NEIGHBOUR_ID, PHONE

PG_ADMIN_URL = os.environ.get(
    "CORECUSTOMERS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def pg_workspace() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
    name = "cc_privacy_ws"
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_postgresql_workspace_is_cleaned(pg_workspace: str) -> None:
    import psycopg

    from corecustomers.store import Workspace
    from corecustomers.web.customers.models import Customer
    from corecustomers.web.privacy.matching import Identifiers
    from corecustomers.web.privacy.stores import Replacer, scrub_workspace

    with Workspace.open(pg_workspace) as workspace:
        workspace.add_override(ERASED_ID, "key", by="admin", reason=f"{NAME} on {PHONE}")
        workspace.add_override(NEIGHBOUR_ID, "key", by="admin", reason="Li Na asked")
    person = Customer(external_id=ERASED_ID, name=NAME, phone=PHONE, email=EMAIL)
    done = scrub_workspace(Replacer(Identifiers(person), "erased:abc"), pg_workspace)
    assert done["kind"] == "postgresql"
    assert done["rows"] == {"overrides.customer_id": 1, "overrides.reason": 1}
    assert done["vacuumed"] == ["overrides"]
    with psycopg.connect(pg_workspace) as con:
        rows = dict(con.execute("SELECT customer_id, reason FROM overrides").fetchall())
    assert rows == {"erased:abc": "[erased] on [erased]", NEIGHBOUR_ID: "Li Na asked"}
    # a second pass finds nothing left
    again = scrub_workspace(Replacer(Identifiers(person), "erased:abc"), pg_workspace)
    assert again["rows"] == {} and again["vacuumed"] == []
