"""Setting a CRM up for enrichment: fields created and mapped, scores records already have pushed
once (a manual run), and activation with enrichment on asks for it."""

import pytest
from django.db import transaction
from hubspot import HubSpot

from connectors.registry import emulator_module
from integrations.services import integration_set_status
from sync.enrichment import signals
from sync.enrichment.setup import crm_fields_setup
from sync.models import Contact, SyncRun
from sync.services import change_log_lock, change_record
from tests.sync.helpers import remote_id_of, run_to_success

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hubspot(integration_for):
    emulator_module("hubspot").emulator.reset()
    return integration_for("hubspot")


def _scored(contact, score):
    with transaction.atomic():
        change_log_lock(subaccount_id=contact.subaccount_id)
        contact.score, contact.score_breakdown = score, {"fit": 90}
        contact.version += 1
        contact.save()
        change_record(record=contact, op="update", fields=["score"], origin="enrichment")


def test_records_scored_before_the_fields_existed_are_pushed_once(hubspot, subaccount):
    ana = Contact.objects.create(subaccount=subaccount, email="ana@acme.com", first_name="Ana")
    run_to_success(hubspot, "full")
    _scored(Contact.objects.get(pk=ana.pk), 81)
    run_to_success(hubspot)  # no field mapped yet: nothing of the score goes out
    official = HubSpot(access_token=hubspot.config["access_token"], host=hubspot.config["base_url"])
    remote = remote_id_of(hubspot, "contact", ana)

    report, run = crm_fields_setup(hubspot)

    assert report.missing == [] and run is not None
    assert (run.kind, run.status, run.requested_by) == ("manual", "succeeded", "enrichment")
    person = official.crm.contacts.basic_api.get_by_id(
        remote, properties=["platform_score", "platform_score_fit"]
    )
    assert (person.properties["platform_score"], person.properties["platform_score_fit"]) == ("81", "90")
    # A second set-up maps nothing new and pushes nothing.
    again, second_run = crm_fields_setup(hubspot)
    assert again.created == [] and second_run is None


def test_activation_with_enrichment_on_asks_for_the_fields(hubspot, subaccount, monkeypatch):
    asked = []
    monkeypatch.setattr(signals, "_fields_setup", asked.append)
    integration_set_status(integration=hubspot, status="paused", actor="test")
    integration_set_status(integration=hubspot, status="active", actor="test")
    assert asked == []  # enrichment and scoring are off
    subaccount.auto_score = True
    subaccount.save()
    hubspot.refresh_from_db()
    integration_set_status(integration=hubspot, status="paused", actor="test")
    integration_set_status(integration=hubspot, status="active", actor="test")
    assert asked == [hubspot.pk]
    assert not SyncRun.objects.filter(kind="manual").exists()
