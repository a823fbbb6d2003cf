"""A record's conflicts side by side (sync/admin_conflicts.py): all its open fields with base, local
and remote, the changed values highlighted; resolved per field (local / remote / custom) or all at
once, and pushed to the HubSpot emulator at once; another tenant's record is a 404."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model

from connectors.registry import emulator_module
from integrations.models import Membership
from sync.models import Conflict, Contact, EntityLink, SyncRun
from sync.runs import sync_run_execute, sync_run_request
from sync.services import record_update
from tests.sandbox import sandbox_integration

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hubspot():
    emulator = emulator_module("hubspot").emulator
    emulator.reset()
    return emulator


@pytest.fixture
def integration(catalog, subaccount, sandbox_url, hubspot):
    return sandbox_integration(subaccount, "hubspot", sandbox_url, conflict_strategy="manual", name="HubSpot")


@pytest.fixture
def operator(client):
    client.force_login(get_user_model().objects.create_superuser("op", "op@example.com", "pw-123456789"))
    return client


def run_sync(integration, kind: str = "delta") -> SyncRun:
    run = sync_run_request(integration=integration, kind=kind, entities=["contact"], enqueue=False)
    return sync_run_execute(run_id=run.pk)


def conflicted(integration, hubspot, count: int = 1) -> list[EntityLink]:
    """``count`` contacts whose first name and job title changed here and in HubSpot since the last
    sync: a delta sync under the manual strategy leaves two open conflicts on each."""
    hubspot.seed("contacts", count, None)
    run_sync(integration, "full")
    links = list(EntityLink.objects.filter(integration=integration, entity="contact").order_by("pk"))
    for n, link in enumerate(links):
        record_update(
            record=Contact.objects.get(pk=link.local_id),
            fields={"first_name": f"Local{n}", "job_title": "Local title"},
            origin="api",
        )
        time.sleep(0.01)
        hubspot.touch("contacts", link.remote_id, {"firstname": f"Remote{n}", "jobtitle": "Remote title"})
    run = run_sync(integration)
    assert run.conflicts == 2 * count, run.error
    return links


def remote(hubspot, link: EntityLink) -> dict:
    return hubspot.records("contacts").get(remote_id=link.remote_id).data


def page_url(integration, link: EntityLink) -> str:
    return f"/admin/sync/conflict/record/{integration.pk}/contact/{link.local_id}/"


def test_the_record_page_shows_every_open_field_side_by_side_with_the_changes_highlighted(
    operator, integration, hubspot
):
    [link] = conflicted(integration, hubspot)
    first_name = Conflict.objects.get(field="first_name")

    html = operator.get(page_url(integration, link)).content.decode()

    assert "Open conflicts (2)" in html
    assert 'data-field="first_name"' in html and 'data-field="job_title"' in html
    assert '<td class="value local differs">Local0</td>' in html
    assert '<td class="value remote differs">Remote0</td>' in html
    assert f'class="value base">{first_name.base_value}</td>' in html  # the base is not highlighted
    assert f'name="choice-{first_name.pk}" value="custom"' in html
    assert 'id="keep-all-local"' in html and 'id="take-all-remote"' in html
    # One conflict's "Resolve" leads here, to its row.
    response = operator.get(f"/admin/sync/conflict/{first_name.pk}/resolve/")
    assert (
        response.status_code == 302
        and response["Location"] == f"{page_url(integration, link)}#conflict-{first_name.pk}"
    )
    # The list names the record and links to its page.
    listing = operator.get("/admin/sync/conflict/").content.decode()
    assert f'href="{page_url(integration, link)}"' in listing and f"Contact #{link.local_id}" in listing


def test_per_field_choices_are_applied_and_pushed_at_once(operator, integration, hubspot):
    [link] = conflicted(integration, hubspot)
    first_name = Conflict.objects.get(field="first_name")
    job_title = Conflict.objects.get(field="job_title")

    response = operator.post(
        page_url(integration, link),
        {
            f"choice-{first_name.pk}": "custom",
            f"value-{first_name.pk}": "Chosen",
            f"choice-{job_title.pk}": "remote",
            f"value-{job_title.pk}": "ignored",
        },
    )

    assert response.status_code == 302 and "?run=" in response["Location"]
    contact = Contact.objects.get(pk=link.local_id)
    assert (contact.first_name, contact.job_title) == ("Chosen", "Remote title")
    assert remote(hubspot, link)["firstname"] == "Chosen"  # pushed now, not on the next sync
    assert remote(hubspot, link)["jobtitle"] == "Remote title"
    assert not Conflict.objects.filter(status="open").exists()
    manual = SyncRun.objects.get(kind="manual")
    assert manual.status == "succeeded" and manual.requested_by == "user:op"

    page = operator.get(response["Location"]).content.decode()
    assert "Resolved first_name, job_title and synced with HubSpot at once" in page
    assert 'id="result-values"' in page and page.count("✓ both sides agree") == 2
    assert '<td class="value result-remote">Chosen</td>' in page
    assert "No open conflicts for this record." in page


def test_one_field_only_leaves_the_others_open(operator, integration, hubspot):
    [link] = conflicted(integration, hubspot)
    first_name = Conflict.objects.get(field="first_name")

    operator.post(page_url(integration, link), {f"choice-{first_name.pk}": "local"})

    assert remote(hubspot, link)["firstname"] == "Local0"
    assert list(Conflict.objects.filter(status="open").values_list("field", flat=True)) == ["job_title"]
    assert remote(hubspot, link)["jobtitle"] == "Remote title"  # still held while it is open


def test_keep_all_local_resolves_and_pushes_every_field(operator, integration, hubspot):
    [link] = conflicted(integration, hubspot)

    operator.post(page_url(integration, link), {"all": "local"})

    assert (remote(hubspot, link)["firstname"], remote(hubspot, link)["jobtitle"]) == (
        "Local0",
        "Local title",
    )
    assert set(Conflict.objects.values_list("resolution", flat=True)) == {"local"}


def test_the_bulk_action_resolves_record_by_record_and_syncs_each_at_once(operator, integration, hubspot):
    links = conflicted(integration, hubspot, count=2)

    response = operator.post(
        "/admin/sync/conflict/",
        {"action": "keep_local", "_selected_action": list(Conflict.objects.values_list("pk", flat=True))},
        follow=True,
    )

    assert "4 conflict(s) resolved (local); 2 of 2 record(s) synced at once" in response.content.decode()
    for n, link in enumerate(links):
        assert remote(hubspot, link)["firstname"] == f"Local{n}"


def test_another_tenants_record_is_a_404_and_nothing_changes(client, integration, hubspot, other_subaccount):
    [link] = conflicted(integration, hubspot)
    conflict = Conflict.objects.get(field="first_name")
    user = get_user_model().objects.create_user("staff", "s@example.com", "pw-123456789", is_staff=True)
    user.user_permissions.set(user.user_permissions.model.objects.filter(content_type__app_label="sync"))
    Membership.objects.create(user=user, subaccount=other_subaccount)
    client.force_login(user)

    assert client.get(page_url(integration, link)).status_code == 404
    assert client.post(page_url(integration, link), {"all": "local"}).status_code == 404
    assert client.get(f"/admin/sync/conflict/{conflict.pk}/resolve/").status_code == 404
    assert client.post(f"/admin/sync/conflict/{conflict.pk}/resolve/", {"choice": "local"}).status_code == 404
    assert Conflict.objects.filter(status="open").count() == 2
    assert remote(hubspot, link)["firstname"] == "Remote0"


def test_a_single_conflicts_resolve_post_still_settles_that_field_and_pushes_it(
    operator, integration, hubspot
):
    [link] = conflicted(integration, hubspot)
    conflict = Conflict.objects.get(field="job_title")

    response = operator.post(
        f"/admin/sync/conflict/{conflict.pk}/resolve/", {"choice": "custom", "value": "CTO"}
    )

    assert response.status_code == 302 and response["Location"].startswith(page_url(integration, link))
    assert remote(hubspot, link)["jobtitle"] == "CTO"
    assert Conflict.objects.get(status="open").field == "first_name"
    again = operator.post(f"/admin/sync/conflict/{conflict.pk}/resolve/", {"choice": "local"}, follow=True)
    assert "Nothing resolved" in again.content.decode()
