"""Fixtures: the Salesforce emulator on pytest-django's live server, and a connector wired to it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce

from connectors.base import MemoryTokenStore, Tokens
from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.emulator import emulator
from connectors.sandbox.models import SandboxToken
from tests.sandbox import simple_salesforce_client


@dataclass
class Org:
    """The emulated org as a client sees it: its URLs and a ready session token."""

    sandbox_url: str
    config: dict[str, Any]
    tokens: Tokens

    @property
    def instance_url(self) -> str:
        return self.tokens.extra["instance_url"]

    @property
    def host(self) -> str:
        return self.sandbox_url.removesuffix("/sandbox")

    def api(self, path: str) -> str:
        return f"{self.instance_url}/services/data/v62.0{path}"

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.access_token}", **extra}

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(
            self.api(path), headers=self.headers(**kwargs.pop("headers", {})), timeout=10, **kwargs
        )

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, self.api(path), headers=self.headers(), timeout=10, **kwargs)

    def query(self, soql: str, **headers: str) -> requests.Response:
        return self.get("/query/", params={"q": soql}, headers=headers)

    def control(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = requests.post(f"{self.instance_url}/_control/{name}", json=body, timeout=30)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def expire_session(self, access_token: str | None = None, *, age_seconds: int = 3 * 3600) -> None:
        """Age a session past the org's timeout, as if it had sat unused for hours."""
        from datetime import timedelta

        from django.utils import timezone

        SandboxToken.objects.filter(access_token=access_token or self.tokens.access_token).update(
            created_at=timezone.now() - timedelta(seconds=age_seconds)
        )


@pytest.fixture
def org(transactional_db, sandbox_url) -> Org:
    emulator.reset()
    config, tokens = emulator.connect(sandbox_url)
    assert tokens is not None
    return Org(sandbox_url=sandbox_url, config=config, tokens=tokens)


@pytest.fixture
def store(org: Org) -> MemoryTokenStore:
    return MemoryTokenStore(Tokens(**{**org.tokens.to_dict(), "extra": dict(org.tokens.extra)}))


@pytest.fixture
def connector(org: Org, store: MemoryTokenStore) -> SalesforceConnector:
    # A unique integration id keeps this test's client-side rate-limit window its own.
    return SalesforceConnector(org.config, token_store=store, integration_id=f"sf-{uuid.uuid4().hex}")


@pytest.fixture
def sf(org: Org) -> Salesforce:
    """The official-ish client, simple-salesforce, logged in to the emulated org with a session id."""
    return simple_salesforce_client(org.instance_url, org.tokens.access_token)


@pytest.fixture
def make_connector(org: Org, store: MemoryTokenStore):
    """A connector for the org with config overrides (lead_mode, note_object)."""

    def make(**config: Any) -> SalesforceConnector:
        return SalesforceConnector(
            {**org.config, **config}, token_store=store, integration_id=f"sf-{uuid.uuid4().hex}"
        )

    return make
