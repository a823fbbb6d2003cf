"""Management commands from a checkout: tenants, keys, the demo."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from connectors.aitable.emulator import emulator as aitable_emulator
from connectors.alacarte.emulator import emulator as alacarte_emulator
from connectors.sandbox.delivery import deliveries_wait
from integrations.models import ApiKey, Integration, SubAccount
from sync.models import Contact, Deal, EntityLink
from tests.sandbox import emulator_control
from webhooks.inbound.processing import inbound_drain


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_subaccount_then_api_key_prints_the_key_alone_and_revoke_disables_it(db):
    run("create_subaccount", "acme", "--name", "Acme")
    key = run("create_api_key", "acme").strip()
    assert "\n" not in key and "." in key
    obj = ApiKey.objects.get_from_key(key)
    assert obj.subaccount.slug == "acme"
    run("revoke_api_key", key.split(".")[0])
    assert ApiKey.objects.get(pk=obj.pk).revoked
    with pytest.raises(CommandError):
        run("create_subaccount", "acme")


@pytest.mark.django_db(transaction=True)
def test_seed_demo_wires_every_emulator_with_data_on_both_sides_and_is_idempotent(live_server):
    first = run("seed_demo", "--base-url", live_server.url)
    assert "login: admin / admin" in first and "Demo API key" in first
    sub = SubAccount.objects.get(slug="demo")
    assert set(
        Integration.objects.filter(subaccount=sub, status="active").values_list("template__key", flat=True)
    ) == {
        "hubspot",
        "salesforce",
        "pipedrive",
        "zoho",
        "enrichment_http",
        "aitable",
        "missionx",
        "alacarte_chat",
        "gohighlevel",
        "facebook_lead_ads",
        "google_analytics",
    }
    # The onboarding pair: AITable runs the flow, both emulators post their webhooks to us.
    aitable = Integration.objects.get(subaccount=sub, template__key="aitable")
    assert aitable.config["onboarding"]["enabled"] and aitable.config["onboarding"]["orders_datasheet"]
    [automation] = aitable_emulator.automations()
    assert automation["target_url"] == f"{live_server.url}/webhooks/in/aitable/{aitable.pk}/"
    assert automation["secret"] == aitable.webhook_secret
    # Seed 002's switches are on, with an ideal customer profile and owner rules to assign by.
    assert (sub.auto_enrich, sub.auto_score, sub.auto_create_deals, sub.deal_threshold) == (
        True,
        True,
        True,
        70,
    )
    assert sub.scoring_profile.icp_industries and sub.owner_rules.count() == 2
    assert sub.next_action_rules.exists()
    assert Contact.objects.filter(subaccount=sub).count() == 18
    assert not Contact.objects.filter(subaccount=sub, company=None).exists()  # related, as in a CRM
    assert all(len(deal.contact_ids) == 2 and deal.company_id for deal in Deal.objects.filter(subaccount=sub))
    second = run("seed_demo", "--base-url", live_server.url)
    assert "Demo API key" not in second and Integration.objects.filter(subaccount=sub).count() == 11
    integration = Integration.objects.get(subaccount=sub, template__key="hubspot")
    out = run("sync_now", str(integration.pk), "--full")
    assert "succeeded" in out
    assert (
        Contact.objects.filter(subaccount=sub, email="seed1@example.com").count() == 1
    )  # matched, not duplicated
    # The chat story: the demo's customer who wrote in on WhatsApp is matched to that contact by
    # e-mail when the contacts are pushed, and her messages show on it.
    chat = Integration.objects.get(subaccount=sub, template__key="alacarte_chat")
    assert "succeeded" in run("sync_now", str(chat.pk), "--full")
    known = Contact.objects.get(subaccount=sub, email="seed1@example.com")
    assert [a.body for a in known.activities.filter(kind="message").order_by("occurred_at")] == [
        "Hi! Is my order ready for pickup?",
        "I can come by on Friday afternoon.",
    ]
    # Every contact HubSpot brought in is now a chat customer carrying our id as its external_id.
    from_hubspot = set(
        EntityLink.objects.filter(integration=integration, entity="contact").values_list(
            "local_id", flat=True
        )
    )
    pushed = set(
        EntityLink.objects.filter(integration=chat, entity="contact").values_list("local_id", flat=True)
    )
    assert from_hubspot and from_hubspot <= pushed
    external_ids = {c.data.get("external_id") for c in alacarte_emulator.records("customers")}
    assert {str(pk) for pk in from_hubspot} <= external_ids
    # The README's simulated WhatsApp message reaches the contact through the demo's signed webhook.
    assert deliveries_wait(60)  # the push's customer webhooks go out first
    emulator_control(
        chat.config["base_url"], "inbound", {"email": "seed1@example.com", "content": "Is my order ready?"}
    )
    assert deliveries_wait(60)
    while inbound_drain().more:
        continue
    assert (
        known.activities.filter(kind="message").order_by("-occurred_at").first().body == "Is my order ready?"
    )


def test_check_integrations_reports_each_active_integration(db, catalog):
    assert "0 checked" in run("check_integrations")
