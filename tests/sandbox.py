"""An active integration wired to a provider emulator, as the wizard would leave it; the providers'
official clients pointed at the emulators."""

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce

from integrations.models import Integration, SubAccount
from integrations.sandbox import sandbox_integration_connect


def sandbox_integration(
    subaccount: SubAccount, provider: str, sandbox_url: str, *, settings: dict | None = None, **options
) -> Integration:
    """Connect ``provider``'s emulator at ``sandbox_url`` (OAuth tokens stored when it issues them),
    create the integration with ``options`` (and config ``settings`` such as Salesforce's
    lead_mode) and activate it. Needs the catalog loaded."""
    return sandbox_integration_connect(
        subaccount, provider, sandbox_url, actor="test", settings=settings, **options
    )


class InstanceAdapter(HTTPAdapter):
    """Sends simple-salesforce's ``https://<host>/services/...`` calls to the emulator's instance URL.

    simple-salesforce keeps only the host of ``instance_url`` and always speaks https; the emulator's
    instance lives at ``http://<host>/sandbox/salesforce``. Only the base URL changes: paths already under
    the prefix (``nextRecordsUrl``, blob URLs) pass as they are."""

    def __init__(self, instance_url: str):
        super().__init__()
        self.instance = urlsplit(instance_url)

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        prefix = self.instance.path.rstrip("/")
        path = parts.path if parts.path.startswith(prefix + "/") else prefix + parts.path
        request.url = urlunsplit((self.instance.scheme, self.instance.netloc, path, parts.query, ""))
        return super().send(request, **kwargs)


def simple_salesforce_client(instance_url: str, access_token: str) -> Salesforce:
    """simple-salesforce logged in to the emulated org with a session id; only the base URL differs
    from a real org (see InstanceAdapter)."""
    session = requests.Session()
    session.mount(f"https://{urlsplit(instance_url).netloc}/", InstanceAdapter(instance_url))
    return Salesforce(instance_url=instance_url, session_id=access_token, version="62.0", session=session)


def emulator_control(base: str, name: str, body: dict) -> dict:
    """POST to an emulator's control surface (``<base>/_control/<name>``); fails the test unless 200."""
    resp = requests.post(f"{base}/_control/{name}", json=body, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def connectors_made(connector_class) -> Iterator:
    """For a fixture (``yield from``): a maker of ``connector_class(config, **kwargs)``, each with a
    fresh integration id (our limiter windows never leak between tests); their HTTP sessions are
    closed afterwards."""
    made = []

    def make(config, **kwargs):
        connector = connector_class(config, integration_id=f"test-{uuid.uuid4()}", **kwargs)
        made.append(connector)
        return connector

    yield make
    for connector in made:
        if "client" in connector.__dict__:
            connector.client.session.close()
