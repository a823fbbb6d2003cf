"""Pipedrive webhooks v2: one POST per event to each matching subscription, authenticated only by
the HTTP Basic credentials given at subscription time (Pipedrive signs nothing), ``meta`` /
``data`` / ``previous`` bodies, 10-second delivery timeout, retried on non-2xx (providers.md §3).

Writes through the API fire matching subscriptions when the ``deliver_on_change`` setting is on
(off by default: tests and the demo fire events through ``_control/webhooks`` instead, which also
takes ``[{"action": "change", "entity": "person", "id": 12, "merged_to_id": 13?}]``).
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from connectors.pipedrive.emulator.store import COMPANY_ID, SINGULAR, USER_ID
from connectors.pipedrive.emulator.v1 import PipedriveV1
from connectors.sandbox.models import SandboxRecord, SandboxWebhook

PLURAL = {v: k for k, v in SINGULAR.items()}
LEGACY_ACTIONS = {"added": "create", "updated": "change", "deleted": "delete"}


def basic_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class PipedriveHooks(PipedriveV1):
    """Builds v2 event bodies and delivers them."""

    def event_body(
        self,
        record: SandboxRecord,
        action: str,
        *,
        hook_id: int,
        before: dict[str, Any] | None = None,
        merged_to_id: int | None = None,
        host: str = "sandbox.pipedrive.com",
    ) -> dict[str, Any]:
        current = self.serialize(record)
        meta: dict[str, Any] = {
            "action": action,
            "entity": SINGULAR[record.object_type],
            "version": "2.0",
            "company_id": COMPANY_ID,
            "user_id": USER_ID,
            "id": str(uuid.uuid4()),
            "entity_id": int(record.remote_id),
            "webhook_id": hook_id,
            "attempt": 1,
            "host": host,
            "timestamp": int(timezone.now().timestamp()),
            "change_source": "api",
            "is_bulk_edit": False,
            "permitted_user_ids": [USER_ID],
            "type": "general",
        }
        if merged_to_id is not None:
            meta["merged_to_id"] = merged_to_id
        previous = None
        if action == "change" and before is not None:
            previous = {k: v for k, v in before.items() if current.get(k) != v}
        if action == "delete":
            return {"meta": meta, "data": None, "previous": current}
        return {"meta": meta, "data": current, "previous": previous}

    def matching(self, entity: str, action: str) -> list[dict[str, Any]]:
        return [
            h
            for h in self.subscriptions()
            if h.get("event_object") in {entity, "*"}
            and LEGACY_ACTIONS.get(h.get("event_action", ""), h.get("event_action")) in {action, "*"}
        ]

    def send(
        self, hook: dict[str, Any], body: dict[str, Any], target_url: str | None = None
    ) -> SandboxWebhook:
        raw = json.dumps(body, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "Pipedrive Webhooks (sandbox)"}
        if hook.get("http_auth_user") or hook.get("http_auth_password"):
            headers["Authorization"] = basic_header(
                str(hook.get("http_auth_user") or ""), str(hook.get("http_auth_password") or "")
            )
        return self.deliver(target_url or hook["subscription_url"], raw, headers)

    def record_change(self, record: SandboxRecord, action: str, before: dict[str, Any] | None) -> None:
        if not self.state().settings.get("deliver_on_change"):
            return
        for hook in self.matching(SINGULAR[record.object_type], action):
            self.send(hook, self.event_body(record, action, hook_id=int(hook["id"]), before=before))

    def fire_webhooks(self, request: HttpRequest | None, target_url: str, payload: Any) -> SandboxWebhook:
        """Deliver the events to ``target_url`` with the credentials of the subscription pointing
        there (an event may carry its own ``auth`` [user, password] to test rejection)."""
        events = (
            payload
            if payload is not None
            else [{"action": "create", "entity": "person", "id": self._latest("persons")}]
        )
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise ValueError("events must be a list of objects")
        hook = next((h for h in self.subscriptions() if h["subscription_url"] == target_url), None)
        last = None
        for event in events:
            object_type = PLURAL.get(str(event.get("entity", "")))
            if object_type is None:
                raise ValueError(f"unknown entity {event.get('entity')!r}")
            record = self.records(object_type).filter(remote_id=str(event.get("id"))).first()
            if record is None:
                raise ValueError(f"no {event.get('entity')} {event.get('id')}")
            sender = dict(hook or {"id": 0})
            if event.get("auth") is not None:
                sender["http_auth_user"], sender["http_auth_password"] = event["auth"]
            body = self.event_body(
                record,
                str(event.get("action", "change")),
                hook_id=int(sender["id"]),
                merged_to_id=event.get("merged_to_id"),
            )
            last = self.send(sender, body, target_url)
        if last is None:
            raise ValueError("no events to send")
        return last

    def _latest(self, object_type: str) -> int:
        latest = self.records(object_type).order_by("-id").values_list("remote_id", flat=True).first()
        if latest is None:
            raise ValueError(f"no {object_type} to send an event about")
        return int(latest)
