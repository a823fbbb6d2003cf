"""Deletes by id diff (sync.deletions) against the AITable emulator, whose API reports no deletions:
a row deleted in AITable is deleted here, and a listing that would wipe most records is refused."""

import pytest
import requests

from connectors.aitable.emulator import emulator as aitable_emulator
from sync.deletions import deletions_find, deletions_sweep
from sync.models import Contact, EntityLink
from sync.runs import sync_run_execute, sync_run_request
from tests.sandbox import emulator_control, sandbox_integration

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def aitable(catalog, subaccount, sandbox_url):
    aitable_emulator.reset()
    integration = sandbox_integration(subaccount, "aitable", sandbox_url)
    yield integration
    aitable_emulator.reset()


def add_leads(integration, n: int) -> list[str]:
    leads = integration.config["datasheets"]["contact"]
    return [
        emulator_control(
            integration.config["base_url"],
            "records",
            {"datasheet_id": leads, "fields": {"Client Name": f"Lead {i}", "Email": f"lead{i}@example.com"}},
        )["record"]["recordId"]
        for i in range(n)
    ]


def delete_rows(integration, ids: list[str]) -> None:
    leads = integration.config["datasheets"]["contact"]
    for start in range(0, len(ids), 10):
        resp = requests.delete(
            f"{integration.config['base_url']}/fusion/v1/datasheets/{leads}/records",
            params={"recordIds": ",".join(ids[start : start + 10])},
            headers={"Authorization": f"Bearer {integration.config['api_token']}"},
            timeout=10,
        )
        assert resp.json()["success"], resp.text


def full_sync(integration) -> None:
    run = sync_run_execute(run_id=sync_run_request(integration=integration, kind="full", enqueue=False).pk)
    assert run.status == "succeeded", run.error


def test_a_row_deleted_in_aitable_is_deleted_here(aitable):
    ids = add_leads(aitable, 3)
    full_sync(aitable)
    assert EntityLink.objects.filter(integration=aitable, entity="contact").count() == 3
    delete_rows(aitable, ids[:1])

    assert deletions_find(aitable).deleted == {"contact": 1}
    gone = Contact.objects.get(email="lead0@example.com")
    assert gone.is_deleted
    assert not Contact.objects.filter(email="lead1@example.com", is_deleted=True).exists()
    assert deletions_find(aitable).deleted == {"contact": 0}  # nothing more to find
    assert deletions_sweep()["failed"] == 0


def test_a_listing_that_would_wipe_most_records_is_refused_unless_forced(aitable):
    ids = add_leads(aitable, 12)
    full_sync(aitable)
    delete_rows(aitable, ids)

    result = deletions_find(aitable)
    assert result.deleted == {} and "12 of 12" in result.refused["contact"]
    assert Contact.objects.filter(is_deleted=False).count() == 12
    assert deletions_find(aitable, force=True).deleted == {"contact": 12}
    assert Contact.objects.filter(is_deleted=False).count() == 0
