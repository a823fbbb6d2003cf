"""HubSpot fixtures: a reset emulator on the live server, a private-app config, connectors on it."""

import pytest
import requests

from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.emulator import emulator as hubspot_emulator
from tests.sandbox import connectors_made
from tests.sandbox import emulator_control as control  # noqa: F401 (the tests import it from here)


@pytest.fixture
def hs(transactional_db):
    """The HubSpot emulator, empty, with its rate-limit windows cleared."""
    hubspot_emulator.reset()
    yield hubspot_emulator
    hubspot_emulator.reset()


@pytest.fixture
def config(hs, sandbox_url):
    config, tokens = hs.connect(sandbox_url)
    assert tokens is None
    return config


@pytest.fixture
def base(config):
    return config["base_url"]


@pytest.fixture
def api(config):
    """A plain HTTP session holding the private-app token, for talking to the emulator directly."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {config['access_token']}"
    yield session
    session.close()  # close keep-alive sockets while the live server still shares the test's DB connection


@pytest.fixture
def make_connector():
    yield from connectors_made(HubSpotConnector)


@pytest.fixture
def connector(config, make_connector):
    return make_connector(config)
