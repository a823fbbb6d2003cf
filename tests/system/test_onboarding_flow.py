"""Seed 000 end to end with real parts: a lead typed into the AITable emulator reaches us through its
automation webhook, a Celery worker creates the MissionX portal and writes its URL back; "Won" opens
an order row, activates the portal and e-mails the client; the client's upload comes back as a
signed MissionX webhook and lands, audited, in Audit Results linked to the order."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.models import AuditResult, ClientOrder, ClientPortal, FlowStep
from tests.sync.onboarding.conftest import pair_wire
from tests.sync.onboarding.test_flow import PAYROLL, cell
from tests.system.conftest import wait_for

pytestmark = [pytest.mark.system, pytest.mark.django_db(transaction=True)]


def test_lead_to_portal_to_order_to_audit_with_a_real_worker(
    real_servers, catalog, subaccount, sandbox_url, live_server, workers, settings, tmp_path
):
    settings.PUBLIC_BASE_URL = live_server.url
    mails = tmp_path / "mail"
    workers(
        "onboarding-1",
        env={
            "PUBLIC_BASE_URL": live_server.url,
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(mails),
        },
    )
    pair = pair_wire(subaccount, sandbox_url, live_server.url)

    lead = pair.edit({"Client Name": "Globex Payroll", "Email": "hr@globex.example", "Status": "New"})

    def url_written_back():
        rows = [row for row in pair.rows(pair.leads) if row["recordId"] == lead["recordId"]]
        return rows and cell(rows[0], "Portal URL")

    url = wait_for(url_written_back, timeout=30, message="the portal URL in the lead's row")
    portal = ClientPortal.objects.get(lead_record_id=lead["recordId"])
    assert url == portal.url and pair.portal(portal.remote_id)["email"] == "hr@globex.example"

    pair.edit({"Status": "Won"}, record_id=lead["recordId"])
    [order_row] = wait_for(lambda: pair.rows(pair.orders), timeout=30, message="the order row")
    assert cell(order_row, "Lead") == [lead["recordId"]]
    wait_for(lambda: pair.portal(portal.remote_id)["uploads_enabled"], timeout=30, message="uploads enabled")
    wait_for(lambda: mails.exists() and list(mails.iterdir()), timeout=30, message="the access e-mail")
    [mail] = list(Path(mails).iterdir())
    assert "hr@globex.example" in mail.read_text() and portal.url in mail.read_text()

    uploaded = pair.upload(portal.remote_id, "payroll.csv", PAYROLL)
    [audit_row] = wait_for(lambda: pair.rows(pair.audits), timeout=30, message="the audit row")
    order = ClientOrder.objects.get()
    assert cell(audit_row, "Order") == [order.record_id] == [order_row["recordId"]]
    assert (cell(audit_row, "Employees Processed"), cell(audit_row, "Status")) == (3, "completed")
    assert AuditResult.objects.get().file_id == uploaded["file"]["id"]
    # The audit row is written by a step that is marked done just after: wait for the marks.
    wait_for(
        lambda: (
            set(FlowStep.objects.exclude(entity_type="lead").values_list("status", flat=True)) == {"success"}
        ),
        timeout=30,
        message="every step of the flow marked success",
    )
