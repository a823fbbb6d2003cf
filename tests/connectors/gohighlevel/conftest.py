"""GoHighLevel fixtures: a reset emulator on the live server, its OAuth config and tokens, an
API-key (private integration token) config, a plain HTTP session, connectors on them, and a
recording webhook receiver."""

from __future__ import annotations

import time

import pytest
import requests

from connectors.base import MemoryTokenStore
from connectors.gohighlevel.connector import GoHighLevelConnector
from connectors.gohighlevel.emulator import emulator as ghl_emulator
from connectors.sandbox.delivery import deliveries_wait
from tests.receiver import WebhookReceiver
from tests.sandbox import connectors_made
from tests.sandbox import emulator_control as control  # noqa: F401 (the tests import it from here)

VERSION = {"Version": "2021-07-28"}


@pytest.fixture
def ghl(transactional_db):
    """The GoHighLevel emulator, empty, with its rate-limit windows cleared."""
    ghl_emulator.reset()
    yield ghl_emulator
    deliveries_wait()
    ghl_emulator.reset()


@pytest.fixture
def connected(ghl, sandbox_url):
    """(OAuth config, tokens) as ``connect`` gives them."""
    return ghl.connect(sandbox_url)


@pytest.fixture
def base(connected):
    return connected[0]["base_url"]


@pytest.fixture
def key_config(connected, ghl):
    """The seed's config: an API key (private integration token) and the location id."""
    config = {k: v for k, v in connected[0].items() if k not in ("client_id", "client_secret")}
    return {**config, "auth_mode": "api_key", "apiKey": ghl.private_integration_token()}


@pytest.fixture
def api(key_config):
    """A plain HTTP session with the API key and the Version header."""
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {key_config['apiKey']}", **VERSION})
    yield session
    session.close()


@pytest.fixture
def make_connector():
    yield from connectors_made(GoHighLevelConnector)


@pytest.fixture
def connector(key_config, make_connector):
    return make_connector(key_config)


@pytest.fixture
def oauth_connector(connected, make_connector):
    config, tokens = connected
    return make_connector(config, token_store=MemoryTokenStore(tokens))


@pytest.fixture
def receiver():
    made = WebhookReceiver()
    yield made
    made.stop()


def wait_for_deliveries(base: str, count: int, *, timeout: float = 20.0) -> list[dict]:
    """The emulator's delivery log once ``count`` deliveries are done (fails the test on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = requests.get(f"{base}/_control/deliveries", timeout=10).json()["data"]
        done = [row for row in rows if row["done"]]
        if len(done) >= count:
            return done
        assert time.monotonic() < deadline, rows
        time.sleep(0.05)
