"""The contact app's own Chinese catalogue: complete, placeholders intact, the .mo current."""

from __future__ import annotations

import gettext
from pathlib import Path

from tests.web.test_i18n import PLACEHOLDER, parse_po

ROOT = Path(__file__).resolve().parents[3]
MESSAGES = ROOT / "src" / "corecustomers" / "web" / "contact" / "locale" / "zh_Hans" / "LC_MESSAGES"


def test_the_contact_catalogue_is_complete_and_compiled() -> None:
    catalogue = parse_po(MESSAGES / "django.po")
    assert len(catalogue) > 100
    assert [k for k, forms in catalogue.items() if not all(forms)] == []
    for key, forms in catalogue.items():
        assert isinstance(key, str)
        assert set(PLACEHOLDER.findall(forms[0])) == set(PLACEHOLDER.findall(key)), key
    with (MESSAGES / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    assert [k for k, forms in catalogue.items() if compiled.gettext(str(k)) != forms[0]] == []
