"""A sub-account's staff member in a real browser: they see their own sub-account's integration
and none of another's; another tenant's integration, contact, run and conflict by URL are 404; the
catalog serves them (cards, Learn more), the catalog's template admin does not."""

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from sync.models import Conflict, Contact, SyncRun
from tests.e2e.conftest import log_in, screenshot
from tests.factories import IntegrationFactory, SubAccountFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_staff_of_acme_see_acme_only(live_server, page: Page, staff_user):
    call_command("load_catalog", verbosity=0)
    acme = SubAccountFactory(slug="acme", name="Acme")
    globex = SubAccountFactory(slug="globex", name="Globex")
    IntegrationFactory(subaccount=acme, name="Acme HubSpot", status="active")
    theirs = IntegrationFactory(subaccount=globex, name="Globex HubSpot", status="error")
    contact = Contact.objects.create(subaccount=globex, email="boss@globex.test")
    run = SyncRun.objects.create(subaccount=globex, integration=theirs, kind="delta")
    conflict = Conflict.objects.create(
        subaccount=globex, integration=theirs, entity="contact", local_id=contact.pk, field="email"
    )
    staff_user("ana", acme)
    base = live_server.url
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, base, "ana")

    page.goto(f"{base}/admin/integrations/integration/")
    expect(page.locator("#result_list")).to_contain_text("Acme HubSpot")
    expect(page.locator("#content")).not_to_contain_text("Globex")
    screenshot(page, "staff-view")

    for url in (
        f"/admin/integrations/integration/{theirs.pk}/change/",
        f"/admin/sync/contact/{contact.pk}/change/",
        f"/admin/sync/syncrun/{run.pk}/change/",
        f"/admin/sync/conflict/{conflict.pk}/change/",
    ):
        assert page.goto(base + url).status == 404, url

    page.goto(f"{base}/admin/integrations/integration/catalog/")
    expect(page.locator("#catalog-scope")).to_contain_text("Acme")  # their only sub-account
    card = page.locator(".catalog-card[data-key=hubspot]")
    expect(card.locator(".badge")).to_have_text("Active")  # acme's one HubSpot; globex's error unseen
    card.get_by_role("link", name="Learn more").click()
    expect(page.locator("#setup-instructions")).to_contain_text("Private Apps")
    expect(page.get_by_role("link", name="Set up")).to_be_visible()

    assert page.goto(f"{base}/admin/integrations/integrationtemplate/").status == 403
    page.goto(f"{base}/admin/")
    expect(page.locator("#content-main")).not_to_contain_text("Integration templates")
