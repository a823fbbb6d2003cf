"""MissionXConnector as a PortalProvider over real HTTP to the emulator."""

from __future__ import annotations

import base64
import time
from datetime import timedelta

import pytest
import requests

from connectors.base import AuthError, PermanentError, RateLimited, TransientError
from connectors.capabilities import FileTooLarge, PortalProvider
from connectors.missionx.connector import MissionXConnector
from tests.connectors.missionx.conftest import control


def upload(base: str, portal_id: str, content: bytes, filename: str = "payroll.csv") -> dict:
    resp = requests.post(
        f"{base}/_control/upload",
        json={
            "portal_id": portal_id,
            "filename": filename,
            "content_base64": base64.b64encode(content).decode(),
            "content_type": "text/csv",
        },
        timeout=10,
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["file"]


def test_it_offers_portals_and_syncs_no_records():
    assert issubclass(MissionXConnector, PortalProvider)
    assert MissionXConnector.entities == {} and MissionXConnector.event_entities == ("portal",)
    assert MissionXConnector.rate_limit == "10/1"


def test_connection_is_one_cheap_authenticated_call(connector, config, make_connector, mx):
    before = mx.state().requests
    result = connector.test_connection()
    assert result.ok, result.message
    assert mx.state().requests == before + 1
    bad = make_connector({**config, "api_key": "mx-wrong-key-0123456789"}).test_connection()
    assert not bad.ok and bad.details["reason"] == "auth" and "wrong-key" not in bad.message


def test_a_portal_is_created_activated_with_uploads_and_read_back(connector):
    made = connector.portal_create(client_name="Acme Ltd", email="ana@acme.example", external_id="c-42")
    assert (made.status, made.uploads_enabled, made.external_id) == ("pending", False, "c-42")
    assert made.url.endswith(f"/missionx/p/{made.id}") and made.created_at is not None
    active = connector.portal_update(made.id, status="active", uploads_enabled=True)
    assert (active.status, active.uploads_enabled) == ("active", True)
    assert active.updated_at >= made.updated_at
    assert connector.portal_get(made.id) == active
    assert connector.portal_update(made.id) == active  # nothing to change: read only
    with pytest.raises(PermanentError, match="status must be one of"):
        connector.portal_update(made.id, status="archived")


def test_an_unknown_portal_is_a_permanent_not_found(connector):
    with pytest.raises(PermanentError) as caught:
        connector.portal_get("prt_missing")
    assert (caught.value.code, caught.value.status) == ("not_found", 404)
    assert not isinstance(caught.value, AuthError)
    with pytest.raises(PermanentError) as caught:
        connector.portal_files("../files/x")
    assert caught.value.code == "not_found"


def test_a_bad_key_is_an_auth_error(config, make_connector):
    with pytest.raises(AuthError):
        make_connector({**config, "api_key": "mx-wrong-key-0123456789"}).portal_get("prt_x")


def test_portals_changed_pages_past_100_and_finds_a_lost_create_by_external_id(connector, config, base, mx):
    control(base, "faults", {"rate_limit": False})
    control(base, "seed", {"object": "portals", "count": 120, "api_key": config["api_key"]})
    start = connector.portal_create(
        client_name="Late", email="late@x.example", external_id="lost-1"
    ).created_at
    everything = list(connector.portals_changed(since=None))
    assert len(everything) == 121 and len({p.id for p in everything}) == 121
    recent = list(connector.portals_changed(since=start - timedelta(milliseconds=1)))
    assert [p.external_id for p in recent] == ["lost-1"]
    assert list(connector.portals_changed(since=start + timedelta(minutes=1))) == []


def test_files_are_listed_and_downloaded_within_max_bytes(connector, base):
    portal = connector.portal_create(client_name="Acme", email="a@acme.example", external_id="c-1")
    connector.portal_update(portal.id, status="active", uploads_enabled=True)
    content = b"name,pay\n" + b"Ana,10\n" * 200
    made = upload(base, portal.id, content)
    [listed] = connector.portal_files(portal.id)
    assert (listed.id, listed.portal_id, listed.filename, listed.size) == (
        made["id"],
        portal.id,
        "payroll.csv",
        len(content),
    )
    assert listed.content_type == "text/csv" and listed.uploaded_at is not None
    assert connector.file_download(listed.id, max_bytes=len(content)) == content
    with pytest.raises(FileTooLarge):
        connector.file_download(listed.id, max_bytes=len(content) - 1)
    with pytest.raises(PermanentError) as caught:
        connector.file_download("fil_missing", max_bytes=10)
    assert caught.value.code == "not_found"


def test_a_download_without_a_length_is_cut_off_past_max_bytes(connector, base):
    control(base, "settings", {"download_chunked": True})
    portal = connector.portal_create(client_name="Acme", email="a@acme.example", external_id="c-1")
    connector.portal_update(portal.id, status="active", uploads_enabled=True)
    content = bytes(200_000)
    made = upload(base, portal.id, content, filename="big.bin")
    resp = requests.get(
        made["download_url"], headers={"Authorization": f"Bearer {connector.config['api_key']}"}, timeout=10
    )
    assert "Content-Length" not in resp.headers and resp.content == content  # streamed, no length
    with pytest.raises(FileTooLarge):
        connector.file_download(made["id"], max_bytes=100_000)
    assert connector.file_download(made["id"], max_bytes=200_000) == content


def test_a_429_waits_for_retry_after_then_succeeds(connector, base):
    control(base, "faults", {"ratelimit_count": 1})  # answered 429 with Retry-After: 1
    started = time.monotonic()
    assert connector.portal_create(client_name="A", email="a@b.example", external_id="1").id
    assert time.monotonic() - started >= 1.0
    assert control(base, "state", {})["ratelimit_count"] == 0


def test_429_and_5xx_past_the_retries_are_rate_limited_and_transient(connector, base):
    connector.client.max_attempts = 1
    control(base, "faults", {"ratelimit_count": 1})
    with pytest.raises(RateLimited) as limited:
        connector.portal_get("prt_any")
    assert limited.value.retry_after == 1.0
    control(base, "faults", {"fail_status": 503, "fail_count": 1})
    with pytest.raises(TransientError) as failed:
        connector.portals_changed(since=None).__next__()
    assert failed.value.status == 503 and not isinstance(failed.value, RateLimited)


def test_the_connectors_own_pace_keeps_it_under_the_providers_limit(connector, base):
    """Our limiter (10/1, the provider's figure) spaces a burst so the emulator never says 429."""
    connector.client.max_attempts = 1  # a 429 would raise instead of being retried
    for n in range(15):
        connector.portal_create(client_name=f"C{n}", email=f"c{n}@x.example", external_id=str(n))
    assert len(list(connector.portals_changed(since=None))) == 15
