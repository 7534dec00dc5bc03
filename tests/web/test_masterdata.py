"""Customer master data import: the use case, the job, the API and the page."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.test import Client
from tests.web.masterdata_files import (
    CHINESE,
    MasterData,
    make_master_data,
    write_csv,
    write_excel,
)

from corecustomers.web.audit.models import AuditEntry
from corecustomers.web.customers.masterdata import (
    ImportNotAllowedError,
    MasterDataError,
    import_master_data,
)
from corecustomers.web.customers.masterdata_jobs import UploadError, store_upload
from corecustomers.web.customers.models import AccountMember, Customer
from corecustomers.web.jobs.models import Job
from corecustomers.web.jobs.runner import run_job

pytestmark = pytest.mark.django_db

#: Bad rows that only the database can tell (the users and teams of the ``people`` fixture
#: exist; "nobody" and "Narnia" do not).
DB_CODES = {"unknown_owner", "unknown_team"}


def first_codes(result: Any) -> dict[int, str]:
    """``{row: code}`` of the first problem of each bad row."""
    codes: dict[int, str] = {}
    for bad in result.bad_rows:
        codes.setdefault(bad.row, bad.code)
    return codes


def assert_applied(data: MasterData) -> None:
    """Every good row is a customer with the file's values; no bad row is one."""
    good = {row["external_id"]: row for row in data.good}
    stored = {c.external_id: c for c in Customer.objects.select_related("team")}
    assert set(stored) == set(good)
    owners = dict(
        AccountMember.objects.filter(role="owner").values_list(
            "customer__external_id", "user__username"
        )
    )
    for cid, row in good.items():
        customer = stored[cid]
        assert customer.name == row["name"]
        assert customer.phone == row["phone"]
        assert customer.email == row["email"]
        assert customer.region == row["region"]
        assert customer.in_master_data
        assert customer.birthday is not None
        assert owners.get(cid, "") == row["owner"]
        assert (customer.team.name if customer.team else "") == row["team"]
        assert customer.pseudonym.startswith("p-")


def test_dry_run_lists_every_bad_row_and_writes_nothing(people, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = make_master_data(400)
    assert len(data.bad) == 20  # 5 %
    assert len(set(data.bad.values())) >= 8  # mixed kinds
    path = write_csv(data, tmp_path / "customers.csv")
    seen: list[tuple[float, str]] = []
    result = import_master_data(path, dry_run=True, progress=lambda f, m: seen.append((f, m)))
    assert first_codes(result) == data.bad
    assert result.bad_row_count == 20
    fractions = [fraction for fraction, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(seen) >= 3
    assert seen[-1][1] == "dry run: nothing was written"
    assert result.good_rows == 380
    assert result.created == 380
    assert result.dry_run
    # the column named for each kind of problem
    by_row = {bad.row: bad for bad in result.bad_rows}
    for row, code in data.bad.items():
        expected = {
            "bad_email": "email",
            "bad_phone": "phone",
            "bad_birthday": "birthday",
            "unknown_owner": "owner",
            "unknown_team": "team",
            "bad_relationship": "relationship",
        }.get(code, "customer_id")
        assert by_row[row].column == expected, (row, code)
        assert by_row[row].reason
    assert Customer.objects.count() == 0
    assert AccountMember.objects.count() == 0
    assert AuditEntry.objects.count() == 0


def test_the_real_run_applies_exactly_the_good_rows_and_a_reimport_changes_nothing(
    people,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    data = make_master_data(400)
    path = write_csv(data, tmp_path / "customers.csv")
    result = import_master_data(path, user=people.admin)
    assert (result.created, result.updated, result.bad_row_count) == (380, 0, 20)
    assert first_codes(result) == data.bad
    assert_applied(data)
    entries = Counter(AuditEntry.objects.values_list("action", flat=True))
    assert entries == {"create": 380, "import": 1}
    entry = AuditEntry.objects.filter(action="create").first()
    assert entry is not None and entry.username == "admin"
    assert Customer.objects.filter(pk=entry.customer_key).exists()
    stamps = dict(Customer.objects.values_list("pk", "updated"))

    again = import_master_data(path, user=people.admin)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 380)
    assert AuditEntry.objects.count() == 381  # no audit noise
    assert dict(Customer.objects.values_list("pk", "updated")) == stamps
    assert Customer.objects.count() == 380


def test_a_reimport_updates_changed_values_and_audits_before_and_after(
    people,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    data = make_master_data(100, bad_share=0)
    import_master_data(write_csv(data, tmp_path / "a.csv"))
    data.rows[0]["phone"] = "+86 139-0000-0000"
    data.rows[1]["owner"] = "am1" if data.rows[1]["owner"] != "am1" else "am2"
    data.rows[2]["name"] = ""  # a blank cell leaves the value as it is
    kept_name = Customer.objects.get(external_id=data.rows[2]["external_id"]).name
    result = import_master_data(write_csv(data, tmp_path / "b.csv"))
    assert (result.created, result.updated, result.unchanged) == (0, 2, 98)
    first = Customer.objects.get(external_id=data.rows[0]["external_id"])
    assert first.phone == "+86 139-0000-0000"
    update = AuditEntry.objects.get(action="update", customer_key=first.pk)
    assert update.before == {"phone": make_master_data(100, bad_share=0).rows[0]["phone"]}
    assert update.after == {"phone": "+86 139-0000-0000"}
    second = Customer.objects.get(external_id=data.rows[1]["external_id"])
    assert (
        AccountMember.objects.get(customer=second, role="owner").user.username
        == data.rows[1]["owner"]
    )
    assert Customer.objects.get(external_id=data.rows[2]["external_id"]).name == kept_name


def test_chinese_headers_and_gb18030(people, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = make_master_data(200, chinese_values=True)
    path = write_csv(data, tmp_path / "客户.csv", headers=CHINESE, encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    result = import_master_data(path)
    assert first_codes(result) == data.bad
    assert result.columns["external_id"] == "会员号"
    assert result.columns["relationship"] == "关系级别"
    assert_applied(data)
    levels = Counter(Customer.objects.values_list("relationship", flat=True))
    assert set(levels) == {"vendor", "partner", "alliance"}  # 卖主, 伙伴, 战略联盟


def test_utf8_with_bom(people, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = make_master_data(40, bad_share=0)
    path = write_csv(data, tmp_path / "bom.csv", encoding="utf-8-sig")
    result = import_master_data(path)
    assert result.columns["external_id"] == "customer_id"
    assert result.created == 40


def test_excel(people, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = make_master_data(200)
    path = write_excel(data, tmp_path / "customers.xlsx", headers=CHINESE)
    dry = import_master_data(path, dry_run=True)
    assert first_codes(dry) == data.bad
    result = import_master_data(path)
    assert result.created == 200 - len(data.bad)
    assert_applied(data)


def test_excel_with_a_title_above_the_headers(people, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from openpyxl import load_workbook

    data = make_master_data(50)
    path = write_excel(data, tmp_path / "customers.xlsx", headers=CHINESE)
    book = load_workbook(path)
    sheet = book.active
    assert sheet is not None
    sheet.insert_rows(1, amount=2)
    sheet["A1"] = "客户名单（2024年）"
    book.save(path)
    result = import_master_data(path, dry_run=True)
    assert result.columns["external_id"] == "会员号"
    assert first_codes(result) == {row + 2: code for row, code in data.bad.items()}
    assert result.good_rows == 50 - len(data.bad)


def test_a_table_from_python(people) -> None:  # type: ignore[no-untyped-def]
    table = pa.table(
        {
            "客户编号": ["A1", "A2", "NULL"],
            "姓名": ["王伟", "Li Na", "x"],
            "生日": ["1980-05-17", "", ""],
        }
    )
    result = import_master_data(table)
    assert result.created == 2
    assert [(b.row, b.code) for b in result.bad_rows] == [(4, "placeholder_id")]
    assert Customer.objects.get(external_id="A1").birthday == dt.date(1980, 5, 17)


def test_nothing_is_half_applied_when_a_write_fails(
    people,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    from corecustomers.web.customers import masterdata

    def failing(entries: Any) -> int:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(masterdata, "record_many", failing)
    path = write_csv(make_master_data(300), tmp_path / "c.csv")
    with pytest.raises(RuntimeError):
        import_master_data(path)
    assert Customer.objects.count() == 0
    assert AccountMember.objects.count() == 0


def test_master_data_meets_the_analysis_on_the_external_id(
    imported: Path,
    people,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    analysed = [
        str(v) for v in pq.read_table(imported / "customers.parquet")["customer_id"].to_pylist()
    ]
    rows = [{"customer_id": cid, "name": f"N{cid}"} for cid in analysed[:30]]
    rows += [{"customer_id": f"NEW{i}", "name": "new"} for i in range(5)]
    table = pa.Table.from_pylist(rows)
    dry = import_master_data(table, dry_run=True)
    assert dry.not_in_analysis_count == 5
    assert set(dry.not_in_analysis) == {f"NEW{i}" for i in range(5)}
    assert dry.analysed_without_master_data == len(analysed) - 30
    assert (dry.created, dry.updated) == (5, 30)
    real = import_master_data(table)
    assert real.analysed_without_master_data == len(analysed) - 30
    assert Customer.objects.filter(in_master_data=True).count() == 35


def test_who_may_import(imported: Path, people, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    analysed = [
        str(v) for v in pq.read_table(imported / "customers.parquet")["customer_id"].to_pylist()
    ]
    east = Customer.objects.get(external_id=analysed[0])
    east.region = "east"
    east.save()
    table = pa.table({"id": [analysed[0], analysed[1]], "company": ["East Co", "Elsewhere Co"]})
    with pytest.raises(ImportNotAllowedError):
        import_master_data(table, user=people.am1)
    with pytest.raises(ImportNotAllowedError):
        import_master_data(table, user=people.analyst)
    result = import_master_data(table, user=people.manager)
    assert [(b.row, b.code) for b in result.bad_rows] == [(3, "not_allowed")]
    assert Customer.objects.get(external_id=analysed[0]).company == "East Co"
    assert Customer.objects.get(external_id=analysed[1]).company == ""


def test_a_file_that_is_not_a_table_is_refused(people, tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    settings.UPLOAD_FOLDER = tmp_path / "uploads"
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200)
    with pytest.raises(UploadError, match="not a table"):
        store_upload([png], "photo.csv")
    with pytest.raises(UploadError, match="customer id"):
        store_upload([b"a,b\n1,2\n"], "numbers.csv")
    with pytest.raises(UploadError, match="CSV, Excel"):
        store_upload([b"customer_id\n1\n"], "notes.docx")
    settings.UPLOAD_LIMIT_BYTES = 100
    with pytest.raises(UploadError, match="upload limit"):
        store_upload([b"customer_id,name\n" + b"1,x\n" * 100], "big.csv")
    assert list((tmp_path / "uploads").iterdir()) == []  # refused files are not kept
    with pytest.raises(MasterDataError, match="does not exist"):
        import_master_data(tmp_path / "missing.csv")


def test_the_job_reports_progress_and_the_bad_rows(
    people,
    tmp_path: Path,
    settings,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    from corecustomers.web.customers.masterdata_jobs import submit_import

    settings.UPLOAD_FOLDER = tmp_path / "uploads"
    data = make_master_data(200)
    raw = write_csv(data, tmp_path / "m.csv").read_bytes()
    path = store_upload([raw], "m.csv")
    assert path.parent == tmp_path / "uploads" and path.name != "m.csv"
    with django_capture_on_commit_callbacks(execute=False):
        job, created = submit_import(path, name="m.csv", dry_run=False, user=people.manager)
    assert created
    run_job(str(job.pk))
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert job.progress == 1.0
    assert job.result["file"] == "m.csv"
    assert {b["row"] for b in job.result["bad_rows"]} == set(data.bad)
    # the manager leads East (region east): customers in other regions are new, so allowed
    assert job.result["created"] == 200 - len(data.bad)
    summary = AuditEntry.objects.get(action="import")
    assert "from m.csv" in summary.message and path.name not in summary.message
    assert summary.username == "manager" and summary.channel == "web"


# -- API ----------------------------------------------------------------------------------


def _token(user: Any, scope: str) -> str:
    from corecustomers.web.accounts.models import ApiToken

    _, raw = ApiToken.issue(user, scope=scope)
    return raw


def _post(client: Client, token: str, content: bytes, name: str, **extra: Any) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        "/api/v1/imports",
        {"file": SimpleUploadedFile(name, content), "dry_run": "true"},
        HTTP_AUTHORIZATION=f"Bearer {token}",
        **extra,
    )


def test_api_imports(
    people,
    tmp_path: Path,
    settings,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    settings.UPLOAD_FOLDER = tmp_path / "uploads"
    client = Client()
    data = make_master_data(100)
    content = write_csv(data, tmp_path / "m.csv").read_bytes()
    token = _token(people.admin, "write")
    with django_capture_on_commit_callbacks(execute=False):
        first = _post(client, token, content, "m.csv", HTTP_IDEMPOTENCY_KEY="up-1")
        again = _post(client, token, content, "m.csv", HTTP_IDEMPOTENCY_KEY="up-1")
    assert first.status_code == 202, first.content
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert Job.objects.count() == 1
    assert len(list((tmp_path / "uploads").iterdir())) == 1
    run_job(first.json()["id"])
    body = client.get(
        f"/api/v1/jobs/{first.json()['id']}", HTTP_AUTHORIZATION=f"Bearer {token}"
    ).json()
    assert body["status"] == "succeeded"
    assert body["result"]["dry_run"] is True
    assert {b["row"] for b in body["result"]["bad_rows"]} == set(data.bad)
    assert Customer.objects.count() == 0

    bad = _post(client, token, b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(100), "x.csv")
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "bad_file"
    assert bad.json()["error"]["field"] == "file"
    assert "not a table" in bad.json()["error"]["message"]
    read_only = _post(client, _token(people.admin, "read"), content, "m.csv")
    assert read_only.status_code == 403
    for user in (people.am1, people.analyst):
        refused = _post(client, _token(user, "write"), content, "m.csv")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
    assert _post(client, "cc_wrong", content, "m.csv").status_code == 401
    assert Job.objects.count() == 1
    schema = client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/imports"]["post"]
    assert {"Idempotency-Key"} <= {p["name"] for p in schema.get("parameters", [])}
    assert {"202", "401", "403", "422"} <= set(schema["responses"])


# -- pages ----------------------------------------------------------------------------------


def test_the_import_page(
    people,
    tmp_path: Path,
    settings,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.UPLOAD_FOLDER = tmp_path / "uploads"
    client = Client(enforce_csrf_checks=True)
    client.force_login(people.manager)
    page = client.get("/imports/")
    assert page.status_code == 200
    assert b"csrfmiddlewaretoken" in page.content
    csrf = page.cookies["csrftoken"].value
    data = make_master_data(60)
    content = write_csv(data, tmp_path / "m.csv").read_bytes()
    refused = client.post(
        "/imports/",
        {"file": SimpleUploadedFile("x.csv", b"a,b\n1,2\n"), "csrfmiddlewaretoken": csrf},
    )
    assert refused.status_code == 422
    assert "customer id" in refused.content.decode()
    with django_capture_on_commit_callbacks(execute=False):
        sent = client.post(
            "/imports/",
            {
                "file": SimpleUploadedFile("m.csv", content),
                "dry_run": "on",
                "csrfmiddlewaretoken": csrf,
            },
        )
    assert sent.status_code == 302
    job = Job.objects.get()
    assert sent["Location"] == f"/imports/{job.pk}/"
    waiting = client.get(sent["Location"])
    assert waiting.status_code == 200 and waiting["Refresh"] == "2"
    run_job(str(job.pk))
    done = client.get(sent["Location"])
    html = done.content.decode()
    assert "Refresh" not in done
    for row in data.bad:
        assert f'<td class="num">{row}</td>' in html
    assert Customer.objects.count() == 0
    download = client.get(f"/imports/{job.pk}/bad-rows.csv")
    assert download["Content-Type"].startswith("text/csv")
    lines = download.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "row,column,code,reason,value"
    assert sorted({int(line.split(",")[0]) for line in lines[1:]}) == sorted(data.bad)
    with django_capture_on_commit_callbacks(execute=False):
        applied = client.post(f"/imports/{job.pk}/apply/", {"csrfmiddlewaretoken": csrf})
    assert applied.status_code == 302
    second = Job.objects.exclude(pk=job.pk).get()
    run_job(str(second.pk))
    assert Customer.objects.count() == 60 - len(data.bad)

    client.force_login(people.am1)
    assert client.get("/imports/").status_code == 403
    assert client.get(f"/imports/{job.pk}/").status_code == 403
