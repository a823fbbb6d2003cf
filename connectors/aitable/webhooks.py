"""AITable automation webhooks: our receiver's contract (seed 000, providers.md §4 [project]).

AITable signs nothing: an automation's "Send webhook" action posts a body the user wrote, with static
headers. ``X-AITable-Signature`` carries the integration's webhook secret verbatim (or, when the
integration accepts it, a hex HMAC-SHA256 of the raw body, for relays that can sign).

Body ``{"eventType": "record.created"|"record.updated"|"record.deleted", "datasheetId": "dst…",
"recordId": "rec…", "record": {"fields": {…}}?}``. The payload is only a hint: the event carries no
record and the platform fetches it by id. The datasheet tells the entity through the integration's
``datasheets``; any other datasheet (the onboarding flow's orders and audit results) gives entity ""
and is ignored.

Event ids: AITable's retries (≤ 3, exponential backoff) resend the same body, and nothing in it names
the delivery. The id hashes the body's content and, when the record carries no ``updatedAt``, the
minute it arrived in: a retry within the minute is a duplicate, while the next edit of the same
record (whose body may read the same) still counts. A duplicate applied twice costs one fetch.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from connectors.aitable.records import from_ms
from connectors.base import PermanentError, WebhookEvent, WebhookRequest
from connectors.signatures import verify_aitable

ACTIONS = {"record.created": "created", "record.updated": "updated", "record.deleted": "deleted"}
ACK_MESSAGE = "Webhook processed successfully"
DEDUPE_WINDOW = 60  # seconds a body without updatedAt is recognised as a retry


def verify(request: WebhookRequest, *, secret: str, now: float, config: Mapping[str, Any]) -> None:
    """Raise SignatureInvalid unless ``X-AITable-Signature`` is the secret (or, when accepted, the
    body's HMAC under it). Constant-time; fails closed without a secret."""
    verify_aitable(request, secret=secret, accept_hmac=bool((config or {}).get("webhook_accept_hmac")))


def parse(request: WebhookRequest, *, config: Mapping[str, Any] | None = None) -> list[WebhookEvent]:
    """One event per delivery; a body that is not the contract's raises PermanentError (→ 400)."""
    body = _body(request)
    event_type, datasheet, record_id = body["eventType"], body["datasheetId"], body["recordId"]
    record = body.get("record") if isinstance(body.get("record"), Mapping) else {}
    updated = record.get("updatedAt")
    return [
        WebhookEvent(
            event_id=_event_id(body, updated),
            entity=entity_of(datasheet, config or {}),
            remote_id=record_id,
            action=ACTIONS[event_type],
            occurred_at=from_ms(updated),
            record=None,
            raw=body,
        )
    ]


def entity_of(datasheet: str, config: Mapping[str, Any]) -> str:
    """The entity whose configured datasheet this is; "" for any other."""
    for entity, configured in (config.get("datasheets") or {}).items():
        if configured and configured == datasheet:
            return str(entity)
    return ""


def ack_response() -> tuple[bytes, str]:
    """The reply the seed's contract wants for a processed delivery."""
    body = {"success": True, "message": ACK_MESSAGE, "syncId": f"sync_{uuid.uuid4().hex}"}
    return json.dumps(body).encode(), "application/json"


def _body(request: WebhookRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        raise PermanentError("AITable webhook body is not JSON") from None
    if not isinstance(body, dict):
        raise PermanentError("AITable webhook body is not a JSON object")
    if body.get("eventType") not in ACTIONS:
        raise PermanentError(f"AITable webhook eventType must be one of {', '.join(ACTIONS)}")
    for name, prefix in (("datasheetId", "dst"), ("recordId", "rec")):
        value = body.get(name)
        if not isinstance(value, str) or not value.startswith(prefix):
            raise PermanentError(f"AITable webhook {name} must be a {prefix}… id")
    return body


def _event_id(body: Mapping[str, Any], updated: Any) -> str:
    """Same content (and updatedAt, else arrival minute) → same id."""
    moment = updated if updated is not None else int(now() // DEDUPE_WINDOW)
    content = json.dumps(
        [body["datasheetId"], body["recordId"], body["eventType"], body.get("record"), moment],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return f"aitable:{body['recordId']}:{hashlib.sha256(content.encode()).hexdigest()[:32]}"


def now() -> float:
    """The clock the dedupe window reads (tests set it)."""
    return time.time()
