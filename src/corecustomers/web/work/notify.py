"""Notifications: a row per message in the app, and one e-mail each (Django's e-mail framework).

Writing a notification and sending its e-mail are separate steps: the row is written in the
transaction that routes or escalates the alert; :func:`send_pending_emails` (a job, run
after that commit) sends each unsent one and records ``emailed_at``, so a notification is
e-mailed once even when several workers run.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from corecustomers.web.work.models import Notification

__all__ = ["notify", "send_pending_emails"]

log = logging.getLogger(__name__)


def notify(
    user: Any,
    kind: str,
    *,
    message_en: str,
    message_zh: str,
    alert: Any = None,
    customer: Any = None,
) -> Notification:
    return Notification.objects.create(
        user=user,
        kind=kind,
        message_en=message_en,
        message_zh=message_zh,
        alert=alert,
        customer=customer,
    )


def send_pending_emails(limit: int = 500) -> dict[str, int]:
    """E-mail up to ``limit`` notifications not yet e-mailed (to users with an address).

    A failure (the SMTP server is down) is recorded on the row and retried on the next run.
    """
    sent = failed = 0
    with transaction.atomic():
        batch = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(emailed_at__isnull=True)
            .exclude(user__email="")
            .select_related("user")
            .order_by("pk")[:limit]
        )
        for note in batch:
            chinese = (note.user.language or "").startswith("zh")
            body = note.message_zh if chinese and note.message_zh else note.message_en
            subject = "corecustomers: " + body.splitlines()[0][:100]
            try:
                send_mail(subject, body, None, [note.user.email])
            except Exception as exc:
                log.warning("e-mail to %s failed: %s", note.user.email, exc)
                Notification.objects.filter(pk=note.pk).update(email_error=str(exc)[:500])
                failed += 1
            else:
                Notification.objects.filter(pk=note.pk).update(
                    emailed_at=timezone.now(), email_error=""
                )
                sent += 1
    return {"sent": sent, "failed": failed}
