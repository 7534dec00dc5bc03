"""Surveys on the pages: NPS per tier on the dashboard equals the figure computed here
(issue 13, "Done when"), counted in the viewer's scope; a customer's scores on the profile
with the call form; the public answer page in both languages; the scores' workspace export
read back through Ibis."""

from __future__ import annotations

import datetime as dt
import html as html_text
import random
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import ibis
import pyarrow.parquet as pq
import pytest
from django.urls import reverse
from django.utils import timezone
from tests.web.surveys.surveys_helpers import customer_with_state, survey

from corecustomers.web.customers.models import AccountMember, CustomerState
from corecustomers.web.surveys.export import CONTRACT, export_scores, scores_path
from corecustomers.web.surveys.models import SurveyResponse
from corecustomers.web.surveys.responses import make_token, record_response

pytestmark = pytest.mark.django_db


def _nps(scores: list[int]) -> float:
    return round(100 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)) / len(scores), 1)


def _shown(html: str, attribute: str) -> dict[str, str]:
    table = html.split(f'data-table="nps-{attribute}"', 1)[1].split("</table>", 1)[0]
    # the page escapes a label's quote ("Can&#x27;t Lose Them"); compare the text a reader sees
    found = re.findall(rf'<tr data-{attribute}="([^"]*)">.*?data-field="nps">([^<]*)<', table, re.S)
    return {html_text.unescape(label): html_text.unescape(value) for label, value in found}


def test_nps_per_tier_on_the_dashboard_equals_the_figure_computed_directly(
    imported: Path, people: Any, client: Any
) -> None:
    nps = survey("nps")
    rng = random.Random(13)
    states = list(CustomerState.objects.select_related("customer").order_by("customer_id"))
    chosen = rng.sample(states, 120)
    # a label with a quote ("Can't Lose Them") among them, whatever order the database
    # returns: the page escapes it and the figure must still be found under its label
    quoted = next(s for s in states if "'" in (s.rfm_segment_label or ""))
    if quoted not in chosen:
        chosen[-1] = quoted
    now = timezone.now()
    latest: dict[str, list[int]] = defaultdict(list)
    by_segment: dict[str, list[int]] = defaultdict(list)
    for i, state in enumerate(chosen):
        old, new = rng.randint(0, 10), rng.randint(0, 10)
        record_response(nps, state.customer, old, channel="call", at=now - dt.timedelta(days=40))
        if i % 4:  # most answered again later: only the latest counts
            record_response(nps, state.customer, new, channel="call", at=now - dt.timedelta(days=2))
        score = new if i % 4 else old
        latest[state.tier].append(score)
        by_segment[state.rfm_segment_label or "-"].append(score)
    # an answer older than the window does not count
    stale = next(s for s in states if s not in chosen)
    record_response(nps, stale.customer, 0, channel="call", at=now - dt.timedelta(days=400))

    client.force_login(people.admin)
    html = client.get(reverse("pages:dashboard")).content.decode()
    shown = _shown(html, "tier")
    assert shown == {tier: str(_nps(scores)) for tier, scores in latest.items()}
    assert _shown(html, "segment") == {s: str(_nps(v)) for s, v in by_segment.items()}

    # an account manager's panel counts only their own customers
    mine = chosen[:3]
    for state in mine:
        AccountMember.objects.create(customer=state.customer, user=people.am1, role="owner")
    client.force_login(people.am1)
    own = _shown(client.get(reverse("pages:dashboard")).content.decode(), "tier")
    expected: dict[str, list[int]] = defaultdict(list)
    for state in mine:
        last = SurveyResponse.objects.filter(customer=state.customer).order_by("-at").first()
        assert last is not None
        expected[state.tier].append(last.score)
    assert own == {tier: str(_nps(scores)) for tier, scores in expected.items()}


def test_the_profile_shows_scores_over_time_and_records_a_call(people: Any, client: Any) -> None:
    sat = survey("satisfaction")
    c = customer_with_state("key", core=True, owner=people.am1)
    record_response(sat, c, 4, channel="call", user=people.am1, comment="<script>x</script>")
    client.force_login(people.am1)
    url = reverse("pages:customer", kwargs={"key": c.external_id})
    page = client.get(url).content.decode()
    assert 'data-panel="surveys"' in page and "&lt;script&gt;x&lt;/script&gt;" in page
    post = reverse("surveys:record-call", kwargs={"key": c.external_id})
    assert client.post(post, {"survey": sat.pk, "score": "9"}).status_code == 302
    assert SurveyResponse.objects.filter(customer=c).count() == 1  # 9 is off the 1-5 scale
    client.post(post, {"survey": sat.pk, "score": "5"})
    scores = [r.score for r in SurveyResponse.objects.filter(customer=c).order_by("at")]
    assert scores == [4, 5]
    # another account manager: the profile is out of scope, and so is the form
    client.force_login(people.am2)
    assert client.get(url).status_code == 404
    assert client.post(post, {"survey": sat.pk, "score": "5"}).status_code == 404


def test_the_answer_page_speaks_both_languages(people: Any, client: Any) -> None:
    nps = survey("nps")
    c = customer_with_state("key", core=True)
    url = reverse("surveys:respond", kwargs={"token": make_token(c.pk, nps.pk, "k1")})
    zh = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert nps.question_zh in zh and "发送" in zh
    en = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert nps.question_en in en
    bad = client.post(url, {"score": "11"}, HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 422 and "from 0 to 10" in bad.content.decode()
    assert not SurveyResponse.objects.exists()


def test_survey_scores_reach_the_workspace_for_the_engine(people: Any, tmp_path: Path) -> None:
    nps = survey("nps")
    c = customer_with_state("strategic", core=True)
    record_response(nps, c, 6, channel="call")
    record_response(nps, c, 9, channel="call")
    result = export_scores(str(tmp_path))
    path = scores_path(tmp_path)
    assert result == {"file": str(path), "rows": 2}
    table = ibis.read_parquet(str(path)).order_by("response_id").to_pyarrow()
    metadata = pq.read_schema(str(path)).metadata
    assert metadata[b"corecustomers.contract"] == CONTRACT.encode()
    rows = table.to_pylist()
    assert [(r["customer_id"], r["score"], r["nps_group"]) for r in rows] == [
        (c.external_id, 6, "detractor"),
        (c.external_id, 9, "promoter"),
    ]
