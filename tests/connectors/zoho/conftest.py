"""Zoho fixtures: a reset emulator on the live server, a connected config and tokens, connectors on it."""

import uuid

import pytest
import requests

from connectors.base import MemoryTokenStore
from connectors.zoho.connector import ZohoConnector
from connectors.zoho.emulator import emulator as zoho_emulator
from tests.sandbox import emulator_control as control  # noqa: F401 (the tests import it from here)


@pytest.fixture
def zoho(transactional_db):
    """The Zoho emulator, empty, its credit windows cleared."""
    zoho_emulator.reset()
    yield zoho_emulator
    zoho_emulator.reset()


@pytest.fixture
def connected(zoho, sandbox_url):
    """(config, tokens) of an integration connected to the emulator's US data centre."""
    return zoho.connect(sandbox_url)


@pytest.fixture
def base(connected):
    return connected[0]["base_url"]


@pytest.fixture
def api(connected):
    """A plain HTTP session with the access token, for talking to the emulator directly."""
    session = requests.Session()
    session.headers["Authorization"] = f"Zoho-oauthtoken {connected[1].access_token}"
    yield session
    session.close()


@pytest.fixture
def make_connector():
    made = []

    def make(config, tokens, **kwargs):
        connector = ZohoConnector(
            config, token_store=MemoryTokenStore(tokens), integration_id=f"test-{uuid.uuid4()}", **kwargs
        )
        made.append(connector)
        return connector

    yield make
    for connector in made:
        if connector._client is not None:
            connector._client.session.close()


@pytest.fixture
def connector(connected, make_connector):
    return make_connector(*connected)
