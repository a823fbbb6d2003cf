"""Lead Ads through the whole platform: the app's webhook subscription passes the hub.challenge
handshake at the live receiver (and fails with another verify token), leads arrive by webhook and
by backfill yet become one contact (matched by e-mail, then phone) and one "lead form submitted"
activity each, and a revoked token leaves the integration asking to be reconnected."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.db import connection

from connectors.sandbox.emulator import sample_phone
from integrations.kick import kick_reset
from integrations.models import IntegrationTemplate
from integrations.services import (
    integration_activate,
    integration_create,
    integration_pause,
    integration_test,
)
from integrations.tokens import IntegrationTokenStore
from sync.models import Activity, Contact, EntityLink
from sync.runs import sync_run_execute, sync_run_request
from tests.connectors.facebook_leads.conftest import control
from tests.integrations.test_api import api_for
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
def integration(fb, catalog, subaccount, sandbox_url, live_server, settings, kicks):
    """Connected and activated (which subscribes the app to the Page's leadgen field)."""
    settings.PUBLIC_BASE_URL = live_server.url
    integration = sandbox_integration(subaccount, "facebook_leads", sandbox_url)
    integration_pause(integration=integration, actor="test")
    assert integration_test(integration=integration, actor="test").ok
    return integration_activate(integration=integration, actor="test")


def subscribe_app(integration, live_server, verify_token: str) -> requests.Response:
    """What the Meta app dashboard's "Subscribe to this object" does, with the app token."""
    config = integration.config
    return requests.post(
        f"{config['base_url']}/v23.0/{config['app_id']}/subscriptions",
        data={
            "object": "page",
            "callback_url": f"{live_server.url}/webhooks/in/facebook_leads/{integration.pk}/",
            "fields": "leadgen",
            "verify_token": verify_token,
            "access_token": f"{config['app_id']}|{config['app_secret']}",
        },
        timeout=20,
    )


def sync(integration, kind="full"):
    run = sync_run_request(integration=integration, kind=kind, enqueue=False)
    return sync_run_execute(run_id=run.pk)


def test_the_subscription_handshake_needs_the_integrations_verify_token(fb, integration, live_server):
    refused = subscribe_app(integration, live_server, "not-the-verify-token")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == 2200
    assert fb.setting("app_subscription", None) is None
    accepted = subscribe_app(integration, live_server, integration.config["verify_token"])
    assert accepted.json() == {"success": True}
    assert fb.page_subscriptions() == {integration.config["pageId"]: ["leadgen"]}  # by activation


def test_webhooks_and_backfill_overlapping_import_each_lead_once_matched_by_email_then_phone(
    fb, integration, live_server, subaccount
):
    by_email = Contact.objects.create(subaccount=subaccount, first_name="Known", email="lead0@example.com")
    by_phone = Contact.objects.create(subaccount=subaccount, first_name="Caller", phone=sample_phone(1))
    assert subscribe_app(integration, live_server, integration.config["verify_token"]).status_code == 200

    fb.seed("lead", 3, None)  # three webhooks' worth of leads, delivered in one signed POST
    deliveries_parse()  # what the worker does first
    assert InboundEvent.objects.filter(integration=integration).count() == 6  # contact + activity each
    hook = fb.records("lead").order_by("pk")
    last = fb.post_leadgen(f"{live_server.url}/webhooks/in/facebook_leads/{integration.pk}/", list(hook))
    assert last.status_code == 200  # Meta delivers at least once: the repeat is a duplicate
    assert InboundEvent.objects.filter(integration=integration).count() == 6

    assert sync(integration).status == "succeeded"  # the backfill reads the same leads
    inbound_drain()  # ...and the webhooks' events are applied afterwards

    leads = list(hook.values_list("remote_id", flat=True))
    links = EntityLink.objects.filter(integration=integration, entity="contact")
    assert sorted(links.values_list("remote_id", flat=True)) == sorted(leads)
    assert Contact.objects.filter(subaccount=subaccount).count() == 3  # two matched, one new
    assert links.get(remote_id=leads[0]).local_id == by_email.pk
    assert links.get(remote_id=leads[1]).local_id == by_phone.pk
    new = Contact.objects.get(pk=links.get(remote_id=leads[2]).local_id)
    assert new.email == "lead2@example.com" and new.first_name and new.last_name

    activities = Activity.objects.filter(subaccount=subaccount)
    assert activities.count() == 3
    assert {a.contact_id for a in activities} == {by_email.pk, by_phone.pk, new.pk}
    assert all(a.subject == "Lead form submitted: Spring offer" for a in activities)


def test_a_revoked_token_marks_the_integration_for_reconnection(fb, integration):
    control(integration.config, "revoke", {})
    assert sync(integration).status == "failed"
    integration.refresh_from_db()
    assert integration.reauthorization_needed


@pytest.fixture
def fresh(fb, catalog, subaccount, sandbox_url):
    """A new integration for the sandbox app and Page, not connected yet."""
    config, _ = fb.connect(sandbox_url)
    return integration_create(
        subaccount=subaccount,
        template=IntegrationTemplate.objects.get(key="facebook_lead_ads"),
        name="fb",
        config=config,
        actor="test",
        direction="inbound",
    )


def test_facebook_login_through_the_platform_stores_the_page_token_encrypted(
    live_server, fresh, subaccount, client
):
    start = api_for(subaccount).post(f"/api/v1/integrations/{fresh.pk}/oauth/start/", {}, format="json")
    assert start.status_code == 200, start.content
    url = start.json()["authorize_url"]
    assert url.startswith(f"{fresh.config['base_url']}/v23.0/dialog/oauth?")
    assert "leads_retrieval" in parse_qs(urlsplit(url).query)["scope"][0]
    login = requests.get(url, allow_redirects=False, timeout=10)
    assert client.get(login.headers["Location"].replace(live_server.url, "")).status_code == 200

    tokens = IntegrationTokenStore(fresh.pk).load()
    assert tokens.expires_at - time.time() > 59 * 86400  # the long-lived user token
    assert tokens.extra["page_id"] == fresh.config["pageId"] and tokens.extra["page_access_token"]
    with connection.cursor() as cursor:  # stored encrypted: the raw column never shows the token
        cursor.execute("SELECT tokens::text FROM integrations_integration WHERE id = %s", [fresh.pk])
        assert tokens.extra["page_access_token"] not in cursor.fetchone()[0]
    assert integration_test(integration=fresh, actor="test").ok
