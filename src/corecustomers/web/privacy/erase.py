"""Erasure: the person is gone, their rows stay (ledgers and aggregates still balance).

For one customer, in one transaction:

1. every personal field (see :mod:`.registry`) of every row linked to the customer is
   blanked (``""`` or ``NULL``); the external id becomes ``erased:`` and the keyed
   pseudonym, so the row can no longer be found by the old id;
2. any other text or JSON value of those rows, and of the audit entries about the customer
   or naming one of their identifiers, has each identifier replaced by ``[erased]`` --
   audit entries are otherwise append-only; this is the one sanctioned rewrite; every
   other table of the service has the id, phone and e-mail replaced the same way (job
   results, source runs …; not the name, which may be someone else's there);
3. the old id goes on the suppression list (its keyed hash only), and so does the
   erased id;
4. a :class:`~.models.Fulfilment` and an audit entry record who erased whom (by pseudonym)
   and how many rows of which tables were touched; the record lists the cleaning stages
   still to do after the commit (``pending``), and a job that does them is queued in the
   same transaction (:mod:`.finish`).

Before that transaction, the erasure's :mod:`.journal` is written (the identifiers, for
the stages after the commit, and what each attempt did), then the stores outside the
database are cleaned (:mod:`.stores`): the suppression file in the workspace's folder
gets both hashes first (so an analysis starting meanwhile leaves the customer out), then
the workspace (DuckDB, rewritten under its exclusive lock) and every file the service
keeps have the identifiers replaced. If the workspace stays busy, the erasure stops there
with an error and nothing in the database has changed: run it again. A process killed
before the commit leaves the database as it was: a new request does it all again.

After the commit (:mod:`.finish`, run at once by the process that asked, and taken up
again by the next worker or a new request if that process dies): the files are checked
once more (an export written meanwhile), the suppression file is written from the
database, and the deleted bytes are removed from the database files: SQLite runs with
``PRAGMA secure_delete`` during the erasure, then ``VACUUM`` and a WAL checkpoint that
truncates the log; PostgreSQL first waits until every transaction older than the erasure
has ended (any of them, in any database of the cluster, makes VACUUM keep the old row
versions; ``CORECUSTOMERS_PRIVACY_VACUUM_WAIT`` seconds at most, 120 by default; the
record says whether the way was clear), then runs ``VACUUM FULL`` on the affected tables
(it rewrites them and their indexes; an exclusive lock on those tables for its duration).
PostgreSQL's WAL archive and older backups are outside this (see the README).
"""

from __future__ import annotations

import os
import time
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError, connection, models, transaction

from corecustomers.web.audit.log import record
from corecustomers.web.audit.models import AuditEntry
from corecustomers.web.customers.models import Customer
from corecustomers.web.jobs.runner import run_job
from corecustomers.web.privacy.export import PrivacyForbiddenError, role_of, subject
from corecustomers.web.privacy.finish import STAGES, queue_finish, resume
from corecustomers.web.privacy.journal import Journal
from corecustomers.web.privacy.matching import (
    Identifiers,
    candidates,
    naming_audit_entries,
    text_fields,
)
from corecustomers.web.privacy.models import Fulfilment, RequestKind, Suppression
from corecustomers.web.privacy.registry import (
    customer_models,
    label,
    linked_rows,
    personal_fields,
)
from corecustomers.web.privacy.stores import Replacer, scrub_files, scrub_workspace
from corecustomers.web.privacy.suppression import key_hash, suppress, write_file

__all__ = ["clean_database_files", "erase_customer", "erased_id_of", "unfinished_erasure"]

ERASED_PREFIX = "erased:"


def _blank(field: models.Field[Any, Any]) -> Any:
    if field.null:
        return None
    if isinstance(field, models.CharField | models.TextField):
        return ""
    if isinstance(field, models.JSONField):
        return {} if isinstance(field.get_default(), dict) else []
    return field.get_default()


def _blank_personal(model: type[models.Model], pks: list[Any]) -> list[str]:
    names = personal_fields(model)
    values = {}
    for name in names:
        field = model._meta.get_field(name)
        values[field.name] = _blank(field)  # type: ignore[arg-type]
    if values:
        model._default_manager.filter(pk__in=pks).update(**values)
    return names


def _scrub_rows(rows: list[Any], model: type[models.Model], ids: Identifiers) -> int:
    texts, jsons = text_fields(model)
    changed = 0
    for obj in rows:
        updates = {
            name: ids.scrub(getattr(obj, name))
            for name in texts + jsons
            if ids.found_in(getattr(obj, name))
        }
        if updates:
            model._default_manager.filter(pk=obj.pk).update(**updates)
            changed += 1
    return changed


def _sweep(
    linked: set[type[models.Model]], customer: Customer, tables: list[str]
) -> dict[str, int]:
    """Replace the id, phone and e-mail in every other table's text and JSON (job results,
    source runs, notifications without a customer …); how many rows per table.

    The name is left out here: in tables not about this customer, the same name may well
    be someone else's.
    """
    ids = Identifiers(customer, with_name=False)
    swept: dict[str, int] = {}
    skip = {*linked, AuditEntry, Suppression, Fulfilment}
    for model in apps.get_models():
        if model in skip or not model._meta.managed or model._meta.proxy:
            continue
        changed = _scrub_rows(list(candidates(model, ids)), model, ids)
        if changed:
            swept[label(model)] = changed
            tables.append(model._meta.db_table)
    return swept


def _transaction_id() -> int | None:
    """The id of the open transaction on PostgreSQL (``None`` elsewhere)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()::text::bigint")
        return int(cursor.fetchone()[0])


def clean_database_files(tables: list[str], erase_xid: int | None = None) -> dict[str, Any]:
    """Remove the deleted bytes from the database files (outside any transaction)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # another connection of a shared cache (the job's heartbeat thread, on the
            # tests' in-memory database) can hold a table lock for a moment: VACUUM then
            # fails with "database table is locked"; try again for a few seconds
            for attempt in range(50):
                try:
                    cursor.execute("VACUUM")
                    break
                except OperationalError as exc:
                    if "locked" not in str(exc) or attempt == 49:
                        raise
                    time.sleep(0.1)
            # the log keeps the old pages until a checkpoint truncates it; another
            # connection's transaction (a job's heartbeat, a page view) makes it busy for a
            # moment: try again for a few seconds before saying it is not done
            for _ in range(50):
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                row = cursor.fetchone()
                busy = bool(row and row[0])
                if not busy:
                    break
                time.sleep(0.1)
            return {
                "sqlite": "secure_delete, VACUUM",
                "wal_checkpoint_busy": busy,
                # busy: the write-ahead log may still hold the old pages; the stage stays
                # pending and is done again (see .finish)
                "complete": not busy,
            }
        if connection.vendor == "postgresql":
            waited, clear = _wait_for_older_transactions(cursor, erase_xid)
            quote = connection.ops.quote_name
            for table in sorted(set(tables)):
                cursor.execute(f"VACUUM (FULL) {quote(table)}")
            return {
                "postgresql": "VACUUM FULL",
                "tables": sorted(set(tables)),
                "waited_seconds": round(waited, 1),
                # False: a transaction older than the erasure was still running, so VACUUM
                # had to keep the old row versions; run VACUUM FULL on the tables again.
                "complete": clear,
            }
    return {connection.vendor: "no file cleaning for this database"}


def vacuum_wait() -> float:
    """``CORECUSTOMERS_PRIVACY_VACUUM_WAIT`` (seconds, default 120; or the Django setting
    ``PRIVACY_VACUUM_WAIT``)."""
    raw = os.environ.get("CORECUSTOMERS_PRIVACY_VACUUM_WAIT")
    if raw is None:
        return float(getattr(settings, "PRIVACY_VACUUM_WAIT", 120))
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise ImproperlyConfigured(
            f"CORECUSTOMERS_PRIVACY_VACUUM_WAIT={raw!r}: give a number of seconds, such as 120"
        )
    return value


def _wait_for_older_transactions(cursor: Any, erase_xid: int | None) -> tuple[float, bool]:
    """Wait (up to :func:`vacuum_wait` seconds) until no transaction that began before
    the erasure committed is still running.

    VACUUM keeps every row version that a running transaction might still see -- on
    PostgreSQL any transaction of the cluster holds back the oldest visible id -- so the
    erased values would survive it. How long it waited, and whether the way is clear.
    """
    if erase_xid is None:
        return 0.0, True
    limit = vacuum_wait()
    start = time.monotonic()
    while True:
        cursor.execute(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint > %s "
            "AND NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
            "AND datname = current_database() AND backend_xmin IS NOT NULL "
            "AND age(backend_xmin) > age((%s %% 4294967296)::text::xid))",
            [erase_xid, erase_xid],
        )
        clear = bool(cursor.fetchone()[0])
        waited = time.monotonic() - start
        if clear or waited >= limit:
            return waited, clear
        time.sleep(0.5)


def _merge_rows(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {key: a.get(key, 0) + b.get(key, 0) for key in sorted({*a, *b})}


def _outside(customer: Customer, journal: Journal) -> tuple[Replacer, dict[str, Any]]:
    """Clean the workspace and the stored files (before the database; see the module).

    The journal carries what an earlier attempt, killed before its commit, did: its rows
    and files count in the record, and a workspace whose values it replaced is rewritten
    even though no value is found any more (the old bytes are still in the file)."""
    replacer = Replacer(Identifiers(customer), journal.erased_id)
    write_file([key_hash(customer.external_id), key_hash(journal.erased_id)])
    earlier = journal.data.get("workspace") or {}
    rows = dict(earlier.get("rows") or {})
    unfinished = journal.data.get("workspace_state") in {"started", "replaced"}
    journal.update(workspace_state="started")

    def replaced(found: dict[str, int]) -> None:
        journal.update(
            workspace_state="replaced", workspace={**earlier, "rows": _merge_rows(rows, found)}
        )

    workspace = scrub_workspace(replacer, rewrite=unfinished, on_replaced=replaced)
    if "rows" in workspace:
        workspace["rows"] = _merge_rows(rows, workspace["rows"])
    for flag in ("rewritten", "vacuumed"):
        if flag in earlier and flag in workspace:
            workspace[flag] = earlier[flag] or workspace[flag]
    journal.update(workspace_state="done", workspace=workspace)
    stored: dict[str, str] = dict(journal.data.get("stored_files") or {})

    def cleaned(path: str, what: str) -> None:
        stored[path] = what
        journal.update(stored_files=stored)

    scrub_files(replacer, on_file=cleaned)
    return replacer, {"workspace": workspace, "stored_files": stored}


def erased_id_of(customer: Customer) -> str:
    """The id an erased customer's row keeps: ``erased:`` and the keyed pseudonym."""
    return ERASED_PREFIX + customer.pseudonym.removeprefix("p-")


def unfinished_erasure(customer_id: str) -> Fulfilment | None:
    """The erasure of ``customer_id`` whose cleaning is not complete, if there is one."""
    return (
        Fulfilment.objects.filter(
            kind=RequestKind.ERASE, id_hash=key_hash(customer_id), completed__isnull=True
        )
        .order_by("pk")
        .first()
    )


def erase_customer(
    customer_id: str,
    user: Any,
    *,
    channel: str = "web",
    clean_files: bool = True,
) -> Fulfilment:
    """Erase ``customer_id`` (administrators only; ``user`` ``None`` is the command line).

    The record returned is complete (``completed`` set, nothing ``pending``) unless a
    cleaning stage after the commit could not be done now (see :mod:`.finish`), or
    ``clean_files`` is false (the stages are left to the job queued with the record). A
    request for an id whose erasure was interrupted after its commit finishes it.

    Raises
    ------
    PrivacyForbiddenError
        ``user`` is not an administrator.
    Customer.DoesNotExist
        No such customer (or erased already, completely).
    corecustomers.errors.SourceError
        The workspace stayed in use by another process (the database is unchanged).
    """
    if role_of(user) != "admin":
        raise PrivacyForbiddenError("only administrators may erase a customer's data")
    vacuum_wait()  # a bad setting is refused before anything changes
    if customer_id.startswith(ERASED_PREFIX):  # erased already: nobody left to erase
        raise Customer.DoesNotExist(customer_id)
    unfinished = unfinished_erasure(customer_id)
    if unfinished is not None:  # killed after its commit: finish the cleaning
        return resume(unfinished, user=user, channel=channel) if clean_files else unfinished
    found = subject(customer_id, user, "admin")
    journal = Journal.begin(found, erased_id_of(found))
    _, outside = _outside(found, journal)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA secure_delete = ON")
    with transaction.atomic():
        customer = subject(customer_id, user, "admin")
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        erase_xid = _transaction_id()
        ids = Identifiers(customer)
        original_id = customer.external_id
        erased_id = erased_id_of(customer)
        linked = linked_rows(customer)
        counts: dict[str, int] = {}
        blanked: dict[str, list[str]] = {}
        tables: list[str] = []
        Customer.objects.filter(pk=customer.pk).update(external_id=erased_id, in_master_data=False)
        for part in linked:
            blanked[part.label] = _blank_personal(part.model, part.pks)
            _scrub_rows(list(part.rows()), part.model, ids)
            counts[part.label] = len(part.pks)
            tables.append(part.model._meta.db_table)
        entries = naming_audit_entries(customer, ids)
        counts[label(AuditEntry)] = _scrub_rows(entries, AuditEntry, ids)
        tables.append(AuditEntry._meta.db_table)
        swept = _sweep(customer_models(), customer, tables)
        suppress(original_id)
        suppress(erased_id)
        done = Fulfilment.objects.create(
            kind=RequestKind.ERASE,
            customer_key=customer.pk,
            subject=customer.pseudonym,
            by=user if user is not None and user.is_authenticated else None,
            username=getattr(user, "username", "") if user is not None else "",
            channel=channel,
            counts=counts,
            details={
                "blanked": blanked,
                "swept": swept,
                "suppressed": True,
                **outside,
                "tables": sorted(set(tables)),
            },
            id_hash=key_hash(original_id),
            pending=list(STAGES),
        )
        record(
            "privacy_erase",
            object_type="customer",
            object_key=customer.pk,
            customer_key=customer.pk,
            message=f"erased the personal data of customer {customer.pseudonym}",
            row_count=sum(counts.values()),
            user=user,
            channel=channel,
        )
        job = queue_finish(done, erase_xid=erase_xid, user=user, channel=channel)
        if clean_files:
            # VACUUM cannot run in a transaction: after the commit (at once, unless the
            # caller holds an outer transaction; then when that one commits). Killed
            # meanwhile, the job is taken up again (see .finish).
            transaction.on_commit(lambda: run_job(str(job.pk)))
    done.refresh_from_db()
    return done
