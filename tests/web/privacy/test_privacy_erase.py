"""Erasure: after it, a byte search of the database's stored pages finds none of the
person's identifiers (as whole values); rows, ledger and aggregates stay; the suppression
list keeps a later master-data or analysis import from bringing the customer back; only
administrators may erase."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.web.privacy.privacy_helpers import (
    ERASED_ID,
    IDENTIFIERS,
    NEIGHBOUR_ID,
    Caller,
    found,
    plant,
    stored_bytes,
)


def _erase(customer_id: str) -> str:
    return "/customers/" + quote(customer_id, safe="") + "/erase"


@pytest.mark.django_db(transaction=True)
def test_erasure_leaves_no_identifier_in_the_stored_pages(people: Any) -> None:
    from corecustomers.web.customers.models import Customer, CustomerHistory
    from corecustomers.web.loyalty.checks import ledger_problems
    from corecustomers.web.loyalty.ledger import balance
    from corecustomers.web.privacy.models import Fulfilment, Suppression
    from corecustomers.web.work.models import Interaction, Snooze

    planted = plant(people)
    pk = planted.customer.pk
    before_balance = balance(planted.customer)
    # the search works: before the erasure it finds every identifier
    assert set(found(stored_bytes())) == set(IDENTIFIERS)

    answer = Caller(people.admin).post(_erase(ERASED_ID))
    assert answer.status_code == 200, answer.content
    record = answer.json()
    assert record["kind"] == "erase" and record["by"] == "admin"
    assert record["counts"]["customers.Customer"] == 1
    assert record["counts"]["work.Interaction"] >= 1
    assert record["pending"] == [] and record["completed"] is not None
    files = record["details"]["files"]
    # on PostgreSQL the erasure waited for older transactions (of anyone on the cluster)
    assert files.get("complete", True), files

    assert found(stored_bytes()) == {}
    # the rows stay, the person is gone; the ledger and the totals still balance
    erased = Customer.objects.get(pk=pk)
    assert erased.external_id.startswith("erased:") and erased.name == "" and erased.phone == ""
    assert erased.birthday is None
    assert Interaction.objects.filter(customer_id=pk).count() >= 1
    assert CustomerHistory.objects.filter(customer_id=pk).count() == 2
    assert ledger_problems(pk) == []
    assert balance(erased) == before_balance
    # the neighbour whose id starts with the erased one is untouched
    assert Customer.objects.get(external_id=NEIGHBOUR_ID).name == "Li Na"
    # the old id and the erased id (so no stored file's replaced row comes back either)
    assert Suppression.objects.count() == 2
    assert record["details"]["swept"] == {"work.Snooze": 1}
    assert set(Snooze.objects.values_list("item", flat=True)) == {
        "birthday:[erased]",
        f"birthday:{NEIGHBOUR_ID}",
    }
    assert Fulfilment.objects.get().subject == erased.pseudonym
    # the same request again: the id is gone
    assert Caller(people.admin).post(_erase(ERASED_ID)).status_code == 404


@pytest.mark.django_db
def test_only_administrators_erase(people: Any) -> None:
    from corecustomers.web.customers.models import Customer

    plant(people)
    for user in (people.manager, people.am1, people.am2, people.analyst):
        answer = Caller(user).post(_erase(ERASED_ID))
        assert answer.status_code == 403, user.username
    assert Caller(people.admin, scope="read").post(_erase(ERASED_ID)).status_code == 403
    assert Customer.objects.get(external_id=ERASED_ID).name != ""


@pytest.mark.django_db
def test_imports_do_not_bring_an_erased_customer_back(people: Any, tmp_path: Path) -> None:
    from corecustomers.web.customers.analysis_import import import_analysis
    from corecustomers.web.customers.masterdata import import_master_data
    from corecustomers.web.customers.models import Customer, CustomerHistory
    from corecustomers.web.privacy.erase import erase_customer

    plant(people)
    erase_customer(ERASED_ID, people.admin)

    master = pa.table(
        {"customer_id": [ERASED_ID, NEIGHBOUR_ID, "CUST-0003"], "name": ["Again", "Li Na", "New"]}
    )
    result = import_master_data(master, name="again.csv")
    assert result.suppressed == 1 and result.created == 1
    assert result.to_json()["suppressed"] == 1
    assert not Customer.objects.filter(external_id=ERASED_ID).exists()
    assert not Customer.objects.filter(name="Again").exists()

    folder = tmp_path / "analysis"
    folder.mkdir()
    (folder / "summary.json").write_text(
        json.dumps({"run_id": "after-erasure", "as_of": "2026-12-01", "source": "old.csv"})
    )
    pq.write_table(
        pa.table(
            {
                "customer_id": [ERASED_ID, NEIGHBOUR_ID, "CUST-0004"],
                "tier": ["core", "regular", "regular"],
                "total_spend": [900.0, 10.0, 5.0],
            }
        ),
        folder / "customers.parquet",
    )
    done = import_analysis(folder)
    assert done.suppressed == 1
    assert not Customer.objects.filter(external_id=ERASED_ID).exists()
    assert Customer.objects.filter(external_id="CUST-0004").exists()
    assert not CustomerHistory.objects.filter(run_id="after-erasure", total_spend=900.0).exists()


@pytest.mark.django_db
def test_inside_a_transaction_the_files_are_cleaned_when_it_commits(
    people: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from corecustomers.web.jobs.models import Job
    from corecustomers.web.privacy.erase import erase_customer
    from corecustomers.web.privacy.finish import FINISH_JOB, STAGES
    from corecustomers.web.privacy.models import Fulfilment

    plant(people)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        done = erase_customer(ERASED_ID, people.admin)
    # the finishing job queued, and run, when the outer transaction commits
    assert "files" not in done.details and len(callbacks) == 2
    assert done.pending == list(STAGES) and done.completed is None
    assert Job.objects.get(kind=FINISH_JOB).params["fulfilment"] == done.pk
    assert Fulfilment.objects.get().details["blanked"]["customers.Customer"]


def test_the_keyed_hash_is_whole_value_and_keyed() -> None:
    from corecustomers.web.privacy.suppression import key_hash

    assert key_hash("C1", key="a") != key_hash("C12", key="a")
    assert key_hash("C1", key="a") != key_hash("C1", key="b")
    assert "C1" not in key_hash("C1", key="a")


def test_the_engine_and_the_service_make_the_same_pseudonyms_and_hashes() -> None:
    """One function each, shared: ``analyze --pseudonymise`` and the analysts' pages agree."""
    from corecustomers.data import suppression as engine
    from corecustomers.web.customers.identity import pseudonym, pseudonyms
    from corecustomers.web.privacy.suppression import key_hash

    ids = ["C1", "C12", "张伟明-1", "a/b c"]
    assert [engine.pseudonym(i, "k") for i in ids] == [pseudonym(i, key="k") for i in ids]
    assert engine.pseudonyms(ids, "k") == pseudonyms(ids, key="k")
    assert [engine.key_hash(i, "k") for i in ids] == [key_hash(i, key="k") for i in ids]


def test_the_service_reads_the_key_from_a_file(tmp_path: Path) -> None:
    """``CORECUSTOMERS_PSEUDONYM_KEY_FILE``: a production service starts with the key from a
    file kept apart from the data, and refuses a file it cannot read, naming the setting."""
    import os
    import subprocess
    import sys

    key_file = tmp_path / "key"
    key_file.write_text("k" * 40 + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORECUSTOMERS_")}
    env.update(
        CORECUSTOMERS_ENV="production",
        CORECUSTOMERS_SECRET_KEY="s" * 40,
        CORECUSTOMERS_PSEUDONYM_KEY_FILE=str(key_file),
        CORECUSTOMERS_WORKSPACE=str(tmp_path),
        DJANGO_SETTINGS_MODULE="corecustomers.web.settings",
    )
    code = "from django.conf import settings; print(settings.PSEUDONYM_KEY)"
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "k" * 40
    env["CORECUSTOMERS_PSEUDONYM_KEY_FILE"] = str(tmp_path / "missing")
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode != 0 and "CORECUSTOMERS_PSEUDONYM_KEY_FILE" in run.stderr
