"""The API's rate limit, the health endpoints and the logs: in-process, and once with the
real server and a real worker (readiness follows the worker's heartbeat; JSON access lines
carry the request id and never a customer id)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from corecustomers.web.accounts.models import ApiToken
from corecustomers.web.customers.identity import pseudonym
from corecustomers.web.security import ratelimit
from corecustomers.web.security.health import beat
from corecustomers.web.security.models import WorkerBeat

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"
ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / ".venv" / "bin" / "corecustomers"


@pytest.fixture(autouse=True)
def _fresh_buckets() -> Any:
    ratelimit.reset()
    yield
    ratelimit.reset()


def _bearer(user: Any) -> Client:
    _, raw = ApiToken.issue(user, scope="write")
    return Client(headers={"Authorization": f"Bearer {raw}"})


# --- rate limit -------------------------------------------------------------------------


def test_the_api_answers_429_with_retry_after_over_the_users_rate(
    people: Any, settings: Any
) -> None:
    settings.API_RATE_PER_MINUTE, settings.API_BURST = 6, 5
    am1 = _bearer(people.am1)
    assert [am1.get("/api/v1/me").status_code for _ in range(5)] == [200] * 5
    limited = am1.get("/api/v1/me")
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 10  # one request refills in 10 s
    body = limited.json()["error"]
    assert body["code"] == "rate_limited" and "CORECUSTOMERS_API_RATE" in body["message"]
    # a second token of the same user shares the bucket: the limit is per user
    assert _bearer(people.am1).get("/api/v1/me").status_code == 429
    # another user, and the pages, are not affected
    assert _bearer(people.am2).get("/api/v1/me").status_code == 200
    browser = Client()
    browser.login(username="am1", password=PASSWORD)
    assert browser.get("/").status_code == 200


def test_a_session_user_is_limited_too(people: Any, settings: Any) -> None:
    settings.API_RATE_PER_MINUTE, settings.API_BURST = 60, 3
    client = Client()
    client.login(username="am1", password=PASSWORD)
    statuses = [client.get("/api/v1/me").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_by_default_a_burst_of_fifty_redemptions_passes(people: Any) -> None:
    client = _bearer(people.am1)
    assert {client.get("/api/v1/me").status_code for _ in range(60)} == {200}


def test_the_limit_can_be_turned_off(people: Any, settings: Any) -> None:
    settings.API_RATE_PER_MINUTE, settings.API_BURST = 0, 1
    client = _bearer(people.am1)
    assert {client.get("/api/v1/me").status_code for _ in range(5)} == {200}


def test_the_bucket_refills_at_the_rate() -> None:
    now = [100.0]
    limiter = ratelimit.Limiter(clock=lambda: now[0])
    assert [limiter.take("u", per_minute=60, burst=2) for _ in range(2)] == [0.0, 0.0]
    wait = limiter.take("u", per_minute=60, burst=2)
    assert wait == pytest.approx(1.0)
    now[0] += wait
    assert limiter.take("u", per_minute=60, burst=2) == 0.0
    now[0] += 3600  # refills up to the burst only
    assert [limiter.take("u", per_minute=60, burst=2) for _ in range(3)][2] > 0


# --- health -----------------------------------------------------------------------------


def test_healthz_answers_without_login_or_database(db: None) -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


def test_readyz_follows_the_workers_heartbeat(db: None) -> None:
    client = Client()
    waiting = client.get("/readyz")
    assert waiting.status_code == 503
    assert waiting.json()["checks"] == {"database": "ok", "workspace": "ok", "worker": "failed"}
    beat("test-worker")
    assert client.get("/readyz").status_code == 200
    WorkerBeat.objects.update(beat=timezone.now() - dt.timedelta(minutes=5))
    assert client.get("/readyz").json()["checks"]["worker"] == "failed"


def test_readyz_fails_when_the_workspace_folder_is_gone(
    db: None, settings: Any, tmp_path: Path
) -> None:
    beat("test-worker")
    settings.SERVICE_FOLDER = tmp_path / "gone"
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["workspace"] == "failed"
    assert str(tmp_path) not in response.content.decode()  # the cause is logged, not shown


# --- logs -------------------------------------------------------------------------------


def test_access_log_names_the_pattern_and_hashes_the_customer(
    people: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from corecustomers.web.security.logs import JsonFormatter, RequestContextFilter

    logger = __import__("logging").getLogger("corecustomers.access")
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level("INFO", logger="corecustomers.access"):
            client = Client()
            client.login(username="am1", password=PASSWORD)
            response = client.get("/customers/SECRET-ID-7/", {"q": "Zhang San"})
    finally:
        logger.removeHandler(caplog.handler)
    records = {id(r): r for r in caplog.records if r.name == "corecustomers.access"}
    assert len(records) == 1
    (record,) = records.values()
    RequestContextFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["route"] == "customers/<path:key>/"
    assert line["status"] == response.status_code == 404
    assert line["request_id"] == response["X-Request-ID"]
    assert line["user_id"] == people.am1.pk
    assert line["customer"] == pseudonym("SECRET-ID-7")
    text = json.dumps(line, ensure_ascii=False)
    assert "SECRET-ID-7" not in text and "Zhang" not in text


# --- the real server and worker ---------------------------------------------------------


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _until(predicate: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


@pytest.mark.slow  # starts the server and a worker as processes (about 20 s)
def test_the_real_server_is_ready_with_its_worker_and_logs_json(tmp_path: Path) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 'service.sqlite3'}"]  # its own database
    key = "k" * 40
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CORECUSTOMERS_")},
        "CORECUSTOMERS_LOG_FORMAT": "json",
        "CORECUSTOMERS_PSEUDONYM_KEY": key,
        "CORECUSTOMERS_WORKER_BEAT_SECONDS": "1",
        "CORECUSTOMERS_READY_WORKER_SECONDS": "3",
        "CORECUSTOMERS_WATCH_SECONDS": "0",
    }
    server = subprocess.Popen(
        [str(CLI), "serve", "--port", "0", "--no-worker", *db],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    worker = None
    try:
        assert server.stdout is not None
        found = None
        for _ in range(20):
            line = server.stdout.readline()
            found = re.search(r"http://[\d.]+:\d+/", line)
            if found or not line:
                break
        assert found, server.stderr.read() if server.stderr else ""
        base = found.group(0).rstrip("/")
        assert _get(base + "/healthz")[0] == 200
        status, body = _get(base + "/readyz")
        assert status == 503 and json.loads(body)["checks"]["worker"] == "failed"

        worker = subprocess.Popen(
            [str(CLI), "worker", *db], cwd=tmp_path, env=env, stderr=subprocess.DEVNULL
        )
        # a guard against a hang: a worker's start took most of 40 s on a loaded machine
        assert _until(lambda: _get(base + "/readyz")[0] == 200, 180), _get(base + "/readyz")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        assert _until(lambda: _get(base + "/readyz")[0] == 503, 15)

        assert _get(base + "/customers/SECRET-ID-7/?q=Zhang")[0] == 200  # the login page
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
        server.send_signal(signal.SIGTERM)
        try:
            _, stderr = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            _, stderr = server.communicate()
    lines = [json.loads(x) for x in stderr.splitlines() if x.startswith("{")]
    access = [x for x in lines if x["logger"] == "corecustomers.access"]
    assert access, stderr[-2000:]
    assert all(re.fullmatch(r"[0-9a-f]{32}", x["request_id"]) for x in access)
    customer = [x for x in access if x["route"] == "customers/<path:key>/"]
    assert customer and customer[0]["customer"] == pseudonym("SECRET-ID-7", key=key)
    assert "SECRET-ID-7" not in stderr and "Zhang" not in stderr


# --- the CSP nonce and the lock file ----------------------------------------------------


def test_a_template_that_uses_the_nonce_gets_it_into_the_policy(rf: Any) -> None:
    from django.http import HttpResponse
    from django.template import engines

    from corecustomers.web.security.csp import ContentSecurityPolicyMiddleware

    template = engines["django"].from_string('<script nonce="{{ request.csp_nonce }}"></script>')

    def with_script(request: Any) -> HttpResponse:
        return HttpResponse(template.render({"request": request}))

    response = ContentSecurityPolicyMiddleware(with_script)(rf.get("/"))
    nonce = re.search(r'nonce="([^"]+)"', response.content.decode())
    assert nonce and len(nonce.group(1)) >= 20
    assert f"script-src 'self' 'nonce-{nonce.group(1)}'" in response["Content-Security-Policy"]
    plain = ContentSecurityPolicyMiddleware(lambda request: HttpResponse("x"))(rf.get("/"))
    assert "nonce-" not in plain["Content-Security-Policy"]


def test_the_lock_file_pins_every_dependency_with_hashes() -> None:
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    pins = {
        canonicalize_name(name): version
        for name, version in re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", lock, re.MULTILINE)
    }
    for text in wanted:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in requirements.lock: compile it again"
        assert requirement.specifier.contains(pins[name], prereleases=True), (text, pins[name])
    blocks = re.split(r"^(?=[A-Za-z0-9])", lock, flags=re.MULTILINE)
    assert all("--hash=sha256:" in block for block in blocks if "==" in block)
