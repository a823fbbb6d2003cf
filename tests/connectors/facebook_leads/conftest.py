"""Facebook Lead Ads fixtures: a reset Graph emulator on the live server, the config and tokens a
finished Facebook Login leaves (long-lived user token + the Page's token) and a connector on them."""

from __future__ import annotations

import uuid

import pytest
import requests

from connectors.base import MemoryTokenStore
from connectors.facebook_leads.connector import FacebookLeadsConnector
from connectors.facebook_leads.emulator import emulator as facebook_emulator
from tests.receiver import WebhookReceiver


@pytest.fixture
def fb(transactional_db):
    facebook_emulator.reset()
    yield facebook_emulator
    facebook_emulator.reset()


@pytest.fixture
def connected(fb, sandbox_url):
    return fb.connect(sandbox_url)


@pytest.fixture
def config(connected):
    return connected[0]


@pytest.fixture
def store(connected):
    return MemoryTokenStore(connected[1])


@pytest.fixture
def connector(config, store):
    # A fresh limiter key per test: the app-level limit (200 calls an hour) must not carry over.
    return FacebookLeadsConnector(config, token_store=store, integration_id=f"fb-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def graph(config) -> str:
    """The emulated https://graph.facebook.com/v23.0."""
    return f"{config['base_url']}/v23.0"


@pytest.fixture
def page_token(store) -> str:
    return store.tokens.extra["page_access_token"]


@pytest.fixture
def receiver():
    made = WebhookReceiver()
    yield made
    made.stop()


def control(config: dict, name: str, body: dict) -> dict:
    resp = requests.post(f"{config['base_url']}/_control/{name}", json=body, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()
