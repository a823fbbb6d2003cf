"""Pipedrive fixtures: a reset emulator on the live server, an API-token config, connectors on it."""

import uuid

import pytest
import requests

from connectors.pipedrive.connector import PipedriveConnector
from connectors.pipedrive.emulator import emulator as pipedrive_emulator


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
    made = []

    def make(config, **kwargs):
        # A fresh integration id per connector: our own limiter windows never leak between tests.
        connector = PipedriveConnector(config, integration_id=f"test-{uuid.uuid4()}", **kwargs)
        made.append(connector)
        return connector

    yield make
    for connector in made:
        if "client" in connector.__dict__:
            connector.client.session.close()


@pytest.fixture
def connector(config, make_connector):
    return make_connector(config)


def control(base: str, name: str, body: dict) -> dict:
    resp = requests.post(f"{base}/_control/{name}", json=body, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()
