"""The admin's look: catalog cards with each template's state, the Learn more page, the empty
integration list saying what to do next, badges; usable at 390 px (no sideways scroll of the page)
and in dark mode."""

import pytest
from playwright.sync_api import Page, expect

from integrations.models import SubAccount
from sync.models import Contact
from tests.e2e.conftest import screenshot
from tests.factories import IntegrationFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def page_width(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def luminance(page: Page, selector: str, prop: str) -> float:
    """The relative luminance (0 black … 1 white) of an element's computed colour."""
    return page.evaluate(
        """([selector, prop]) => {
            const value = getComputedStyle(document.querySelector(selector))[prop];
            const [r, g, b] = value.match(/[\\d.]+/g).slice(0, 3).map(Number).map(c => {
                c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; });
            return 0.2126 * r + 0.7152 * g + 0.0722 * b;
        }""",
        [selector, prop],
    )


def test_catalog_learn_more_empty_state_and_records_fit_a_phone_and_dark_mode(
    operator_page: Page, live_server
):
    page, base = operator_page, live_server.url
    acme = SubAccount.objects.get(slug="acme")
    page.set_viewport_size(DESKTOP)

    # The integration list before there is any: what to do next, with the way there.
    page.goto(f"{base}/admin/integrations/integration/")
    empty = page.locator("#empty-state")
    expect(empty).to_contain_text("No integrations yet")
    screenshot(page, "empty-state")
    page.set_viewport_size(PHONE)
    assert page_width(page) <= 400
    page.set_viewport_size(DESKTOP)
    empty.get_by_role("link", name="Open the catalog").click()

    # The catalog: every card says where acme stands (the operator's only sub-account).
    expect(page.locator("#catalog-scope")).to_contain_text("Acme")
    expect(page.locator(".catalog-card[data-key=hubspot] .badge")).to_have_text("Not configured")
    screenshot(page, "catalog")
    page.set_viewport_size(PHONE)
    assert page_width(page) <= 400
    screenshot(page, "catalog-phone")
    page.set_viewport_size(DESKTOP)

    page.locator(".catalog-card[data-key=hubspot]").get_by_role("link", name="Learn more").click()
    expect(page.locator("#setup-instructions h2").first).to_be_visible()
    expect(page.locator(".catalog-facts")).to_contain_text("OAuth")
    screenshot(page, "catalog-learn-more")
    page.set_viewport_size(PHONE)
    assert page_width(page) <= 400
    page.set_viewport_size(DESKTOP)

    # With integrations: the list has rows and badges; the cards count them.
    IntegrationFactory(subaccount=acme, name="Acme HubSpot", status="active")
    IntegrationFactory(subaccount=acme, name="Acme HubSpot 2", status="active")
    IntegrationFactory(subaccount=acme, name="Acme HubSpot 3", status="error")
    page.goto(f"{base}/admin/integrations/integration/")
    expect(page.locator("#empty-state")).to_have_count(0)
    expect(page.locator("#result_list .badge-active").first).to_have_text("Active")
    page.set_viewport_size(PHONE)
    assert page_width(page) <= 400
    page.set_viewport_size(DESKTOP)
    page.goto(f"{base}/admin/integrations/integration/catalog/")
    expect(page.locator(".catalog-card[data-key=hubspot] .badge")).to_have_text(["1 error", "2 active"])

    # Records: a list with wide rows scrolls inside its table, not the page.
    for n in range(3):
        Contact.objects.create(
            subaccount=acme, email=f"someone.with.a.long.address.{n}@example-company.test", first_name="Ana"
        )
    page.set_viewport_size(PHONE)
    page.goto(f"{base}/admin/sync/contact/")
    expect(page.locator("#result_list")).to_be_visible()
    assert page_width(page) <= 400

    # Dark mode: the page is dark, the card is dark, badges stay readable (white on a deep tone).
    page.emulate_media(color_scheme="dark")
    page.set_viewport_size(DESKTOP)
    page.goto(f"{base}/admin/integrations/integration/catalog/")
    assert luminance(page, "body", "backgroundColor") < 0.1
    assert luminance(page, ".catalog-card", "backgroundColor") < 0.1
    assert luminance(page, ".catalog-card", "color") > 0.5
    badge = ".catalog-card[data-key=hubspot] .badge-error"
    text, background = luminance(page, badge, "color"), luminance(page, badge, "backgroundColor")
    assert (max(text, background) + 0.05) / (min(text, background) + 0.05) >= 4.5  # WCAG AA contrast
    screenshot(page, "catalog-dark")
    page.goto(f"{base}/admin/integrations/integration/catalog/hubspot/")
    assert luminance(page, "#setup-instructions", "backgroundColor") < 0.15
    page.emulate_media(color_scheme="light")
