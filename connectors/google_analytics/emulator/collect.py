"""The Measurement Protocol (providers.md §10): ``/mp/collect`` answers 204 whatever it gets and
keeps the valid events of a known stream (right ``api_secret``); ``/debug/mp/collect`` answers
``{"validationMessages": [...]}`` by the same rules and keeps nothing.

Rules: a ``client_id``; 1-25 events; event and param names ≤40 characters of letters, digits and
``_`` starting with a letter, no reserved prefix or name; ≤25 params with text ≤100 characters;
≤25 user properties; body ≤130 kB; ``timestamp_micros`` at most 72 h back. Every request is
recorded (``mp_request``) so tests count what was sent.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from connectors.google_analytics.emulator.auth import GoogleAuth
from connectors.sandbox.models import SandboxRecord

EVENTS, MP_REQUESTS, PROPERTIES = "event", "mp_request", "property"
MAX_EVENTS = MAX_PARAMS = MAX_USER_PROPERTIES = 25
MAX_NAME, MAX_VALUE, MAX_BODY = 40, 100, 130 * 1024
MAX_BACKDATE_MICROS = 72 * 3600 * 1_000_000
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
RESERVED_PREFIXES = ("google_", "ga_", "firebase_")
RESERVED_EVENTS = frozenset(
    {"ad_activeview", "ad_click", "ad_exposure", "ad_impression", "ad_query", "adunit_exposure"}
    | {"app_clear_data", "app_install", "app_remove", "app_update", "error", "first_open"}
    | {"first_visit", "in_app_purchase", "notification_dismiss", "notification_foreground"}
    | {"notification_open", "notification_receive", "os_update", "screen_view", "session_start"}
    | {"user_engagement"}
)


def message(path: str, description: str, code: str) -> dict[str, str]:
    return {"fieldPath": path, "description": description, "validationCode": code}


def name_messages(name: Any, path: str, *, event: bool) -> list[dict[str, str]]:
    text = str(name or "")
    if not text:
        return [message(path, "Name is required.", "VALUE_REQUIRED")]
    if len(text) > MAX_NAME:
        return [
            message(path, f"Name [{text}] exceeds the maximum length of {MAX_NAME}.", "VALUE_OUT_OF_BOUNDS")
        ]
    if not NAME.match(text):
        return [
            message(
                path,
                f"Name [{text}] is invalid: use letters, digits and underscores, starting with a letter.",
                "NAME_INVALID",
            )
        ]
    if text.lower().startswith(RESERVED_PREFIXES) or (event and text in RESERVED_EVENTS):
        return [message(path, f"Name [{text}] is reserved.", "NAME_RESERVED")]
    return []


def event_messages(index: int, event: Any, *, now_micros: int) -> list[dict[str, str]]:
    path = f"events[{index}]"
    if not isinstance(event, dict):
        return [message(path, "An event must be an object.", "VALUE_INVALID")]
    found = name_messages(event.get("name"), f"{path}.name", event=True)
    params = event.get("params") or {}
    if not isinstance(params, dict):
        return [*found, message(f"{path}.params", "params must be an object.", "VALUE_INVALID")]
    if len(params) > MAX_PARAMS:
        found.append(
            message(f"{path}.params", f"Event has more than {MAX_PARAMS} params.", "EXCEEDED_MAX_ENTITIES")
        )
    for key, value in params.items():
        found += name_messages(key, f"{path}.params.{key}", event=False)
        if isinstance(value, str) and len(value) > MAX_VALUE:
            found.append(
                message(
                    f"{path}.params.{key}",
                    f"Value exceeds the maximum length of {MAX_VALUE}.",
                    "VALUE_OUT_OF_BOUNDS",
                )
            )
        elif not isinstance(value, str | int | float | bool | type(None)):
            found.append(
                message(f"{path}.params.{key}", "Param values must be strings or numbers.", "VALUE_INVALID")
            )
    stamp = event.get("timestamp_micros")
    if stamp is not None and _too_old(stamp, now_micros):
        found.append(
            message(
                f"{path}.timestamp_micros",
                "Timestamp is more than 72 hours in the past.",
                "VALUE_OUT_OF_BOUNDS",
            )
        )
    return found


def _too_old(stamp: Any, now_micros: int) -> bool:
    try:
        return int(stamp) < now_micros - MAX_BACKDATE_MICROS
    except (TypeError, ValueError):
        return True


def payload_messages(raw: bytes) -> tuple[Any, list[dict[str, str]], list[bool]]:
    """(body, request-level and per-event messages, per-event validity)."""
    if len(raw) > MAX_BODY:
        return None, [message("", f"Payload exceeds {MAX_BODY // 1024} kB.", "VALUE_OUT_OF_BOUNDS")], []
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        return None, [message("", "Unable to parse Measurement Protocol JSON payload.", "VALUE_INVALID")], []
    found: list[dict[str, str]] = []
    if not str(body.get("client_id") or body.get("app_instance_id") or ""):
        found.append(message("client_id", "Measurement requires a client_id.", "VALUE_REQUIRED"))
    stamp = body.get("timestamp_micros")
    now_micros = int(time.time() * 1_000_000)
    if stamp is not None and _too_old(stamp, now_micros):
        found.append(
            message("timestamp_micros", "Timestamp is more than 72 hours in the past.", "VALUE_OUT_OF_BOUNDS")
        )
    user_properties = body.get("user_properties") or {}
    if isinstance(user_properties, dict) and len(user_properties) > MAX_USER_PROPERTIES:
        found.append(message("user_properties", "Too many user properties.", "EXCEEDED_MAX_ENTITIES"))
    events = body.get("events")
    if not isinstance(events, list) or not events:
        return (
            body,
            [*found, message("events", "Measurement requires at least one event.", "VALUE_REQUIRED")],
            [],
        )
    if len(events) > MAX_EVENTS:
        found.append(
            message("events", f"A request takes at most {MAX_EVENTS} events.", "EXCEEDED_MAX_ENTITIES")
        )
    valid: list[bool] = []
    for index, event in enumerate(events):
        problems = event_messages(index, event, now_micros=now_micros)
        found += problems
        valid.append(not problems)
    return body, found, valid


class MeasurementProtocol(GoogleAuth):
    def stream_property(self, measurement_id: str, api_secret: str) -> SandboxRecord | None:
        """The property whose data stream ``measurement_id`` is, when ``api_secret`` is one of its."""
        for prop in self.records(PROPERTIES):
            if prop.data.get("streams", {}).get(measurement_id) == api_secret and api_secret:
                return prop
        return None

    def collect_view(self, request: HttpRequest) -> HttpResponse:
        """204 always; valid events of a known stream are kept."""
        measurement_id = request.GET.get("measurement_id", "")
        body, found, valid = payload_messages(request.body)
        request_level = [m for m in found if not m["fieldPath"].startswith("events[")]
        prop = self.stream_property(measurement_id, request.GET.get("api_secret", ""))
        kept = []
        if request.method == "POST" and prop is not None and not request_level and isinstance(body, dict):
            kept = [event for event, ok in zip(body["events"], valid, strict=True) if ok]
            self.events_store(prop.remote_id, measurement_id, body, kept)
        now = timezone.now()
        SandboxRecord.objects.create(
            provider=self.provider,
            object_type=MP_REQUESTS,
            remote_id=uuid.uuid4().hex,
            data={
                "measurement_id": measurement_id,
                "events": len(body.get("events") or []) if isinstance(body, dict) else 0,
                "stored": len(kept),
                "bytes": len(request.body),
            },
            created_at=now,
            updated_at=now,
        )
        return HttpResponse(status=204)

    def debug_view(self, request: HttpRequest) -> HttpResponse:
        _, found, _ = payload_messages(request.body)
        return JsonResponse({"validationMessages": found})

    def events_store(
        self, property_id: str, measurement_id: str, body: dict[str, Any], events: list[dict]
    ) -> None:
        now = timezone.now()
        request_stamp = body.get("timestamp_micros") or int(time.time() * 1_000_000)
        SandboxRecord.objects.bulk_create(
            [
                SandboxRecord(
                    provider=self.provider,
                    object_type=EVENTS,
                    remote_id=uuid.uuid4().hex,
                    data={
                        "property_id": property_id,
                        "measurement_id": measurement_id,
                        "client_id": str(body.get("client_id") or body.get("app_instance_id") or ""),
                        "user_id": str(body.get("user_id") or ""),
                        "name": str(event["name"]),
                        "params": event.get("params") or {},
                        "timestamp_micros": int(event.get("timestamp_micros") or request_stamp),
                    },
                    created_at=now,
                    updated_at=now,
                )
                for event in events
            ]
        )
