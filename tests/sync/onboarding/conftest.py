"""The onboarding pair as a user wires it: AITable (leads, orders, audit results) and MissionX in one
sub-account, both emulators posting their webhooks to our receivers over real HTTP, the flow on."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass

import pytest
import requests

from connectors.aitable.emulator import emulator as aitable_emulator
from connectors.aitable.emulator.automation import deliveries_wait
from connectors.missionx.emulator import emulator as missionx_emulator
from connectors.missionx.emulator.store import DELIVERIES
from integrations.models import Integration
from integrations.services import inbound_webhook_url
from sync.onboarding.handlers import steps_run
from tests.sandbox import emulator_control, sandbox_integration
from webhooks.inbound.parsing import deliveries_parse
from webhooks.inbound.processing import inbound_drain
from webhooks.models import InboundEvent

FLOW = {
    "enabled": True,
    "price_per_employee": 2.5,
    "currency": "EUR",
}


@dataclass
class Pair:
    aitable: Integration
    missionx: Integration
    live_url: str
    reader_token: str = ""

    @property
    def leads(self) -> str:
        return self.aitable.config["datasheets"]["contact"]

    @property
    def orders(self) -> str:
        return self.aitable.config["onboarding"]["orders_datasheet"]

    @property
    def audits(self) -> str:
        return self.aitable.config["onboarding"]["audit_results_datasheet"]

    def api(self) -> requests.Session:
        """A session with a token of the test's own: its reads count against their own rate limit,
        never the integration's."""
        if not self.reader_token:
            issued = emulator_control(self.aitable.config["base_url"], "token", {"kind": "api_token"})
            self.reader_token = issued["access_token"]
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.reader_token}"
        return session

    def rows(self, datasheet: str) -> list[dict]:
        with self.api() as api:
            resp = api.get(
                f"{self.aitable.config['base_url']}/fusion/v1/datasheets/{datasheet}/records",
                params={"fieldKey": "name", "pageSize": 1000},
                timeout=10,
            )
        body = resp.json()
        assert body["success"], body
        return body["data"]["records"]

    def edit(self, fields: dict, record_id: str = "") -> dict:
        """A person adds (or edits) a lead row in the AITable grid: its automation posts to us."""
        body = {
            "datasheet_id": self.leads,
            "fields": fields,
            **({"record_id": record_id} if record_id else {}),
        }
        return emulator_control(self.aitable.config["base_url"], "records", body)["record"]

    def portal(self, portal_id: str) -> dict:
        resp = requests.get(
            f"{self.missionx.config['base_url']}/v1/portals/{portal_id}",
            headers={"Authorization": f"Bearer {self.missionx.config['api_key']}"},
            timeout=10,
        )
        assert resp.status_code == 200, resp.text
        return resp.json()

    def portals(self) -> list[dict]:
        resp = requests.get(
            f"{self.missionx.config['base_url']}/v1/portals",
            params={"limit": 100},
            headers={"Authorization": f"Bearer {self.missionx.config['api_key']}"},
            timeout=10,
        )
        assert resp.status_code == 200, resp.text
        return resp.json()["data"]

    def upload(self, portal_id: str, filename: str, content: bytes, content_type: str = "text/csv") -> dict:
        """The client uploads a file to their portal: MissionX posts a signed file.uploaded to us."""
        body = {
            "portal_id": portal_id,
            "filename": filename,
            "content_base64": base64.b64encode(content).decode(),
            "content_type": content_type,
        }
        resp = requests.post(f"{self.missionx.config['base_url']}/_control/upload", json=body, timeout=10)
        assert resp.status_code == 201, resp.text
        return resp.json()


def _missionx_delivering() -> bool:
    return missionx_emulator.records(DELIVERIES).filter(data__done=False).exists()


def settle(expected_events: int | None = None, timeout: float = 20.0) -> None:
    """Wait for the emulators' webhooks to reach us, apply them and run the flow's steps, again
    and again until a round finds nothing (what the workers do, in this process). The steps' own
    calls make the emulators post more (an order row fires the automation, an activation its event)."""
    deadline = time.monotonic() + timeout
    if expected_events is not None:
        while time.monotonic() < deadline:
            deliveries_parse()  # what the worker does first
            if InboundEvent.objects.count() >= expected_events:
                break
            time.sleep(0.05)
    while time.monotonic() < deadline:
        deliveries_wait()
        while _missionx_delivering() and time.monotonic() < deadline:
            time.sleep(0.05)
        applied = inbound_drain().total
        ran = steps_run()
        if not applied and not ran and not _missionx_delivering():
            return


def pair_wire(subaccount, sandbox_url: str, public_url: str) -> Pair:
    """Reset both emulators, connect them as the wizard would (the flow on) and point their
    webhooks at our receivers."""
    aitable_emulator.reset()
    missionx_emulator.reset()
    missionx = sandbox_integration(subaccount, "missionx", sandbox_url)
    aitable = sandbox_integration(
        subaccount, "aitable", sandbox_url, settings={"onboarding": FLOW}, name="AITable (sandbox)"
    )
    emulator_control(
        aitable.config["base_url"],
        "webhooks",
        {"target_url": inbound_webhook_url(aitable), "secret": str(aitable.webhook_secret)},
    )
    emulator_control(
        missionx.config["base_url"],
        "webhooks",
        {"target_url": inbound_webhook_url(missionx), "api_key": missionx.config["api_key"]},
    )
    return Pair(aitable=aitable, missionx=missionx, live_url=public_url)


@pytest.fixture
def pair(catalog, subaccount, sandbox_url, live_server, settings) -> Pair:
    settings.PUBLIC_BASE_URL = live_server.url
    yield pair_wire(subaccount, sandbox_url, live_server.url)
    deliveries_wait()
