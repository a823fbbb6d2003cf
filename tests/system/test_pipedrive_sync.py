"""Two-way sync with Pipedrive on real parts: the emulator over HTTP, a real Celery worker on
PostgreSQL and Redis, Pipedrive's burst limit tight enough to answer 429s, and a create whose answer
is lost so the retry must find it rather than duplicate it."""

from __future__ import annotations

import pytest
from django.db.models import Count

from connectors.registry import emulator_module
from connectors.sandbox.models import SandboxState
from sync.models import Company, Contact, EntityLink, SyncRun
from sync.runs import sync_run_request
from sync.services import records_bulk_upsert
from tests.sandbox import sandbox_integration
from tests.system.conftest import wait_for

pytestmark = [pytest.mark.system, pytest.mark.django_db(transaction=True)]
REMOTE, LOCAL = 120, 40


def finished(run: SyncRun) -> SyncRun:
    done = wait_for(
        lambda: SyncRun.objects.filter(pk=run.pk, status__in=["succeeded", "partial", "failed"]).first(),
        timeout=180,
        message="the run to finish",
    )
    assert done.status == "succeeded", (
        done.error,
        list(done.record_errors.values_list("message", flat=True)),
    )
    return done


def test_two_way_sync_with_pipedrive_on_a_real_worker(catalog, subaccount, sandbox_url, workers):
    em = emulator_module("pipedrive").emulator
    em.reset()
    em.seed("persons", REMOTE, None)
    org = em.create("organizations", {"name": "Remote Org"})
    em.touch("persons", em.live("persons").order_by("id").first().remote_id, {"org_id": int(org.remote_id)})
    records_bulk_upsert(
        subaccount=subaccount,
        entity="contact",
        records=[
            {"first_name": f"Local{i}", "last_name": "Person", "email": f"local{i}@example.com"}
            for i in range(LOCAL)
        ],
        origin="api",
    )
    integration = sandbox_integration(subaccount, "pipedrive", sandbox_url, direction="bidirectional")
    # Pipedrive's 2-second burst window, tight: the run meets 429s and waits them out.
    em.state()
    SandboxState.objects.filter(provider="pipedrive").update(
        settings={**em.state().settings, "burst_api_token": 15, "burst_search": 6}
    )
    # The answer to one person create is lost after Pipedrive made it (a proxy timeout).
    state = em.state()
    state.settings = {
        **state.settings,
        "fault_rule": {
            "path_contains": "/api/v2/persons",
            "skip": 60,
            "count": 1,
            "status": 504,
            "after_write": True,
        },
    }
    state.save(update_fields=["settings"])
    workers("pipedrive")

    first = finished(
        sync_run_request(
            integration=integration, kind="full", entities=["company", "contact"], requested_by="test"
        )
    )
    if first.pushed < LOCAL:  # the lost create is settled (found, not re-sent) by the next run
        finished(
            sync_run_request(integration=integration, kind="delta", entities=["contact"], requested_by="test")
        )

    assert Contact.objects.filter(subaccount=subaccount).count() == REMOTE + LOCAL
    assert em.live("persons").count() == REMOTE + LOCAL  # no duplicate from the lost answer
    emails = [p.data["emails"][0]["value"] for p in em.live("persons")]
    assert len(emails) == len(set(emails))
    links = EntityLink.objects.filter(integration=integration, entity="contact")
    assert links.count() == REMOTE + LOCAL
    assert not links.values("remote_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    linked = EntityLink.objects.get(integration=integration, entity="company", remote_id=org.remote_id)
    first_person = em.live("persons").order_by("id").first()
    person_link = links.get(remote_id=first_person.remote_id)
    assert Contact.objects.get(pk=person_link.local_id).company == Company.objects.get(pk=linked.local_id)

    # Both sides change; a delta carries each to the other.
    em.touch("persons", first_person.remote_id, {"name": "Remote Changed"})
    local_contact = Contact.objects.get(subaccount=subaccount, email="local3@example.com")
    records_bulk_upsert(
        subaccount=subaccount,
        entity="contact",
        records=[{"email": "local3@example.com", "first_name": "Local", "last_name": "Changed"}],
        origin="api",
    )
    finished(
        sync_run_request(integration=integration, kind="delta", entities=["contact"], requested_by="test")
    )

    assert Contact.objects.get(pk=person_link.local_id).first_name == "Remote"
    pushed = links.get(local_id=local_contact.pk).remote_id
    assert em.live("persons").get(remote_id=pushed).data["name"] == "Local Changed"
    assert em.live("persons").count() == REMOTE + LOCAL
