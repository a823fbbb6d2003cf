"""The operations dashboard in a real browser: an operator sees two sandbox integrations (HubSpot
and Salesforce emulators, each after a full sync) with the right counts and charts, narrows the
list, pauses and resumes one; a sub-account's staff user sees only theirs. At desktop and phone
width, and in dark mode."""

import pytest
from playwright.sync_api import Page, expect

from connectors.registry import emulator_module
from integrations.models import SubAccount
from sync.models import SyncRun
from sync.runs import sync_run_execute, sync_run_request
from tests.e2e.conftest import log_in, screenshot
from tests.sandbox import sandbox_integration

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def synced(sub: SubAccount, provider: str, sandbox: str, *, contacts: int):
    """A sandbox integration whose emulator holds ``contacts`` contacts, after one full sync."""
    emulator = emulator_module(provider).emulator
    emulator.reset()
    integration = sandbox_integration(sub, provider, sandbox, name=f"{sub.name} {provider}")
    emulator.seed("contacts" if provider == "hubspot" else "Contact", contacts, None)
    run = sync_run_execute(
        run_id=sync_run_request(integration=integration, kind="full", enqueue=False, entities=["contact"]).pk
    )
    assert run.status == "succeeded", run.error
    return integration


def row(page: Page, integration):
    return page.locator(f"#dashboard-integrations tr[data-integration='{integration.pk}']")


def processed_today(integration) -> int:
    return sum(SyncRun.objects.filter(integration=integration).values_list("processed", flat=True))


def test_the_dashboard_shows_counts_charts_filters_and_actions(live_server, operator_page: Page, staff_user):
    page = operator_page
    base = live_server.url
    acme = SubAccount.objects.get(slug="acme")
    globex = SubAccount.objects.create(slug="globex", name="Globex")
    hubspot = synced(acme, "hubspot", f"{base}/sandbox", contacts=6)
    salesforce = synced(globex, "salesforce", f"{base}/sandbox", contacts=4)
    assert processed_today(hubspot) >= 6 and processed_today(salesforce) >= 4

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/admin/")
    expect(page.locator("#quick-links")).to_be_visible()
    expect(page.locator("#dashboard-integrations tbody tr")).to_have_count(2)
    for integration in (hubspot, salesforce):
        cells = row(page, integration)
        expect(cells.locator(".dash-today")).to_have_text(str(processed_today(integration)))
        expect(cells.locator(".dash-status")).to_have_text("Active")
        expect(cells.locator(".dash-failed")).to_have_text("0")
        expect(cells.locator(".dash-last a")).to_contain_text("ago")
        expect(cells.locator(".dash-next")).to_contain_text("in ")
    expect(row(page, salesforce).locator(".dash-provider")).to_contain_text("Salesforce")
    expect(page.locator("#total-records-today")).to_have_text(
        str(processed_today(hubspot) + processed_today(salesforce))
    )
    records = page.locator("#chart-records svg")
    expect(records).to_be_visible()
    assert records.locator("rect.bar").count() >= 2  # one per provider today
    expect(page.locator("#chart-records .legend")).to_contain_text("HubSpot")
    expect(page.locator("#chart-records .legend")).to_contain_text("Salesforce")
    expect(page.locator("#recent-runs")).to_contain_text("Full sync · HubSpot")
    expect(page.locator("#recent-audit")).to_contain_text("integration.status_changed")
    screenshot(page, "dashboard")

    page.select_option("#dashboard-filters select[name=provider]", "salesforce")
    page.click("#dashboard-filters button[type=submit]")
    expect(page.locator("#dashboard-integrations tbody tr")).to_have_count(1)
    expect(row(page, salesforce)).to_be_visible()
    page.click("#dashboard-filters-clear")
    expect(page.locator("#dashboard-integrations tbody tr")).to_have_count(2)

    row(page, hubspot).locator(".dash-pause").click()
    expect(row(page, hubspot).locator(".dash-status")).to_have_text("Paused")
    expect(row(page, hubspot).locator(".dash-next")).to_have_text("—")
    expect(page.locator(".messagelist")).to_contain_text("pause done")
    row(page, hubspot).locator(".dash-resume").click()
    expect(row(page, hubspot).locator(".dash-status")).to_have_text("Active")

    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.reload()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 392, f"the page scrolls sideways on a phone ({width}px)"
    box = page.locator("#chart-records svg").bounding_box()
    assert box is not None and box["width"] <= 390
    screenshot(page, "dashboard-phone")

    page.set_viewport_size({"width": 1280, "height": 900})
    page.emulate_media(color_scheme="dark")
    page.reload()
    expect(page.locator("#dashboard-integrations")).to_be_visible()
    screenshot(page, "dashboard-dark")
    page.emulate_media(color_scheme="light")

    staff_user("acme-staff", acme)
    page.context.clear_cookies()
    log_in(page, base, "acme-staff")
    page.goto(f"{base}/admin/")
    expect(page.locator("#dashboard-integrations tbody tr")).to_have_count(1)
    expect(row(page, hubspot)).to_be_visible()
    expect(page.locator("#dashboard-filters select[name=subaccount] option")).to_have_count(2)  # all + acme
    expect(page.locator("body")).not_to_contain_text("Globex")
    assert page.goto(f"{base}/admin/?subaccount={globex.pk}").status == 404
