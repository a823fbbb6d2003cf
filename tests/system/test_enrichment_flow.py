"""Seed 002 end to end with real parts: a contact written through the API is enriched (built-in
provider and the enrichment_http emulator), scored, given a task and a deal, and all of it reaches
the HubSpot emulator, by Celery workers over real HTTP, within seconds."""

from __future__ import annotations

import time

import pytest

from connectors.enrichment_http.emulator import emulator as enrichment_emulator
from connectors.registry import emulator_module
from sync.enrichment.actions import profile_for
from sync.models import Activity, Contact, Deal, EnrichmentJob, EntityLink, FieldMapping, NextActionRule
from tests.integrations.test_api import api_for
from tests.sandbox import sandbox_integration
from tests.system.conftest import wait_for

pytestmark = [pytest.mark.system, pytest.mark.django_db(transaction=True)]


def _hubspot_record(object_type: str, integration, entity: str, local_id: int) -> dict | None:
    link = EntityLink.objects.filter(integration=integration, entity=entity, local_id=local_id).first()
    if link is None:
        return None
    remote = link.remote_id.split("/")[-1]
    row = emulator_module("hubspot").emulator.records(object_type).filter(remote_id=remote).first()
    return row.data if row else None


def test_a_contact_from_the_api_reaches_hubspot_enriched_scored_with_its_task_and_deal(
    real_servers, catalog, subaccount, sandbox_url, workers
):
    emulator_module("hubspot").emulator.reset()
    enrichment_emulator.reset()
    for name in ("auto_enrich", "auto_score", "auto_assign", "auto_create_tasks", "auto_create_deals"):
        setattr(subaccount, name, True)
    subaccount.deal_threshold = 0  # every scored contact crosses it
    subaccount.save()
    profile = profile_for(subaccount)
    profile.icp_industries, profile.icp_countries, profile.deal_stage = (
        ["SaaS"],
        ["US"],
        "appointmentscheduled",
    )
    profile.save()
    NextActionRule.objects.create(
        subaccount=subaccount, position=0, action="Book an intro call", due_in_hours=24
    )
    workers("enrichment-1")
    # Activation with scoring on asks the worker to create and map the fields in HubSpot.
    hubspot = sandbox_integration(subaccount, "hubspot", sandbox_url)
    sandbox_integration(subaccount, "enrichment_http", sandbox_url)
    wait_for(
        lambda: FieldMapping.objects.filter(integration=hubspot, local_field="enrichment:score").exists(),
        timeout=30,
        message="the enrichment fields to be created and mapped in HubSpot",
    )

    started = time.monotonic()
    created = api_for(subaccount).post(
        "/api/v1/contacts/",
        {"email": "ana@acme-saas.io", "first_name": "ana", "last_name": "LEE", "job_title": "VP Engineering"},
        format="json",
    )
    assert created.status_code == 201, created.content
    contact_id = created.json()["id"]

    def arrived():
        contact = Contact.objects.get(pk=contact_id)
        deal = Deal.objects.filter(contacts=contact).first()
        task = Activity.objects.filter(contact=contact, kind="task").first()
        if contact.score is None or deal is None or task is None:
            return None
        person = _hubspot_record("contacts", hubspot, "contact", contact.pk)
        remote_deal = _hubspot_record("deals", hubspot, "deal", deal.pk)
        remote_task = _hubspot_record("tasks", hubspot, "activity", task.pk)
        if not (person and remote_deal and remote_task) or person.get("platform_score") != str(contact.score):
            return None
        return contact, person, deal, remote_deal, task, remote_task

    contact, person, deal, remote_deal, task, remote_task = wait_for(
        arrived, timeout=60, interval=0.1, message="the enriched contact, its task and deal in HubSpot"
    )
    elapsed = time.monotonic() - started

    assert (person["firstname"], person["lastname"]) == ("Ana", "Lee")  # name casing went out too
    assert person["platform_summary"] == "Acme Saas is a SaaS company of about 780 people in US."
    assert person["platform_score_fit"] == str(contact.score_breakdown["fit"])
    assert "hiring" in person["platform_signals"]
    assert "Book an intro call" in person["platform_next_actions"]
    assert remote_deal["dealname"] == deal.name and remote_deal["dealstage"] == "appointmentscheduled"
    assert remote_task["hs_task_subject"] == "Book an intro call"
    job = EnrichmentJob.objects.get(entity="contact", record_id=contact_id)
    assert job.status == "succeeded" and job.enrichments["leadScore"] == contact.score
    assert job.enrichments["deal_created"] == deal.pk
    assert elapsed < 15, elapsed  # seconds, with the worker on a loaded CI machine
