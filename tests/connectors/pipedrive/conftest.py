"""Pipedrive fixtures: a reset emulator on the live server, an API-token config, connectors on it."""

import pytest
import requests

from connectors.pipedrive.connector import PipedriveConnector
from connectors.pipedrive.emulator import emulator as pipedrive_emulator
from tests.sandbox import connectors_made
from tests.sandbox import emulator_control as control  # noqa: F401 (the tests import it from here)


@pytest.fixture
def pd(transactional_db):
    """The Pipedrive emulator, empty, with its rate-limit windows cleared."""
    pipedrive_emulator.reset()
    yield pipedrive_emulator
    pipedrive_emulator.reset()


@pytest.fixture
def config(pd, sandbox_url):
    config, tokens = pd.connect(sandbox_url)
    assert tokens is None
    return config


@pytest.fixture
def base(config):
    return config["base_url"]


@pytest.fixture
def api(config):
    """A plain HTTP session holding the API token, for talking to the emulator directly."""
    session = requests.Session()
    session.headers["x-api-token"] = config["api_token"]
    yield session
    session.close()


@pytest.fixture
def make_connector():
    yield from connectors_made(PipedriveConnector)


@pytest.fixture
def connector(config, make_connector):
    return make_connector(config)
