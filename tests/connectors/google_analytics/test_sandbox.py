"""The sandbox integration (what the demo wires): created from the catalog template with the
emulator's generated key file, active, its connection test passing and its token stored encrypted."""

from __future__ import annotations

import json

import pytest

from integrations.models import Integration
from integrations.services import connector_for
from integrations.tokens import IntegrationTokenStore
from tests.sandbox import sandbox_integration

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_sandbox_integration_comes_out_connected_with_a_generated_key(
    catalog, subaccount, ga, sandbox_url
):
    for object_type, count in ga.demo_seed.items():
        assert ga.seed(object_type, count, None) > 0
    integration = sandbox_integration(subaccount, "google_analytics", sandbox_url)
    assert integration.status == Integration.Status.ACTIVE and integration.template.is_available
    key = json.loads(integration.config["serviceAccountKey"])
    assert key["token_uri"].endswith("/google_analytics/token") and key["private_key"].startswith(
        "-----BEGIN"
    )
    connector = connector_for(integration)
    result = connector.test_connection()
    assert result.ok, result.message
    assert IntegrationTokenStore(integration.pk).load().extra["client_email"] == key["client_email"]
