"""enrichment_http fixtures: a reset emulator on the live server, an API-key config, connectors on it."""

import pytest

from connectors.enrichment_http.connector import EnrichmentHttpConnector
from connectors.enrichment_http.emulator import emulator as enrichment_emulator
from tests.sandbox import connectors_made


@pytest.fixture
def enrichment(transactional_db):
    """The enrichment emulator, reset (no keys, no faults, default settings)."""
    enrichment_emulator.reset()
    yield enrichment_emulator
    enrichment_emulator.reset()


@pytest.fixture
def config(enrichment, sandbox_url):
    config, tokens = enrichment.connect(sandbox_url)
    assert tokens is None
    return config


@pytest.fixture
def base(config):
    return config["base_url"]


@pytest.fixture
def make_connector():
    yield from connectors_made(EnrichmentHttpConnector)


@pytest.fixture
def connector(config, make_connector):
    return make_connector(config)
