"""À La Carte Chat objects ↔ records: customers, messages and conversations as ``RemoteRecord``s, and
create/update payloads as the customer objects ``/api-customers-sync`` takes.

Field names are the wire's own, with one addition: a customer's free-form ``custom_fields`` object
is flattened to ``custom_fields.<key>`` fields, so a mapping row can name one key (the default
mappings keep a contact's company and job title there) and a write merges key by key, as the
provider does.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.types import RELATIONS_KEY, RemoteRecord

CUSTOM_PREFIX = "custom_fields."
# The customer object's keys (besides ``id`` and ``custom_fields``), as the wire spells them.
CUSTOMER_FIELDS = (
    "name",
    "email",
    "phone",
    "whatsapp_number",
    "first_name",
    "last_name",
    "address",
    "notes",
    "tags",
    "external_id",
    "external_system",
    "created_at",
    "updated_at",
)
READ_ONLY_CUSTOMER_FIELDS = ("id", "created_at", "updated_at")
CHANNEL_LABELS = {
    "whatsapp": "WhatsApp",
    "email": "E-mail",
    "sms": "SMS",
    "facebook": "Facebook",
    "instagram": "Instagram",
}
DIRECTION_WORDS = {"inbound": "received", "outbound": "sent"}
MESSAGE_KIND = "message"


def when(value: Any) -> datetime | None:
    """An ISO-8601 time from the wire ("Z" or an offset) as an aware datetime; None when absent."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- customers ---------------------------------------------------------------------------------


def customer_fields(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The customer's fields that ``raw`` carries (a webhook snapshot may carry a few only)."""
    fields = {name: raw[name] for name in CUSTOMER_FIELDS if name in raw}
    custom = raw.get("custom_fields")
    if isinstance(custom, Mapping):
        fields.update({f"{CUSTOM_PREFIX}{key}": value for key, value in custom.items()})
    return fields


def customer_record(raw: Mapping[str, Any]) -> RemoteRecord:
    return RemoteRecord(
        id=str(raw["id"]),
        modified_at=when(raw.get("updated_at")) or when(raw.get("created_at")),
        fields=customer_fields(raw),
        remote_type="customer",
    )


def customer_body(
    payload: Mapping[str, Any],
    *,
    external_system: str = "",
    existing: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The customer object to sync for a create (``existing`` None) or an update of ``existing``.

    ``custom_fields.<key>`` fields are nested back; relation changes and synthetic ``_`` fields are
    dropped (customers have no relations here). À La Carte Chat needs a ``name`` on every customer
    and our mappings carry first and last names: when the payload names none, it is made from them
    (an update's missing half from ``existing``), else kept (update) or taken from the e-mail or phone.
    """
    body: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for name, value in payload.items():
        if name == RELATIONS_KEY or name.startswith("_") or name in READ_ONLY_CUSTOMER_FIELDS:
            continue
        if name.startswith(CUSTOM_PREFIX):
            custom[name[len(CUSTOM_PREFIX) :]] = value
        elif name == "custom_fields" and isinstance(value, Mapping):
            custom.update(value)
        else:
            body[name] = value
    if custom:
        body["custom_fields"] = custom
    if external_system and "external_system" not in body and existing is None:
        body["external_system"] = external_system
    if not _text(body.get("name")):
        name = _derived_name(body, existing or {})
        if name:
            body["name"] = name
    return body


def _derived_name(body: Mapping[str, Any], existing: Mapping[str, Any]) -> str:
    if "first_name" in body or "last_name" in body or not existing:
        first = _text(body["first_name"]) if "first_name" in body else _text(existing.get("first_name"))
        last = _text(body["last_name"]) if "last_name" in body else _text(existing.get("last_name"))
        full = " ".join(part for part in (first, last) if part)
        if full:
            return full
    return _text(existing.get("name")) or _text(body.get("email")) or _text(body.get("phone"))


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


# --- messages ----------------------------------------------------------------------------------


def attachments(raw: Any) -> list[dict[str, Any]]:
    """Attachment objects as the canonical activity's ``attachments``: ``{name, url, size, type}``."""
    if not isinstance(raw, list):
        return []
    return [
        {
            "name": str(item.get("filename") or item.get("name") or ""),
            "url": str(item.get("url") or item.get("file_url") or item.get("download_url") or ""),
            "size": item.get("size"),
            "type": str(item.get("type") or ""),
        }
        for item in raw
        if isinstance(item, Mapping)
    ]


def message_subject(channel: str, direction: str) -> str:
    """A subject for a message, which has none of its own: "WhatsApp message received"."""
    label = CHANNEL_LABELS.get(channel, channel.capitalize() if channel else "Chat")
    word = DIRECTION_WORDS.get(direction, "")
    return f"{label} message {word}".strip()


def message_record(raw: Mapping[str, Any], extra_attachments: Any = None) -> RemoteRecord:
    """A message as an ``activity`` record of kind message, related to its customer and conversation.
    ``extra_attachments``: a webhook's ``data.attachments``, which travel beside the message."""
    channel = str(raw.get("channel") or raw.get("platform") or "")
    direction = str(raw.get("direction") or "")
    files = attachments(raw.get("attachments")) or attachments(extra_attachments)
    return RemoteRecord(
        id=str(raw.get("id") or raw.get("message_id")),
        modified_at=when(raw.get("created_at")),
        fields={
            "_kind": MESSAGE_KIND,
            "subject": message_subject(channel, direction),
            "content": raw.get("content") or "",
            "channel": channel,
            "direction": direction,
            "status": raw.get("status") or "",
            "created_at": raw.get("created_at") or "",
            "attachments": files,
        },
        remote_type="message",
        relations={
            "contact_id": _one(raw.get("customer_id")),
            "conversation_id": _one(raw.get("conversation_id")),
        },
    )


# --- conversations -----------------------------------------------------------------------------


CONVERSATION_FIELDS = (
    "subject",
    "status",
    "channel",
    "assignee",
    "created_at",
    "last_message_at",
    "whatsapp_account_id",
)


def conversation_record(raw: Mapping[str, Any]) -> RemoteRecord:
    """A conversation (its fields as ``raw`` carries them: a webhook's may lack some) related to
    its customer."""
    return RemoteRecord(
        id=str(raw["id"]),
        modified_at=when(raw.get("last_message_at")) or when(raw.get("created_at")),
        fields={name: raw[name] for name in CONVERSATION_FIELDS if name in raw},
        remote_type="conversation",
        relations={"contact_id": _one(raw.get("customer_id"))} if "customer_id" in raw else {},
    )


def _one(value: Any) -> tuple[str, ...]:
    return (str(value),) if value else ()
