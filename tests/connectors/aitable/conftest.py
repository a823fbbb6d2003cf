"""AITable fixtures: a reset emulator on the live server, its integration config, an API session, the
official SDK pointed at it, and a throwaway webhook receiver."""

import pytest
import requests
from apitable import Apitable

from connectors.aitable.emulator import emulator as aitable_emulator
from connectors.aitable.emulator.automation import deliveries_wait
from tests.receiver import WebhookReceiver
from tests.sandbox import InstanceAdapter
from tests.sandbox import emulator_control as control  # noqa: F401 (the tests import it from here)


@pytest.fixture
def at(transactional_db):
    """The AITable emulator with its default space and datasheets, no rows, windows cleared."""
    aitable_emulator.reset()
    yield aitable_emulator
    deliveries_wait()
    aitable_emulator.reset()


@pytest.fixture
def config(at, sandbox_url):
    config, tokens = at.connect(sandbox_url)
    assert tokens is None
    return config


@pytest.fixture
def base(config):
    return config["base_url"]


@pytest.fixture
def leads(config):
    return config["datasheets"]["contact"]


@pytest.fixture
def api(config):
    """A plain HTTP session holding the API token."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {config['api_token']}"
    yield session
    session.close()


@pytest.fixture
def sdk(config, live_server):
    """The official SDK, unchanged: it joins absolute ``/fusion/...`` paths onto ``api_base`` (dropping
    any path), so the session maps the host's requests under the emulator's base, as a reverse
    proxy in front of it would; only the base URL differs from the real service."""
    client = Apitable(config["api_token"], api_base=live_server.url)
    client.request.mount(f"{live_server.url}/", InstanceAdapter(config["base_url"]))
    yield client
    client.request.close()


@pytest.fixture
def receiver():
    made = WebhookReceiver()
    yield made
    made.stop()
