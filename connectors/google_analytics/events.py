"""Measurement Protocol events (providers.md §10, Batch writes): what GA4 would silently drop,
checked before sending, and the request bodies.

MP answers 204 to anything, so a bad event simply vanishes: names are ≤40 characters of letters,
digits and ``_`` starting with a letter, never with a reserved prefix (``google_``, ``ga_``,
``firebase_``) nor a reserved name; ≤25 params per event with names under the same rules and
values ≤100 characters; a request carries ≤25 events and ≤130 kB; ``timestamp_micros`` backdates
at most 72 hours.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.capabilities import LeadEvent

MAX_EVENTS = 25
MAX_PARAMS = 25
MAX_NAME = 40
MAX_PARAM_NAME = 40
MAX_VALUE = 100
MAX_BODY_BYTES = 130 * 1024
MAX_BACKDATE = timedelta(hours=72)
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
RESERVED_PREFIXES = ("google_", "ga_", "firebase_")
# Event names GA4 reserves for its own collection (Measurement Protocol reference).
RESERVED_NAMES = frozenset(
    {
        "ad_activeview",
        "ad_click",
        "ad_exposure",
        "ad_impression",
        "ad_query",
        "adunit_exposure",
        "app_clear_data",
        "app_install",
        "app_remove",
        "app_update",
        "error",
        "first_open",
        "first_visit",
        "in_app_purchase",
        "notification_dismiss",
        "notification_foreground",
        "notification_open",
        "notification_receive",
        "os_update",
        "screen_view",
        "session_start",
        "user_engagement",
    }
)
# GA4 counts an event in engagement reports only with an engagement time (msec).
ENGAGEMENT_TIME_MSEC = 1


def name_problem(name: str, *, what: str) -> str | None:
    if not name:
        return f"{what} is empty"
    if len(name) > MAX_NAME:
        return f"{what} {name[:MAX_NAME]}… is longer than {MAX_NAME} characters"
    if not NAME.match(name):
        return f"{what} {name!r} may hold only letters, digits and _ and must start with a letter"
    if name.lower().startswith(RESERVED_PREFIXES):
        return f"{what} {name!r} starts with a prefix GA4 reserves ({', '.join(RESERVED_PREFIXES)})"
    return None


def params_problem(params: Mapping[str, Any]) -> str | None:
    if len(params) > MAX_PARAMS:
        return f"{len(params)} parameters: GA4 takes at most {MAX_PARAMS} per event"
    for key, value in params.items():
        problem = name_problem(str(key), what="parameter name")
        if problem:
            return problem
        if not isinstance(value, str | int | float | bool):
            return f"parameter {key!r} must be text or a number"
        if isinstance(value, str) and len(value) > MAX_VALUE:
            return f"parameter {key!r} is longer than {MAX_VALUE} characters"
    return None


def event_problem(event: LeadEvent, *, now: datetime | None = None) -> str | None:
    """Why GA4 would drop ``event``, or None."""
    problem = name_problem(event.name, what="event name")
    if problem:
        return problem
    if event.name in RESERVED_NAMES:
        return f"event name {event.name!r} is reserved by GA4"
    problem = params_problem(event.params)
    if problem:
        return problem
    if not (event.client_id or event.user_id):
        return "the event names no visitor (client_id) and no user (user_id)"
    occurred = _aware(event.occurred_at)
    if occurred < (now or datetime.now(UTC)) - MAX_BACKDATE:
        return f"the event happened more than {MAX_BACKDATE.days * 24} hours ago: GA4 no longer takes it"
    if len(json.dumps(request_body([event])).encode()) > MAX_BODY_BYTES:
        return f"the event is larger than {MAX_BODY_BYTES // 1024} kB"
    return None


def derived_client_id(user_id: str) -> str:
    """A stable ``client_id`` for a contact with no GA cookie, shaped like GA's own
    (``<random>.<timestamp>``): the same user always gets the same one."""
    digest = hashlib.sha256(f"crm-user:{user_id}".encode()).digest()
    return f"{int.from_bytes(digest[:4], 'big')}.{1_000_000_000 + int.from_bytes(digest[4:8], 'big') % 1_000_000_000}"


def visitor(event: LeadEvent) -> tuple[str, str]:
    """(client_id, user_id) a request for ``event`` carries: the GA cookie's id alone when known
    (as ``LeadEvent`` says), else one derived from our contact id, sent with that id as ``user_id``."""
    if event.client_id:
        return event.client_id, ""
    return derived_client_id(event.user_id), event.user_id


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def micros(when: datetime) -> int:
    return int(_aware(when).timestamp() * 1_000_000)


def request_body(events: list[LeadEvent]) -> dict[str, Any]:
    """One MP request for events of one visitor: ``client_id`` (+ ``user_id``), the latest
    ``timestamp_micros``, and each event with its own time and params."""
    client_id, user_id = visitor(events[0])
    body: dict[str, Any] = {
        "client_id": client_id,
        "timestamp_micros": max(micros(event.occurred_at) for event in events),
        "non_personalized_ads": True,
        "events": [
            {
                "name": event.name,
                "timestamp_micros": micros(event.occurred_at),
                "params": {"engagement_time_msec": ENGAGEMENT_TIME_MSEC, **event.params},
            }
            for event in events
        ],
    }
    if user_id:
        body["user_id"] = user_id
    return body


def by_visitor(events: list[LeadEvent]) -> list[list[LeadEvent]]:
    """Events grouped by visitor, in first-seen order: an MP request names one ``client_id``."""
    groups: dict[tuple[str, str], list[LeadEvent]] = {}
    for event in events:
        groups.setdefault(visitor(event), []).append(event)
    return list(groups.values())
