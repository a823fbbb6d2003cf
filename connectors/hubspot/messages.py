"""Chat messages (activity kind "message") as HubSpot notes.

HubSpot has no activity for a WhatsApp, SMS or chat message, so a message is written as a note whose
body opens with a marker naming its channel and direction: ``[WhatsApp message, inbound] Hello``. The
marker is what a HubSpot user reads, and how the note reads back as a message: kind, channel and
direction come from the marker and the body comes back without it. Without it a pushed message would
read back as a note, and that remote "change" would turn the platform's message into a note. A HubSpot
user who deletes the marker makes the note a note.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KIND = "message"
# Synthetic fields the default mappings fill from the activity's channel and direction.
CHANNEL, DIRECTION = "_channel", "_direction"
BODY = "hs_note_body"
CHANNEL_LABELS = {
    "whatsapp": "WhatsApp",
    "sms": "SMS",
    "email": "Email",
    "facebook": "Facebook",
    "instagram": "Instagram",
    "chat": "Chat",
    "web": "Web",
    "phone": "Phone",
}
_CHANNELS = {label.casefold(): channel for channel, label in CHANNEL_LABELS.items()}
DIRECTIONS = ("inbound", "outbound")
# Leading tags are kept: HubSpot's editor wraps a note it saves in <p> or <div>.
_MARKER = re.compile(
    r"^(?P<tags>(?:\s*<[a-zA-Z][^>]*>)*)\[(?:(?P<channel>[^\[\],]+?) )?message"
    r"(?:, (?P<direction>inbound|outbound))?\] ?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Message:
    """A marked note body, read: the text without the marker, the channel and direction it names."""

    text: str
    channel: str | None
    direction: str | None


def note_body(text: Any, channel: Any, direction: Any) -> str:
    """The note body of a message: the marker, then its text."""
    channel = str(channel or "").strip()
    label = CHANNEL_LABELS.get(channel, channel)
    head = f"{label} message" if label else "Message"
    direction = str(direction or "").lower()
    if direction in DIRECTIONS:
        head += f", {direction}"
    text = "" if text is None else str(text)
    return f"[{head}] {text}" if text else f"[{head}]"


def parse(body: Any) -> Message | None:
    """The message a note body holds, or None when it is a plain note."""
    found = _MARKER.match(str(body or ""))
    if found is None:
        return None
    label = (found["channel"] or "").strip()
    direction = (found["direction"] or "").lower()
    return Message(
        text=found["tags"] + str(body)[found.end() :],
        channel=_CHANNELS.get(label.casefold(), label) or None,
        direction=direction or None,
    )


def read(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A note's fields as the mapping reads them: a marked note is a message, with its channel and
    direction and the body without the marker; a plain note is left as it is."""
    out = dict(fields)
    message = parse(out.get(BODY))
    if message is not None:
        out |= {
            "_kind": KIND,
            BODY: message.text,
            CHANNEL: message.channel,
            DIRECTION: message.direction,
        }
    return out


def updated_body(current: Any, changes: Mapping[str, Any]) -> str | None:
    """The body an update of a note writes, given its current body: a message keeps its marker (with
    the changed channel, direction or text); a message made a note (``_kind``) loses it. None when the
    note is and stays a plain note (the update's own body, if any, is written as it is)."""
    was = parse(current)
    kind = changes.get("_kind")
    if not (kind == KIND if kind else was is not None):
        if was is not None and BODY not in changes:
            return was.text
        return None
    text = changes[BODY] if BODY in changes else (was.text if was else str(current or ""))
    channel = changes[CHANNEL] if CHANNEL in changes else (was.channel if was else None)
    direction = changes[DIRECTION] if DIRECTION in changes else (was.direction if was else None)
    return note_body(text, channel, direction)
