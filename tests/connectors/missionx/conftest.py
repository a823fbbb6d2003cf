"""MissionX fixtures: a reset emulator on the live server, an account's config, connectors on it,
and a scripted webhook receiver (a real HTTP server) that records what it was sent."""

from __future__ import annotations

import time

import pytest
import requests

from connectors.missionx.connector import MissionXConnector
from connectors.missionx.emulator import emulator as missionx_emulator
from tests.receiver import WebhookReceiver
from tests.sandbox import connectors_made
from tests.sandbox import emulator_control as control  # noqa: F401 (the tests import it from here)


@pytest.fixture
def mx(transactional_db):
    """The MissionX emulator, empty, with its rate-limit windows cleared."""
    missionx_emulator.reset()
    yield missionx_emulator
    missionx_emulator.reset()


@pytest.fixture
def config(mx, sandbox_url):
    config, tokens = mx.connect(sandbox_url)
    assert tokens is None
    return config


@pytest.fixture
def base(config):
    return config["base_url"]


@pytest.fixture
def api(config):
    """A plain HTTP session holding the account's API key, for talking to the emulator directly."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {config['api_key']}"
    yield session
    session.close()


@pytest.fixture
def make_connector():
    yield from connectors_made(MissionXConnector)


@pytest.fixture
def connector(config, make_connector):
    return make_connector(config)


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
