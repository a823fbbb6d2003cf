"""Zoho CRM two-way sync on real parts: a Celery worker process (PostgreSQL, Redis) syncs with the Zoho
emulator over HTTP — local records and their account go up, Zoho's come down with theirs, and changes
on either side cross over in the next delta."""

from __future__ import annotations

import pytest
import requests

from connectors.registry import emulator_module
from integrations.tokens import IntegrationTokenStore
from sync.models import Company, Contact, EntityLink, SyncRun
from sync.runs import sync_run_request
from sync.services import record_update
from tests.sandbox import sandbox_integration
from tests.system.conftest import wait_for

pytestmark = [pytest.mark.system, pytest.mark.django_db(transaction=True)]
SEEDED = 30


def run_on_worker(integration, kind: str) -> SyncRun:
    run = sync_run_request(
        integration=integration, kind=kind, entities=["company", "contact"], requested_by="test"
    )
    done = wait_for(
        lambda: SyncRun.objects.filter(pk=run.pk, status__in=["succeeded", "partial", "failed"]).first(),
        timeout=120,
        message=f"the {kind} sync",
    )
    assert done.status == "succeeded", (
        done.error,
        list(done.record_errors.values_list("message", flat=True)),
    )
    return done


def link(integration, entity: str, *, local_id=None, remote_id=None) -> EntityLink:
    lookup = {"local_id": local_id} if local_id is not None else {"remote_id": remote_id}
    return EntityLink.objects.get(integration=integration, entity=entity, **lookup)


@pytest.fixture
def zoho_api(sandbox_url):
    em = emulator_module("zoho").emulator
    em.reset()
    em.seed("Contacts", SEEDED)
    config, tokens = em.connect(sandbox_url)
    session = requests.Session()
    session.headers["Authorization"] = f"Zoho-oauthtoken {tokens.access_token}"
    yield em, f"{config['base_url']}/crm/v7", session
    session.close()


def test_a_two_way_sync_with_zoho_on_a_real_worker(zoho_api, catalog, subaccount, sandbox_url, workers):
    em, api, session = zoho_api
    account = session.post(f"{api}/Accounts", json={"data": [{"Account_Name": "Zoho Side Ltd"}]}, timeout=10)
    account_id = account.json()["data"][0]["details"]["id"]
    person = {"Last_Name": "Remote", "Email": "remote@example.com", "Account_Name": {"id": account_id}}
    remote_person = session.post(f"{api}/Contacts", json={"data": [person]}, timeout=10).json()["data"][0][
        "details"
    ]["id"]
    acme = Company.objects.create(subaccount=subaccount, name="Acme Local")
    ana = Contact.objects.create(
        subaccount=subaccount, first_name="Ana", last_name="Lee", email="ana@example.com", company=acme
    )
    integration = sandbox_integration(subaccount, "zoho", sandbox_url, direction="bidirectional")
    workers("zoho")

    run_on_worker(integration, "full")

    # Down: every Zoho contact, the one with an account linked to the company mirrored from it.
    assert Contact.objects.filter(subaccount=subaccount).count() == SEEDED + 2
    mirrored = Contact.objects.get(pk=link(integration, "contact", remote_id=remote_person).local_id)
    assert mirrored.company_id == link(integration, "company", remote_id=account_id).local_id
    # Up: Ana and her company, related in Zoho too.
    ana_id = link(integration, "contact", local_id=ana.pk).remote_id
    up = session.get(f"{api}/Contacts/{ana_id}", timeout=10).json()["data"][0]
    assert up["Email"] == "ana@example.com"
    assert up["Account_Name"]["id"] == link(integration, "company", local_id=acme.pk).remote_id
    assert em.records("Contacts").filter(archived=False).count() == SEEDED + 2

    # Both sides change; the next delta carries each change across.
    seeded = (
        EntityLink.objects.filter(integration=integration, entity="contact")
        .exclude(remote_id__in=[remote_person, ana_id])
        .first()
    )
    edited = session.put(
        f"{api}/Contacts", json={"data": [{"id": seeded.remote_id, "Title": "Edited in Zoho"}]}, timeout=10
    )
    assert edited.status_code == 200
    record_update(
        record=Contact.objects.get(pk=ana.pk), fields={"job_title": "Edited locally"}, origin="api_key:test"
    )

    delta = run_on_worker(integration, "delta")

    assert Contact.objects.get(pk=seeded.local_id).job_title == "Edited in Zoho"
    assert session.get(f"{api}/Contacts/{ana_id}", timeout=10).json()["data"][0]["Title"] == "Edited locally"
    assert em.records("Contacts").filter(archived=False).count() == SEEDED + 2  # nothing duplicated
    assert IntegrationTokenStore(integration.pk).load().extra["api_domain"].endswith("/sandbox/zoho")
    assert delta.pushed >= 1
