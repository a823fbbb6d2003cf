"""Whole sync runs against the Zoho emulator (the engine in-process): a storm of 429s is survived, and a
wrong client secret reaches the wizard's "test connection" as a clear message."""

from __future__ import annotations

import pytest

from connectors import http
from connectors.sandbox.models import SandboxState
from integrations.services import integration_test
from integrations.tokens import IntegrationTokenStore
from sync.models import Contact
from sync.runs import sync_run_execute, sync_run_request
from tests.sandbox import sandbox_integration

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_full_sync_survives_a_storm_of_429s(zoho, catalog, subaccount, sandbox_url, monkeypatch):
    monkeypatch.setattr(http, "_wait", lambda state: 0.01)
    zoho.seed("Contacts", 450)
    integration = sandbox_integration(subaccount, "zoho", sandbox_url, direction="inbound")
    SandboxState.objects.filter(provider="zoho").update(ratelimit_count=5)  # the next five calls: 429

    run = sync_run_execute(
        run_id=sync_run_request(integration=integration, kind="full", entities=["contact"], enqueue=False).pk
    )

    assert run.status == "succeeded", run.error
    assert Contact.objects.filter(subaccount=subaccount).count() == 450
    assert SandboxState.objects.get(provider="zoho").ratelimit_count == 0


def test_a_wrong_client_secret_is_a_clear_test_connection_message(zoho, catalog, subaccount, sandbox_url):
    integration = sandbox_integration(
        subaccount, "zoho", sandbox_url, settings={"client_secret": "not-the-secret"}
    )
    tokens = IntegrationTokenStore(integration.pk).load()
    tokens.expires_at = 0  # the next call refreshes, with the wrong secret
    IntegrationTokenStore(integration.pk).save(tokens)

    result = integration_test(integration=integration, actor="test")

    assert not result.ok and "client ID or secret" in result.message
