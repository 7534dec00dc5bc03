"""Bilingual message templates: the defaults per occasion, and rendering.

A template has a subject and a body in English and in Chinese with ``$name``-style
placeholders (:class:`string.Template`; ``$$`` is a dollar sign): ``$name``, ``$company``,
``$occasion``, ``$date`` and ``$unsubscribe_url``, and any a caller adds (a survey
invitation's ``$survey_url``; placeholders nobody fills stay as written). An administrator's
:class:`~corecustomers.web.contact.models.MessageTemplate` row replaces the default of the
same code. Messages are plain text: nothing in them is interpreted as HTML.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from corecustomers.web.contact.models import MessageTemplate

__all__ = ["DEFAULT_TEMPLATES", "PLACEHOLDERS", "Wording", "load", "render", "template_for"]

PLACEHOLDERS = ("name", "company", "occasion", "date", "unsubscribe_url")


@dataclass(frozen=True)
class Wording:
    code: str
    purpose: str
    subject_en: str
    body_en: str
    subject_zh: str
    body_zh: str
    uses_sensitive_data: bool = False


_UNSUB_EN = "\n\nTo stop these messages: $unsubscribe_url"
_UNSUB_ZH = "\n\n退订：$unsubscribe_url"


def _care(code: str, en: str, zh: str) -> Wording:
    return Wording(
        code,
        "care",
        f"{en} greetings",
        f"Dear $name,\n\nWarm wishes for {en} ($date) from all of us.{_UNSUB_EN}",
        f"{zh}问候",
        f"尊敬的$name：\n\n值此{zh}（$date）之际，谨致以诚挚的祝福。{_UNSUB_ZH}",
    )


DEFAULT_TEMPLATES: dict[str, Wording] = {
    w.code: w
    for w in (
        Wording(
            "birthday",
            "care",
            "Happy birthday, $name",
            f"Dear $name,\n\nHappy birthday! Thank you for being with us.{_UNSUB_EN}",
            "$name，生日快乐",
            f"尊敬的$name：\n\n祝您生日快乐！感谢您一直以来的支持。{_UNSUB_ZH}",
        ),
        _care("spring_festival", "Spring Festival", "春节"),
        _care("lantern", "Lantern Festival", "元宵节"),
        _care("dragon_boat", "Dragon Boat Festival", "端午节"),
        _care("qixi", "Qixi Festival", "七夕"),
        _care("mid_autumn", "Mid-Autumn Festival", "中秋节"),
        _care("double_ninth", "Double Ninth Festival", "重阳节"),
        _care("new_year", "New Year", "新年"),
        _care("valentines", "Valentine's Day", "情人节"),
        _care("womens_day", "Women's Day", "妇女节"),
        _care("mothers_day", "Mother's Day", "母亲节"),
        _care("fathers_day", "Father's Day", "父亲节"),
        _care("national_day", "National Day", "国庆节"),
        _care("thanksgiving", "Thanksgiving", "感恩节"),
        _care("christmas", "Christmas", "圣诞节"),
        Wording(
            "newsletter",
            "marketing",
            "News for $name",
            f"Dear $name,\n\nHere is what is new for you this month.{_UNSUB_EN}",
            "$name，本月资讯",
            f"尊敬的$name：\n\n以下是本月为您准备的新内容。{_UNSUB_ZH}",
        ),
        Wording(
            "service_notice",
            "service",
            "A notice about your account",
            "Dear $name,\n\nWe have an update about your account.",
            "账户通知",
            "尊敬的$name：\n\n您的账户有一条新的通知。",
        ),
        Wording(
            "survey_invitation",
            "surveys",
            "How are we doing, $name?",
            f"Dear $name,\n\nPlease tell us how we are doing.{_UNSUB_EN}",
            "$name，请您评价我们的服务",
            f"尊敬的$name：\n\n请告诉我们您对我们服务的评价。{_UNSUB_ZH}",
        ),
    )
}


def template_for(code: str) -> Wording:
    """The administrator's template ``code``, else the default; ``KeyError`` if neither."""
    row = MessageTemplate.objects.filter(code=code).first()
    if row is not None:
        return Wording(
            row.code,
            row.purpose,
            row.subject_en,
            row.body_en,
            row.subject_zh,
            row.body_zh,
            row.uses_sensitive_data,
        )
    return DEFAULT_TEMPLATES[code]


def load() -> dict[str, Wording]:
    """Every template: the defaults with the administrator's rows over them."""
    found = dict(DEFAULT_TEMPLATES)
    for row in MessageTemplate.objects.all():
        found[row.code] = template_for(row.code)
    return found


def render(wording: Wording, language: str, values: dict[str, str]) -> tuple[str, str]:
    """``(subject, body)`` in ``language`` ("zh" or "en"), placeholders filled."""
    zh = language.startswith("zh")
    subject = wording.subject_zh if zh else wording.subject_en
    body = wording.body_zh if zh else wording.body_en
    fill = {**{key: "" for key in PLACEHOLDERS}, **values}
    return (
        string.Template(subject).safe_substitute(fill).replace("\n", " ")[:300],
        string.Template(body).safe_substitute(fill),
    )
