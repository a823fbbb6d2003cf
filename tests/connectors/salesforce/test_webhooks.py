"""Outbound Messaging: the emulator sends SOAP, our verifier and parser take it apart."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from connectors.base import SignatureInvalid, WebhookRequest
from connectors.salesforce import webhooks
from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.emulator import emulator
from connectors.salesforce.emulator.schema import ORG_ID
from connectors.salesforce.emulator.webhooks import is_ack, outbound_message

SECRET = "hook-secret-123"


@dataclass
class Receiver:
    """A local HTTP endpoint standing in for our webhook receiver; records what it was sent."""

    url: str
    acknowledge: bool = True
    received: list[WebhookRequest] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            url = f"http://{self.headers['Host']}{self.path}"
            query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
            state.received.append(
                WebhookRequest(
                    method="POST",
                    url=url,
                    headers=CaseInsensitiveDict(self.headers),
                    body=body,
                    remote_addr=self.client_address[0],
                    query=query,
                )
            )
            answer, content_type = webhooks.ack_response() if state.acknowledge else (b"<ok/>", "text/xml")
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/webhooks/in/salesforce/1/?token={SECRET}"
    yield state
    server.shutdown()
    server.server_close()


def message(**overrides) -> WebhookRequest:
    body = overrides.pop("body", None) or outbound_message(
        [("04lSb0000000001AAA", "Contact", {"Id": "003Sb0000000001AAA", "Email": "a@example.com"})],
        base_url="http://localhost/sandbox/salesforce",
    )
    fields = {
        "method": "POST",
        "url": f"https://app.test/webhooks/in/salesforce/1/?token={SECRET}",
        "headers": {},
        "body": body,
        "remote_addr": "13.108.1.1",
        "query": {"token": SECRET},
    }
    return WebhookRequest(**{**fields, **overrides})


CONFIG = {"organization_id": ORG_ID, "allowed_ips": ["13.108.0.0/14"]}


def test_an_emulator_fired_outbound_message_verifies_and_parses(org, receiver):
    made = org.call(
        "POST",
        "/composite/sobjects",
        json={
            "records": [
                {"attributes": {"type": "Contact"}, "LastName": "Lee", "Email": "ana@example.com"},
                {"attributes": {"type": "Task"}, "Subject": "Call", "TaskSubtype": "Call"},
            ]
        },
    ).json()
    sent = org.control(
        "webhooks",
        {
            "target_url": receiver.url,
            "events": [
                {"type": "Contact", "id": made[0]["id"]},
                {"type": "Task", "id": made[1]["id"]},
            ],
        },
    )
    assert sent["attempts"] == 1 and sent["status_code"] == 200 and len(receiver.received) == 1
    request = receiver.received[0]
    assert request.headers["Content-Type"].startswith("text/xml") and request.headers["SOAPAction"] == '""'
    SalesforceConnector.verify_webhook(
        request, config={"organization_id": ORG_ID, "allowed_ips": ["127.0.0.1"]}, secret=SECRET, now=0
    )
    contact, task = SalesforceConnector.parse_webhook(request)
    assert (contact.entity, contact.remote_id, contact.action) == ("contact", made[0]["id"], "updated")
    assert contact.event_id.startswith("04l") and contact.event_id != task.event_id
    assert contact.record.fields["Email"] == "ana@example.com" and contact.record.fields["LastName"] == "Lee"
    assert contact.record.modified_at is not None and contact.occurred_at == contact.record.modified_at
    assert "Title" not in contact.record.fields  # null fields are left out of the message
    assert (task.entity, task.record.fields["_kind"], task.record.remote_type) == ("activity", "call", "Task")


def test_the_default_message_carries_recent_contacts(org, receiver):
    sent = org.control("webhooks", {"target_url": receiver.url})
    events = webhooks.parse(receiver.received[0])
    assert sent["attempts"] == 1 and [e.entity for e in events] == ["contact"]


def test_without_an_ack_the_message_is_retried(org, receiver):
    receiver.acknowledge = False
    org.control("settings", {"outbound_attempts": 2})
    sent = org.control("webhooks", {"target_url": receiver.url})
    assert sent["attempts"] == 2 and len(receiver.received) == 2
    assert receiver.received[0].body == receiver.received[1].body


def test_the_ack_response_is_what_salesforce_waits_for():
    body, content_type = webhooks.ack_response()
    assert is_ack(body) and content_type.startswith("text/xml")
    assert not is_ack(b"<notificationsResponse><Ack>false</Ack></notificationsResponse>")
    assert not is_ack(b"not xml")


def test_verify_accepts_the_right_token_address_and_org():
    webhooks.verify(message(), secret=SECRET, now=0, config=CONFIG)
    webhooks.verify(message(query={}), secret=SECRET, now=0, config={})  # token read from the URL
    webhooks.verify(message(), secret=SECRET, now=0, config={"organization_id": ORG_ID[:15]})


@pytest.mark.parametrize(
    ("overrides", "secret", "config"),
    [
        ({"query": {"token": "wrong"}}, SECRET, {}),
        ({"query": {}, "url": "https://app.test/hook"}, SECRET, {}),
        ({}, "", {}),
        ({"remote_addr": "203.0.113.9"}, SECRET, CONFIG),
        ({"remote_addr": ""}, SECRET, CONFIG),
        ({}, SECRET, {"organization_id": "00DSb0000000002AAA"}),
        ({"body": b"<not-soap/>"}, SECRET, {"organization_id": ORG_ID}),
        ({"body": b"<!DOCTYPE x [<!ENTITY e 'x'>]><x>&e;</x>"}, SECRET, {"organization_id": ORG_ID}),
        (
            {
                "body": f'<x xmlns="{webhooks.OM_NS}"><y><OrganizationId>{ORG_ID}</OrganizationId></y></x>'.encode()
            },
            SECRET,
            {"organization_id": ORG_ID},
        ),
        ({"body": b"<a><b"}, SECRET, {"organization_id": ORG_ID}),
    ],
    ids=[
        "wrong-token",
        "missing-token",
        "no-secret",
        "ip-outside",
        "no-ip",
        "other-org",
        "not-soap",
        "entities",
        "org-outside-notifications",
        "truncated",
    ],
)
def test_verify_rejects(overrides, secret, config):
    with pytest.raises(SignatureInvalid):
        webhooks.verify(message(**overrides), secret=secret, now=0, config=config)


def test_verify_reads_the_organization_id_without_building_the_whole_message():
    """The org id is the first child of <notifications>: verify stops there; the worker parses the rest."""
    body = message().body
    cut = body.index(b"</OrganizationId>") + len(b"</OrganizationId>")
    assert webhooks.sent_organization_id(body) == ORG_ID
    assert webhooks.sent_organization_id(body[:cut] + b"<broken") == ORG_ID
    with pytest.raises(SignatureInvalid):
        webhooks.parse(body[:cut] + b"<broken")


def test_parse_reads_nil_fields_and_skips_unsynced_types():
    body = outbound_message(
        [
            (
                "04lSb0000000001AAA",
                "Opportunity",
                {"Id": "006Sb0000000001AAA", "Amount": None, "Name": "Big"},
            ),
            ("04lSb0000000002AAA", "Campaign", {"Id": "701Sb0000000001AAA"}),
        ],
        base_url="http://localhost",
    )
    (event,) = webhooks.parse(body)
    assert event.entity == "deal" and event.record.fields == {
        "Id": "006Sb0000000001AAA",
        "Amount": None,
        "Name": "Big",
    }
    with pytest.raises(SignatureInvalid):
        webhooks.parse(b"<soapenv:Envelope/>")


def test_the_emulator_refuses_an_outbound_message_for_a_missing_record(org, receiver):
    resp = requests.post(
        f"{org.instance_url}/_control/webhooks",
        timeout=10,
        json={"target_url": receiver.url, "events": [{"type": "Contact", "id": "003Sb0000000001AAA"}]},
    )
    assert resp.status_code == 400 and receiver.received == []
    assert emulator.provider == "salesforce"
