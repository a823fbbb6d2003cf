"""An operator walks the admin wizard in a real browser: catalog → configure → test → activate.

HubSpot with a private-app token; Salesforce through an OAuth round trip on the emulator's own
authorize page. No secret may appear in any page the browser is shown.
"""

import secrets

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from playwright.sync_api import Page, expect

from connectors.registry import emulator_module
from integrations.models import Integration
from sync.models import FieldMapping
from tests.factories import SubAccountFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class SecretWatch:
    """Collects every HTML page the browser receives, to prove secrets never come back."""

    def __init__(self, page: Page):
        self.bodies: list[str] = []
        page.on("response", self._record)

    def _record(self, response) -> None:
        if "text/html" in (response.headers.get("content-type") or ""):
            try:
                self.bodies.append(response.text())
            except Exception:  # noqa: BLE001 (redirects have no body to read)
                return

    def assert_never_shown(self, *secrets: str) -> None:
        assert self.bodies, "no page was recorded"
        for body in self.bodies:
            for secret in secrets:
                assert secret not in body


@pytest.fixture
def operator(live_server, page: Page):
    call_command("load_catalog", verbosity=0)
    SubAccountFactory(slug="acme", name="Acme")
    get_user_model().objects.create_superuser("operator", "op@example.com", "correct-horse-battery")
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "correct-horse-battery")
    page.click("input[type=submit]")
    expect(page.locator("#quick-links")).to_be_visible()
    return page


def open_catalog_and_choose(page: Page, base: str, key: str, category: str) -> None:
    page.goto(f"{base}/admin/integrations/integration/catalog/")
    expect(page.locator(".catalog-card .coming-soon")).to_have_count(0)  # every connector is built
    page.select_option("select[name=category]", category)
    expect(page.locator(f".catalog-card[data-key={key}]")).to_be_visible()
    page.fill("input[name=q]", key[:4])
    page.click("#catalog-filters button")
    page.click(f".catalog-card[data-key={key}] a.set-up")
    expect(page.locator(".wizard-steps li.current")).to_contain_text("Choose")
    expect(page.locator(f".catalog-card[data-key={key}] input")).to_be_checked()
    page.click("#wizard-next")


def test_wizard_activates_a_hubspot_private_app_integration(live_server, operator: Page):
    page, watch = operator, SecretWatch(operator)
    token = emulator_module("hubspot").emulator.issue_token(kind="private_app").access_token
    open_catalog_and_choose(page, live_server.url, "hubspot", "CRM")

    expect(page.locator(".wizard-steps li.current")).to_contain_text("Configure")
    page.select_option('[name="configure-auth_mode"]', "private_app")
    page.fill('[name="configure-access_token"]', token)
    page.fill('[name="configure-base_url"]', f"{live_server.url}/sandbox/hubspot")
    page.click("#wizard-next")

    expect(page.locator(".wizard-steps li.current")).to_contain_text("Test connection")
    page.click("#wizard-next")  # not tested yet: refused
    expect(page.locator(".errornote")).to_contain_text("Run the connection test")
    page.click("#run-test")
    expect(page.locator("#test-result")).to_contain_text("Connection OK")
    page.click("#wizard-next")

    expect(page.locator(".wizard-steps li.current")).to_contain_text("Review")
    expect(page.locator(".review-table")).to_contain_text("stored encrypted")
    page.click("#wizard-next")

    expect(page.locator(".messagelist")).to_contain_text("is active")
    integration = Integration.objects.get(template__key="hubspot")
    assert integration.status == "active" and integration.config["access_token"] == token
    watch.assert_never_shown(token)


def test_wizard_connects_salesforce_through_the_oauth_round_trip(live_server, operator: Page):
    page, watch = operator, SecretWatch(operator)
    client_secret = f"e2e-{secrets.token_hex(12)}"  # an OAuth app of our own on the emulator
    state = emulator_module("salesforce").emulator.state()
    state.settings = {**state.settings, "client_id": "e2e-app", "client_secret": client_secret}
    state.save()
    open_catalog_and_choose(page, live_server.url, "salesforce", "CRM")

    page.fill('[name="configure-login_url"]', f"{live_server.url}/sandbox/salesforce")
    page.fill('[name="configure-client_id"]', "e2e-app")
    page.fill('[name="configure-client_secret"]', client_secret)
    page.click("#wizard-next")

    expect(page.locator("#oauth-status")).to_contain_text("Connect")
    page.click("#connect-oauth")
    page.get_by_role("button", name="Allow").click()  # the emulator's own authorize page

    expect(page.locator("#oauth-status")).to_contain_text("Authorized")
    page.click("#run-test")
    expect(page.locator("#test-result")).to_contain_text("Connection OK")
    page.click("#wizard-next")
    page.click("#wizard-next")

    expect(page.locator(".messagelist")).to_contain_text("is active")
    integration = Integration.objects.get(template__key="salesforce")
    assert integration.status == "active" and integration.tokens["access_token"]
    assert integration.tokens["extra"]["instance_url"].endswith("/sandbox/salesforce")
    watch.assert_never_shown(
        client_secret, integration.tokens["access_token"], integration.tokens["refresh_token"]
    )


def test_a_bad_oauth_state_shows_a_clear_error_and_saves_nothing(live_server, operator: Page):
    page = operator
    page.goto(f"{live_server.url}/oauth/callback/salesforce/?state=forged&code=abc")
    expect(page.locator("h1")).to_have_text("Connection failed")
    expect(page.locator(".errornote")).to_contain_text("not valid")
    assert not Integration.objects.exists()


def test_wizard_sets_up_aitable_with_datasheets_and_columns_read_live(live_server, operator: Page):
    page, watch = operator, SecretWatch(operator)
    emulator = emulator_module("aitable").emulator
    emulator.reset()
    emulator.install_defaults()
    token = emulator.issue_token(kind="api_token", refresh=False).access_token
    open_catalog_and_choose(page, live_server.url, "aitable", "CRM")

    expect(page.locator(".wizard-steps li.current")).to_contain_text("Configure")
    expect(page.locator('[name="configure-datasheets.contact"]')).to_have_count(
        0
    )  # chosen later, from a list
    page.fill('[name="configure-api_token"]', token)
    page.fill('[name="configure-base_url"]', f"{live_server.url}/sandbox/aitable")
    page.fill('[name="configure-space_id"]', "spcDemoSpace01")
    page.check('[name="configure-onboarding.enabled"]')
    page.click("#wizard-next")
    page.click("#run-test")
    expect(page.locator("#test-result")).to_contain_text("Connection OK")
    page.click("#wizard-next")

    # The space's datasheets, read live; choosing them brings their columns.
    expect(page.locator(".wizard-steps li.current")).to_contain_text("Tables & columns")
    page.select_option('[name="tables-cfg__datasheets__contact"]', label="Leads")
    page.select_option('[name="tables-cfg__onboarding__orders_datasheet"]', label="Orders")
    page.select_option('[name="tables-cfg__onboarding__audit_results_datasheet"]', label="Audit Results")
    page.click("#wizard-next")
    expect(page.locator(".errornote, .errorlist").first).to_contain_text("columns")
    email = page.locator('[name="tables-map__contact__email"]')
    expect(email).to_have_value("Email")  # the default mapping, found among the live columns
    page.select_option('[name="tables-map__contact__phone"]', "")  # not synced
    expect(page.locator('[name="tables-cfg__onboarding__status_column"]')).to_have_value("Status")
    page.select_option('[name="tables-cfg__onboarding__order_columns__client_name"]', "Email")
    page.click("#wizard-next")

    expect(page.locator(".wizard-steps li.current")).to_contain_text("Review")
    page.click("#wizard-next")
    expect(page.locator(".messagelist")).to_contain_text("is active")
    integration = Integration.objects.get(template__key="aitable")
    assert integration.config["datasheets"]["contact"] == "dstDigiconLeads01"
    assert integration.config["onboarding"]["orders_datasheet"] == "dstDigiconOrders01"
    assert integration.config["onboarding"]["order_columns"]["client_name"] == "Email"
    rows = {m.local_field: m for m in FieldMapping.objects.filter(integration=integration, entity="contact")}
    assert rows["email"].remote_field == "Email" and rows["phone"].direction == "none"
    watch.assert_never_shown(token)
