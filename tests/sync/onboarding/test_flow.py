"""Seed 000's onboarding flow over real HTTP against the AITable and MissionX emulators: new lead →
portal → URL back; Won → order row + activation + e-mail; upload → audit row linked to the order.
Every step once, whatever is replayed or retried."""

from __future__ import annotations

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from connectors.base import WebhookEvent
from integrations.services import inbound_webhook_url
from sync.models import AuditResult, ClientOrder, ClientPortal, Conflict, Contact, FlowStep
from sync.onboarding.events import flow_events_apply
from sync.onboarding.handlers import steps_run
from sync.services import record_update
from tests.sync.onboarding.conftest import settle
from webhooks.models import InboundEvent

pytestmark = pytest.mark.django_db(transaction=True)

PAYROLL = (
    b"Employee ID,Name,Hours,Rate,Gross,Deductions,Net\n"
    b"E1,Ana Lee,40,25,1000,200,800\n"
    b"E2,Bo Chen,38,30,1000,150,850\n"  # 38 x 30 = 1140: gross corrected
    b",No Id,10,20,200,0,200\n"  # missing employee id: flagged
    b"E1,Ana Lee,40,25,1000,200,800\n"  # duplicate row: dropped
)


def cell(row: dict, column: str):
    return row["fields"].get(column)


def lead_with_portal(pair) -> tuple[dict, ClientPortal]:
    lead = pair.edit({"Client Name": "Acme Payroll", "Email": "ops@acme.example", "Status": "New"})
    settle(expected_events=1)
    return lead, ClientPortal.objects.get(lead_record_id=lead["recordId"])


def won(pair, lead: dict) -> ClientOrder:
    pair.edit({"Status": "Won"}, record_id=lead["recordId"])
    settle(expected_events=2)
    return ClientOrder.objects.get(lead_record_id=lead["recordId"])


def test_a_new_lead_gets_a_portal_whose_url_is_written_back(pair):
    lead, portal = lead_with_portal(pair)

    contact = Contact.objects.get(email="ops@acme.example")
    assert (contact.first_name, contact.last_name) == ("Acme", "Payroll")
    remote = pair.portal(portal.remote_id)
    assert remote["external_id"] == str(contact.pk) and remote["email"] == "ops@acme.example"
    [row] = pair.rows(pair.leads)
    assert cell(row, "Portal URL") == portal.url == remote["url"]
    step = FlowStep.objects.get(key=f"portal:{lead['recordId']}")
    assert (step.status, step.record_id, step.datasheet_id) == ("success", lead["recordId"], pair.leads)


def test_won_opens_one_order_activates_the_portal_and_invites_the_client_once(pair):
    lead, portal = lead_with_portal(pair)
    order = won(pair, lead)

    [row] = pair.rows(pair.orders)
    assert row["recordId"] == order.record_id
    assert cell(row, "Lead") == [lead["recordId"]] and cell(row, "Lead Record ID") == lead["recordId"]
    assert cell(row, "Client Name") == "Acme Payroll" and cell(row, "Status") == "Active"
    remote = pair.portal(portal.remote_id)
    assert remote["status"] == "active" and remote["uploads_enabled"] is True
    assert [m.to for m in mail.outbox] == [["ops@acme.example"]]
    assert portal.url in mail.outbox[0].body

    # A second "Won" edit, a replayed webhook and a retried step make nothing twice.
    pair.edit({"Notes": "called again"}, record_id=lead["recordId"])
    settle(expected_events=3)
    FlowStep.objects.filter(key=f"order:{lead['recordId']}").update(status="pending", attempts=1)
    steps_run()
    assert len(pair.rows(pair.orders)) == 1
    assert ClientOrder.objects.count() == 1 and len(mail.outbox) == 1


def test_an_upload_is_audited_into_a_row_linked_to_the_order(pair):
    lead, portal = lead_with_portal(pair)
    order = won(pair, lead)
    uploaded = pair.upload(portal.remote_id, "march.csv", PAYROLL)
    settle(expected_events=4)

    audit = AuditResult.objects.get(file_id=uploaded["file"]["id"])
    assert (audit.status, audit.employees_processed, audit.order_id) == ("completed", 3, order.pk)
    assert audit.corrections_made == 3
    [row] = pair.rows(pair.audits)
    assert row["recordId"] == audit.record_id
    assert cell(row, "Order") == [order.record_id] and cell(row, "File Name") == "march.csv"
    assert (cell(row, "Employees Processed"), cell(row, "Corrections Made")) == (3, 3)
    assert cell(row, "Status") == "completed" and cell(row, "Upload Date")
    corrected = Client().get(cell(row, "Corrected File URL").removeprefix(pair.live_url))
    assert corrected.status_code == 200 and b"1140" in b"".join(corrected.streaming_content)
    step = FlowStep.objects.get(key=f"audit:{audit.file_id}")
    assert (step.status, step.record_id, step.datasheet_id) == ("success", audit.record_id, pair.audits)

    # The same event again (a replay) queues nothing; the step retried after its row was written
    # (an answer lost) finds the row instead of writing a second one.
    event = step.payload
    flow_events_apply(pair.missionx, [_file_event(portal, event["file"])])
    FlowStep.objects.filter(pk=step.pk).update(status="pending", attempts=1)
    AuditResult.objects.filter(pk=audit.pk).update(record_id="")
    steps_run()
    assert len(pair.rows(pair.audits)) == 1 and AuditResult.objects.count() == 1
    assert FlowStep.objects.filter(entity_type="audit_result").count() == 1


def test_a_bad_payroll_file_fails_alone_with_its_reason(pair):
    lead, portal = lead_with_portal(pair)
    won(pair, lead)
    bad = pair.upload(portal.remote_id, "scan.pdf", b"%PDF-1.7 not a payroll", "application/pdf")
    good = pair.upload(portal.remote_id, "april.csv", PAYROLL)
    settle(expected_events=5)

    failed = FlowStep.objects.get(key=f"audit:{bad['file']['id']}")
    assert failed.status == "failed" and "unsupported file type" in failed.error
    assert AuditResult.objects.get(file_id=bad["file"]["id"]).status == "failed"
    assert AuditResult.objects.get(file_id=good["file"]["id"]).status == "completed"
    statuses = sorted(cell(row, "Status") for row in pair.rows(pair.audits))
    assert statuses == ["completed", "failed"]


def test_aitable_errors_sent_as_http_200_fail_the_step(pair):
    config = dict(pair.aitable.config)
    config["onboarding"] = {**config["onboarding"], "orders_datasheet": "dstNoSuchSheet01"}
    pair.aitable.config = config
    pair.aitable.save(update_fields=["config"])
    lead, _portal = lead_with_portal(pair)
    pair.edit({"Status": "Won"}, record_id=lead["recordId"])
    settle(expected_events=2)

    step = FlowStep.objects.get(key=f"order:{lead['recordId']}")
    assert step.status == "failed" and "dstNoSuchSheet01" in step.error
    assert not ClientOrder.objects.exists()


def test_a_portal_created_before_a_crash_is_found_not_made_again(pair):
    lead, portal = lead_with_portal(pair)
    # As if the worker had died after MissionX created the portal, before anything was noted.
    ClientPortal.objects.all().delete()
    FlowStep.objects.filter(key=f"portal:{lead['recordId']}").update(status="pending", attempts=1, result={})
    steps_run()

    assert ClientPortal.objects.get().remote_id == portal.remote_id
    assert [p["id"] for p in pair.portals()] == [portal.remote_id]


def test_leads_are_tracked_both_ways(pair):
    lead, _portal = lead_with_portal(pair)
    inbound = FlowStep.objects.get(key=f"lead:inbound:{lead['recordId']}")
    assert (inbound.entity_type, inbound.status, inbound.datasheet_id) == ("lead", "success", pair.leads)
    assert inbound.internal_id == str(Contact.objects.get(email="ops@acme.example").pk)


def _file_event(portal: ClientPortal, file: dict) -> WebhookEvent:
    return WebhookEvent(
        event_id="evt_replay",
        entity="portal",
        remote_id=portal.remote_id,
        action="file_uploaded",
        occurred_at=None,
        raw={"portal": {}, "file": file},
    )


def test_a_conflict_is_settled_by_the_latest_edit_and_logged(pair):
    lead, _portal = lead_with_portal(pair)
    contact = Contact.objects.get(email="ops@acme.example")
    record_update(record=contact, fields={"email": "finance@acme.example"}, origin="test:app")
    pair.edit({"Email": "payroll@acme.example"}, record_id=lead["recordId"])  # later, in AITable
    settle(expected_events=2)

    contact.refresh_from_db()
    assert contact.email == "payroll@acme.example"
    conflict = Conflict.objects.get(integration=pair.aitable, field="email")
    assert conflict.status == "resolved" and conflict.resolved_by == "strategy:newest_wins"
    assert (conflict.local_value, conflict.remote_value) == ("finance@acme.example", "payroll@acme.example")
    operator = Client()
    operator.force_login(get_user_model().objects.create_superuser("op", "op@example.com", "pw-123456789"))
    page = operator.get("/admin/sync/conflict/?status__exact=resolved").content.decode()
    assert "finance@acme.example" in page or f"/admin/sync/conflict/{conflict.pk}/" in page


def test_a_wrong_aitable_signature_is_refused_and_nothing_is_processed(pair):
    url = inbound_webhook_url(pair.aitable)
    body = {"eventType": "record.created", "datasheetId": pair.leads, "recordId": "recForged0001"}
    resp = requests.post(url, json=body, headers={"X-AITable-Signature": "not-the-secret"}, timeout=10)
    assert resp.status_code == 401
    assert not InboundEvent.objects.exists()
    resp = requests.post(
        url, json=body, headers={"X-AITable-Signature": str(pair.aitable.webhook_secret)}, timeout=10
    )
    assert resp.status_code == 200 and resp.json()["success"] is True and resp.json()["syncId"]
