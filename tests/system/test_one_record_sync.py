"""Syncing one record through the API answers within seconds: real PostgreSQL, the emulator over HTTP."""

from __future__ import annotations

import time

import pytest

from connectors.registry import emulator_module
from sync.models import Contact, EntityLink, SyncRun
from tests.integrations.test_api import api_for
from tests.sandbox import sandbox_integration

pytestmark = [pytest.mark.system, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("provider", ["hubspot", "salesforce"])
def test_one_record_round_trip_through_the_api_takes_under_two_seconds(
    provider, real_servers, catalog, subaccount, sandbox_url
):
    emulator_module(provider).emulator.reset()
    integration = sandbox_integration(subaccount, provider, sandbox_url)
    contact = Contact.objects.create(
        subaccount=subaccount, first_name="Ana", last_name="Lima", email="ana@example.com"
    )
    api = api_for(subaccount)
    url = f"/api/v1/integrations/{integration.pk}/sync/"

    started = time.perf_counter()
    created = api.post(url, {"entity": "contact", "id": contact.pk}, format="json")
    first = time.perf_counter() - started
    started = time.perf_counter()
    again = api.post(url, {"entity": "contact", "id": contact.pk}, format="json")
    second = time.perf_counter() - started

    assert created.status_code == 200 and created.json()["pushed"] == "created", created.content
    # Salesforce fills fields in on create (OwnerId): the second sync may pull them, once.
    assert again.status_code == 200 and again.json()["pushed"] == "unchanged", again.content
    assert again.json()["remote_id"] == created.json()["remote_id"]
    assert first < 2 and second < 2, (first, second)
    assert EntityLink.objects.get(integration=integration).remote_id == created.json()["remote_id"]
    assert list(SyncRun.objects.values_list("kind", "status")) == [("manual", "succeeded")] * 2
