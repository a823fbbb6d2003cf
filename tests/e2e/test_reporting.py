"""The lead reporting page in a real browser: leads that came in from the Facebook emulator (through a
sync), that ad account's spend and the GA4 emulator's traffic read as daily reports, drawn as
charts, at desktop and phone width."""

import pytest
from playwright.sync_api import Page, expect

from connectors.facebook_leads.emulator import emulator as facebook_emulator
from connectors.google_analytics.emulator import emulator as google_analytics_emulator
from integrations.models import SubAccount
from sync.models import Contact
from sync.reports import report_read
from sync.runs import sync_run_execute, sync_run_request
from tests.e2e.test_wizard import operator  # noqa: F401 (the logged-in operator fixture)
from tests.sandbox import sandbox_integration

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_reporting_page_charts_leads_cost_and_conversion(live_server, operator: Page):  # noqa: F811
    page = operator
    facebook_emulator.reset()
    sub = SubAccount.objects.get(slug="acme")
    ads = sandbox_integration(sub, "facebook_leads", f"{live_server.url}/sandbox")
    facebook_emulator.seed_leads(12)
    run = sync_run_execute(run_id=sync_run_request(integration=ads, kind="full", enqueue=False).pk)
    assert run.status == "succeeded"
    contacts = Contact.objects.filter(subaccount=sub)  # custom fields are encrypted: read in Python
    assert sum(c.custom_fields.get("campaign_id") is not None for c in contacts) == 12
    report_read(ads)
    google_analytics_emulator.reset()
    web = sandbox_integration(sub, "google_analytics", f"{live_server.url}/sandbox")
    google_analytics_emulator.seed("traffic", 30, None)
    assert report_read(web).rows > 0

    page.goto(f"{live_server.url}/admin/sync/dailyreport/")
    page.click("text=Lead reporting")
    expect(page.locator("#leads-total")).to_have_text("12")
    leads_chart = page.locator("#chart-leads svg")
    expect(leads_chart).to_be_visible()
    assert leads_chart.locator("rect.bar").count() >= 1
    expect(page.locator("#chart-leads .legend")).to_contain_text("campaign")
    expect(page.locator("#chart-cost svg rect.bar").first).to_be_visible()
    expect(page.locator("#campaign-costs")).to_contain_text("campaign")
    expect(page.locator("#chart-conversion svg rect.bar").first).to_be_visible()
    web_chart = page.locator("#chart-web svg")
    expect(web_chart.locator("polyline.line")).to_have_count(2)  # sessions and conversions
    expect(page.locator("#chart-web .legend")).to_contain_text("Sessions")
    bar = leads_chart.locator("rect.bar").first
    assert "campaign" in (bar.locator("title").text_content() or "")

    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.reload()
    box = page.locator("#chart-leads svg").bounding_box()
    assert box is not None and box["width"] <= 390
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the page scrolls sideways on a phone ({width}px)"
