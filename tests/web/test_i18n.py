"""The Simplified Chinese catalogue: complete, placeholders intact, the committed .mo current.

The ``.po`` is read with a small parser here (no gettext tools needed to run the test) and
compared with the committed ``.mo`` as Python's :mod:`gettext` loads it — the same bytes
Django reads.
"""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = ROOT / "src" / "corecustomers" / "web" / "locale" / "zh_Hans" / "LC_MESSAGES"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _string(lines: list[str]) -> str:
    return "".join(ast.literal_eval(line) for line in lines)


def parse_po(path: Path) -> dict[str | tuple[str, str], list[str]]:
    """``msgid`` (or ``(msgid, msgid_plural)``) → translations, fuzzy entries skipped.

    A message with a context is keyed ``context + "\\x04" + msgid``, as in a ``.mo`` file.
    """
    entries: dict[str | tuple[str, str], list[str]] = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith("#")]
        if "#, fuzzy" in block and not block.lstrip().startswith("# "):
            continue
        fields: dict[str, list[str]] = {}
        current = ""
        for line in lines:
            if line.startswith('"'):
                fields[current].append(line)
            else:
                current, _, rest = line.partition(" ")
                fields[current] = [rest]
        if "msgid" not in fields:
            continue
        msgid = _string(fields["msgid"])
        if not msgid:
            continue
        if "msgctxt" in fields:  # stored as gettext does: context, EOT, message
            msgid = _string(fields["msgctxt"]) + "\x04" + msgid
        if "msgid_plural" in fields:
            plural = _string(fields["msgid_plural"])
            forms = [_string(v) for k, v in sorted(fields.items()) if k.startswith("msgstr[")]
            entries[(msgid, plural)] = forms
        else:
            entries[msgid] = [_string(fields["msgstr"])]
    return entries


@pytest.fixture(scope="module")
def catalogue() -> dict[str | tuple[str, str], list[str]]:
    return parse_po(MESSAGES / "django.po")


def test_every_message_is_translated(catalogue: dict[str | tuple[str, str], list[str]]) -> None:
    assert len(catalogue) > 200
    untranslated = [key for key, forms in catalogue.items() if not all(forms)]
    assert untranslated == []


def test_placeholders_survive_translation(
    catalogue: dict[str | tuple[str, str], list[str]],
) -> None:
    broken = []
    for key, forms in catalogue.items():
        source = key if isinstance(key, str) else key[0] + key[1]
        wanted = set(PLACEHOLDER.findall(source))
        for form in forms:
            if set(PLACEHOLDER.findall(form)) != wanted:
                broken.append((key, form))
            # a literal percent sign must stay escaped in a python-format string
            if "%%" in source and "%%" not in form:
                broken.append((key, form))
    assert broken == []


def test_compiled_catalogue_is_up_to_date(
    catalogue: dict[str | tuple[str, str], list[str]],
) -> None:
    with (MESSAGES / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for key, forms in catalogue.items():
        if isinstance(key, str):
            context, _, message = key.rpartition("\x04")
            found = compiled.pgettext(context, message) if context else compiled.gettext(key)
            if found != forms[0]:
                stale.append(key)
        elif compiled.ngettext(key[0], key[1], 1) != forms[0]:
            stale.append(key[0])
    assert stale == []
    # and nothing in the .mo that the .po no longer has
    po_ids = {key if isinstance(key, str) else key[0] for key in catalogue}
    mo_ids = {
        (k[0] if isinstance(k, tuple) else k)
        for k in compiled._catalog  # type: ignore[attr-defined]
        if k and k != ""
    }
    assert mo_ids <= po_ids


@pytest.mark.django_db
def test_browser_language_decides_until_the_user_chooses(people: object) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    html = client.get("/login/").content.decode()
    assert 'lang="zh-CN"' in html and "登录" in html
    assert client.login(username="am1", password="correct-horse-battery-9")
    client.post("/language/", {"language": "en", "next": "/"})
    html = client.get("/").content.decode()
    assert 'lang="en"' in html and "Dashboard" in html
