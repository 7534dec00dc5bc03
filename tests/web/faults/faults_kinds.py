"""The fault suite's Django side: the data each kind of job starts from, and what is checked.

Runs only inside a process forked from :mod:`faults_zygote` (Django configured on the run
database and workspace). Three entry points:

* :func:`build_base` -- a migrated database with people and a small imported analysis
  (the CDNOW sample, 2,357 customers), quiet: the jobs the import queued are dropped.
* :func:`prepare` -- on a copy of the base: what one kind of job needs (a programme, an
  upload, planned messages, interactions ...) and the job itself, queued.
* :func:`inspect` -- the state to compare: every service table's rows (volatile columns
  left out, see :func:`stable_columns`), the jobs by kind and status, the target job, the
  files in the workspace, and the invariants of the kind (problems found, by name).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Tables not compared row by row: the queue's own rows (a killed worker leaves its task
#: RUNNING for ever; the job row is the truth and is checked on its own), sessions, the
#: worker heartbeat.
SKIP_TABLES = {"jobs_job", "django_tasks_database_dbtaskresult", "django_session"}
#: Columns that record the crash itself, or that two uninterrupted runs do not reproduce:
#: a message whose pass was killed counts its attempts and is flagged as a possible
#: duplicate (by design; the outbox check below proves one file per sent message); an
#: analysis summary written by the engine again in a new run.
VOLATILE = {
    "contact_outboxmessage": {"attempts", "possible_duplicate"},
    "customers_analysis": {"summary"},
}
#: Rows of up to this many are kept whole in an inspection (to show a difference; raise it
#: with ``FAULTS_KEEP_ROWS`` to see the differing rows of a bigger table).
KEEP_ROWS = int(os.environ.get("FAULTS_KEEP_ROWS", "400"))
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:?\d\d|Z)?")
_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")
#: An analysis run's id (12 hex digits): made from the moment the engine ran, so a source
#: run that is done again after a crash gets a new one.
_RUN_ID = re.compile(r"(?<![0-9a-f])[0-9a-f]{12}(?![0-9a-f])")
#: A token of ``django.core.signing.dumps`` (an unsubscribe or survey link): the payload
#: (base64 JSON, ``.``-prefixed when compressed), the signing time (base62 seconds,
#: TimestampSigner) and the HMAC-SHA256 signature (43 base64 characters).
_SIGNED = re.compile(
    r"(?<![A-Za-z0-9_.:-])(\.?[A-Za-z0-9_-]+):([0-9A-Za-z]{1,12}):([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])"
)

KINDS = (
    "import_analysis",
    "import_customers",
    "run_analysis",
    "loyalty_earn_run",
    "loyalty_daily",
    "route_alerts",
    "escalate_alerts",
    "send_emails",
    "export_interactions",
    "deliver_outbox",
    "plan_care_messages",
    "plan_contact_messages",
    "survey_checks",
    "export_survey_scores",
    "sync_overrides",
    "erase",
)


def _admin() -> Any:
    from corecustomers.web.accounts.models import User

    return User.objects.get(username="admin")


def _quiet_queue() -> None:
    """Drop every job and queue entry (the base is a state no worker has touched)."""
    from django_tasks_db.models import DBTaskResult

    from corecustomers.web.jobs.models import Job

    DBTaskResult.objects.all().delete()
    Job.objects.all().delete()


def build_base(paths: dict[str, str]) -> dict[str, Any]:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from corecustomers.web.accounts.models import Team, User
    from corecustomers.web.customers.analysis_import import import_analysis

    people = {}
    for name, role in (("admin", "admin"), ("manager", "manager"), ("am1", "account_manager")):
        person = User.objects.create(username=name, role=role, email=f"{name}@example.com")
        person.set_password("a-long-password-42")
        person.save()
        people[name] = person
    east = Team.objects.create(name="East", region="east", lead=people["manager"])
    east.members.add(people["am1"], people["manager"])
    result = import_analysis(paths["analysis_a"]).to_json()
    _quiet_queue()
    return {"import": result}


def _run_id() -> str:
    from corecustomers.web.customers.models import Analysis

    return str(Analysis.objects.order_by("-pk").values_list("run_id", flat=True)[0])


def _programme() -> None:
    from corecustomers.web.loyalty.models import Programme

    Programme.objects.update_or_create(
        pk=1, defaults={"earn_from_runs": True, "expiry": "days", "expiry_days": 30}
    )


def _submit(kind: str, params: dict[str, Any], **extra: Any) -> str:
    from corecustomers.web.jobs.runner import submit

    job, _ = submit(kind, params, channel="system", **extra)
    return str(job.pk)


def _customers(n: int) -> list[Any]:
    from corecustomers.web.customers.models import Customer

    return list(Customer.objects.order_by("pk")[:n])


def _contactable(n: int, channel: str) -> list[Any]:
    """``n`` customers with a name, a phone and an e-mail who granted care messages."""
    from corecustomers.web.contact.consent import ConsentChange, record_consents

    chosen = _customers(n)
    for i, customer in enumerate(chosen):
        customer.name = f"Customer {i}"
        customer.phone = f"138{i:08d}"
        customer.email = f"c{i}@example.com"
        customer.save()
        record_consents(customer, [ConsentChange("care", channel, "granted", source="test")])
    return chosen


def _interactions(n: int) -> None:
    from corecustomers.web.work.interactions import log_interaction

    admin = _admin()
    at = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)
    for i, customer in enumerate(_customers(n)):
        log_interaction(admin, customer, kind="call", channel="phone", notes=f"call {i}", at=at)


def _route_now() -> None:
    from corecustomers.web.work.routing import route_alerts

    route_alerts(_run_id())


def prepare(kind: str, paths: dict[str, str]) -> dict[str, Any]:
    """Set the base up for ``kind`` and queue its job; ``{"job": id or "", ...}``."""
    from django.utils import timezone

    if kind == "import_analysis":
        _programme()
        return {"job": _submit("import_analysis", {"folder": paths["analysis_b"]})}
    if kind == "import_customers":
        from corecustomers.web.customers.masterdata_jobs import store_upload, submit_import

        with open(paths["master_csv"], "rb") as handle:
            stored = store_upload(iter(lambda: handle.read(1 << 20), b""), "customers.csv")
        job, _ = submit_import(
            stored, name="customers.csv", dry_run=False, user=_admin(), channel="api"
        )
        return {"job": str(job.pk)}
    if kind == "run_analysis":
        from corecustomers.web.sources.registry import SourceSpec, register_source
        from corecustomers.web.sources.runs import request_run

        columns = {"customer_id": "1", "timestamp": "3", "amount": "5"}
        spec = SourceSpec(name="cdnow", file=Path(paths["transactions"]), columns=columns,
                          header=False)  # fmt: skip
        source, _ = register_source(spec, user=_admin())
        run, _ = request_run(source, user=_admin(), channel="api")
        return {"job": str(run.job_id)}
    if kind == "loyalty_earn_run":
        _programme()
        return {"job": _submit("loyalty_earn_run", {"run_id": _run_id()})}
    if kind == "loyalty_daily":
        from corecustomers.web.loyalty.earning import earn_run

        _programme()
        earn_run(_run_id())
        later = timezone.now() + dt.timedelta(days=40)
        return {"job": _submit("loyalty_daily", {"now": later.isoformat()})}
    if kind == "route_alerts":
        return {"job": _submit("route_alerts", {"run_id": _run_id()})}
    if kind == "escalate_alerts":
        from corecustomers.web.work.models import Alert

        _route_now()
        Alert.objects.filter(escalated_at__isnull=True).update(
            due_at=timezone.now() - dt.timedelta(days=1)
        )
        return {"job": _submit("escalate_alerts", {})}
    if kind == "send_emails":
        from corecustomers.web.accounts.models import User
        from corecustomers.web.work.models import Notification

        _route_now()  # the routing may write notifications; and 60 of our own to e-mail
        people = list(User.objects.order_by("username"))
        Notification.objects.bulk_create(
            Notification(user=people[i % len(people)], kind="test", message_en=f"note {i}")
            for i in range(60)
        )
        return {"job": _submit("send_emails", {})}
    if kind == "export_interactions":
        _interactions(300)
        _quiet_queue()  # logging queues an export of its own; ours is the one below
        return {"job": _submit("export_interactions", {})}
    if kind == "deliver_outbox":
        from corecustomers.web.contact.outbox import plan_messages
        from corecustomers.web.customers.models import ServiceSetting

        # no quiet hours: between 21:00 and 08:00 (the default's, in the service's time
        # zone) the SMS would be planned for the morning and the job would deliver nothing
        ServiceSetting.objects.update_or_create(key="contact_quiet_hours", defaults={"value": {}})
        chosen = _contactable(40, "sms")
        plan_messages(chosen, purpose="care", channels=["sms"], template="birthday",
                      occasion="birthday")  # fmt: skip
        _quiet_queue()
        return {"job": _submit("deliver_outbox", {})}
    if kind in {"plan_care_messages", "plan_contact_messages"}:
        chosen = _contactable(40, "sms")
        if kind == "plan_care_messages":
            # birthdays 14 days ahead (the rule's days_ahead) for half of them: the job
            # plans their care messages (without birthdays it plans nothing to check)
            day = timezone.localdate() + dt.timedelta(days=14)
            for customer in chosen[::2]:
                customer.birthday = day.replace(year=1980)  # a leap year: 29 February too
                customer.save(update_fields=["birthday"])
        _quiet_queue()
        return {"job": _submit(kind, {})}
    if kind in {"survey_checks", "export_survey_scores"}:
        return {"job": _submit(kind, {})}
    if kind == "sync_overrides":
        from corecustomers.web.customers.models import TierOverride

        for i, customer in enumerate(_customers(20)):  # set in the service, not yet pushed
            TierOverride.objects.create(
                customer=customer, tier="key", by="admin", reason=f"override {i}"
            )
        return {"job": _submit("sync_overrides", {})}
    if kind == "erase":
        from corecustomers.web.contact.outbox import plan_messages
        from corecustomers.web.loyalty.earning import earn_run

        _programme()
        earn_run(_run_id())
        chosen = _contactable(3, "sms")
        plan_messages(chosen, purpose="care", channels=["sms"], template="birthday",
                      occasion="birthday")  # fmt: skip
        _interactions(3)
        _quiet_queue()
        return {"job": "", "customer": chosen[0].external_id}
    raise ValueError(f"no fault scenario for {kind!r}")


def erase(customer_id: str) -> str:
    """What ``corecustomers privacy erase CUSTOMER_ID --yes`` does (a rerun: already gone)."""
    from corecustomers.web.audit.context import Actor, acting
    from corecustomers.web.customers.models import Customer
    from corecustomers.web.privacy.erase import erase_customer

    try:
        with acting(Actor(channel="cli")):
            erase_customer(customer_id, None, channel="cli")
    except Customer.DoesNotExist:
        return "already erased"
    return "erased"


def after_task() -> str:
    """What the worker does after any task it finishes (the loyalty app's hook on
    ``task_finished``): queue the day's loyalty job unless it was queued today."""
    from corecustomers.web.loyalty.jobs import queue_daily

    job = queue_daily()
    return "queued the day's loyalty job" if job is not None else "nothing to queue"


# --------------------------------------------------------------------------------------
# inspection


def stable_columns(model: Any) -> list[str]:
    """The columns whose values a correct rerun reproduces exactly.

    Left out: automatic primary keys and foreign keys to them (PostgreSQL does not give a
    rolled-back transaction's sequence numbers back, so ids shift after a crash) and UUIDs
    (new per call). Date-times (now at the time) are kept but compared only as set or
    not (:func:`_norm` masks the value): an e-mail sent (``emailed_at``), a message sent,
    an alert escalated must be so after the rerun as after the reference.
    """
    from django.db import models

    def volatile(field: Any) -> bool:
        if isinstance(field, models.AutoField | models.BigAutoField | models.SmallAutoField):
            return True
        if isinstance(field, models.UUIDField):
            return True
        if field.is_relation and (field.many_to_one or field.one_to_one):
            return volatile(field.target_field)
        return False

    skip = VOLATILE.get(model._meta.db_table, set())
    return [
        f.column for f in model._meta.concrete_fields if not volatile(f) and f.column not in skip
    ]


def _untimed(value: Any) -> Any:
    """A JSON value without the keys that hold how long something took (differs per run)."""
    if isinstance(value, dict):
        return {
            k: _untimed(v)
            for k, v in value.items()
            if not any(t in str(k) for t in ("seconds", "elapsed", "duration", "timing"))
        }
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value


def _signed(match: re.Match[str]) -> str:
    """A signed token with its signing time masked, everything else kept and checked.

    A message planned again (after a kill, or by a second clean run) is signed at another
    moment, so its token's time and with it the signature differ; the rest must not. The
    token stands as ``<signed SALT PAYLOAD at <time>>``: the salt whose key verifies the
    signature (a token that none verifies is left as it is, so it shows as a difference),
    the decoded payload (the customer, purpose, channel ... as planned; its random message
    key masked like any UUID) and the signing time, decoded and masked like any time.
    """
    from django.core import signing

    from corecustomers.web.contact.unsubscribe import SALT as UNSUBSCRIBE
    from corecustomers.web.surveys.responses import SALT as SURVEY

    token = match.group(0)
    for salt in (UNSUBSCRIBE, SURVEY):
        try:
            payload = signing.loads(token, salt=salt)  # verifies the signature, no max age
        except signing.BadSignature:
            continue
        signing.b62_decode(match.group(2))  # a time in seconds: masked below
        data = _UUID.sub("<uuid>", json.dumps(payload, sort_keys=True))
        return f"<signed {salt} {data} at <time>>"
    return token


def _norm(value: Any) -> Any:
    if isinstance(value, memoryview | bytes):
        return hashlib.sha256(bytes(value)).hexdigest()
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict | list):
        value = json.dumps(_untimed(value), sort_keys=True)
    if isinstance(value, str):
        if value[:1] in "[{":
            with contextlib.suppress(ValueError):
                value = json.dumps(_untimed(json.loads(value)), sort_keys=True)
        value = _SIGNED.sub(_signed, value)
        return _RUN_ID.sub("<run>", _UUID.sub("<uuid>", _TIMESTAMP.sub("<time>", value)))
    if isinstance(value, dt.datetime | dt.time):
        return "<time>"
    return str(value) if value is not None else None


#: Columns that hold a customer's automatic key as a plain number (not a foreign key, so
#: :func:`stable_columns` keeps them): compared as the customer's id instead. PostgreSQL
#: does not give a rolled-back transaction's sequence numbers back, so customers that a
#: killed import had created come back under other keys (found at 20 runs of
#: import_customers on PostgreSQL: the audit entries' keys 190 apart). A key column named
#: with an ``object_type`` column is mapped only where that says ``customer``.
CUSTOMER_KEYS: dict[str, dict[str, str | None]] = {
    "audit_auditentry": {"customer_key": None, "object_key": "object_type"},
    "privacy_fulfilment": {"customer_key": None},
}


def _by_external_id(
    rows: list[Any], columns: list[str], keys: dict[str, str | None], customers: dict[int, str]
) -> list[Any]:
    def mapped(row: Any) -> list[Any]:
        values = list(row)
        for column, kind_column in keys.items():
            if column not in columns:
                continue
            at = columns.index(column)
            if kind_column is not None and (
                kind_column not in columns or values[columns.index(kind_column)] != "customer"
            ):
                continue
            with contextlib.suppress(TypeError, ValueError):
                key = int(values[at])
                values[at] = f"<customer {customers.get(key, f'missing {key}')}>"
        return values

    return [mapped(row) for row in rows]


def _tables(*, whole: bool = False) -> dict[str, dict[str, Any]]:
    """Each table's rows; ``whole``: every column as stored (a restore must give back
    exactly these), else the :func:`stable_columns` with volatile values masked."""
    from django.apps import apps
    from django.db import connection

    from corecustomers.web.customers.models import Customer

    quote = connection.ops.quote_name
    out: dict[str, dict[str, Any]] = {}
    customers = dict(Customer.objects.values_list("pk", "external_id"))
    with connection.cursor() as cursor:
        for model in apps.get_models(include_auto_created=True):
            table = model._meta.db_table
            if table in SKIP_TABLES or model._meta.proxy or not model._meta.managed:
                continue
            if whole:
                columns = [f.column for f in model._meta.concrete_fields]
            else:
                columns = stable_columns(model)
            select = ", ".join(quote(c) for c in columns) or "1"
            cursor.execute(f"SELECT {select} FROM {quote(table)}")
            fetched = cursor.fetchall()
            if not whole and table in CUSTOMER_KEYS:
                fetched = _by_external_id(fetched, columns, CUSTOMER_KEYS[table], customers)
            if whole:
                rows = sorted(repr(list(row)) for row in fetched)
            else:
                rows = sorted(repr([_norm(v) for v in row]) for row in fetched)
            entry: dict[str, Any] = {
                "count": len(rows),
                "digest": hashlib.sha256("\n".join(rows).encode()).hexdigest(),
                "columns": columns,
            }
            if len(rows) <= KEEP_ROWS:
                entry["rows"] = rows
            out[table] = entry
    return out


def _files(root: Path) -> dict[str, Any]:
    """The workspace's files: every path, and for Parquet files the row count."""
    import pyarrow.parquet as pq

    out: dict[str, Any] = {}
    if not root.is_dir():
        return out
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        name = str(path.relative_to(root))
        if path.suffix in {".duckdb", ".wal", ".sqlite3", ".log", ".pid"} or "-wal" in name:
            continue
        if name.endswith(("-shm", "-journal", ".serving")) or "/static/" in f"/{name}":
            continue
        name = _RUN_ID.sub("<run>", _UUID.sub("<uuid>", name))
        if path.suffix == ".parquet":
            try:
                out[name] = {"rows": pq.ParquetFile(path).metadata.num_rows}
            except Exception as exc:  # a damaged file is a finding, not a crash of the check
                out[name] = {"error": f"{type(exc).__name__}: {exc}"}
        else:
            out[name] = {"size": path.stat().st_size}
    return out


def _invariants(kind: str, params: dict[str, Any]) -> dict[str, list[str]]:
    from django.db.models import Count

    from corecustomers.web.customers.models import Customer
    from corecustomers.web.loyalty.checks import ledger_problems

    found: dict[str, list[str]] = {"ledger": list(ledger_problems())}
    dupes = Customer.objects.values("external_id").annotate(n=Count("pk")).filter(n__gt=1).count()
    found["customers unique"] = [f"{dupes} duplicate customer ids"] if dupes else []
    checks: dict[str, Callable[[dict[str, Any]], list[str]]] = {
        "deliver_outbox": _outbox_files,
        "export_interactions": _export_rows,
        "erase": _erased,
    }
    if kind in checks:
        found[kind] = checks[kind](params)
    return found


def _outbox_files(params: dict[str, Any]) -> list[str]:
    from corecustomers.web.contact.adapters import outbox_folder
    from corecustomers.web.contact.models import OutboxMessage

    problems = []
    sending = OutboxMessage.objects.filter(status="sending").count()
    if sending:
        problems.append(f"{sending} messages left 'sending'")
    sent = set(OutboxMessage.objects.filter(status="sent").values_list("dedup_key", flat=True))
    files = {p.stem for p in outbox_folder().glob("*.json")}
    if sent != files:
        problems.append(
            f"sent {len(sent)} but {len(files)} files; differ: {sorted(sent ^ files)[:5]}"
        )
    parts = list(outbox_folder().glob("*.part"))
    if parts:
        problems.append(f"{len(parts)} half-written .part files left")
    return problems


def _export_rows(params: dict[str, Any]) -> list[str]:
    import pyarrow.parquet as pq

    from corecustomers.web.jobs.models import Job
    from corecustomers.web.work.models import Interaction

    job = Job.objects.filter(kind="export_interactions", status="succeeded").first()
    if job is None or not job.result:
        return ["no finished export"]
    rows = pq.read_table(job.result["file"]).num_rows
    expected = Interaction.objects.count()
    return [] if rows == expected else [f"export has {rows} rows, the table {expected}"]


def _erased(params: dict[str, Any]) -> list[str]:
    from corecustomers.web.customers.models import Customer
    from corecustomers.web.privacy.models import Fulfilment

    problems = []
    original = params["customer"]
    if Customer.objects.filter(external_id=original).exists():
        problems.append(f"customer {original} is still there")
    done = list(Fulfilment.objects.filter(kind="erase"))
    if len(done) != 1:
        problems.append(f"{len(done)} erasure records (one expected)")
    for record in done:
        files = (record.details or {}).get("files")
        if not files or files.get("complete") is False or "error" in files:
            problems.append(
                f"the erasure record says the file cleaning did not complete: {files!r}"
            )
        if record.pending or record.completed is None:
            problems.append(
                f"the erasure is not complete: pending {record.pending}, "
                f"completed {record.completed}"
            )
    return problems


def inspect(kind: str, params: dict[str, Any], *, whole: bool = False) -> dict[str, Any]:
    from django.conf import settings

    from corecustomers.web.jobs.models import Job

    jobs = Counter(f"{k}:{s}" for k, s in Job.objects.values_list("kind", "status"))
    target = None
    if params.get("job"):
        row = Job.objects.filter(pk=params["job"]).first()
        if row is not None:
            target = {
                "status": row.status,
                "attempts": row.attempts,
                "error": row.error[-2000:],
                "result": row.result,
                "seconds": (row.finished - row.started).total_seconds()
                if row.finished and row.started
                else None,
            }
    return {
        "tables": _tables(whole=whole),
        "jobs": dict(sorted(jobs.items())),
        "target": target,
        "files": _files(Path(settings.WORKSPACE)),
        "invariants": _invariants(kind, params),
        "env": {k: v for k, v in os.environ.items() if k.startswith("CORECUSTOMERS_JOB")},
    }
