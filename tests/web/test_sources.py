"""Data sources on the pages and the API: register the CDNOW sample, run it, compare with
the command line's ``summary.json``; who may do what; credentials never shown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from tests.web.conftest import CDNOW

pytestmark = pytest.mark.django_db


@pytest.fixture
def service_folder(settings: Any, tmp_path: Path) -> Path:
    """A workspace and service folder of this test's own."""
    workspace = tmp_path / "shop"
    workspace.mkdir()
    folder = workspace / ".corecustomers"
    settings.WORKSPACE = str(workspace)
    settings.SERVICE_FOLDER = folder
    settings.UPLOAD_FOLDER = folder / "uploads"
    return folder


def form(name: str, **extra: Any) -> dict[str, Any]:
    data = {
        "name": name,
        "url": "",
        "table": "",
        "query": "",
        "customer_id": "1",
        "timestamp": "3",
        "amount": "5",
        "order_id": "",
        "product": "",
        "category": "",
        "channel": "",
        "header": "no",
        "time_unit": "week",
        "currency": "",
        "lang": "en",
        "schedule": "none",
        "schedule_time": "02:00",
        "schedule_day": "1",
    }
    data.update(extra)
    return data


def register_by_page(client: Any, name: str, path: Path, **extra: Any) -> Any:
    with path.open("rb") as handle:
        return client.post(reverse("pages:sources"), {**form(name, **extra), "file": handle})


def run_by_page(client: Any, name: str) -> str:
    from corecustomers.web.jobs.runner import run_job

    answer = client.post(reverse("pages:source-run", kwargs={"name": name}))
    assert answer.status_code == 302
    job_id = answer["Location"].rstrip("/").split("/")[-1]
    job = run_job(job_id)
    assert job.status == "succeeded", job.error
    return job_id


def test_the_cdnow_sample_run_from_the_page_gives_the_dashboard_of_the_cli_run(
    client: Any, people: Any, service_folder: Path, cdnow_analysis: Path
) -> None:
    from corecustomers.web.customers.queries import dashboard
    from corecustomers.web.sources.models import Source, SourceRun

    client.force_login(people.admin)
    answer = register_by_page(client, "cdnow", CDNOW)
    assert answer.status_code == 302, answer.content.decode()[:2000]
    source = Source.objects.get(name="cdnow")
    stored = Path(source.file_path)
    assert stored.parent == service_folder / "uploads" / "sources"
    assert stored.read_bytes() == CDNOW.read_bytes()

    job_id = run_by_page(client, "cdnow")
    run = SourceRun.objects.get(job_id=job_id)
    assert Path(run.folder) == service_folder / "analyses" / "cdnow" / job_id

    summary = json.loads((cdnow_analysis / "summary.json").read_text(encoding="utf-8"))
    mine = json.loads((Path(run.folder) / "summary.json").read_text(encoding="utf-8"))
    assert mine["source_name"] == "cdnow"
    board = dashboard(people.admin)
    assert board.customers == summary["customers"] == 2357
    assert board.revenue == pytest.approx(summary["revenue"])
    expected = {row["tier"]: row["customers"] for row in summary["tiers"]["table"]}
    assert {t.tier: t.customers for t in board.tiers if t.customers} == {
        k: v for k, v in expected.items() if v
    }
    assert board.core_customers == summary["alerts"]["core_customers"]
    assert board.top_20pct_share == summary["concentration"]["top_20pct_share"]

    page = client.get(reverse("pages:source-run-page", kwargs={"job_id": job_id}))
    text = page.content.decode()
    assert page.status_code == 200
    assert 'data-field="rows_read">6919<' in text
    assert reverse("pages:source-report", kwargs={"job_id": job_id}) in text
    report = client.get(reverse("pages:source-report", kwargs={"job_id": job_id}))
    assert report.status_code == 200
    assert report["Content-Type"].startswith("text/html")
    assert b"<svg" in b"".join(report.streaming_content)

    listing = client.get(reverse("pages:sources")).content.decode()
    assert 'data-source="cdnow"' in listing
    assert reverse("pages:source-run-page", kwargs={"job_id": job_id}) in listing


def test_quarantine_and_warnings_are_on_the_run_page(
    client: Any, people: Any, service_folder: Path, tmp_path: Path
) -> None:
    lines = CDNOW.read_text(encoding="utf-8").splitlines()
    bad = ["00004 0001 19970101  2   not-a-number", "00005 0001 19971345  1   10.00"]
    path = tmp_path / "with-bad-rows.txt"
    path.write_text("\n".join([*lines, *bad]) + "\n", encoding="utf-8")
    client.force_login(people.manager)
    answer = register_by_page(client, "messy", path)
    assert answer.status_code == 302, answer.content.decode()[-3000:]
    job_id = run_by_page(client, "messy")
    text = client.get(reverse("pages:source-run-page", kwargs={"job_id": job_id})).content.decode()
    assert 'data-field="rows_quarantined">2<' in text
    assert 'data-table="quarantine"' in text
    assert "not-a-number" in text


def test_a_file_that_is_not_a_table_or_too_large_is_refused(
    client: Any, people: Any, service_folder: Path, tmp_path: Path, settings: Any
) -> None:
    from corecustomers.web.sources.models import Source

    client.force_login(people.admin)
    picture = tmp_path / "photo.csv"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20)
    answer = register_by_page(client, "photo", picture)
    assert answer.status_code == 422
    assert "photo.csv" in answer.content.decode()
    settings.UPLOAD_LIMIT_BYTES = 1000
    answer = register_by_page(client, "big", CDNOW)
    assert answer.status_code == 422
    assert "upload limit" in answer.content.decode()
    assert not Source.objects.exists()
    assert list((service_folder / "uploads" / "sources").iterdir()) == []


def test_wrong_column_mapping_is_refused_naming_the_column(
    client: Any, people: Any, service_folder: Path
) -> None:
    client.force_login(people.admin)
    answer = register_by_page(client, "cdnow", CDNOW, amount="9")
    assert answer.status_code == 422
    assert "9" in answer.content.decode()


def test_database_sources_keep_credentials_out_of_the_database_and_the_pages(
    client: Any, people: Any, service_folder: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    import duckdb

    from corecustomers.web.jobs.runner import run_job
    from corecustomers.web.sources.models import Source, SourceRun

    client.force_login(people.admin)
    secret = "postgresql://reader:s3cr3t-pw@db.local:5432/shop"
    refused = client.post(reverse("pages:sources"), form("shop", url=secret, table="orders"))
    assert refused.status_code == 422
    assert "password" in refused.content.decode()
    assert "s3cr3t-pw" not in refused.content.decode()
    assert not Source.objects.exists()

    # a DuckDB file as the database, its URL in an environment variable of the worker
    database = tmp_path / "shop.duckdb"
    rows = [line.split() for line in CDNOW.read_text(encoding="utf-8").splitlines()]
    con = duckdb.connect(str(database))
    con.execute("CREATE TABLE orders (customer VARCHAR, day DATE, amount DOUBLE)")
    con.executemany(
        "INSERT INTO orders VALUES (?, strptime(?, '%Y%m%d')::DATE, ?)",
        [(r[0], r[2], float(r[4])) for r in rows],
    )
    con.close()
    monkeypatch.setenv("SHOP_DB", f"duckdb:///{database}")
    answer = client.post(
        reverse("pages:sources"),
        form(
            "shop",
            url="env:SHOP_DB",
            table="orders",
            customer_id="customer",
            timestamp="day",
            amount="amount",
            header="auto",
        ),
    )
    assert answer.status_code == 302, answer.content.decode()[:3000]
    assert Source.objects.get(name="shop").url == "env:SHOP_DB"
    run = client.post(reverse("pages:source-run", kwargs={"name": "shop"}))
    job_id = run["Location"].rstrip("/").split("/")[-1]
    job = run_job(job_id)
    assert job.status == "succeeded", job.error
    assert job.result["customers"] == 2357
    assert SourceRun.objects.get(job_id=job_id).as_of is not None

    listing = client.get(reverse("pages:sources")).content.decode()
    assert "env:SHOP_DB" in listing
    assert str(database) not in listing
    client.force_login(people.analyst)
    listing = client.get(reverse("pages:sources")).content.decode()
    assert 'data-source="shop"' in listing
    assert "SHOP_DB" not in listing and "orders" not in listing
    assert "Run now" not in listing


def test_who_may_see_register_and_run_sources(
    client: Any, people: Any, service_folder: Path
) -> None:
    from corecustomers.web.sources.models import Source

    client.force_login(people.admin)
    assert register_by_page(client, "cdnow", CDNOW).status_code == 302
    run = reverse("pages:source-run", kwargs={"name": "cdnow"})
    for who in (people.am1, people.am2):
        client.force_login(who)
        assert client.get(reverse("pages:sources")).status_code == 403
        assert client.post(run).status_code == 403
    client.force_login(people.analyst)
    assert client.get(reverse("pages:sources")).status_code == 200
    assert client.post(run).status_code == 403
    client.post(reverse("pages:language"), {"language": "zh-hans", "next": "/"})
    chinese = client.get(reverse("pages:sources")).content.decode()
    assert "数据源" in chinese and "Data sources" not in chinese
    assert register_by_page(client, "other", CDNOW).status_code == 403
    assert Source.objects.count() == 1


def test_the_api_lists_registers_and_runs_sources(
    client: Any, people: Any, service_folder: Path
) -> None:
    from corecustomers.web.accounts.models import ApiToken
    from corecustomers.web.jobs.models import Job

    _, write = ApiToken.issue(people.manager, scope="write", name="t")
    _, read = ApiToken.issue(people.manager, scope="read", name="t")
    _, analyst = ApiToken.issue(people.analyst, scope="write", name="t")
    _, am = ApiToken.issue(people.am1, scope="write", name="t")

    def auth(token: str) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    fields = {
        "name": "cdnow",
        "customer_col": "1",
        "date_col": "3",
        "amount_col": "5",
        "header": "false",
    }
    with CDNOW.open("rb") as handle:
        denied = client.post("/api/v1/sources", {**fields, "file": handle}, **auth(read))
    assert denied.status_code == 403
    assert denied.json()["error"]["field"] == "token"
    with CDNOW.open("rb") as handle:
        made = client.post("/api/v1/sources", {**fields, "file": handle}, **auth(write))
    assert made.status_code == 201, made.content
    assert made.json()["columns"] == {"customer_id": "1", "timestamp": "3", "amount": "5"}
    with CDNOW.open("rb") as handle:
        again = client.post("/api/v1/sources", {**fields, "file": handle}, **auth(write))
    assert again.status_code == 422
    assert again.json()["error"]["field"] == "name"
    bad = client.post(
        "/api/v1/sources",
        {"name": "db", "url": "postgresql://u:pw@h/d", "table": "t"},
        **auth(write),
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "url"

    listed = client.get("/api/v1/sources", **auth(read)).json()
    assert listed["count"] == 1 and listed["items"][0]["name"] == "cdnow"
    assert client.get("/api/v1/sources", **auth(analyst)).json()["items"][0]["url"] is None
    assert client.get("/api/v1/sources", **auth(am)).json() == {
        "items": [],
        "count": 0,
        "limit": 50,
        "offset": 0,
    }

    key = {"HTTP_IDEMPOTENCY_KEY": "run-1"}
    first = client.post(
        "/api/v1/runs", {"source": "cdnow"}, content_type="application/json", **auth(write), **key
    )
    assert first.status_code == 202
    job = first.json()
    assert job["kind"] == "run_analysis" and job["status"] == "queued"
    second = client.post(
        "/api/v1/runs", {"source": "cdnow"}, content_type="application/json", **auth(write)
    )
    assert second.status_code == 200 and second.json()["id"] == job["id"]
    followed = client.get(f"/api/v1/jobs/{job['id']}", **auth(read))
    assert followed.status_code == 200 and followed.json()["kind"] == "run_analysis"
    assert Job.objects.filter(kind="run_analysis").count() == 1
    for token in (analyst, am):
        answer = client.post(
            "/api/v1/runs", {"source": "cdnow"}, content_type="application/json", **auth(token)
        )
        assert answer.status_code == 403
    missing = client.post(
        "/api/v1/runs", {"source": "nope"}, content_type="application/json", **auth(write)
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["field"] == "source"
    seen = client.get(f"/api/v1/runs/{job['id']}", **auth(analyst))
    assert seen.status_code == 200 and seen.json()["source"] == "cdnow"
