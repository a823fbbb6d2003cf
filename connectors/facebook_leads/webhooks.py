"""Leadgen webhooks (providers.md §9): the ``hub.challenge`` handshake with the integration's
verify token, ``X-Hub-Signature-256`` over the raw body with the app secret, and ids-only changes.

Each ``leadgen`` change becomes two events, the contact's and its "lead form submitted"
activity's, keyed on ``leadgen_id``: Meta delivers at least once, so a repeated delivery yields the
same event ids and is stored once. The records themselves are fetched (``GET /{leadgen_id}``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from connectors.errors import PermanentError
from connectors.facebook_leads.records import graph_datetime
from connectors.signatures import hub_challenge, verify_facebook
from connectors.types import WebhookEvent, WebhookRequest


def verify(
    request: WebhookRequest, *, secret: str, now: float, config: Mapping[str, Any] | None = None
) -> None:
    """Signed with the app secret (the config's); no replay window exists, ids de-duplicate."""
    config = config or {}
    verify_facebook(request, secret=str(config.get("app_secret") or config.get("client_secret") or ""))


def challenge(request: WebhookRequest, *, config: Mapping[str, Any], secret: str) -> str | None:
    """The ``hub.challenge`` to echo when ``hub.verify_token`` is this integration's, else None (403)."""
    return hub_challenge(request.query, verify_token=str(config.get("verify_token") or ""))


def parse(request: WebhookRequest, *, config: Mapping[str, Any] | None = None) -> list[WebhookEvent]:
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise PermanentError("the Facebook webhook body is not JSON") from None
    if not isinstance(body, dict) or body.get("object") != "page":
        raise PermanentError("not a Facebook Page webhook")
    page_id = str((config or {}).get("pageId") or "")
    events: list[WebhookEvent] = []
    for entry in body.get("entry") or []:
        if page_id and str(entry.get("id")) != page_id:
            continue  # another Page of the same app
        for change in entry.get("changes") or []:
            value = change.get("value") if isinstance(change, dict) else None
            if change.get("field") != "leadgen" or not isinstance(value, dict) or not value.get("leadgen_id"):
                continue
            events.extend(lead_events(value))
    return events


def lead_events(value: Mapping[str, Any]) -> list[WebhookEvent]:
    """The contact's event and its activity's, both for the lead ``value`` names."""
    lead_id = str(value["leadgen_id"])
    occurred = graph_datetime(value.get("created_time"))
    suffixes = {"contact": "", "activity": ":activity"}
    return [
        WebhookEvent(
            event_id=f"leadgen:{lead_id}{suffix}",
            entity=entity,
            remote_id=lead_id,
            action="created",
            occurred_at=occurred,
            raw=dict(value),
        )
        for entity, suffix in suffixes.items()
    ]
