"""Runs that move and conflicts side by side, in a real browser: a full sync of a sandbox HubSpot
integration runs in the background while its page updates itself to the end without a reload; then
a record's conflicts are resolved per field and the chosen values reach the HubSpot emulator at once.
At 1280 px (screenshots) and at a phone's 390 px (no sideways scroll)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from playwright.sync_api import Page, expect

from connectors.registry import emulator_module
from integrations.models import SubAccount
from sync.models import Contact, EntityLink
from sync.runs import sync_run_execute, sync_run_request
from sync.services import record_update
from tests.e2e.conftest import screenshot
from tests.sandbox import sandbox_integration

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CONTACTS = 2500  # enough for the run to take a few seconds (it applies 1000 records a batch)


def in_background(run_id: int) -> threading.Thread:
    """Execute the run in a thread, as a worker would (no Celery worker in these tests)."""

    def work():
        try:
            sync_run_execute(run_id=run_id)
        finally:
            connection.close()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 392, f"the page scrolls sideways on a phone ({width}px)"


def test_a_run_moves_to_its_end_without_a_reload_and_a_conflict_is_resolved_per_field(
    live_server, operator_page: Page
):
    page = operator_page
    page.set_viewport_size({"width": 1280, "height": 900})
    hubspot = emulator_module("hubspot").emulator
    hubspot.reset()
    hubspot.seed("contacts", CONTACTS, None)
    sub = SubAccount.objects.get(slug="acme")
    integration = sandbox_integration(
        sub, "hubspot", f"{live_server.url}/sandbox", name="HubSpot (sandbox)", conflict_strategy="manual"
    )
    run = sync_run_request(integration=integration, kind="full", entities=["contact"], enqueue=False)

    page.goto(f"{live_server.url}/admin/sync/syncrun/{run.pk}/change/")
    expect(page.locator("#run-title")).to_contain_text(
        "Full sync · HubSpot (sandbox) · Acme · waiting to start"
    )
    expect(page.locator("#run-entities .run-entity")).to_have_text(["contact"])
    first_label = page.locator("#run-progress .label").text_content()
    page.evaluate("window.__stillThisPage = 'yes'")  # a reload or navigation would lose it

    worker = in_background(run.pk)
    panel = page.locator(".run-panel")
    expect(panel).to_have_attribute("data-status", "running", timeout=20_000)
    expect(page.locator("#run-title")).to_contain_text("records so far")
    expect(page.locator("#run-progress .label")).not_to_have_text(first_label or "")
    expect(page.locator("#run-count-processed")).not_to_have_text("0", timeout=20_000)
    screenshot(page, "run-live")

    expect(panel).to_have_attribute("data-status", "succeeded", timeout=60_000)
    worker.join(timeout=30)
    expect(page.locator("#run-progress .label")).to_have_text(f"Succeeded · {CONTACTS} records")
    expect(page.locator("#run-title")).to_contain_text(f"· {CONTACTS} records in ")
    expect(page.locator("#run-count-created")).to_have_text(str(CONTACTS))
    expect(page.locator("#run-no-errors")).to_have_text("No record failed.")
    assert page.evaluate("window.__stillThisPage") == "yes"  # updated in place, never reloaded
    screenshot(page, "run-done")
    page.set_viewport_size({"width": 390, "height": 844})
    no_sideways_scroll(page)

    # A real conflict: the same contact's first name and job title changed here and in HubSpot.
    link = EntityLink.objects.filter(integration=integration, entity="contact").order_by("pk").first()
    record_update(
        record=Contact.objects.get(pk=link.local_id),
        fields={"first_name": "Ana (app)", "job_title": "Founder"},
        origin="api",
    )
    time.sleep(0.01)
    hubspot.touch("contacts", link.remote_id, {"firstname": "Ana (CRM)", "jobtitle": "CEO"})
    delta = sync_run_execute(
        run_id=sync_run_request(integration=integration, kind="delta", entities=["contact"], enqueue=False).pk
    )
    assert delta.conflicts == 2

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/admin/sync/conflict/?status__exact=open")
    page.click("a.conflict-record-link >> nth=0")
    row = page.locator("tr[data-field='first_name']")
    expect(row.locator("td.local.differs")).to_have_text("Ana (app)")
    expect(row.locator("td.remote.differs")).to_have_text("Ana (CRM)")
    expect(page.locator("tr[data-field='job_title'] td.remote.differs")).to_have_text("CEO")
    screenshot(page, "conflict-side-by-side")
    page.set_viewport_size({"width": 390, "height": 844})
    no_sideways_scroll(page)
    page.set_viewport_size({"width": 1280, "height": 900})

    row.locator("input[value=custom]").check()
    row.locator("input[type=text]").fill("Ana Maria")
    page.locator("tr[data-field='job_title'] input[value=remote]").check()
    page.click("#resolve-chosen")

    expect(page.locator(".messagelist")).to_contain_text("synced with HubSpot (sandbox) at once")
    result = page.locator("#result-values")
    expect(result.locator("tr[data-field='first_name'] td.result-remote")).to_have_text("Ana Maria")
    expect(result.locator("tr[data-field='job_title'] td.result-remote")).to_have_text("CEO")
    expect(page.locator("#no-open-conflicts")).to_be_visible()
    pushed = hubspot.records("contacts").get(remote_id=link.remote_id).data
    assert (pushed["firstname"], pushed["jobtitle"]) == ("Ana Maria", "CEO")
    assert Contact.objects.get(pk=link.local_id).first_name == "Ana Maria"
