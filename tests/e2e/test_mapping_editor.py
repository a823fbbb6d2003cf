"""The field-mapping editor in a real browser, against the HubSpot emulator: add a row with a
transform and its argument form, see a bad argument refused inline, preview the sample values
transformed, save, reload; at desktop and phone width."""

import pytest
from playwright.sync_api import Page, expect

from connectors.hubspot.emulator import emulator as hubspot_emulator
from integrations.models import SubAccount
from sync.fields import fields_refresh
from sync.models import Contact, FieldMapping
from tests.e2e.conftest import screenshot
from tests.sandbox import sandbox_integration

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_build_a_mapping_with_a_transform_preview_it_and_save(live_server, operator_page: Page):
    page = operator_page
    page.set_viewport_size({"width": 1280, "height": 900})
    hubspot_emulator.reset()
    sub = SubAccount.objects.get(slug="acme")
    hubspot = sandbox_integration(sub, "hubspot", f"{live_server.url}/sandbox")
    assert fields_refresh(hubspot, ["contact"]).ok
    [remote] = hubspot_emulator.create_many(
        "contacts", [{"email": "Ada.Lovelace@Example.COM", "firstname": "Ada", "lastname": "Lovelace"}]
    )
    Contact.objects.create(subaccount=sub, email="grace@example.com", first_name="Grace", last_name="Hopper")

    page.goto(f"{live_server.url}/admin/integrations/integration/{hubspot.pk}/change/")
    page.click("#mapping-editor-link")
    expect(page.locator("#tab-contact")).to_have_attribute("aria-current", "page")
    rows = page.locator("#mapping-rows .me-row")
    defaults = rows.count()
    assert defaults > 3
    expect(page.locator('input[name="rows-0-local"]')).to_have_value("first_name")

    page.click("#add-row")
    expect(rows).to_have_count(defaults + 1)
    row = rows.last
    row.locator("input[name$='-local']").fill("custom:created_on")
    row.locator("select[name$='-direction']").select_option("from_remote")
    row.locator("input[name$='-remote']").fill("createdate")
    row.locator("select[name$='-transform']").select_option(label="Date / time format")
    fmt = row.locator(".me-arg[data-arg='format']")
    expect(fmt).to_be_visible()
    fmt.locator("input").fill("someday")
    expect(fmt.locator(".me-arg-errors")).to_contain_text("argument 'format' must be one of epoch_ms")
    expect(row).to_have_class("me-row has-errors")
    fmt.locator("input").fill("iso")
    row.locator(".me-arg[data-arg='as_date'] input[type=checkbox]").check()
    expect(fmt.locator(".me-arg-errors li")).to_have_count(0)
    screenshot(page, "mapping-editor")

    page.click("#preview")
    preview = page.locator("#mapping-preview")
    expect(preview).to_be_visible()
    inbound = page.locator("#preview-inbound")
    expect(inbound.locator("tr[data-local='email'] .me-value")).to_have_text("ada.lovelace@example.com")
    created = remote.data["createdate"][:10]
    expect(inbound.locator("tr[data-local='custom:created_on'] .me-value")).to_have_text(created)
    outbound = page.locator("#preview-outbound")
    expect(outbound.locator("tr[data-remote='firstname'] .me-value")).to_have_text("Grace")
    assert not FieldMapping.objects.filter(integration=hubspot, local_field="custom:created_on").exists()
    preview.scroll_into_view_if_needed()
    screenshot(page, "mapping-preview")

    page.click("#save")
    expect(page.locator(".messagelist")).to_contain_text("contact mappings saved")
    page.reload()
    saved = page.locator("#mapping-rows .me-row").last
    expect(saved.locator("input[name$='-local']")).to_have_value("custom:created_on")
    expect(saved.locator("select[name$='-transform']")).to_have_value("date_format")
    expect(saved.locator(".me-arg[data-arg='format'] input")).to_have_value("iso")
    expect(saved.locator(".me-arg[data-arg='as_date'] input")).to_be_checked()
    mapping = FieldMapping.objects.get(integration=hubspot, local_field="custom:created_on")
    assert mapping.transform == {"name": "date_format", "args": {"format": "iso", "as_date": True}}

    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.reload()
    expect(page.locator("#mapping-rows .me-row").first).to_be_visible()
    for screen in ("editor", "preview"):
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 400, f"the {screen} scrolls sideways on a phone ({width}px)"
        page.click("#preview")
        expect(page.locator("#mapping-preview")).to_be_visible()
