"""À La Carte Chat fixtures: a reset emulator on the live server, a config for a new API key,
a plain HTTP session sending it as ``x-api-key``, and a scripted webhook receiver (a real HTTP
server that records what it was sent)."""

from __future__ import annotations

import time

import pytest
import requests

from connectors.alacarte.emulator import emulator as alacarte_emulator
from connectors.sandbox.delivery import deliveries_wait
from tests.receiver import WebhookReceiver
from tests.sandbox import emulator_control as control  # noqa: F401 (the tests import it from here)


@pytest.fixture
def alc(transactional_db):
    """The À La Carte Chat emulator, empty, with its rate-limit windows cleared."""
    alacarte_emulator.reset()
    yield alacarte_emulator
    deliveries_wait()
    alacarte_emulator.reset()


@pytest.fixture
def config(alc, sandbox_url):
    config, tokens = alc.connect(sandbox_url)
    assert tokens is None
    return config


@pytest.fixture
def base(config):
    return config["base_url"]


@pytest.fixture
def api(config):
    """A plain HTTP session holding the API key, as the seed's ``fetch`` calls send it."""
    session = requests.Session()
    session.headers["x-api-key"] = config["api_key"]
    yield session
    session.close()


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
