"""Retention: how long each kind of personal data is kept, applied once a day.

Each kind has a period in days, from ``CORECUSTOMERS_RETAIN_<KIND>_DAYS`` (``0`` keeps it
for ever); the defaults:

==================  ======  ===========================================================
kind                days    what happens when it is older
==================  ======  ===========================================================
``interactions``     1826   (5 years) the personal fields of the interaction (notes,
                            next step; see :mod:`.registry`) are blanked; the row stays,
                            so counts of contacts and outcomes still add up
``raw_uploads``        90   uploaded files (master data, sources) are removed, except a
                            file a registered source still reads
``analyses``          365   the folders of the analyses the service ran (their
                            ``quarantine.csv`` holds raw source values) are removed,
                            except each source's newest
``outbox``             90   messages the file adapter wrote to the outbox are removed
==================  ======  ===========================================================

The worker's scheduler queues the job ``privacy_retention`` daily at 03:00 (the privacy
app's ``periodic_jobs``); it also finishes any erasure whose cleaning after its commit
is still pending (:func:`.finish.finish_unfinished`). Each run is audited
(``privacy_retention``, with what was done per kind). ``corecustomers privacy retention``
runs it now and prints the rules.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from corecustomers.errors import ConfigError
from corecustomers.web.audit.log import record
from corecustomers.web.privacy.registry import personal_fields

__all__ = ["JOB", "RULES", "Rule", "apply_retention", "rules"]

JOB = "privacy_retention"


@dataclass(frozen=True)
class Rule:
    kind: str
    default_days: int
    what: str

    @property
    def variable(self) -> str:
        return f"CORECUSTOMERS_RETAIN_{self.kind.upper()}_DAYS"

    def days(self) -> int:
        """The period in days (``0``: kept for ever)."""
        text = os.environ.get(self.variable, "").strip()
        if not text:
            return self.default_days
        try:
            value = int(text)
        except ValueError:
            value = -1
        if value < 0:
            raise ConfigError(
                f"{self.variable}={text!r}: give a whole number of days (0 keeps for ever)"
            )
        return value


RULES: tuple[Rule, ...] = (
    Rule("interactions", 1826, "the notes and next step of older interactions are blanked"),
    Rule("raw_uploads", 90, "older uploaded files are removed (not a source's current file)"),
    Rule("analyses", 365, "older analysis folders are removed (not a source's newest)"),
    Rule("outbox", 90, "older messages in the outbox folder are removed"),
)


def rules() -> list[dict[str, Any]]:
    """The rules as they are set now (for administrators: API and command line)."""
    return [
        {"kind": r.kind, "days": r.days(), "default_days": r.default_days, "setting": r.variable,
         "what": r.what}
        for r in RULES
    ]  # fmt: skip


def _old_files(folder: Path, cutoff: float) -> list[Path]:
    if not folder.is_dir():
        return []
    return [p for p in folder.rglob("*") if p.is_file() and p.stat().st_mtime < cutoff]


def _interactions(cutoff: dt.datetime) -> int:
    from corecustomers.web.work.models import Interaction

    values: dict[str, Any] = {}
    for name in personal_fields(Interaction):
        field = Interaction._meta.get_field(name)
        values[name] = None if field.null else ""
    if not values:
        return 0
    old = Interaction.objects.filter(at__lt=cutoff)
    pending = old.exclude(**{name: value for name, value in values.items()})
    with transaction.atomic():
        return int(pending.update(**values))


def _uploads(cutoff: float) -> int:
    from corecustomers.web.sources.models import Source

    in_use = {Path(p).resolve() for p in Source.objects.values_list("file_path", flat=True) if p}
    removed = 0
    for path in _old_files(Path(settings.UPLOAD_FOLDER), cutoff):
        if path.resolve() not in in_use:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _analyses(cutoff: float) -> int:
    base = Path(settings.SERVICE_FOLDER) / "analyses"
    removed = 0
    if not base.is_dir():
        return 0
    for source in (p for p in base.iterdir() if p.is_dir()):
        runs = sorted((p for p in source.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
        for folder in runs[:-1]:  # the newest stays
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
    return removed


def _outbox(cutoff: float) -> int:
    from corecustomers.web.contact.adapters import outbox_folder

    removed = 0
    for path in _old_files(outbox_folder(), cutoff):
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def apply_retention(now: dt.datetime | None = None) -> dict[str, Any]:
    """Apply every rule as of ``now`` (default: now); what was done per kind (audited)."""
    moment = now or timezone.now()
    done: dict[str, Any] = {}
    for rule in RULES:
        days = rule.days()
        if days == 0:
            done[rule.kind] = {"days": 0, "changed": 0}
            continue
        cutoff = moment - dt.timedelta(days=days)
        stamp = cutoff.timestamp()
        if rule.kind == "interactions":
            changed = _interactions(cutoff)
        elif rule.kind == "raw_uploads":
            changed = _uploads(stamp)
        elif rule.kind == "analyses":
            changed = _analyses(stamp)
        else:
            changed = _outbox(stamp)
        done[rule.kind] = {"days": days, "before": cutoff.isoformat(), "changed": changed}
    record(
        JOB,
        object_type="retention",
        message="applied the retention rules",
        after=done,
        row_count=sum(int(v["changed"]) for v in done.values()),
    )
    return done


def _job(job: Any, progress: Any) -> dict[str, Any]:
    """The scheduled run: the rules as of its due time (a late run cuts at the same day)."""
    progress(0.0, "applying the retention rules")
    due = (job.params or {}).get("due")
    done = apply_retention(dt.datetime.fromisoformat(due) if due else None)
    # and every erasure whose cleaning after its commit is still pending (see .finish)
    from corecustomers.web.privacy.finish import finish_unfinished

    return {**done, "erasures_finished": finish_unfinished()}


def connect() -> None:
    """Register the job (called from the app's ``ready``)."""
    from corecustomers.web.jobs.runner import register

    register(JOB, _job)
