"""A faithful local HubSpot: CRM v3 objects, search, batch, OAuth, rate limits, signed webhooks.

Served under ``/sandbox/hubspot/`` with HubSpot's real paths and bodies (providers.md §1), so a
client written for ``https://api.hubapi.com`` works unchanged given the base URL. Records are
``SandboxRecord`` rows: ``data`` holds the properties (all strings), ``updated_at`` the modified
time at millisecond precision (HubSpot's), mirrored into ``lastmodifieddate`` (contacts) or
``hs_lastmodifieddate`` (everything else) as an ISO string. Limits are settings, changeable via
``POST _control/settings``: ``rate_max`` (100), ``rate_interval_ms`` (10000), ``search_rate`` (5/s),
``daily_limit`` (250000), ``list_limit_max`` (100), ``search_limit_max`` (200), ``search_ceiling``
(10000), ``batch_max`` (100), ``custom_properties`` ({type: [names]}), ``retry_after_header`` (false:
HubSpot documents no Retry-After on 429s).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.html import escape
from limits import RateLimitItemPerDay, RateLimitItemPerSecond, strategies

from connectors.base import Tokens
from connectors.hubspot import webhooks
from connectors.sandbox.emulator import Emulator, _strategy_for_sandbox, json_body, sample_phone
from connectors.sandbox.models import (
    SandboxAuthCode,
    SandboxRecord,
    SandboxState,
    SandboxToken,
    SandboxWebhook,
)

HUB_ID = 62515
APP_ID = 54321
USER_ID = 1234567
SCOPES = (
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "oauth",
)

# Writable standard properties per object type (providers.md §1 "Objects & endpoints").
PROPERTIES: dict[str, tuple[str, ...]] = {
    "contacts": (
        "firstname",
        "lastname",
        "email",
        "phone",
        "mobilephone",
        "jobtitle",
        "company",
        "hubspot_owner_id",
        "lifecyclestage",
    ),
    "companies": ("name", "domain", "phone", "industry", "hubspot_owner_id"),
    "deals": (
        "dealname",
        "amount",
        "dealstage",
        "pipeline",
        "closedate",
        "hubspot_owner_id",
        "deal_currency_code",
    ),
    "notes": ("hs_timestamp", "hs_note_body", "hubspot_owner_id"),
    "tasks": (
        "hs_timestamp",
        "hs_task_subject",
        "hs_task_body",
        "hs_task_status",
        "hs_task_priority",
        "hubspot_owner_id",
    ),
    "calls": (
        "hs_timestamp",
        "hs_call_title",
        "hs_call_body",
        "hs_call_direction",
        "hs_call_duration",
        "hubspot_owner_id",
    ),
    "emails": ("hs_timestamp", "hs_email_subject", "hs_email_text", "hs_email_direction", "hubspot_owner_id"),
    "meetings": (
        "hs_timestamp",
        "hs_meeting_title",
        "hs_meeting_body",
        "hs_meeting_start_time",
        "hs_meeting_end_time",
        "hubspot_owner_id",
    ),
}
REQUIRED: dict[str, tuple[str, ...]] = {"notes": ("hs_timestamp",)}
# What HubSpot returns when the caller names no properties.
DEFAULT_PROPERTIES: dict[str, tuple[str, ...]] = {
    "contacts": ("firstname", "lastname", "email"),
    "companies": ("name", "domain"),
    "deals": ("dealname", "amount", "dealstage", "pipeline", "closedate"),
}
CREATED_PROPS = ("createdate", "hs_createdate")
MODIFIED_PROPS = ("lastmodifieddate", "hs_lastmodifieddate")
READ_ONLY = {"hs_object_id", *CREATED_PROPS, *MODIFIED_PROPS}
OPERATORS = {
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
}
SEARCHABLE = {
    "contacts": ("firstname", "lastname", "email", "phone", "company"),
    "companies": ("name", "domain"),
    "deals": ("dealname",),
}
SETTINGS_DEFAULTS: dict[str, Any] = {
    "rate_max": 100,
    "rate_interval_ms": 10_000,
    "search_rate": 5,
    "daily_limit": 250_000,
    "list_limit_max": 100,
    "search_limit_max": 200,
    "search_ceiling": 10_000,
    "batch_max": 100,
}
SEED_CHUNK = 2_000


class BadRequest(Exception):
    """A request HubSpot answers with 400 VALIDATION_ERROR (or another category)."""

    def __init__(self, message: str, *, category: str = "VALIDATION_ERROR", status: int = 400, **extra: Any):
        super().__init__(message)
        self.message, self.category, self.status, self.extra = message, category, status, extra


# --- small helpers ----------------------------------------------------------------------------


def now_ms() -> datetime:
    """Now, truncated to the millisecond: HubSpot's timestamps have no finer precision."""
    current = timezone.now()
    return current.replace(microsecond=current.microsecond // 1000 * 1000)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def epoch_ms(value: datetime) -> int:
    """Epoch milliseconds, exactly (float timestamps can be off by one)."""
    return (value - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def parse_time(value: Any) -> datetime:
    """A filter value for a date property: epoch-ms (string or number) or ISO 8601."""
    text = str(value).strip()
    if text.lstrip("-").isdecimal():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{text!r} is not a valid date value (epoch milliseconds or ISO 8601)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def as_string(name: str, value: Any) -> str:
    """HubSpot keeps every property value as a string; objects and lists are refused."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float | str):
        return str(value)
    raise BadRequest(f"Property values were not valid: {name} must be a string, number or boolean")


def modified_prop(object_type: str) -> str:
    return "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"


def created_prop(object_type: str) -> str:
    return "createdate" if object_type in {"contacts", "companies", "deals"} else "hs_createdate"


def encode_after(record: SandboxRecord) -> str:
    return base64.urlsafe_b64encode(f"{epoch_ms(record.updated_at)}:{record.pk}".encode()).decode()


def decode_after(value: str) -> tuple[datetime, int]:
    try:
        stamp, _, pk = base64.urlsafe_b64decode(value.encode()).decode().partition(":")
        return datetime.fromtimestamp(int(stamp) / 1000, tz=UTC), int(pk)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(f"Invalid after value: {value!r}") from None


class HubSpotEmulator(Emulator):
    provider = "hubspot"
    token_lifetime = timedelta(minutes=30)
    demo_seed = {"contacts": 200, "companies": 40, "deals": 40, "notes": 30, "tasks": 20, "calls": 10}
    token_prefix = "CKn"  # noqa: S105 (a prefix for generated OAuth tokens, not a secret)

    # --- settings ---------------------------------------------------------------------------

    def limits(self) -> dict[str, Any]:
        return {**SETTINGS_DEFAULTS, **self.state().settings}

    @property
    def rate_limit(self) -> tuple[int, int]:  # type: ignore[override]
        limits = self.limits()
        return int(limits["rate_max"]), max(1, int(limits["rate_interval_ms"]) // 1000)

    def object_types(self) -> tuple[str, ...]:
        return tuple(PROPERTIES)

    def writable(self, object_type: str) -> set[str]:
        custom = self.limits().get("custom_properties", {}).get(object_type, [])
        return {*PROPERTIES[object_type], *custom}

    # --- HubSpot's bodies ---------------------------------------------------------------------

    def error(self, status: int, message: str, *, code: str = "", **extra: Any) -> HttpResponse:
        category = code or {
            400: "VALIDATION_ERROR",
            401: "INVALID_AUTHENTICATION",
            403: "MISSING_SCOPES",
            404: "OBJECT_NOT_FOUND",
            405: "METHOD_NOT_ALLOWED",
            409: "CONFLICT",
        }.get(status, "INTERNAL_ERROR")
        body = {
            "status": "error",
            "message": message,
            "correlationId": str(uuid.uuid4()),
            "category": category,
            **extra,
        }
        body.setdefault("context", {})
        body.setdefault("links", {})
        return JsonResponse(body, status=status)

    def unauthorized(self) -> HttpResponse:
        return self.error(
            401,
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
            "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        )

    def rate_limited_response(
        self, *, retry_after: float, policy: str = "TEN_SECONDLY_ROLLING"
    ) -> HttpResponse:
        message = {
            "DAILY": "You have reached your daily limit.",
            "SECONDLY": "You have reached your secondly limit.",
        }.get(policy, "You have reached your ten_secondly_rolling limit.")
        resp = JsonResponse(
            {
                "status": "error",
                "message": message,
                "errorType": "RATE_LIMIT",
                "correlationId": str(uuid.uuid4()),
                "policyName": policy,
                "requestId": str(uuid.uuid4()),
            },
            status=429,
        )
        max_, interval = self.rate_limit
        resp["X-HubSpot-RateLimit-Max"] = str(max_)
        resp["X-HubSpot-RateLimit-Remaining"] = "0"
        resp["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(interval * 1000)
        if self.limits().get("retry_after_header"):  # unverified for HubSpot: off unless asked for
            resp["Retry-After"] = str(max(1, math.ceil(retry_after)))
        return resp

    def check_rate(
        self, token: SandboxToken | None, rate: tuple[int, int] | None, *, scope: str = ""
    ) -> HttpResponse | None:
        """The 10-second window (or the search scope's), then the account's daily allowance."""
        blocked = super().check_rate(token, rate, scope=scope)
        if blocked is not None:
            if scope == "search":
                blocked = self.rate_limited_response(retry_after=1, policy="SECONDLY")
        elif not scope and rate is not None and self.state().rate_limit_enabled:
            if not self._daily().hit(self._daily_item(), "sandbox", self.provider, "daily"):
                blocked = self.rate_limited_response(retry_after=3600, policy="DAILY")
        if blocked is not None and token is not None and token.kind == "private_app":
            blocked["X-HubSpot-RateLimit-Daily"] = str(self.limits()["daily_limit"])
            blocked["X-HubSpot-RateLimit-Daily-Remaining"] = str(self._daily_remaining())
        return blocked

    def _daily(self) -> strategies.FixedWindowRateLimiter:
        # A fixed window: a counter per day, cheap even at hundreds of thousands of calls.
        return strategies.FixedWindowRateLimiter(_strategy_for_sandbox().storage)

    def _daily_item(self) -> RateLimitItemPerDay:
        return RateLimitItemPerDay(int(self.limits()["daily_limit"]))

    def _daily_remaining(self) -> int:
        stats = self._daily().get_window_stats(self._daily_item(), "sandbox", self.provider, "daily")
        return max(0, stats.remaining)

    def response_headers(self, request: HttpRequest, token: SandboxToken | None) -> dict[str, str]:
        if token is None:
            return {}
        max_, interval = self.rate_limit
        stats = _strategy_for_sandbox().get_window_stats(
            RateLimitItemPerSecond(max_, interval), "sandbox", self.provider, "", token.access_token
        )
        headers = {
            "X-HubSpot-RateLimit-Max": str(max_),
            "X-HubSpot-RateLimit-Remaining": str(max(0, stats.remaining)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(interval * 1000),
        }
        if token.kind == "private_app":  # HubSpot omits the daily pair on OAuth-token requests
            headers["X-HubSpot-RateLimit-Daily"] = str(self.limits()["daily_limit"])
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(self._daily_remaining())
        return headers

    # --- tokens -------------------------------------------------------------------------------

    def issue_token(
        self,
        *,
        kind: str = "oauth",
        client_id: str = "",
        scopes: Any = (),
        data: dict[str, Any] | None = None,
        refresh: bool = True,
    ) -> SandboxToken:
        token = super().issue_token(
            kind=kind,
            client_id=client_id,
            scopes=scopes or SCOPES,
            data={**self.token_data(None), **(data or {})},
            refresh=refresh and kind == "oauth",
        )
        if kind == "private_app":
            token.access_token = f"pat-na1-{uuid.uuid4()}"
            token.save(update_fields=["access_token"])
        return token

    def token_data(self, request: HttpRequest | None) -> dict[str, Any]:
        return {"hub_id": HUB_ID, "user_id": USER_ID, "hub_domain": "sandbox.hubspot.local"}

    def token_response(self, token: SandboxToken, request: HttpRequest | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": token.access_token,
            "token_type": "bearer",
            "token_use": "access_token",
            "hub_id": token.data.get("hub_id", HUB_ID),
            "user_id": token.data.get("user_id", USER_ID),
            "scopes": list(token.scopes),
        }
        if token.refresh_token:
            body["refresh_token"] = token.refresh_token
        if token.expires_at:
            body["expires_in"] = max(0, round((token.expires_at - timezone.now()).total_seconds()))
        return body

    # --- records --------------------------------------------------------------------------------

    def allocate_ids(self, count: int) -> list[str]:
        """``count`` fresh numeric ids, increasing, never reused until reset."""
        with transaction.atomic():
            state, _ = SandboxState.objects.select_for_update().get_or_create(provider=self.provider)
            start = int(state.settings.get("next_id", 101))
            state.settings = {**state.settings, "next_id": start + count}
            state.save(update_fields=["settings"])
        return [str(start + i) for i in range(count)]

    def serialize(self, record: SandboxRecord, properties: list[str] | None) -> dict[str, Any]:
        wanted = list(properties) if properties else list(DEFAULT_PROPERTIES.get(record.object_type, ()))
        always = ("hs_object_id", created_prop(record.object_type), modified_prop(record.object_type))
        props = {name: record.data.get(name) for name in (*always, *wanted)}
        body: dict[str, Any] = {
            "id": record.remote_id,
            "properties": props,
            "createdAt": iso(record.created_at),
            "updatedAt": iso(record.updated_at),
            "archived": record.archived,
        }
        if record.archived and record.archived_at:
            body["archivedAt"] = iso(record.archived_at)
        return body

    def clean_properties(self, object_type: str, given: Any, *, creating: bool) -> dict[str, str]:
        """Validate and stringify a write; raise BadRequest the way HubSpot words it."""
        if not isinstance(given, dict):
            raise BadRequest("Invalid input JSON: properties must be an object")
        allowed = self.writable(object_type)
        problems = []
        for name in given:
            if name in READ_ONLY:
                problems.append(
                    {
                        "isValid": False,
                        "message": f'"{name}" is a read only property; its value cannot be set.',
                        "error": "READ_ONLY_VALUE",
                        "name": name,
                    }
                )
            elif name not in allowed:
                problems.append(
                    {
                        "isValid": False,
                        "message": f'Property "{name}" does not exist',
                        "error": "PROPERTY_DOESNT_EXIST",
                        "name": name,
                    }
                )
        if creating:
            for name in REQUIRED.get(object_type, ()):
                if not given.get(name):
                    problems.append(
                        {
                            "isValid": False,
                            "message": f'Property "{name}" is required',
                            "error": "REQUIRED_PROPERTY",
                            "name": name,
                        }
                    )
        if problems:
            raise BadRequest(f"Property values were not valid: {json.dumps(problems)}")
        clean = {name: as_string(name, value) for name, value in given.items()}
        if "email" in clean:
            clean["email"] = clean["email"].strip().lower()  # HubSpot keeps emails lower-case
        return clean

    def existing_emails(self, emails: list[str], *, exclude: set[str] = frozenset()) -> dict[str, str]:
        """email → id of live contacts holding it: one query for a whole batch."""
        wanted = [e for e in emails if e]
        if not wanted:
            return {}
        rows = self.records("contacts").filter(archived=False, data__email__in=wanted)
        return {r.data["email"]: r.remote_id for r in rows if r.remote_id not in exclude}

    def new_record(
        self, object_type: str, remote_id: str, props: dict[str, str], when: datetime
    ) -> SandboxRecord:
        data = {k: v for k, v in props.items() if v != ""}
        data.update(
            {
                "hs_object_id": remote_id,
                created_prop(object_type): iso(when),
                modified_prop(object_type): iso(when),
            }
        )
        return SandboxRecord(
            provider=self.provider,
            object_type=object_type,
            remote_id=remote_id,
            data=data,
            created_at=when,
            updated_at=when,
        )

    def apply_update(self, record: SandboxRecord, props: dict[str, str], when: datetime) -> None:
        for name, value in props.items():
            if value == "":
                record.data.pop(name, None)  # "" clears a value
            else:
                record.data[name] = value
        record.data[modified_prop(record.object_type)] = iso(when)
        record.updated_at = when

    def create_many(self, object_type: str, items: list[dict[str, str]]) -> list[SandboxRecord | BadRequest]:
        """Create records in order; each result is the record or the error that refused it."""
        outcome: list[SandboxRecord | BadRequest] = []
        taken = self.existing_emails([p.get("email", "") for p in items]) if object_type == "contacts" else {}
        ids = iter(self.allocate_ids(len(items)))
        when = now_ms()
        fresh: list[SandboxRecord] = []
        for props in items:
            email = props.get("email", "")
            if email and email in taken:
                outcome.append(self.contact_exists(taken[email]))
                continue
            record = self.new_record(object_type, next(ids), props, when)
            if email:
                taken[email] = record.remote_id
            fresh.append(record)
            outcome.append(record)
        SandboxRecord.objects.bulk_create(fresh)
        return outcome

    @staticmethod
    def contact_exists(existing_id: str) -> BadRequest:
        return BadRequest(
            f"Contact already exists. Existing ID: {existing_id}",
            category="OBJECT_ALREADY_EXISTS",
            status=409,
            error="CONTACT_EXISTS",
        )

    def find(self, object_type: str, ids: list[str], *, id_property: str = "", archived: bool = False):
        """id (or idProperty value) → record, for the given ids."""
        qs = self.records(object_type).filter(archived=archived)
        if id_property and id_property != "hs_object_id":
            if id_property != "email" or object_type != "contacts":
                raise BadRequest(f"{id_property} is not a unique identifier property")
            lowered = [i.strip().lower() for i in ids]
            return {r.data.get("email"): r for r in qs.filter(data__email__in=lowered)}
        return {r.remote_id: r for r in qs.filter(remote_id__in=ids)}

    # --- the contract surface (tests, demos, benchmarks) ---------------------------------------

    def connect(self, sandbox_base: str) -> tuple[dict[str, Any], Tokens | None]:
        """A private-app config pointing at this emulator; no OAuth tokens needed."""
        token = self.issue_token(kind="private_app", client_id=self.client_credentials()[0])
        client_id, client_secret = self.client_credentials()
        config = {
            "auth_mode": "private_app",
            "access_token": token.access_token,
            "base_url": f"{sandbox_base.rstrip('/')}/hubspot",
            "client_id": client_id,
            "client_secret": client_secret,
        }
        return config, None

    def sample_record(self, entity: str, i: int) -> dict[str, Any]:
        if entity == "contact":
            return {
                "email": f"sample{i}@example.com",
                "firstname": f"Sample{i}",
                "lastname": "Person",
                "phone": sample_phone(i),
                "jobtitle": "Buyer",
            }
        if entity == "company":
            return {
                "name": f"Sample Co {i}",
                "domain": f"sample{i}.example.com",
                "industry": "COMPUTER_SOFTWARE",
            }
        if entity == "deal":
            return {
                "dealname": f"Sample deal {i}",
                "amount": str(1000 + i),
                "dealstage": "appointmentscheduled",
                "pipeline": "default",
            }
        if entity == "activity":
            return {
                "_kind": "note",
                "hs_note_body": f"Sample note {i}",
                "hs_timestamp": str(1_700_000_000_000 + i),
            }
        raise ValueError(f"hubspot has no {entity!r} records")

    def invalid_record(self, entity: str) -> dict[str, Any]:
        """A record HubSpot refuses with VALIDATION_ERROR: it names a property that does not exist."""
        record = self.sample_record(entity, 999_999)
        record["no_such_property"] = "x"
        return record

    def seed(self, object_type: str, count: int, request: HttpRequest | None = None) -> int:
        """bulk_create ``count`` records, modified one second apart ending now, in chunks."""
        object_type = object_type.lower()
        if object_type not in PROPERTIES:
            raise ValueError(f"hubspot cannot seed {object_type!r}: one of {', '.join(PROPERTIES)}")
        if count < 0:
            raise ValueError("count must be positive")
        ids = self.allocate_ids(count)
        end = now_ms()
        for start in range(0, count, SEED_CHUNK):
            batch = [
                self.new_record(
                    object_type,
                    ids[i],
                    self._seed_props(object_type, ids[i]),
                    end - timedelta(seconds=count - i),
                )
                for i in range(start, min(count, start + SEED_CHUNK))
            ]
            SandboxRecord.objects.bulk_create(batch)
        return count

    @staticmethod
    def _seed_props(object_type: str, remote_id: str) -> dict[str, str]:
        n = int(remote_id)
        return {
            "contacts": {
                "firstname": f"Seed{n}",
                "lastname": "Contact",
                "email": f"seed{n}@example.com",
                "phone": sample_phone(n),
                "company": f"Seed Co {n % 97}",
                "lifecyclestage": "lead",
            },
            "companies": {"name": f"Seed Co {n}", "domain": f"seed{n}.example.com", "industry": "RETAIL"},
            "deals": {
                "dealname": f"Seed deal {n}",
                "amount": str(100 + n % 900),
                "dealstage": "qualifiedtobuy",
                "pipeline": "default",
                "closedate": "1767225600000",
            },
            "notes": {"hs_note_body": f"Seed note {n}", "hs_timestamp": "1700000000000"},
            "tasks": {
                "hs_task_subject": f"Seed task {n}",
                "hs_task_status": "NOT_STARTED",
                "hs_timestamp": "1700000000000",
            },
            "calls": {
                "hs_call_title": f"Seed call {n}",
                "hs_call_direction": "OUTBOUND",
                "hs_timestamp": "1700000000000",
            },
            "emails": {"hs_email_subject": f"Seed email {n}", "hs_timestamp": "1700000000000"},
            "meetings": {"hs_meeting_title": f"Seed meeting {n}", "hs_timestamp": "1700000000000"},
        }[object_type]

    def touch(self, object_type: str, remote_id: str, fields: dict[str, Any]) -> None:
        """Change a record as a CRM user would: new values, a new modified time."""
        remote_id = remote_id.rpartition("/")[2]  # accept activity ids like "notes/123"
        record = self.records(object_type).get(remote_id=remote_id)
        self.apply_update(record, {k: as_string(k, v) for k, v in fields.items()}, now_ms())
        record.save(update_fields=["data", "updated_at"])

    def fire_webhooks(self, request: HttpRequest | None, target_url: str, payload: Any) -> SandboxWebhook:
        """POST a JSON array of events to ``target_url``, signed v3 with the app's client secret."""
        events = (
            payload
            if payload is not None
            else [{"subscriptionType": "contact.creation", "objectId": self._latest_contact_id()}]
        )
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise ValueError("events must be a list of objects")
        occurred = epoch_ms(timezone.now())
        full = [
            {
                "eventId": int(time.time() * 1000) * 100 + i,
                "subscriptionId": 12345,
                "portalId": HUB_ID,
                "appId": APP_ID,
                "occurredAt": occurred,
                "subscriptionType": "contact.propertyChange",
                "attemptNumber": 0,
                "objectId": 0,
                "changeSource": "CRM",
                "changeFlag": "NEW",
                **event,
            }
            for i, event in enumerate(events)
        ]
        body = json.dumps(full, separators=(",", ":")).encode()
        timestamp = str(epoch_ms(timezone.now()))
        signature = webhooks.signature_v3(self.client_credentials()[1], "POST", target_url, body, timestamp)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "HubSpot Connect 2.0 (sandbox)",
            "X-HubSpot-Signature-v3": signature,
            "X-HubSpot-Request-Timestamp": timestamp,
        }
        return self.deliver(target_url, body, headers)

    def _latest_contact_id(self) -> int:
        latest = self.records("contacts").order_by("-id").values_list("remote_id", flat=True).first()
        return int(latest) if latest else 101

    # --- views: objects -------------------------------------------------------------------------

    def api_urls(self) -> list[URLPattern]:
        objects = "crm/v3/objects/<str:object_type>"
        return [
            path(f"{objects}/search", self.endpoint(self.search_view), name="hubspot-search"),
            path(f"{objects}/batch/<str:action>", self.endpoint(self.batch_view), name="hubspot-batch"),
            path(f"{objects}/<str:object_id>", self.endpoint(self.object_view), name="hubspot-object"),
            path(objects, self.endpoint(self.collection_view), name="hubspot-objects"),
            path("oauth/authorize", self.endpoint(self.authorize_view, auth=False, limited=False)),
            path("oauth/v1/token", self.endpoint(self.token_view, auth=False, limited=False)),
            path("oauth/v3/token", self.endpoint(self.token_view, auth=False, limited=False)),
            path("oauth/v3/token/revoke", self.endpoint(self.revoke_view, auth=False, limited=False)),
            path("oauth/v3/token/introspect", self.endpoint(self.introspect_view, auth=False, limited=False)),
        ]

    def _guard(self, request: HttpRequest, object_type: str, handler: Any, *args: Any) -> HttpResponse:
        """Run a handler, turning BadRequest into HubSpot's error body."""
        if object_type not in PROPERTIES:
            return self.error(400, f"Unable to infer object type from: {object_type}")
        try:
            return handler(request, object_type, *args)
        except BadRequest as exc:
            return self.error(exc.status, exc.message, code=exc.category, **exc.extra)

    def collection_view(self, request: HttpRequest, object_type: str) -> HttpResponse:
        if request.method == "GET":
            return self._guard(request, object_type, self._list)
        if request.method == "POST":
            return self._guard(request, object_type, self._create_one)
        return self.error(405, f"Method {request.method} is not supported on this path")

    def object_view(self, request: HttpRequest, object_type: str, object_id: str) -> HttpResponse:
        handler = {"GET": self._get_one, "PATCH": self._update_one, "DELETE": self._archive_one}.get(
            request.method or ""
        )
        if handler is None:
            return self.error(405, f"Method {request.method} is not supported on this path")
        return self._guard(request, object_type, handler, object_id)

    def _properties_param(self, request: HttpRequest) -> list[str]:
        raw = ",".join(request.GET.getlist("properties"))
        return [p.strip() for p in raw.split(",") if p.strip()]

    def _list(self, request: HttpRequest, object_type: str) -> HttpResponse:
        limits = self.limits()
        try:
            limit = int(request.GET.get("limit", 10))
        except ValueError:
            raise BadRequest("limit must be a number") from None
        limit = max(1, min(limit, int(limits["list_limit_max"])))
        archived = request.GET.get("archived", "false").lower() == "true"  # true: ONLY archived records
        qs = self.records(object_type).filter(archived=archived)
        if request.GET.get("after"):
            stamp, pk = decode_after(request.GET["after"])
            qs = qs.filter(Q(updated_at__gt=stamp) | Q(updated_at=stamp, id__gt=pk))
        rows = list(qs.order_by("updated_at", "id")[: limit + 1])
        properties = self._properties_param(request)
        body: dict[str, Any] = {"results": [self.serialize(r, properties) for r in rows[:limit]]}
        if len(rows) > limit:
            after = encode_after(rows[limit - 1])
            params = request.GET.copy()
            params["after"] = after
            body["paging"] = {
                "next": {
                    "after": after,
                    "link": request.build_absolute_uri(f"{request.path}?{params.urlencode()}"),
                }
            }
        return JsonResponse(body)

    def _create_one(self, request: HttpRequest, object_type: str) -> HttpResponse:
        body = json_body(request)
        if not isinstance(body, dict):
            raise BadRequest("Invalid input JSON on line 1")
        props = self.clean_properties(object_type, body.get("properties", {}), creating=True)
        outcome = self.create_many(object_type, [props])[0]
        if isinstance(outcome, BadRequest):
            raise outcome
        return JsonResponse(self.serialize(outcome, list(props)), status=201)

    def _one(self, request: HttpRequest, object_type: str, object_id: str, *, archived: bool = False):
        id_property = request.GET.get("idProperty", "")
        found = self.find(object_type, [object_id], id_property=id_property, archived=archived)
        record = found.get(object_id.strip().lower() if id_property == "email" else object_id)
        if record is None:
            raise BadRequest("resource not found", category="OBJECT_NOT_FOUND", status=404)
        return record

    def _get_one(self, request: HttpRequest, object_type: str, object_id: str) -> HttpResponse:
        archived = request.GET.get("archived", "false").lower() == "true"
        record = self._one(request, object_type, object_id, archived=archived)
        return JsonResponse(self.serialize(record, self._properties_param(request)))

    def _update_one(self, request: HttpRequest, object_type: str, object_id: str) -> HttpResponse:
        body = json_body(request)
        if not isinstance(body, dict):
            raise BadRequest("Invalid input JSON on line 1")
        props = self.clean_properties(object_type, body.get("properties", {}), creating=False)
        record = self._one(request, object_type, object_id)
        if props.get("email"):
            taken = self.existing_emails([props["email"]], exclude={record.remote_id})
            if taken:
                raise self.contact_exists(taken[props["email"]])
        self.apply_update(record, props, now_ms())
        record.save(update_fields=["data", "updated_at"])
        return JsonResponse(self.serialize(record, list(props)))

    def _archive_one(self, request: HttpRequest, object_type: str, object_id: str) -> HttpResponse:
        found = self.find(object_type, [object_id])
        if object_id in found:
            self._archive([found[object_id]])
        return HttpResponse(status=204)  # HubSpot answers 204 whether or not the id existed

    def _archive(self, records: list[SandboxRecord]) -> None:
        when = now_ms()
        for record in records:
            record.archived, record.archived_at, record.updated_at = True, when, when
        SandboxRecord.objects.bulk_update(records, ["archived", "archived_at", "updated_at"])

    # --- views: search ----------------------------------------------------------------------------

    def search_view(self, request: HttpRequest, object_type: str) -> HttpResponse:
        if request.method != "POST":
            return self.error(405, f"Method {request.method} is not supported on this path")
        blocked = self.check_rate(
            request.sandbox_token,
            (int(self.limits()["search_rate"]), 1),  # type: ignore[attr-defined]
            scope="search",
        )
        if blocked is not None:
            return blocked
        return self._guard(request, object_type, self._search)

    def _search(self, request: HttpRequest, object_type: str) -> HttpResponse:
        body = json_body(request)
        if not isinstance(body, dict):
            raise BadRequest("Invalid input JSON on line 1")
        limits = self.limits()
        limit = int(body.get("limit") or 10)
        if limit > int(limits["search_limit_max"]) or limit < 1:
            raise BadRequest(f"limit must be between 1 and {limits['search_limit_max']}")
        try:
            offset = int(body.get("after") or 0)
        except ValueError:
            raise BadRequest("after must be a number") from None
        ceiling = int(limits["search_ceiling"])
        if offset >= ceiling:
            raise BadRequest(
                f"Search results are limited to {ceiling} per query: 'after' {offset} is past the "
                "end. Narrow the filters instead of paging further."
            )
        qs = self.records(object_type).filter(archived=False).filter(self._filters(object_type, body))
        if body.get("query"):
            words = Q()
            for name in SEARCHABLE.get(object_type, ()):
                words |= Q(**{f"data__{name}__icontains": str(body["query"])})
            qs = qs.filter(words) if words else qs
        qs = qs.order_by(*self._ordering(body.get("sorts") or []))
        total = qs.count()
        end = min(offset + limit, ceiling)
        rows = list(qs[offset:end])
        result: dict[str, Any] = {
            "total": total,
            "results": [self.serialize(r, body.get("properties")) for r in rows],
        }
        if offset + len(rows) < total:
            result["paging"] = {"next": {"after": str(offset + len(rows))}}
        return JsonResponse(result)

    def _filters(self, object_type: str, body: dict[str, Any]) -> Q:
        groups = body.get("filterGroups") or []
        if not isinstance(groups, list):
            raise BadRequest("filterGroups must be a list")
        if len(groups) > 5:
            raise BadRequest(
                f"Too many filter groups: {len(groups)}. A search may have at most 5 filterGroups."
            )
        total = 0
        combined = Q()
        for group in groups:
            filters = (group or {}).get("filters") or []
            if len(filters) > 10:
                raise BadRequest(f"Too many filters in a group: {len(filters)}. A group may have at most 10.")
            total += len(filters)
            if total > 25:
                raise BadRequest(
                    "Too many filters: a search may have at most 25 filters across all filterGroups."
                )
            clause = Q()
            for spec in filters:
                clause &= self._filter(object_type, spec)
            combined |= clause
        return combined

    def _filter(self, object_type: str, spec: dict[str, Any]) -> Q:
        name, op = str(spec.get("propertyName", "")), str(spec.get("operator", "EQ")).upper()
        if op not in OPERATORS:
            raise BadRequest(f"Unknown operator {op!r}; allowed: {', '.join(sorted(OPERATORS))}")
        if name in MODIFIED_PROPS or name in CREATED_PROPS:
            # The modified/created times are columns (indexed), not JSON: filter them there.
            column = "updated_at" if name in MODIFIED_PROPS else "created_at"
            convert = parse_time
        elif name == "hs_object_id":
            column, convert = "remote_id", str
        else:
            column, convert = f"data__{name}", str
        if op == "HAS_PROPERTY":
            return Q(data__has_key=name) if column.startswith("data__") else Q()
        if op == "NOT_HAS_PROPERTY":
            return ~Q(data__has_key=name) if column.startswith("data__") else Q(pk__in=[])
        if op in {"IN", "NOT_IN"}:
            values = spec.get("values")
            if not isinstance(values, list):
                raise BadRequest(f"{op} needs a 'values' list")
            q = Q(**{f"{column}__in": [self._value(name, convert, v) for v in values]})
            return q if op == "IN" else ~q
        if "value" not in spec:
            raise BadRequest(f"{op} on {name} needs a 'value'")
        value = self._value(name, convert, spec["value"])
        if op == "BETWEEN":
            if "highValue" not in spec:
                raise BadRequest("BETWEEN needs a 'highValue'")
            return Q(
                **{f"{column}__gte": value, f"{column}__lte": self._value(name, convert, spec["highValue"])}
            )
        if op in {"CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}:
            q = Q(**{f"{column}__icontains": str(value).strip("*")})
            return q if op == "CONTAINS_TOKEN" else ~q
        lookup = {"EQ": "exact", "NEQ": "exact", "LT": "lt", "LTE": "lte", "GT": "gt", "GTE": "gte"}[op]
        q = Q(**{f"{column}__{lookup}": value})
        return ~q if op == "NEQ" else q

    @staticmethod
    def _value(name: str, convert: Any, raw: Any) -> Any:
        value = convert(raw)
        return value.lower() if name == "email" and isinstance(value, str) else value

    @staticmethod
    def _ordering(sorts: list[Any]) -> list[str]:
        """``sorts`` as HubSpot takes it (strings, "-name", or {propertyName, direction}) → order_by()."""
        order: list[str] = []
        for sort in sorts[:1]:  # HubSpot honours one sort
            if isinstance(sort, str):
                name, descending = sort.lstrip("-"), sort.startswith("-")
            else:
                name = str(sort.get("propertyName", ""))
                descending = str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"
            column = (
                "updated_at"
                if name in MODIFIED_PROPS
                else "created_at"
                if name in CREATED_PROPS
                else "id"
                if name == "hs_object_id"
                else f"data__{name}"
            )
            order.append(f"-{column}" if descending else column)
        tiebreak = "-id" if order and order[0].startswith("-") else "id"
        return [*order, tiebreak] if order else ["id"]

    # --- views: batch -----------------------------------------------------------------------------

    def batch_view(self, request: HttpRequest, object_type: str, action: str) -> HttpResponse:
        handler = {
            "read": self._batch_read,
            "create": self._batch_create,
            "update": self._batch_update,
            "upsert": self._batch_upsert,
            "archive": self._batch_archive,
        }.get(action)
        if handler is None:
            return self.error(404, f"Unknown batch action {action!r}", code="OBJECT_NOT_FOUND")
        if request.method != "POST":
            return self.error(405, f"Method {request.method} is not supported on this path")
        return self._guard(request, object_type, self._batch, handler)

    def _batch(self, request: HttpRequest, object_type: str, handler: Any) -> HttpResponse:
        body = json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            raise BadRequest("Invalid input JSON: expected an object with an 'inputs' list")
        inputs = body["inputs"]
        cap = int(self.limits()["batch_max"])
        if len(inputs) > cap:
            raise BadRequest(f"Batch input limit exceeded: {len(inputs)} inputs, at most {cap} are allowed.")
        if not all(isinstance(item, dict) for item in inputs):
            raise BadRequest("Invalid input JSON: every input must be an object")
        started = iso(timezone.now())
        outcome = handler(object_type, inputs, body)
        if outcome is None:
            return HttpResponse(status=204)
        results, errors, ok_status = outcome
        payload: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "requestedAt": started,
            "startedAt": started,
            "completedAt": iso(timezone.now()),
        }
        if errors:
            payload["numErrors"] = len(errors)
            payload["errors"] = errors
        return JsonResponse(payload, status=207 if errors else ok_status)

    @staticmethod
    def _batch_error(
        exc: BadRequest, *, ids: list[str] | None = None, trace: str | None = None
    ) -> dict[str, Any]:
        context: dict[str, list[str]] = {}
        if ids:
            context["ids"] = ids
        if trace is not None:
            context["objectWriteTraceId"] = [trace]
        error = {"status": "error", "category": exc.category, "message": exc.message, "context": context}
        if "error" in exc.extra:
            error["subCategory"] = exc.extra["error"]
            error["error"] = exc.extra["error"]
        return error

    def _with_trace(self, body: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
        if item.get("objectWriteTraceId") is not None:
            body["objectWriteTraceId"] = str(item["objectWriteTraceId"])
        return body

    def _batch_read(self, object_type: str, inputs: list[dict[str, Any]], body: dict[str, Any]):
        ids = [str(item.get("id", "")) for item in inputs]
        id_property = str(body.get("idProperty") or "")
        found = self.find(object_type, ids, id_property=id_property, archived=bool(body.get("archived")))
        key = (lambda i: i.strip().lower()) if id_property == "email" else (lambda i: i)
        results = [self.serialize(found[key(i)], body.get("properties")) for i in ids if key(i) in found]
        missing = [i for i in ids if key(i) not in found]
        errors = []
        if missing:
            errors.append(
                self._batch_error(
                    BadRequest(
                        f"Could not get some {object_type} objects, they may be deleted or not exist.",
                        category="OBJECT_NOT_FOUND",
                    ),
                    ids=missing,
                )
            )
        return results, errors, 200

    def _batch_create(self, object_type: str, inputs: list[dict[str, Any]], body: dict[str, Any]):
        results, errors = [], []
        clean: list[tuple[dict[str, Any], dict[str, str]]] = []
        for item in inputs:
            try:
                clean.append(
                    (item, self.clean_properties(object_type, item.get("properties", {}), creating=True))
                )
            except BadRequest as exc:
                errors.append(self._batch_error(exc, trace=self._trace(item)))
        outcomes = self.create_many(object_type, [props for _, props in clean])
        for (item, props), outcome in zip(clean, outcomes, strict=True):
            if isinstance(outcome, BadRequest):
                errors.append(self._batch_error(outcome, trace=self._trace(item)))
            else:
                results.append(self._with_trace(self.serialize(outcome, list(props)), item))
        return results, errors, 201

    @staticmethod
    def _trace(item: dict[str, Any]) -> str | None:
        trace = item.get("objectWriteTraceId")
        return None if trace is None else str(trace)

    def _batch_update(self, object_type: str, inputs: list[dict[str, Any]], body: dict[str, Any]):
        results, errors, changed = [], [], []
        ids = [str(item.get("id", "")) for item in inputs]
        id_property = str(inputs[0].get("idProperty") or "") if inputs else ""
        found = self.find(object_type, ids, id_property=id_property)
        emails = [str(item.get("properties", {}).get("email", "")).strip().lower() for item in inputs]
        taken = self.existing_emails(emails) if object_type == "contacts" else {}
        when = now_ms()
        for item, remote_key in zip(inputs, ids, strict=True):
            try:
                props = self.clean_properties(object_type, item.get("properties", {}), creating=False)
                record = found.get(remote_key.strip().lower() if id_property == "email" else remote_key)
                if record is None:
                    raise BadRequest(f"Object not found: {remote_key}", category="OBJECT_NOT_FOUND")
                owner = taken.get(props.get("email", ""))
                if owner and owner != record.remote_id:
                    raise self.contact_exists(owner)
            except BadRequest as exc:
                errors.append(self._batch_error(exc, ids=[remote_key], trace=self._trace(item)))
                continue
            self.apply_update(record, props, when)
            if props.get("email"):
                taken[props["email"]] = record.remote_id
            changed.append(record)
            results.append(self._with_trace(self.serialize(record, list(props)), item))
        SandboxRecord.objects.bulk_update(changed, ["data", "updated_at"])
        return results, errors, 200

    def _batch_upsert(self, object_type: str, inputs: list[dict[str, Any]], body: dict[str, Any]):
        results, errors = [], []
        for item in inputs:
            id_property = str(item.get("idProperty") or "hs_object_id")
            remote_key = str(item.get("id", ""))
            try:
                props = self.clean_properties(object_type, item.get("properties", {}), creating=False)
                found = self.find(object_type, [remote_key], id_property=id_property)
                key = remote_key.strip().lower() if id_property == "email" else remote_key
                record, new = found.get(key), False
                if record is None:
                    if id_property != "email":
                        raise BadRequest(f"Object not found: {remote_key}", category="OBJECT_NOT_FOUND")
                    props = {**props, "email": key}
                    self.clean_properties(object_type, props, creating=True)
                    outcome = self.create_many(object_type, [props])[0]
                    if isinstance(outcome, BadRequest):
                        raise outcome
                    record, new = outcome, True
                else:
                    self.apply_update(record, props, now_ms())
                    record.save(update_fields=["data", "updated_at"])
            except BadRequest as exc:
                errors.append(self._batch_error(exc, ids=[remote_key], trace=self._trace(item)))
                continue
            shown = [*props, *([id_property] if id_property != "hs_object_id" else [])]
            results.append(self._with_trace({**self.serialize(record, shown), "new": new}, item))
        return results, errors, 200

    def _batch_archive(self, object_type: str, inputs: list[dict[str, Any]], body: dict[str, Any]) -> None:
        found = self.find(object_type, [str(item.get("id", "")) for item in inputs])
        self._archive(list(found.values()))
        return None  # 204: HubSpot reports nothing per input, and unknown ids are not an error

    # --- views: OAuth ---------------------------------------------------------------------------

    def oauth_error(self, status: int, error: str, hub_status: str, message: str) -> HttpResponse:
        # v3 standardised the OAuth fields and kept HubSpot's legacy ones alongside.
        return JsonResponse(
            {
                "error": error,
                "error_description": message,
                "status": hub_status,
                "message": message,
                "correlationId": str(uuid.uuid4()),
            },
            status=status,
        )

    def authorize_view(self, request: HttpRequest) -> HttpResponse:
        params = request.GET if request.method == "GET" else request.POST
        client_id, redirect_uri = params.get("client_id", ""), params.get("redirect_uri", "")
        state = params.get("state", "")
        if not redirect_uri:
            return self._authorize_page(400, "<p>Missing redirect_uri.</p>")
        if client_id != self.client_credentials()[0]:
            return self._authorize_page(400, "<p>Unknown client_id: this app is not installed here.</p>")
        if request.method == "POST":
            if params.get("decision") != "allow":
                return HttpResponseRedirect(
                    _with_query(redirect_uri, {"error": "access_denied", "state": state})
                )
            code = SandboxAuthCode.objects.create(
                provider=self.provider,
                code=secrets.token_urlsafe(24),
                client_id=client_id,
                redirect_uri=redirect_uri,
                code_challenge=params.get("code_challenge", ""),
                scopes=params.get("scope", "").split(),
                expires_at=timezone.now() + timedelta(minutes=10),
            )
            return HttpResponseRedirect(_with_query(redirect_uri, {"code": code.code, "state": state}))
        hidden = "".join(
            f'<input type="hidden" name="{escape(k)}" value="{escape(params.get(k, ""))}">'
            for k in (
                "client_id",
                "redirect_uri",
                "scope",
                "optional_scope",
                "state",
                "code_challenge",
                "code_challenge_method",
            )
        )
        scopes = "".join(f"<li>{escape(s)}</li>" for s in params.get("scope", "").split())
        return self._authorize_page(
            200,
            f"<h1>Connect the sandbox app to HubSpot account {HUB_ID}</h1><p>It asks for:</p><ul>{scopes}</ul>"
            f'<form method="post">{hidden}<button type="submit" name="decision" value="allow">Allow</button> '
            f'<button type="submit" name="decision" value="deny">Deny</button></form>',
        )

    @staticmethod
    def _authorize_page(status: int, content: str) -> HttpResponse:
        html = f"<!doctype html><html><head><title>HubSpot sandbox: authorize</title></head><body>{content}</body></html>"
        return HttpResponse(html, status=status, content_type="text/html; charset=utf-8")

    def token_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return self.error(405, "Method GET is not supported on this path")
        form = request.POST
        client_id, client_secret = self.client_credentials()
        grant = form.get("grant_type", "")
        if form.get("client_id") != client_id:
            return self.oauth_error(400, "invalid_client", "BAD_CLIENT_ID", "missing or unknown client id")
        if not secrets.compare_digest(form.get("client_secret", ""), client_secret):
            return self.oauth_error(
                400, "invalid_client", "BAD_CLIENT_SECRET", "missing or invalid client secret"
            )
        if grant == "authorization_code":
            return self._grant_code(request, form)
        if grant == "refresh_token":
            return self._grant_refresh(request, form)
        if grant == "client_credentials":
            token = self.issue_token(kind="oauth", client_id=client_id, refresh=False)
            return JsonResponse(self.token_response(token, request))
        return self.oauth_error(
            400, "unsupported_grant_type", "BAD_GRANT_TYPE", f"unsupported grant_type {grant!r}"
        )

    def _grant_code(self, request: HttpRequest, form: Any) -> HttpResponse:
        with transaction.atomic():
            code = (
                SandboxAuthCode.objects.select_for_update()
                .filter(
                    provider=self.provider,
                    code=form.get("code", ""),
                    used=False,
                    expires_at__gt=timezone.now(),
                )
                .first()
            )
            if code is None:
                return self.oauth_error(400, "invalid_grant", "BAD_AUTH_CODE", "missing or unknown auth code")
            if code.redirect_uri != form.get("redirect_uri", ""):
                return self.oauth_error(
                    400,
                    "invalid_grant",
                    "BAD_REDIRECT_URI",
                    "redirect_uri does not match the one used to authorize",
                )
            if code.code_challenge:
                verifier = form.get("code_verifier", "")
                digest = hashlib.sha256(verifier.encode()).digest()
                expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
                if not verifier or not secrets.compare_digest(expected, code.code_challenge):
                    return self.oauth_error(
                        400,
                        "invalid_grant",
                        "BAD_CODE_VERIFIER",
                        "code_verifier does not match the code_challenge",
                    )
            code.used = True
            code.save(update_fields=["used"])
        token = self.issue_token(kind="oauth", client_id=code.client_id, scopes=code.scopes or SCOPES)
        return JsonResponse(self.token_response(token, request))

    def _grant_refresh(self, request: HttpRequest, form: Any) -> HttpResponse:
        value = form.get("refresh_token", "")
        current = (
            (
                SandboxToken.objects.filter(provider=self.provider, refresh_token=value, revoked=False)
                .order_by("-id")
                .first()
            )
            if value
            else None
        )
        if current is None or current.client_id != form.get("client_id"):
            return self.oauth_error(
                400, "invalid_grant", "BAD_REFRESH_TOKEN", "refresh token is invalid, expired or revoked"
            )
        # HubSpot keeps the refresh token (no rotation) and leaves older access tokens to expire.
        token = SandboxToken.objects.create(
            provider=self.provider,
            access_token=f"{self.token_prefix}-{secrets.token_urlsafe(24)}",
            refresh_token=current.refresh_token,
            kind="oauth",
            client_id=current.client_id,
            scopes=current.scopes,
            data=current.data,
            expires_at=timezone.now() + self.token_lifetime,
        )
        return JsonResponse(self.token_response(token, request))

    def revoke_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return self.error(405, "Method GET is not supported on this path")
        value = request.POST.get("token", "")
        if value:
            SandboxToken.objects.filter(provider=self.provider).filter(
                Q(refresh_token=value) | Q(access_token=value)
            ).update(revoked=True)
        return HttpResponse(status=204)

    def introspect_view(self, request: HttpRequest) -> HttpResponse:
        value = request.POST.get("token", "")
        token = (
            (
                SandboxToken.objects.filter(provider=self.provider, revoked=False)
                .filter(Q(access_token=value) | Q(refresh_token=value))
                .order_by("-id")
                .first()
            )
            if value
            else None
        )
        if token is None or (
            token.access_token == value and token.expires_at and token.expires_at <= timezone.now()
        ):
            return JsonResponse({"active": False})
        return JsonResponse(
            {
                "active": True,
                "token_use": "access_token" if token.access_token == value else "refresh_token",
                "client_id": token.client_id,
                "hub_id": HUB_ID,
                "user_id": USER_ID,
                "scopes": token.scopes,
            }
        )


def _with_query(url: str, params: dict[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


emulator = HubSpotEmulator()
