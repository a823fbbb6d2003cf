"""The flow's tracking through the API and the admin: the seed's AITableSync fields, filters,
retries, the manual sync, the report — and never another tenant's rows."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from integrations.models import IntegrationTemplate, Membership
from sync.models import AuditResult, ClientOrder, ClientPortal, FlowStep
from sync.onboarding.reporting import onboarding_report
from tests.factories import IntegrationFactory
from tests.sync.api.conftest import api_for

pytestmark = pytest.mark.django_db

FLOW = {
    "enabled": True,
    "orders_datasheet": "dstOrders0001",
    "audit_results_datasheet": "dstAudits0001",
    "price_per_employee": 2.5,
    "currency": "EUR",
}


def aitable(subaccount):
    return IntegrationFactory(
        subaccount=subaccount,
        template=IntegrationTemplate.objects.get(key="aitable"),
        status="active",
        config={"api_token": "usk-test-token", "datasheets": {"contact": "dstLeads0001"}, "onboarding": FLOW},
    )


def step(integration, key, **values):
    defaults = {
        "entity_type": key.split(":")[0] if not key.startswith("lead") else "lead",
        "direction": "outbound",
        "status": "success",
        "record_id": key.split(":")[-1],
    }
    return FlowStep.objects.create(
        subaccount_id=integration.subaccount_id, integration=integration, key=key, **{**defaults, **values}
    )


@pytest.fixture
def ours(catalog, subaccount):
    return aitable(subaccount)


@pytest.fixture
def theirs(catalog, other_subaccount):
    return aitable(other_subaccount)


def test_tracking_rows_carry_the_seeds_fields_and_filter(ours, theirs, subaccount):
    step(ours, "lead:inbound:rec1", direction="inbound", internal_id="5", datasheet_id="dstLeads0001")
    step(ours, "order:rec1", status="failed", error="datasheet missing (301)")
    step(theirs, "lead:inbound:recX", direction="inbound")
    api = api_for(subaccount)

    body = api.get("/api/v1/onboarding/tracking/").json()
    assert {row["record_id"] for row in body["results"]} == {"rec1"}
    lead = next(row for row in body["results"] if row["entity_type"] == "lead")
    assert lead["sync_direction"] == "aitable_to_app" and lead["entity_id"] == "5"
    assert lead["datasheet_id"] == "dstLeads0001" and lead["sync_status"] == "success"
    assert set(lead) >= {"error_message", "last_synced_at", "created_at", "updated_at"}

    failed = api.get(
        "/api/v1/onboarding/tracking/", {"status": "failed", "direction": "app_to_aitable"}
    ).json()
    assert [row["error_message"] for row in failed["results"]] == ["datasheet missing (301)"]
    assert api.get("/api/v1/onboarding/tracking/", {"entity_type": "portal"}).json()["results"] == []


def test_retry_queues_a_failed_step_again_and_refuses_others(ours, theirs, subaccount):
    failed = step(ours, "order:rec1", status="failed", error="boom", attempts=8)
    done = step(ours, "portal:rec1")
    foreign = step(theirs, "order:recX", status="failed")
    api = api_for(subaccount)

    resp = api.post(f"/api/v1/onboarding/tracking/{failed.pk}/retry/")
    assert resp.status_code == 202 and resp.json()["sync_status"] == "pending"
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("pending", 0)
    assert api.post(f"/api/v1/onboarding/tracking/{done.pk}/retry/").status_code == 409
    assert api.post(f"/api/v1/onboarding/tracking/{foreign.pk}/retry/").status_code == 404


def test_manual_sync_of_an_order_requeues_its_step(ours, subaccount):
    order = ClientOrder.objects.create(subaccount=subaccount, integration=ours, lead_record_id="rec1")
    step(ours, "order:rec1", status="failed", error="MissionX was down")
    api = api_for(subaccount)
    body = {"entity_type": "order", "entity_id": str(order.pk), "direction": "app_to_aitable"}

    resp = api.post("/api/v1/onboarding/sync", body, format="json")
    assert resp.status_code == 202 and resp.json()["status"] == "pending" and resp.json()["sync_id"]
    missing = {**body, "entity_id": "999999"}
    assert api.post("/api/v1/onboarding/sync", missing, format="json").status_code == 404
    wrong_way = {**body, "direction": "aitable_to_app"}
    assert api.post("/api/v1/onboarding/sync", wrong_way, format="json").status_code == 409


def test_the_report_counts_portals_orders_audits_and_revenue(ours, subaccount):
    portal = ClientPortal.objects.create(
        subaccount=subaccount,
        integration=ours,
        portal_integration=ours,
        lead_record_id="rec1",
        remote_id="prt_1",
        url="https://portal.example/p/1",
        activated_at=timezone.now(),
    )
    order = ClientOrder.objects.create(
        subaccount=subaccount, integration=ours, portal=portal, lead_record_id="rec1"
    )
    for n, (employees, status) in enumerate([(40, "completed"), (10, "completed"), (99, "failed")]):
        AuditResult.objects.create(
            subaccount=subaccount,
            integration=ours,
            portal=portal,
            order=order,
            file_id=f"fil_{n}",
            file_name=f"f{n}.csv",
            employees_processed=employees,
            corrections_made=1,
            status=status,
        )

    report = onboarding_report(subaccount=subaccount)
    assert (report.portals_created, report.portals_activated, report.files_uploaded) == (1, 1, 3)
    assert report.active_orders == 1
    [row] = report.orders
    assert (row.audits, row.employees, row.revenue, row.currency) == (2, 50, Decimal("125.0"), "EUR")
    assert report.days[-1].audits == 3 and report.days[-1].employees == 149 and report.days[-1].failed == 1


def test_the_admin_shows_only_the_staff_members_sub_accounts(ours, theirs, subaccount, client):
    step(ours, "order:recMine", status="failed")
    step(theirs, "order:recTheirs", status="failed")
    user = get_user_model().objects.create_user("staff", "s@example.com", "pw-123456789", is_staff=True)
    user.user_permissions.set(user.user_permissions.model.objects.filter(content_type__app_label="sync"))
    Membership.objects.create(user=user, subaccount=subaccount)
    client.force_login(user)

    html = client.get("/admin/sync/flowstep/").content.decode()
    assert "recMine" in html and "recTheirs" not in html
    report = client.get("/admin/sync/flowstep/report/")
    assert report.status_code == 200 and 'id="audits-per-day"' in report.content.decode()
    assert client.get(f"/admin/sync/flowstep/report/?subaccount={theirs.subaccount_id}").status_code == 404
