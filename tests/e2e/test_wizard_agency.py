"""Seed 003's stack through the admin wizard in a real browser, including what goes wrong: a bad
service-account file (GA4), a revoked token (Facebook) and a wrong location id (GoHighLevel) are
clear messages in the wizard, never a server error, and no secret is shown back."""

import json
import secrets

import pytest
import requests
from playwright.sync_api import Page, expect

from connectors.facebook_leads.emulator import emulator as facebook_emulator
from connectors.gohighlevel.emulator import emulator as ghl_emulator
from connectors.gohighlevel.emulator.store import ONBOARDING_PIPELINE_ID, ONBOARDING_STAGES
from connectors.google_analytics.emulator import emulator as google_analytics_emulator
from integrations.models import Integration
from tests.e2e.test_wizard import SecretWatch, open_catalog_and_choose, operator  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def fill_config(page: Page, values: dict[str, str]) -> None:
    for name, value in values.items():
        page.fill(f'[name="configure-{name}"]', value)


def test_a_bad_service_account_file_is_refused_on_the_form_and_a_good_one_connects(
    live_server,
    operator: Page,  # noqa: F811
):
    page, watch = operator, SecretWatch(operator)
    google_analytics_emulator.reset()
    config, _ = google_analytics_emulator.connect(f"{live_server.url}/sandbox")
    key = json.loads(config["serviceAccountKey"])
    open_catalog_and_choose(page, live_server.url, "google_analytics", "Analytics")
    values = {
        name: config[name] for name in ("measurementId", "apiSecret", "propertyId", "base_url", "collect_url")
    }
    broken = json.dumps({"type": "service_account", "client_email": key["client_email"], "note": "x" * 80})
    fill_config(page, {**values, "serviceAccountKey": broken})
    page.click("#wizard-next")

    expect(page.locator(".messagelist")).to_contain_text("the service account key has no private_key")
    expect(page.locator(".wizard-steps li.current")).to_contain_text("Configure")
    fill_config(page, {**values, "serviceAccountKey": config["serviceAccountKey"]})
    page.click("#wizard-next")
    expect(page.locator(".wizard-steps li.current")).to_contain_text("Test connection")
    page.click("#run-test")
    expect(page.locator("#test-result")).to_contain_text("Connection OK")

    # The service account loses its access to the property: the test names whom to add.
    google_analytics_emulator.property_users(
        google_analytics_emulator.property_ensure(config["propertyId"]), remove=[key["client_email"]]
    )
    page.click("#run-test")
    expect(page.locator("#test-result")).to_contain_text("Connection failed")
    expect(page.locator("#test-result")).to_contain_text(key["client_email"])
    watch.assert_never_shown(key["private_key"].splitlines()[1], config["apiSecret"])


def test_a_revoked_facebook_token_is_a_clear_failed_test(live_server, operator: Page):  # noqa: F811
    page, watch = operator, SecretWatch(operator)
    facebook_emulator.reset()
    state = facebook_emulator.state()  # an app of our own: the sandbox app's secret is public
    state.settings = {**state.settings, "client_secret": f"e2e-{secrets.token_hex(12)}"}
    state.save()
    config, _tokens = facebook_emulator.connect(f"{live_server.url}/sandbox")
    short = facebook_emulator.issue_user_token(long_lived=False).access_token
    open_catalog_and_choose(page, live_server.url, "facebook_lead_ads", "Lead source")
    fill_config(
        page,
        {
            "app_id": config["app_id"],
            "app_secret": config["app_secret"],
            "pageId": config["pageId"],
            "adAccountId": config["adAccountId"],
            "verify_token": config["verify_token"],
            "accessToken": short,
            "base_url": config["base_url"],
        },
    )
    page.click("#wizard-next")
    expect(page.locator(".wizard-steps li.current")).to_contain_text("Test connection")
    page.click("#run-test")
    expect(page.locator("#test-result")).to_contain_text("Connection OK")

    requests.post(f"{config['base_url']}/_control/revoke", timeout=10).raise_for_status()
    page.click("#run-test")
    result = page.locator("#test-result")
    expect(result).to_contain_text("Connection failed")
    expect(result).to_contain_text("Reconnect the integration")
    integration = Integration.objects.get(template__key="facebook_lead_ads")
    assert integration.last_test_ok is False
    watch.assert_never_shown(short, config["app_secret"])


def test_a_wrong_location_id_fails_the_test_and_the_choices_step_maps_pipeline_and_stages(
    live_server,
    operator: Page,  # noqa: F811
):
    page, watch = operator, SecretWatch(operator)
    ghl_emulator.reset()
    token = ghl_emulator.private_integration_token()
    open_catalog_and_choose(page, live_server.url, "gohighlevel", "CRM")
    page.select_option('[name="configure-auth_mode"]', "api_key")
    fill_config(
        page,
        {
            "apiKey": token,
            "locationId": "WrongLocation0000001",
            "base_url": f"{live_server.url}/sandbox/gohighlevel",
        },
    )
    page.click("#wizard-next")
    expect(page.locator(".wizard-steps li.current")).to_contain_text("Test connection")
    page.click("#run-test")
    result = page.locator("#test-result")
    expect(result).to_contain_text("Connection failed")
    expect(result).to_contain_text("location")

    page.click('button[name="wizard_goto_step"][value="configure"]')
    fill_config(page, {"locationId": ghl_emulator.location_id()})  # the key is kept when left blank
    page.click("#wizard-next")
    page.click("#run-test")
    expect(page.locator("#test-result")).to_contain_text("Connection OK")
    page.click("#wizard-next")

    expect(page.locator(".wizard-steps li.current")).to_contain_text("Choices")
    page.select_option('[name="choices-q__pipelineId"]', label="Onboarding")
    page.click("#wizard-next")  # the stages still name the first pipeline's: refused, clearly
    expect(page.locator(".errornote, .errorlist").first).to_contain_text("is not a stage of Onboarding")
    for canonical in ("contacted", "qualified", "won", "lost"):
        page.select_option(f'[name="choices-q__stage.{canonical}"]', label=f"Onboarding: {canonical.title()}")
    page.select_option('[name="choices-q__stage.lead"]', value="")
    page.click("#wizard-next")

    expect(page.locator(".wizard-steps li.current")).to_contain_text("Review")
    page.click("#wizard-next")
    expect(page.locator(".messagelist")).to_contain_text("is active")
    integration = Integration.objects.get(template__key="gohighlevel")
    assert integration.config["pipelineId"] == ONBOARDING_PIPELINE_ID
    assert set(integration.config["stageMap"]) == {"contacted", "qualified", "won", "lost"}
    assert integration.config["stageMap"]["won"] == dict((v, k) for k, v in ONBOARDING_STAGES)["Won"]
    watch.assert_never_shown(token)
