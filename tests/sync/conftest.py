"""Fixtures the engine's tests share: each provider's emulator, and integrations wired to it."""

import pytest
from django.core.cache import cache

from connectors.registry import emulator_module
from integrations.models import Integration
from tests.sandbox import sandbox_integration


@pytest.fixture(params=["hubspot", "salesforce"])
def provider(request) -> str:
    return request.param


@pytest.fixture
def emulator(provider):
    em = emulator_module(provider).emulator
    em.reset()
    return em


@pytest.fixture
def integration_for(catalog, subaccount, sandbox_url):
    def make(provider: str, **options) -> Integration:
        return sandbox_integration(subaccount, provider, sandbox_url, **options)

    return make


@pytest.fixture
def chat(integration_for) -> Integration:
    """À La Carte Chat on a fresh emulator, with the embedded inbox (SSO) on (test_chat_sync.py has its own)."""
    emulator_module("alacarte").emulator.reset()
    cache.clear()
    return integration_for("alacarte", settings={"sso_enabled": True})
