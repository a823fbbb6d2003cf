"""The operations dashboard (the admin's home): its figures for a seeded situation, the filters,
what a sub-account's staff see, pause/resume from it and the empty state."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from integrations.models import AuditLog, Integration, Membership
from sync.models import Conflict, SyncRecordError, SyncRun
from tests.factories import IntegrationFactory, IntegrationTemplateFactory, SubAccountFactory
from webhooks.dashboard.filters import CONFLICTS, FAILING, REAUTH, DashboardFilters
from webhooks.dashboard.overview import dashboard_get
from webhooks.models import Delivery, Endpoint, InboundDelivery, InboundEvent, Message

pytestmark = pytest.mark.django_db
INDEX = "/admin/"


def run_for(integration, *, processed=0, status="succeeded", days_ago=0, **fields) -> SyncRun:
    now = timezone.now()
    run = SyncRun.objects.create(
        subaccount=integration.subaccount,
        integration=integration,
        kind="delta",
        status=status,
        processed=processed,
        started_at=now,
        finished_at=None if status in SyncRun.ACTIVE else now,
        **fields,
    )
    if days_ago:
        then = now - timedelta(days=days_ago)
        SyncRun.objects.filter(pk=run.pk).update(created_at=then, finished_at=then)
    return run


def record_error(run, *, resolved=False) -> SyncRecordError:
    return SyncRecordError.objects.create(
        run=run,
        integration=run.integration,
        entity="contact",
        direction="pull",
        remote_id="r1",
        message="Email is invalid",
        resolved=resolved,
    )


def conflict(integration, local_id, *, status="open") -> Conflict:
    return Conflict.objects.create(
        subaccount=integration.subaccount,
        integration=integration,
        entity="contact",
        local_id=local_id,
        remote_id=f"r{local_id}",
        field="email",
        status=status,
    )


def events(integration, statuses, *, hours_ago=0):
    delivery = InboundDelivery.objects.create(
        subaccount=integration.subaccount, integration=integration, provider="hubspot", outcome="accepted"
    )
    for n, status in enumerate(statuses):
        event = InboundEvent.objects.create(
            subaccount=integration.subaccount,
            integration=integration,
            delivery=delivery,
            provider="hubspot",
            event_id=f"{delivery.pk}-{n}",
            status=status,
        )
        if hours_ago:
            InboundEvent.objects.filter(pk=event.pk).update(
                created_at=timezone.now() - timedelta(hours=hours_ago)
            )


def deliveries(subaccount, statuses):
    endpoint = Endpoint.objects.create(
        subaccount=subaccount, url="https://example.com/hook", secret="whsec_x"
    )
    for n, status in enumerate(statuses):
        message = Message.objects.create(
            subaccount=subaccount, msg_id=f"msg_{subaccount.pk}_{n}", event_type="contact.created", payload={}
        )
        Delivery.objects.create(message=message, endpoint=endpoint, status=status)


@pytest.fixture
def seeded():
    """Acme: HubSpot (active, busy today) and Salesforce (paused); Globex: HubSpot (in error)."""
    acme = SubAccountFactory(slug="acme", name="Acme")
    globex = SubAccountFactory(slug="globex", name="Globex")
    hubspot = IntegrationTemplateFactory(key="hubspot", display_name="HubSpot")
    salesforce = IntegrationTemplateFactory(key="salesforce", display_name="Salesforce")
    busy = IntegrationFactory(
        subaccount=acme,
        template=hubspot,
        name="Acme HubSpot",
        status="active",
        health="healthy",
        last_sync_at=timezone.now() - timedelta(minutes=5),
        sync_interval_minutes=15,
    )
    paused = IntegrationFactory(subaccount=acme, template=salesforce, name="Acme Salesforce", status="paused")
    broken = IntegrationFactory(
        subaccount=globex, template=hubspot, name="Globex HubSpot", status="error", health="failing"
    )
    first = run_for(busy, processed=7)
    run_for(busy, processed=3, status="partial")
    run_for(busy, processed=100, days_ago=2)
    record_error(first)
    record_error(first)
    record_error(first, resolved=True)
    conflict(busy, 1)
    conflict(busy, 2, status="resolved")
    conflict(broken, 3)
    run_for(broken, status="failed", error="HubSpot refused the token")
    events(busy, ["processed", "processed", "processed", "ignored", "failed", "pending"])
    events(busy, ["failed", "dead"], hours_ago=30)  # older than 24 h: not counted
    deliveries(acme, ["succeeded", "succeeded", "succeeded", "failed", "pending"])
    deliveries(globex, ["failed"])
    AuditLog.objects.create(
        subaccount=globex, integration=broken, actor="user:someone", action="globex.secret_action"
    )
    return {"acme": acme, "globex": globex, "busy": busy, "paused": paused, "broken": broken}


def superuser():
    return get_user_model().objects.create_superuser("operator", "op@example.com", "pw")


def staff_of(*subaccounts):
    user = get_user_model().objects.create_user("staff", "s@example.com", "pw", is_staff=True)
    user.user_permissions.set(Permission.objects.exclude(content_type__app_label="auth"))
    for sub in subaccounts:
        Membership.objects.create(user=user, subaccount=sub)
    return user


def names(dashboard) -> list[str]:
    return [row.integration.name for row in dashboard.rows]


def test_the_figures_of_a_seeded_situation(seeded):
    dashboard = dashboard_get(user=superuser(), filters=DashboardFilters())
    rows = {row.integration.name: row for row in dashboard.rows}
    busy = rows["Acme HubSpot"]
    assert busy.records_today == 10  # the two runs of today, not the one two days ago
    assert busy.failed_records == 2
    assert busy.open_conflicts == 1
    assert (busy.events_handled, busy.events_failed, busy.webhook_rate) == (4, 1, 80)
    assert busy.last_run.processed == 3  # the newest finished run
    assert busy.active_run is None
    assert busy.next_sync_at > timezone.now() + timedelta(minutes=9)
    assert not busy.next_sync_due
    paused = rows["Acme Salesforce"]
    assert paused.next_sync_at is None and paused.last_run is None and paused.webhook_rate is None
    assert not paused.can_sync
    broken = rows["Globex HubSpot"]
    assert broken.last_run.status == "failed" and broken.open_conflicts == 1
    totals = dashboard.totals
    assert (totals.integrations, totals.failing, totals.open_conflicts, totals.failed_records) == (3, 1, 2, 2)
    assert totals.records_today == 10
    assert totals.webhook_rate == 80
    assert (totals.delivery_rate, totals.deliveries) == (60, 5)  # 3 of 5 finished (pending left out)
    assert [e.what for e in dashboard.errors].count("Run failed") == 1
    assert dashboard.charts["records_chart"].legend == [("HubSpot", "#2f6fb0")]
    assert not dashboard.charts["events_chart"].empty
    assert not dashboard.charts["delivery_chart"].empty


def test_an_active_run_shows_instead_of_the_next_sync(seeded):
    run_for(seeded["busy"], status="running")
    row = next(
        r
        for r in dashboard_get(user=superuser(), filters=DashboardFilters()).rows
        if r.integration.name == "Acme HubSpot"
    )
    assert row.active_run.status == "running" and row.next_sync_at is None


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"provider": "salesforce"}, ["Acme Salesforce"]),
        ({"problem": FAILING}, ["Globex HubSpot"]),
        ({"problem": CONFLICTS}, ["Acme HubSpot", "Globex HubSpot"]),
        ({"problem": REAUTH}, []),
    ],
)
def test_filters_narrow_the_rows(seeded, filters, expected):
    assert names(dashboard_get(user=superuser(), filters=DashboardFilters(**filters))) == expected


def test_needs_reauthorization_is_the_flag_a_refused_grant_sets(seeded):
    Integration.objects.filter(pk=seeded["broken"].pk).update(reauthorization_needed=True)
    dashboard = dashboard_get(user=superuser(), filters=DashboardFilters(problem=REAUTH))
    assert names(dashboard) == ["Globex HubSpot"] and dashboard.totals.reauthorization == 1


def test_the_index_page_filters_by_sub_account_and_problem(client, seeded):
    client.force_login(superuser())
    page = client.get(INDEX, {"subaccount": seeded["globex"].pk}).content.decode()
    assert "Globex HubSpot" in page and "Acme HubSpot" not in page
    page = client.get(INDEX, {"problem": "conflicts", "provider": "hubspot"}).content.decode()
    assert "Acme HubSpot" in page and "Globex HubSpot" in page and "Acme Salesforce" not in page
    page = client.get(INDEX, {"provider": "nonsense"}).content.decode()  # ignored, not an error
    assert "Acme Salesforce" in page


def test_the_index_page_keeps_quick_links_and_the_app_list(client, seeded):
    client.force_login(superuser())
    response = client.get(INDEX)
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="quick-links"' in page and reverse("admin:integrations_catalog") in page
    assert 'id="dashboard-integrations"' in page and 'id="chart-records"' in page
    assert (
        reverse("admin:sync_conflict_changelist")
        + f"?integration__id__exact={seeded['busy'].pk}&amp;status__exact=open"
        in page
    )
    assert reverse("admin:integrations_transition", args=[seeded["busy"].pk, "pause"]) in page
    assert reverse("admin:integrations_transition", args=[seeded["paused"].pk, "resume"]) in page
    assert reverse("admin:sync_request", args=[seeded["busy"].pk]) in page
    assert 'class="app-integrations module' in page  # Django's app list stays below


def test_staff_see_only_their_sub_accounts(client, seeded):
    user = staff_of(seeded["acme"])
    dashboard = dashboard_get(user=user, filters=DashboardFilters())
    assert names(dashboard) == ["Acme HubSpot", "Acme Salesforce"]
    assert all(run.subaccount_id == seeded["acme"].pk for run in dashboard.runs)
    assert all(error.integration.subaccount_id == seeded["acme"].pk for error in dashboard.errors)
    assert all(entry.subaccount_id == seeded["acme"].pk for entry in dashboard.audit)
    assert dashboard.totals.open_conflicts == 1
    assert dashboard.totals.delivery_rate == 75  # Globex's failed delivery is not theirs
    client.force_login(user)
    page = client.get(INDEX).content.decode()
    assert "Globex" not in page and "globex.secret_action" not in page
    assert client.get(INDEX, {"subaccount": seeded["globex"].pk}).status_code == 404
    assert client.get(INDEX, {"subaccount": "x"}).status_code == 404


def test_pause_and_resume_from_the_dashboard(client, seeded):
    client.force_login(staff_of(seeded["acme"]))
    busy = seeded["busy"]
    pause = reverse("admin:integrations_transition", args=[busy.pk, "pause"])
    back = f"/admin/?subaccount={seeded['acme'].pk}"
    response = client.post(pause, {"next": back})
    assert response.status_code == 302 and response["Location"] == back
    busy.refresh_from_db()
    assert busy.status == "paused"
    assert AuditLog.objects.filter(
        integration=busy, actor="user:staff", action="integration.status_changed"
    ).exists()
    client.post(reverse("admin:integrations_transition", args=[busy.pk, "resume"]), {"next": INDEX})
    busy.refresh_from_db()
    assert busy.status == "active"
    assert client.get(pause).status_code == 405
    foreign = reverse("admin:integrations_transition", args=[seeded["broken"].pk, "pause"])
    assert client.post(foreign, {"next": INDEX}).status_code == 404


def test_the_empty_state_says_what_to_do_next(client, seeded):
    client.force_login(staff_of())
    page = client.get(INDEX).content.decode()
    assert "No integrations yet — open the catalog" in page
    assert reverse("admin:integrations_catalog") in page and reverse("admin:integrations_wizard") in page
    assert 'id="dashboard-integrations"' not in page and 'id="quick-links"' in page


def test_no_query_per_integration(seeded):
    user = superuser()

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            dashboard_get(user=user, filters=DashboardFilters())
        return len(captured)

    before = queries()
    for n in range(10):
        integration = IntegrationFactory(
            subaccount=seeded["acme"], template=seeded["busy"].template, status="active"
        )
        run_for(integration, processed=n)
        conflict(integration, 100 + n)
    assert queries() == before
