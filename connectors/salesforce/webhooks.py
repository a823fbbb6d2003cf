"""Salesforce Outbound Messaging: verify and parse the SOAP notifications, and the Ack we must answer.

Outbound Messages carry no signature. Authenticity rests on three checks, all fail-closed and constant-time
where secrets are compared: a secret ``token`` in the receiver URL's query string (our own scheme: the
integration's webhook secret), an optional sender IP allowlist (Salesforce publishes its ranges), and the
message's ``OrganizationId`` matching the connected org when the config names it.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.etree.ElementTree import Element
from xml.parsers import expat

from defusedxml import DefusedXmlException, ElementTree

from connectors.base import RemoteRecord, SignatureInvalid, WebhookEvent, WebhookRequest
from connectors.netguard import ip_allowed
from connectors.salesforce.client import activity_fields, parse_datetime

OM_NS = "http://soap.sforce.com/2005/09/outbound"
SF_NS = "urn:sobject.enterprise.soap.sforce.com"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

# The sObject types we sync, as canonical entities. A message about any other type has nothing to apply to.
ENTITY_BY_TYPE = {
    "Contact": "contact",
    "Account": "company",
    "Opportunity": "deal",
    "Case": "conversation",
    "Task": "activity",
    "Event": "activity",
}

ACK_CONTENT_TYPE = "text/xml; charset=utf-8"
_ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    f'<notificationsResponse xmlns="{OM_NS}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
).encode()


def ack_response() -> tuple[bytes, str]:
    """The body and content type a receiver answers so Salesforce stops retrying the message."""
    return _ACK, ACK_CONTENT_TYPE


def verify(request: WebhookRequest, *, secret: str, now: float, config: Mapping[str, Any]) -> None:
    """Raise SignatureInvalid unless the URL token, sender address and OrganizationId all check out."""
    token = _url_token(request)
    if not secret or not token:
        raise SignatureInvalid("no webhook secret configured, or no token in the URL")
    if not hmac.compare_digest(token.encode(), secret.encode()):
        raise SignatureInvalid("the URL token does not match")
    allowed = config.get("allowed_ips") or []
    if allowed and not ip_allowed(request.remote_addr, allowed):
        raise SignatureInvalid("the sender address is not in the allowlist")
    expected_org = str(config.get("organization_id") or "")
    if expected_org:
        sent_org = sent_organization_id(request.body)
        # 15- and 18-char forms name the same org: compare the case-sensitive 15-char stem.
        if len(sent_org) < 15 or not hmac.compare_digest(sent_org[:15].encode(), expected_org[:15].encode()):
            raise SignatureInvalid("the OrganizationId is not the connected org's")


def parse(request: WebhookRequest | bytes, *, config: Mapping[str, Any] | None = None) -> list[WebhookEvent]:
    """One ``updated`` event per Notification, carrying the record (Outbound Messages hold current data).

    Raises SignatureInvalid when the body is not an Outbound Message.
    """
    body = request if isinstance(request, bytes) else request.body
    root = _notifications(body)
    events = []
    for notification in root.findall(f"{{{OM_NS}}}Notification"):
        event_id = _text(notification, "Id")
        sobject = notification.find(f"{{{OM_NS}}}sObject")
        if not event_id or sobject is None:
            raise SignatureInvalid("a Notification without Id or sObject")
        remote_type = (sobject.get(f"{{{XSI_NS}}}type") or "").rpartition(":")[2]
        entity = ENTITY_BY_TYPE.get(remote_type)
        if entity is None:
            continue
        fields = _fields(sobject)
        remote_id = str(fields.get("Id") or "")
        if not remote_id:
            raise SignatureInvalid("an sObject without Id")
        if entity == "activity":
            fields = activity_fields(remote_type, fields)
        modified = parse_datetime(fields.get("SystemModstamp") or fields.get("LastModifiedDate"))
        record = RemoteRecord(id=remote_id, modified_at=modified, fields=fields, remote_type=remote_type)
        events.append(
            WebhookEvent(
                event_id=event_id,
                entity=entity,
                remote_id=remote_id,
                action="updated",
                occurred_at=modified,
                record=record,
                raw={"type": remote_type, "fields": dict(fields)},
            )
        )
    return events


class _Found(Exception):
    """Stops the streaming read once the OrganizationId is in hand."""


_ORG_PATH = [f"{OM_NS} notifications", f"{OM_NS} OrganizationId"]


def sent_organization_id(body: bytes) -> str:
    """The message's ``notifications/OrganizationId``, read by a streaming parser that stops at its
    end tag. It is the first child of ``<notifications>``, so verifying reads a few hundred bytes
    instead of building the whole tree (the worker's parse does that, after the ack). As defusedxml
    does, DTDs and entity declarations are refused (a SOAP message never carries one).
    """
    parser = expat.ParserCreate(namespace_separator=" ")
    path: list[str] = []
    text: list[str] = []

    def start(name: str, _attributes: object) -> None:
        path.append(name)

    def end(_name: str) -> None:
        if path[-2:] == _ORG_PATH:
            raise _Found
        path.pop()

    def characters(data: str) -> None:
        if path[-2:] == _ORG_PATH:
            text.append(data)

    def forbidden(*_args: object) -> None:
        raise SignatureInvalid("the body declares a DTD or entities, which a SOAP message never does")

    parser.StartElementHandler, parser.EndElementHandler = start, end
    parser.CharacterDataHandler = characters
    parser.StartDoctypeDeclHandler = parser.EntityDeclHandler = forbidden
    parser.UnparsedEntityDeclHandler = parser.ExternalEntityRefHandler = forbidden
    try:
        parser.Parse(body, True)
    except _Found:
        return "".join(text).strip()
    except expat.ExpatError:
        raise SignatureInvalid("the body is not a well-formed SOAP message") from None
    return ""


def _url_token(request: WebhookRequest) -> str:
    token = request.query.get("token") if request.query else None
    if token is None:
        token = (parse_qs(urlsplit(request.url).query).get("token") or [""])[0]
    return str(token or "")


def _notifications(body: bytes) -> Element:
    try:
        root = ElementTree.fromstring(body)
    except (ElementTree.ParseError, DefusedXmlException, ValueError):
        raise SignatureInvalid("the body is not a well-formed SOAP message") from None
    found = root.find(f".//{{{OM_NS}}}notifications")
    if found is None:
        raise SignatureInvalid("the body is not an Outbound Message")
    return found


def _text(parent: Element, name: str) -> str:
    found = parent.find(f"{{{OM_NS}}}{name}")
    return (found.text or "").strip() if found is not None else ""


def _fields(sobject: Element) -> dict[str, Any]:
    """The sf: fields as strings (as sent), None for ``xsi:nil``."""
    fields: dict[str, Any] = {}
    for child in sobject:
        if not child.tag.startswith(f"{{{SF_NS}}}"):
            continue
        name = child.tag.rpartition("}")[2]
        nil = (child.get(f"{{{XSI_NS}}}nil") or "").lower() == "true"
        fields[name] = None if nil else (child.text or "")
    return fields
