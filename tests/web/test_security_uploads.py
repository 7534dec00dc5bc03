"""Uploads (issue 14's security tests): an oversize file and files whose bytes are not what
their names say are refused -- on the import page, the API and the sources page -- before
any job or stored copy; real files of each kind pass; nothing uploaded is served back."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from corecustomers.web.accounts.models import ApiToken
from corecustomers.web.jobs.models import Job

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"  # the people fixture's password (conftest.py)


def login(name: str) -> Client:
    client = Client()
    assert client.login(username=name, password=PASSWORD)
    return client


# --- uploads ----------------------------------------------------------------------------

GOOD_CSV = "customer_id,name\nU1,Zhang San\n"


def _xlsx(rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _zip_of(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(name, data)
    return out.getvalue()


DISGUISED = {
    "a program named .csv": ("people.csv", b"MZ\x90\x00\x03" + b"\x00" * 200),
    "a web page named .csv": ("people.csv", b"<!DOCTYPE html><script>alert(1)</script>"),
    "a zip named .csv": ("people.csv", _zip_of("x.txt", b"hello")),
    "text named .xlsx": ("people.xlsx", GOOD_CSV.encode()),
    "a zip that is no workbook named .xlsx": ("people.xlsx", _zip_of("x.txt", b"hello")),
    "a png named .xls": ("people.xls", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100),
    "text named .parquet": ("people.parquet", GOOD_CSV.encode()),
}


def _upload(client: Client, name: str, data: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        "/imports/", {"file": SimpleUploadedFile(name, data), "dry_run": "on"}, follow=False
    )


@pytest.fixture
def uploads(settings: Any, tmp_path: Path) -> Path:
    settings.UPLOAD_FOLDER = tmp_path / "uploads"
    return settings.UPLOAD_FOLDER


@pytest.mark.parametrize("case", list(DISGUISED))
def test_a_disguised_upload_is_refused(case: str, people: Any, uploads: Path) -> None:
    name, data = DISGUISED[case]
    response = _upload(login("admin"), name, data)
    assert response.status_code == 422
    errors = response.context["form"].errors["file"]
    assert any("content" in e or "archive" in e for e in errors), errors
    assert not Job.objects.exists()
    assert not any(p.is_file() for p in uploads.rglob("*"))  # nothing kept


def test_a_disguised_upload_is_refused_by_the_api_and_the_sources_page(
    people: Any, uploads: Path
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    _, raw = ApiToken.issue(people.admin, scope="write")
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    name, data = DISGUISED["a program named .csv"]
    refused = api.post("/api/v1/imports", {"file": SimpleUploadedFile(name, data)})
    assert refused.status_code == 422, refused.content
    assert "content" in refused.json()["error"]["message"]
    page = login("admin").post(
        "/sources/",
        {
            "name": "sales",
            "kind": "file",
            "file": SimpleUploadedFile("sales.csv", data),
            "customer_id": "customer_id",
            "header": "auto",
            "time_unit": "week",
            "lang": "en",
            "schedule": "none",
            "schedule_time": "02:00",
            "schedule_day": "1",
        },
    )
    assert page.status_code == 422
    assert "content" in str(page.context["form"].errors)
    assert not any(p.is_file() for p in uploads.rglob("*"))


def test_real_files_of_each_kind_pass_the_content_check(people: Any, uploads: Path) -> None:
    client = login("admin")
    rows = [["customer_id", "name"], ["U1", "Zhang San"]]
    for name, data in [
        ("people.csv", GOOD_CSV.encode("utf-8-sig")),
        ("people.csv", GOOD_CSV.encode("gb18030")),
        ("people.txt", "\ufeff".encode("utf-16-le") + GOOD_CSV.encode("utf-16-le")),
        ("people.xlsx", _xlsx(rows)),
    ]:
        response = _upload(client, name, data)
        assert response.status_code == 302, (
            name,
            response.context and response.context["form"].errors,
        )


def test_an_oversize_upload_is_refused(people: Any, uploads: Path, settings: Any) -> None:
    settings.UPLOAD_LIMIT_BYTES = 1000
    data = (GOOD_CSV + "U2,Li Si\n" * 200).encode()
    response = _upload(login("admin"), "people.csv", data)
    assert response.status_code == 422
    assert "upload limit" in str(response.context["form"].errors["file"])
    assert not Job.objects.exists()
    assert not any(p.is_file() for p in uploads.rglob("*"))


def test_a_zip_bomb_named_xlsx_is_refused(people: Any, uploads: Path, settings: Any) -> None:
    settings.UPLOAD_LIMIT_BYTES = 100_000
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * 20_000_000)
    response = _upload(login("admin"), "people.xlsx", out.getvalue())
    assert response.status_code == 422
    assert "unpack" in str(response.context["form"].errors["file"])


def test_uploads_are_never_served_back(people: Any, uploads: Path) -> None:
    client = login("admin")
    assert _upload(client, "people.csv", GOOD_CSV.encode()).status_code == 302
    stored = [p for p in uploads.rglob("*") if p.is_file()]
    assert len(stored) == 1
    assert stored[0].name != "people.csv"  # a random name
    for url in [
        f"/uploads/{stored[0].name}",
        f"/static/{stored[0].name}",
        f"/static/../uploads/{stored[0].name}",
        f"/media/{stored[0].name}",
    ]:
        assert client.get(url).status_code == 404, url
