"""The demo buttons on a sandbox integration's admin page: pressing "Simulate a Facebook lead" has
the emulated Page receive a lead whose leadgen webhook reaches the platform's receiver (the
subscription made through Graph, with its hub.challenge handshake), and the lead becomes a contact
by the real webhook path. Integrations whose emulator offers nothing (or that are not sandbox
ones) show no button and refuse the action."""

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.db import connection

from connectors.facebook_leads.emulator import emulator as facebook_emulator
from integrations.kick import kick_reset
from integrations.services import integration_activate, integration_pause, integration_test
from sync.models import Contact, EntityLink
from tests.factories import IntegrationFactory
from tests.sandbox import sandbox_integration
from webhooks.inbound.parsing import deliveries_parse
from webhooks.inbound.processing import inbound_drain
from webhooks.inbound.services import KICK_KEY
from webhooks.inbound.tasks import inbound_drain_task
from webhooks.models import InboundEvent

pytestmark = pytest.mark.urls("tests.webhooks.urls_inbound")


@pytest.fixture
def kicks(monkeypatch):
    """The receiver queues drain runs after commit; here the test drains itself."""
    sent = []

    def apply_async(**options):
        assert not connection.in_atomic_block
        sent.append(options)

    kick_reset(KICK_KEY)
    monkeypatch.setattr(inbound_drain_task, "apply_async", apply_async)
    yield sent
    kick_reset(KICK_KEY)


@pytest.fixture
def fb(transactional_db):
    facebook_emulator.reset()
    yield facebook_emulator
    facebook_emulator.reset()


@pytest.fixture
def integration(fb, catalog, subaccount, sandbox_url, live_server, settings, kicks):
    """Connected, activated (the Page subscribed to leadgen) and the app's callback subscribed
    through Graph, which runs the hub.challenge handshake against the live receiver."""
    settings.PUBLIC_BASE_URL = live_server.url
    integration = sandbox_integration(subaccount, "facebook_leads", sandbox_url)
    integration_pause(integration=integration, actor="test")
    assert integration_test(integration=integration, actor="test").ok
    integration = integration_activate(integration=integration, actor="test")
    config = integration.config
    subscribed = requests.post(
        f"{config['base_url']}/v23.0/{config['app_id']}/subscriptions",
        data={
            "object": "page",
            "callback_url": f"{live_server.url}/webhooks/in/facebook_leads/{integration.pk}/",
            "fields": "leadgen",
            "verify_token": config["verify_token"],
            "access_token": f"{config['app_id']}|{config['app_secret']}",
        },
        timeout=20,
    )
    assert subscribed.json() == {"success": True}
    return integration


@pytest.fixture
def operator(client, transactional_db):
    user = get_user_model().objects.create_superuser("op", "op@example.com", "pw-123456789")
    client.force_login(user)
    return client


def change_page(pk: int) -> str:
    return f"/admin/integrations/integration/{pk}/change/"


def test_the_button_submits_a_lead_that_arrives_as_a_contact_through_the_webhook(
    fb, integration, operator, subaccount
):
    page = operator.get(change_page(integration.pk)).content.decode()
    action = f"/admin/integrations/integration/{integration.pk}/demo/simulate_lead/"
    assert action in page and "Simulate a Facebook lead" in page

    pressed = operator.post(action)
    assert pressed.status_code == 302 and pressed["Location"] == change_page(integration.pk)
    [message] = [str(m) for m in get_messages(pressed.wsgi_request)]
    assert message.startswith("Lead ") and message.endswith("; it arrives through the webhook.")

    lead = fb.records("lead").get()
    deliveries_parse()  # what the worker does first
    assert InboundEvent.objects.filter(integration=integration).count() == 2  # contact + activity
    assert fb.state().settings["app_subscription"]["callback_url"].endswith(f"/{integration.pk}/")
    inbound_drain()
    link = EntityLink.objects.get(integration=integration, entity="contact", remote_id=lead.remote_id)
    contact = Contact.objects.get(pk=link.local_id, subaccount=subaccount)
    answers = {f["name"]: f["values"][0] for f in lead.data["field_data"]}
    assert contact.email == answers["email"] and f"<{contact.email}>" in message
    assert f"{contact.first_name} {contact.last_name}" == answers["full_name"]
    assert contact.custom_fields["campaign_id"] == lead.data["campaign_id"]
    assert contact.custom_fields["lead_source"] == "facebook"


def test_no_button_for_an_integration_whose_emulator_offers_none(operator, catalog, subaccount):
    hubspot = IntegrationFactory(subaccount=subaccount, name="Acme HubSpot", status="active")
    page = operator.get(change_page(hubspot.pk)).content.decode()
    assert "/demo/" not in page
    refused = operator.post(f"/admin/integrations/integration/{hubspot.pk}/demo/simulate_lead/")
    assert refused.status_code == 404


def test_a_facebook_integration_outside_the_sandbox_has_no_button(fb, integration, operator):
    integration.config = {**integration.config, "base_url": ""}
    integration.save(update_fields=["config"])
    assert "/demo/" not in operator.get(change_page(integration.pk)).content.decode()
    action = f"/admin/integrations/integration/{integration.pk}/demo/simulate_lead/"
    assert operator.post(action).status_code == 404
    assert operator.get(action).status_code == 405
    assert not fb.records("lead").exists()
