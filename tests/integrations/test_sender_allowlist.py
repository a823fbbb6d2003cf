"""Every template that receives webhooks offers the sender allowlist (``allowed_ips``), checked as IP
addresses or CIDR ranges; the receiver refuses other senders for any provider."""

from __future__ import annotations

import json

import pytest

from connectors.registry import emulator_module
from integrations.catalog_loader import catalog_files
from integrations.config_schema import ConfigInvalid, validate_config
from integrations.models import IntegrationTemplate
from tests.factories import IntegrationTemplateFactory
from tests.integrations.test_api import api_for

pytestmark = pytest.mark.django_db

RECEIVING = sorted(
    path.stem
    for path in catalog_files()
    if json.loads(path.read_text()).get("capabilities", {}).get("webhooks")
)


def test_the_catalog_has_receiving_templates_and_ones_that_receive_nothing():
    assert {"hubspot", "pipedrive", "gohighlevel", "alacarte_chat", "zoho"} <= set(RECEIVING)
    assert "google_analytics" not in RECEIVING


@pytest.mark.parametrize("key", RECEIVING)
def test_every_receiving_template_offers_the_allowlist(catalog, key):
    schema = IntegrationTemplate.objects.get(key=key).config_schema

    assert schema["properties"]["allowed_ips"]["type"] == "array"


def test_templates_that_receive_nothing_do_not_offer_it(catalog):
    assert (
        "allowed_ips"
        not in IntegrationTemplate.objects.get(key="google_analytics").config_schema["properties"]
    )


def test_a_template_an_operator_adds_with_webhooks_offers_it_too():
    template = IntegrationTemplateFactory(
        key="custom_crm", capabilities={"webhooks": True}, config_schema={"type": "object", "properties": {}}
    )

    assert "allowed_ips" in template.config_schema["properties"]


def test_entries_must_be_addresses_or_ranges(catalog):
    schema = IntegrationTemplate.objects.get(key="pipedrive").config_schema
    base = {"auth_mode": "api_token", "api_token": "x" * 40, "company_domain": "acme"}

    validate_config(schema, {**base, "allowed_ips": ["203.0.113.0/24", "2001:db8::1"]})
    with pytest.raises(ConfigInvalid) as refused:
        validate_config(schema, {**base, "allowed_ips": ["203.0.113.0/24", "not-an-address"]})
    assert any("CIDR" in m for m in refused.value.errors[next(iter(refused.value.errors))])


def test_the_api_sets_it_for_a_provider_other_than_salesforce_and_its_receiver_enforces_it(
    catalog, subaccount, client, sandbox_url
):
    emulator_module("gohighlevel").emulator.reset()
    api = api_for(subaccount)
    created = api.post(
        "/api/v1/integrations/",
        {
            "template": "gohighlevel",
            "name": "GHL",
            "config": {
                "auth_mode": "api_key",
                "apiKey": "ghl-" + "k" * 36,
                "locationId": "LocationAbc123",
                "allowed_ips": ["203.0.113.0/24"],
            },
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["config"]["allowed_ips"] == ["203.0.113.0/24"]

    refused = client.post(
        f"/webhooks/in/gohighlevel/{created.json()['id']}/",
        data=b'{"type": "ContactCreate"}',
        content_type="application/json",
        REMOTE_ADDR="198.51.100.9",
    )

    assert refused.status_code == 403
