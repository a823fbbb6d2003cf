"""GA4 fixtures: a reset emulator on the live server, the config ``connect`` leaves (a generated
key file, the sandbox property and stream) and a connector on it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
import requests

from connectors.base import MemoryTokenStore
from connectors.capabilities import GENERATE_LEAD, LeadEvent
from connectors.google_analytics.connector import GoogleAnalyticsConnector
from connectors.google_analytics.emulator import emulator as ga_emulator


@pytest.fixture
def ga(transactional_db):
    ga_emulator.reset()
    yield ga_emulator
    ga_emulator.reset()


@pytest.fixture
def config(ga, sandbox_url):
    return ga.connect(sandbox_url)[0]


@pytest.fixture
def store():
    return MemoryTokenStore()


@pytest.fixture
def connector(config, store):
    return GoogleAnalyticsConnector(config, token_store=store, integration_id=f"ga-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def key_file(config) -> dict:
    return json.loads(config["serviceAccountKey"])


def control(config: dict, name: str, body: dict) -> dict:
    resp = requests.post(f"{config['base_url']}/_control/{name}", json=body, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()


def lead_event(n: int = 0, *, name: str = GENERATE_LEAD, client_id: str = "111.222", **params) -> LeadEvent:
    return LeadEvent(
        name=name,
        record_type="contact",
        record_id=n,
        user_id=f"contact-{n}",
        occurred_at=datetime.now(UTC),
        client_id=client_id,
        params=params,
    )
