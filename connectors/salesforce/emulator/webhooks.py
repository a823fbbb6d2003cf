"""Salesforce's Outbound Messaging: the SOAP envelope, delivery retried until the receiver's
``<Ack>true</Ack>``, and reading that Ack."""

from __future__ import annotations

import re
import time
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import requests
from defusedxml import ElementTree
from django.http import HttpRequest

from connectors.salesforce.client import case_safe_id
from connectors.salesforce.emulator.schema import ORG_ID, PREFIX, new_ids
from connectors.sandbox.emulator import Emulator
from connectors.sandbox.models import SandboxWebhook

ACTION_ID = case_safe_id("04k5g00000Sbx01")
OUTBOUND_MAX_NOTIFICATIONS = 100

OM_NS = "http://soap.sforce.com/2005/09/outbound"


class SalesforceWebhooks(Emulator):
    """Fires Outbound Messages at a listener."""

    def fire_webhooks(self, request: HttpRequest | None, target_url: str, payload: Any) -> SandboxWebhook:
        """POST an Outbound Message (SOAP) to ``target_url``; only a SOAP Ack counts as delivered.

        ``payload``: a list of ``{"type": "Contact", "id": "003..."}`` (current data of a stored record,
        optionally ``"fields": [...]`` to pick fields) or ``{"type": ..., "fields": {...}}`` (ad-hoc sObject);
        None: the five most recently modified Contacts (one is created when there are none).
        """
        notifications = [self._notification(event) for event in (payload or self._default_events())]
        if not notifications:
            raise ValueError("an Outbound Message needs at least one notification")
        if len(notifications) > OUTBOUND_MAX_NOTIFICATIONS:
            raise ValueError(
                f"an Outbound Message carries at most {OUTBOUND_MAX_NOTIFICATIONS} notifications"
            )
        base = self.instance_url(request) if request is not None else f"http://localhost{PREFIX}"
        body = outbound_message(notifications, base_url=base)
        return self.deliver_outbound(target_url, body)

    def deliver_outbound(self, target_url: str, body: bytes) -> SandboxWebhook:
        """Send like Salesforce: retried until the receiver answers a SOAP ``<Ack>true</Ack>``."""
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
        hook = SandboxWebhook.objects.create(
            provider=self.provider, target_url=target_url, headers=headers, body=body.decode()
        )
        attempts = int(self.setting("outbound_attempts", 3))
        for attempt in range(1, attempts + 1):
            try:
                resp = requests.post(target_url, data=body, headers=headers, timeout=10)
                status, acked = resp.status_code, 200 <= resp.status_code < 300 and is_ack(resp.content)
            except requests.RequestException:
                status, acked = None, False
            hook.attempts, hook.status_code = attempt, status
            if acked:
                break
            if attempt < attempts:
                time.sleep(min(0.2 * 2**attempt, 2))  # Salesforce backs off up to 2 h; tests cannot wait
        hook.save(update_fields=["attempts", "status_code"])
        return hook

    def _default_events(self) -> list[dict[str, Any]]:
        recent = list(self.records("Contact").filter(archived=False).order_by("-updated_at")[:5])
        if not recent:
            contact = self._spec("Contact")
            values = self._clean(contact, self.sample_record("contact", 0), creating=True)
            self._insert(contact, [values])
            recent = list(self.records("Contact").filter(archived=False)[:1])
        return [{"type": "Contact", "id": row.remote_id} for row in recent]

    def _notification(self, event: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        spec = self._spec(str(event.get("type") or event.get("object") or "Contact"))
        if spec is None:
            raise ValueError(f"unknown sObject type {event.get('type')!r}")
        if "id" in event:
            row = self._find(spec, str(event["id"]))
            if row is None or row.archived:
                raise ValueError(f"no {spec.name} with id {event['id']!r}")
            full = self._wire(spec, row)
            wanted = event.get("fields")
            if isinstance(wanted, list):
                full = {name: full.get(name) for name in ["Id", *wanted] if spec.lookup(name)}
            fields = {name: value for name, value in full.items() if value is not None}
        else:
            fields = dict(event.get("fields") or {})
            fields.setdefault("Id", new_ids(spec.prefix)[0])
        return str(event.get("notification_id") or new_ids("04l")[0]), spec.name, fields


def outbound_message(notifications: list[tuple[str, str, dict[str, Any]]], *, base_url: str) -> bytes:
    """The SOAP envelope of an Outbound Message: (notification id, sObject type, fields) per Notification."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
        "<soapenv:Body>",
        f'<notifications xmlns="{OM_NS}">',
        f"<OrganizationId>{ORG_ID}</OrganizationId>",
        f"<ActionId>{ACTION_ID}</ActionId>",
        '<SessionId xsi:nil="true"/>',
        f"<EnterpriseUrl>{escape(base_url)}/services/Soap/c/62.0/{ORG_ID[:15]}</EnterpriseUrl>",
        f"<PartnerUrl>{escape(base_url)}/services/Soap/u/62.0/{ORG_ID[:15]}</PartnerUrl>",
    ]
    for notification_id, sobject, fields in notifications:
        parts.append(f"<Notification><Id>{escape(notification_id)}</Id>")
        parts.append(
            f"<sObject xsi:type={quoteattr('sf:' + sobject)} "
            'xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        )
        for name, value in fields.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"invalid field name {name!r}")
            if value is None:
                parts.append(f'<sf:{name} xsi:nil="true"/>')
            else:
                text = ("true" if value else "false") if isinstance(value, bool) else str(value)
                parts.append(f"<sf:{name}>{escape(text)}</sf:{name}>")
        parts.append("</sObject></Notification>")
    parts += ["</notifications>", "</soapenv:Body>", "</soapenv:Envelope>"]
    return "".join(parts).encode()


def is_ack(body: bytes) -> bool:
    """True when a receiver's answer is a SOAP notificationsResponse with ``<Ack>true</Ack>``."""
    try:
        root = ElementTree.fromstring(body)
    except (ElementTree.ParseError, ValueError):
        return False
    return any(
        el.tag.rsplit("}", 1)[-1] == "Ack" and (el.text or "").strip().lower() == "true" for el in root.iter()
    )
