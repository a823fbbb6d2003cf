"""Leadgen webhooks as Meta sends them: an app-level subscription (``POST /{app-id}/subscriptions``
with ``object=page``, ``callback_url``, ``fields=leadgen``, ``verify_token``) is accepted only after
the ``hub.challenge`` GET handshake answers 200 with the challenge; Pages opt in through
``POST /{page-id}/subscribed_apps?subscribed_fields=leadgen``. A new lead of a subscribed Page is
POSTed (ids only) to the app's callback, signed ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app
secret, raw body)>``, with non-ASCII escaped as ``\\uXXXX``; non-200 answers are retried
(``webhook_attempts``, default 3).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

import requests
from django.http import HttpRequest
from django.utils import timezone

from connectors.facebook_leads.emulator.store import GraphStore
from connectors.sandbox.models import SandboxRecord, SandboxWebhook


def signed_headers(body: bytes, app_secret: str) -> dict[str, str]:
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    sha1 = hmac.new(app_secret.encode(), body, hashlib.sha1).hexdigest()
    return {
        "Content-Type": "application/json",
        "User-Agent": "facebookexternalua",
        "X-Hub-Signature-256": f"sha256={digest}",
        "X-Hub-Signature": f"sha1={sha1}",
    }


def leadgen_body(leads: list[SandboxRecord]) -> dict[str, Any]:
    """One POST: an entry per Page, a change per lead (ids only)."""
    entries: dict[str, dict[str, Any]] = {}
    now = int(timezone.now().timestamp())
    for lead in leads:
        page = lead.data["page_id"]
        entry = entries.setdefault(page, {"id": page, "time": now, "changes": []})
        entry["changes"].append(
            {
                "field": "leadgen",
                "value": {
                    "leadgen_id": lead.remote_id,
                    "page_id": page,
                    "form_id": lead.data["form_id"],
                    "adgroup_id": lead.data["ad_id"],
                    "ad_id": lead.data["ad_id"],
                    "created_time": lead.data["created_unix"],
                },
            }
        )
    return {"object": "page", "entry": list(entries.values())}


class LeadgenHooks(GraphStore):
    def handshake(self, callback_url: str, verify_token: str) -> tuple[bool, str]:
        """Meta's verification GET; (accepted, what went wrong)."""
        challenge = str(secrets.randbelow(10**10))
        params = {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": verify_token}
        try:
            resp = requests.get(callback_url, params=params, timeout=10)
        except requests.RequestException:
            return False, "could not connect to the callback URL"
        if resp.status_code != 200 or resp.text.strip() != challenge:
            return False, f"The URL couldn't be validated. Response: HTTP {resp.status_code}"
        return True, ""

    def app_subscribe(self, callback_url: str, verify_token: str, fields: list[str]) -> tuple[bool, str]:
        accepted, problem = self.handshake(callback_url, verify_token)
        if accepted:
            state = self.state()
            subscription = {"object": "page", "callback_url": callback_url, "fields": fields, "active": True}
            state.settings = {**state.settings, "app_subscription": subscription}
            state.save(update_fields=["settings"])
        return accepted, problem

    def page_subscriptions(self) -> dict[str, list[str]]:
        return dict(self.setting("subscribed_pages", {}))

    def page_subscribe(self, page_id: str, fields: list[str]) -> None:
        state = self.state()
        pages = {**state.settings.get("subscribed_pages", {}), page_id: fields}
        state.settings = {**state.settings, "subscribed_pages": pages}
        state.save(update_fields=["settings"])

    def page_unsubscribe(self, page_id: str) -> None:
        state = self.state()
        pages = {k: v for k, v in state.settings.get("subscribed_pages", {}).items() if k != page_id}
        state.settings = {**state.settings, "subscribed_pages": pages}
        state.save(update_fields=["settings"])

    def notify(self, leads: list[SandboxRecord]) -> SandboxWebhook | None:
        """Deliver new leads of subscribed Pages to the app's callback (nothing when none listens)."""
        subscription = self.setting("app_subscription", None)
        pages = self.page_subscriptions()
        wanted = [lead for lead in leads if "leadgen" in pages.get(lead.data["page_id"], [])]
        if not subscription or "leadgen" not in subscription["fields"] or not wanted:
            return None
        return self.post_leadgen(subscription["callback_url"], wanted)

    def post_leadgen(self, target_url: str, leads: list[SandboxRecord]) -> SandboxWebhook:
        body = json.dumps(leadgen_body(leads), separators=(",", ":")).encode()  # ASCII: \uXXXX escapes
        headers = signed_headers(body, self.client_credentials()[1])
        return self.deliver(target_url, body, headers, attempts=int(self.setting("webhook_attempts", 3)))

    def fire_webhooks(self, request: HttpRequest, target_url: str, payload: Any) -> SandboxWebhook:
        """``_control/webhooks``: the given leads (``events``: lead ids; none: the newest one) POSTed to
        ``target_url`` as Meta would, whatever the subscriptions say."""
        ids = [str(i) for i in payload or []]
        leads = list(self.records("lead").filter(remote_id__in=ids)) if ids else []
        if not leads:
            newest = self.records("lead").order_by("-pk").first()
            if newest is None:
                raise ValueError("no leads to notify about: seed some first")
            leads = [newest]
        return self.post_leadgen(target_url, leads)
