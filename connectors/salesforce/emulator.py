"""A faithful local Salesforce (REST API, OAuth web-server flow, Outbound Messaging) under /sandbox/salesforce/.

Wire facts follow providers.md §2: 18-char ids with real key prefixes, ``...000+0000`` datetimes, JSON-array
error bodies, SOQL subset with 2,000-row pages and host-relative ``nextRecordsUrl`` (carrying the
``/sandbox/salesforce`` prefix), sObject Collections capped at 200 with per-item results, external-id
upsert (201 / 204 / 300), ``/updated/`` and ``/deleted/`` windows, a Recycle Bin, session timeout → 401
``INVALID_SESSION_ID``, ``Sforce-Limit-Info`` on every API response and a daily budget → 403
``REQUEST_LIMIT_EXCEEDED`` (Salesforce never answers 429). Records live in SandboxRecord: ``updated_at`` is
SystemModstamp (= LastModifiedDate), ``created_at`` CreatedDate, ``archived`` IsDeleted.

Knobs (``POST _control/settings``): ``session_seconds`` (default 7200), ``daily_limit`` (15000),
``outbound_attempts`` (3), ``client_id`` / ``client_secret``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit
from xml.sax.saxutils import escape, quoteattr

import requests
from defusedxml import ElementTree
from django.db import transaction
from django.db.models import CharField, Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import URLPattern, re_path
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.csrf import csrf_exempt

from connectors.base import Tokens
from connectors.oauth import code_challenge
from connectors.salesforce import soql
from connectors.salesforce.client import (
    API_VERSION,
    COMPOSITE_LIMIT,
    KEY_PREFIXES,
    QUERY_BATCH_MAX,
    QUERY_BATCH_MIN,
    case_safe_id,
    format_datetime,
    normalize_id,
    parse_datetime,
    type_of_id,
)
from connectors.sandbox.emulator import Emulator, json_body
from connectors.sandbox.models import SandboxAuthCode, SandboxRecord, SandboxToken, SandboxWebhook

PREFIX = "/sandbox/salesforce"
ORG_ID = case_safe_id("00D5g00000Sbx01")
USER_ID = case_safe_id("0055g00000Sbx01")
ACTION_ID = case_safe_id("04k5g00000Sbx01")
SCOPES = ("api", "refresh_token")
SUPPORTED_VERSIONS = range(31, 66)
DEFAULT_SESSION_SECONDS = 7200
DEFAULT_DAILY_LIMIT = 15000
QUERY_LOCATOR = "QueryLocator"
LOCATOR_IDLE = timedelta(minutes=15)
RECYCLE_BIN_RETENTION = timedelta(days=15)
UPDATED_WINDOW = timedelta(days=30)
MAX_REPLICATION_IDS = 600_000
MAX_CHUNKS = 10
OUTBOUND_MAX_NOTIFICATIONS = 100
SEED_CHUNK = 2000

OM_NS = "http://soap.sforce.com/2005/09/outbound"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


# --- schema -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    type: str
    createable: bool = True
    updateable: bool = True
    required: bool = False
    picklist: tuple[str, ...] = ()
    restricted: bool = False  # restricted picklist: other values are refused
    references: tuple[str, ...] = ()
    external_id: bool = False
    default: Any = None


@dataclass(frozen=True)
class ObjectSpec:
    name: str
    fields: dict[str, FieldSpec] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return KEY_PREFIXES[self.name]

    @property
    def types(self) -> dict[str, str]:
        return {name: spec.type for name, spec in self.fields.items()}

    def lookup(self, name: str) -> str | None:
        """The schema's spelling of a field name (Salesforce field names are case-insensitive)."""
        lowered = name.lower()
        return next((known for known in self.fields if known.lower() == lowered), None)


_READ_ONLY = {"createable": False, "updateable": False}
_SYSTEM = {
    "Id": FieldSpec("id", **_READ_ONLY),
    "IsDeleted": FieldSpec("boolean", **_READ_ONLY),
    "CreatedDate": FieldSpec("datetime", **_READ_ONLY),
    "LastModifiedDate": FieldSpec("datetime", **_READ_ONLY),
    "SystemModstamp": FieldSpec("datetime", **_READ_ONLY),
    "OwnerId": FieldSpec("reference", references=("User",)),
    "External_Id__c": FieldSpec("string", external_id=True),
}
_STAGES = (
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
)
_WHO, _WHAT = ("Contact", "Lead"), ("Account", "Opportunity")


def _object(name: str, **fields: FieldSpec) -> ObjectSpec:
    return ObjectSpec(name, {**_SYSTEM, **fields})


OBJECTS: dict[str, ObjectSpec] = {
    spec.name: spec
    for spec in (
        _object(
            "Contact",
            FirstName=FieldSpec("string"),
            LastName=FieldSpec("string", required=True),
            Name=FieldSpec("string", **_READ_ONLY),
            Email=FieldSpec("email"),
            Phone=FieldSpec("phone"),
            MobilePhone=FieldSpec("phone"),
            Title=FieldSpec("string"),
            AccountId=FieldSpec("reference", references=("Account",)),
            Description=FieldSpec("textarea"),
        ),
        _object(
            "Account",
            Name=FieldSpec("string", required=True),
            Website=FieldSpec("url"),
            Phone=FieldSpec("phone"),
            Industry=FieldSpec("picklist"),
            Description=FieldSpec("textarea"),
        ),
        _object(
            "Opportunity",
            Name=FieldSpec("string", required=True),
            Amount=FieldSpec("currency"),
            StageName=FieldSpec("picklist", required=True, picklist=_STAGES),
            CloseDate=FieldSpec("date", required=True),
            AccountId=FieldSpec("reference", references=("Account",)),
            Description=FieldSpec("textarea"),
        ),
        _object(
            "Task",
            Subject=FieldSpec("string"),
            Description=FieldSpec("textarea"),
            Status=FieldSpec(
                "picklist",
                restricted=True,
                default="Not Started",
                picklist=("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"),
            ),
            Priority=FieldSpec(
                "picklist", restricted=True, default="Normal", picklist=("High", "Normal", "Low")
            ),
            TaskSubtype=FieldSpec(
                "picklist",
                updateable=False,
                restricted=True,
                default="Task",
                picklist=("Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"),
            ),
            ActivityDate=FieldSpec("date"),
            WhoId=FieldSpec("reference", references=_WHO),
            WhatId=FieldSpec("reference", references=_WHAT),
        ),
        _object(
            "Event",
            Subject=FieldSpec("string"),
            Description=FieldSpec("textarea"),
            ActivityDate=FieldSpec("date"),
            ActivityDateTime=FieldSpec("datetime"),
            StartDateTime=FieldSpec("datetime"),
            EndDateTime=FieldSpec("datetime"),
            DurationInMinutes=FieldSpec("int"),
            Location=FieldSpec("string"),
            WhoId=FieldSpec("reference", references=_WHO),
            WhatId=FieldSpec("reference", references=_WHAT),
        ),
        _object(
            "Lead",
            FirstName=FieldSpec("string"),
            LastName=FieldSpec("string", required=True),
            Name=FieldSpec("string", **_READ_ONLY),
            Company=FieldSpec("string", required=True),
            Email=FieldSpec("email"),
            Phone=FieldSpec("phone"),
            Status=FieldSpec(
                "picklist",
                default="Open - Not Contacted",
                picklist=(
                    "Open - Not Contacted",
                    "Working - Contacted",
                    "Closed - Converted",
                    "Closed - Not Converted",
                ),
            ),
        ),
    )
}
# Names accepted by seed(): provider names, plural REST-ish names and canonical entities.
_SEED_ALIASES = {
    "contacts": "Contact",
    "accounts": "Account",
    "company": "Account",
    "companies": "Account",
    "opportunities": "Opportunity",
    "deal": "Opportunity",
    "deals": "Opportunity",
    "tasks": "Task",
    "activity": "Task",
    "activities": "Task",
    "events": "Event",
    "leads": "Lead",
}


# --- errors -------------------------------------------------------------------------------------


class RequestError(Exception):
    """Refuses the whole request: answered as Salesforce's JSON-array error body."""

    def __init__(self, status: int, code: str, message: str, fields: Iterable[str] = ()):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, list(fields)


class RecordError(Exception):
    """Refuses one record of a write: a per-item error in collections, a 400 for single-record calls."""

    def __init__(self, code: str, message: str, fields: Iterable[str] = ()):
        super().__init__(message)
        self.code, self.message, self.fields = code, message, list(fields)

    def as_item(self) -> dict[str, Any]:
        return {"statusCode": self.code, "message": self.message, "fields": self.fields}


def _failure(error: dict[str, Any], record_id: str | None = None) -> dict[str, Any]:
    return {"id": record_id, "success": False, "errors": [error]}


# --- helpers ------------------------------------------------------------------------------------


def now_ms() -> datetime:
    """Now, at the millisecond precision Salesforce shows, so stored and shown times compare equal."""
    moment = timezone.now()
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def new_ids(prefix: str, count: int = 1) -> list[str]:
    """Fresh 18-char ids: key prefix, a sandbox pod marker, 10 random base-62 characters, checksum."""
    raw = secrets.token_bytes(10 * count)
    return [
        case_safe_id(prefix + "Sb" + "".join(_ID_ALPHABET[b % 62] for b in raw[i * 10 : i * 10 + 10]))
        for i in range(count)
    ]


def _label(version: int) -> str:
    season = ("Winter", "Spring", "Summer")[(version - 62) % 3]
    return f"{season} '{25 + (version - 62) // 3}"


class SalesforceEmulator(Emulator):
    provider = "salesforce"
    token_lifetime = None  # Salesforce sends no expires_in: sessions die after session_seconds instead
    token_prefix = ORG_ID[:15] + "!AQ"
    rate_limit = None  # no per-second limit: the budget is daily
    demo_seed = {"Contact": 200, "Account": 40, "Opportunity": 40, "Task": 30, "Event": 10}

    # --- provider bodies ----------------------------------------------------------------------

    def error(self, status: int, message: str, *, code: str = "", **extra: Any) -> HttpResponse:
        default_code = {
            400: "MALFORMED_REQUEST",
            401: "INVALID_SESSION_ID",
            403: "INSUFFICIENT_ACCESS",
            404: "NOT_FOUND",
            405: "METHOD_NOT_ALLOWED",
            500: "UNKNOWN_EXCEPTION",
            503: "SERVER_UNAVAILABLE",
        }.get(status, "UNKNOWN_EXCEPTION")
        body = [{"message": message, "errorCode": code or default_code, **extra}]
        response = JsonResponse(body, status=status, safe=False)
        response["Sforce-Limit-Info"] = self._limit_info()
        return response

    def rate_limited_response(self, *, retry_after: float) -> HttpResponse:
        """An injected "slow down": Salesforce's concurrent-request limit (no 429, no Retry-After)."""
        return self.error(403, "ConcurrentPerOrgLongTxn Limit exceeded.", code="REQUEST_LIMIT_EXCEEDED")

    def daily_limit_response(self) -> HttpResponse:
        """The exhausted daily budget: the same 403 shape, lifted only as the 24 h window moves on."""
        return self.error(403, "TotalRequests Limit exceeded.", code="REQUEST_LIMIT_EXCEEDED")

    def unauthorized(self) -> HttpResponse:
        return self.error(401, "Session expired or invalid", code="INVALID_SESSION_ID")

    def response_headers(self, request: HttpRequest, token: SandboxToken | None) -> dict[str, str]:
        return {"Sforce-Limit-Info": self._limit_info()}

    def _daily_limit(self) -> int:
        return int(self.setting("daily_limit", DEFAULT_DAILY_LIMIT))

    def _limit_info(self) -> str:
        state = self.state()
        limit = int(state.settings.get("daily_limit", DEFAULT_DAILY_LIMIT))
        return f"api-usage={min(state.requests, limit)}/{limit}"

    def authenticate(self, request: HttpRequest) -> SandboxToken | None:
        token = super().authenticate(request)
        if token is None:
            return None
        session = timedelta(seconds=int(self.setting("session_seconds", DEFAULT_SESSION_SECONDS)))
        return token if timezone.now() - token.created_at < session else None

    def check_rate(
        self, token: SandboxToken | None, rate: tuple[int, int] | None, *, scope: str = ""
    ) -> HttpResponse | None:
        # The daily budget counts every API request since the last reset (SandboxState.requests).
        if self.state().requests > self._daily_limit():
            return self.daily_limit_response()
        return super().check_rate(token, rate, scope=scope)

    def token_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"instance_url": self.instance_url(request)}

    def instance_url(self, request: HttpRequest) -> str:
        return f"{request.scheme}://{request.get_host()}{PREFIX}"

    def token_response(
        self, token: SandboxToken, request: HttpRequest, *, include_refresh: bool = True
    ) -> dict[str, Any]:
        instance = token.data.get("instance_url") or self.instance_url(request)
        identity = f"{instance}/id/{ORG_ID}/{USER_ID}"
        issued_at = str(int(token.created_at.timestamp() * 1000))
        secret = self.client_credentials()[1].encode()
        signature = base64.b64encode(
            hmac.new(secret, (identity + issued_at).encode(), hashlib.sha256).digest()
        )
        body: dict[str, Any] = {
            "access_token": token.access_token,
            "instance_url": instance,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": signature.decode(),
            "scope": " ".join(token.scopes or SCOPES),
        }
        if include_refresh and token.refresh_token:
            body["refresh_token"] = token.refresh_token
        return body

    # --- the contract used by tests, demos and benchmarks ---------------------------------------

    def connect(self, sandbox_base: str) -> tuple[dict[str, Any], Tokens | None]:
        """A ready OAuth credential: config for the connector and the tokens to store."""
        instance = sandbox_base.rstrip("/") + "/salesforce"
        client_id, client_secret = self.client_credentials()
        token = self.issue_token(client_id=client_id, scopes=SCOPES, data={"instance_url": instance})
        config = {
            "login_url": instance,
            "client_id": client_id,
            "client_secret": client_secret,
            "api_version": API_VERSION,
            "organization_id": ORG_ID,
        }
        return config, Tokens(
            access_token=token.access_token,
            refresh_token=token.refresh_token,
            scope=" ".join(SCOPES),
            extra={"instance_url": instance},
        )

    def sample_record(self, entity: str, i: int) -> dict[str, Any]:
        samples = {
            "contact": {
                "FirstName": f"Ana{i}",
                "LastName": f"Lee{i}",
                "Email": f"ana.lee{i}@example.com",
                "Phone": f"+1415555{i % 10_000:04d}",
                "Title": "Buyer",
            },
            "company": {"Name": f"Acme {i}", "Website": f"acme{i}.example.com", "Industry": "Technology"},
            "deal": {
                "Name": f"Deal {i}",
                "StageName": "Prospecting",
                "CloseDate": "2025-06-30",
                "Amount": 1000 + i,
            },
            "activity": {
                "_kind": "task",
                "Subject": f"Follow up {i}",
                "Status": "Not Started",
                "ActivityDate": "2025-06-30",
            },
        }
        return dict(samples[entity])

    def invalid_record(self, entity: str) -> dict[str, Any]:
        invalid = {
            "contact": {"FirstName": "Nolast", "Email": "nolast@example.com"},  # REQUIRED_FIELD_MISSING
            "company": {"Website": "nameless.example.com"},  # REQUIRED_FIELD_MISSING
            "deal": {"Name": "No stage"},  # REQUIRED_FIELD_MISSING
            "activity": {"_kind": "task", "Subject": "Bad", "Status": "Maybe"},  # restricted picklist
        }
        return dict(invalid[entity])

    def seed(self, object_type: str, count: int, request: HttpRequest | None) -> int:
        """Bulk-insert ``count`` records as pre-existing history.

        Seeded records are back-dated one second apart, ending a minute before the call, so a delta
        pull never mistakes them for fresh changes; use ``touch`` or the API for changes.
        """
        spec = self._spec(_SEED_ALIASES.get(object_type.lower(), object_type))
        if spec is None or count < 0:
            raise ValueError(f"salesforce emulator cannot seed {object_type!r}")
        start = self.records(spec.name).count()
        end = now_ms() - timedelta(minutes=1)
        for offset in range(0, count, SEED_CHUNK):
            size = min(SEED_CHUNK, count - offset)
            ids = new_ids(spec.prefix, size)
            rows = []
            for k in range(size):
                n = start + offset + k
                stamp = end - timedelta(seconds=count - offset - k - 1)
                rows.append(
                    SandboxRecord(
                        provider=self.provider,
                        object_type=spec.name,
                        remote_id=ids[k],
                        data=self._seed_data(spec.name, n),
                        created_at=stamp,
                        updated_at=stamp,
                    )
                )
            SandboxRecord.objects.bulk_create(rows, batch_size=500)
        return count

    def touch(self, object_type: str, remote_id: str, fields: dict[str, Any]) -> None:
        """Change a record as a user in Salesforce would: new values and a fresh SystemModstamp."""
        spec = self._spec(_SEED_ALIASES.get(object_type.lower(), object_type))
        if spec is None:
            raise ValueError(f"salesforce emulator has no {object_type!r} records")
        row = self.records(spec.name).get(remote_id=normalize_id(remote_id) or remote_id)
        row.data = {**row.data, **fields}
        row.updated_at = now_ms()
        row.save(update_fields=["data", "updated_at"])

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

    # --- urls ---------------------------------------------------------------------------------

    def api_urls(self) -> list[URLPattern]:
        api = self.endpoint
        v = r"^services/data/(?P<version>v\d+\.\d)"
        t = r"/sobjects/(?P<sobject>\w+)"
        return [
            re_path(r"^services/oauth2/authorize/?$", csrf_exempt(self.authorize_view)),
            re_path(r"^services/oauth2/token/?$", csrf_exempt(self.oauth_token_view)),
            re_path(r"^services/oauth2/revoke/?$", csrf_exempt(self.revoke_view)),
            re_path(r"^id/(?P<org_id>\w+)/(?P<user_id>\w+)/?$", api(self.identity_view, limited=False)),
            re_path(r"^services/data/?$", api(self.versions_view, auth=False, limited=False)),
            re_path(v + r"/?$", api(self.resources_view)),
            re_path(v + r"/limits/?$", api(self.limits_view)),
            re_path(v + r"/(?P<kind>query|queryAll)/?$", api(self.query_view)),
            re_path(
                v + r"/(?P<kind>query|queryAll)/(?P<locator>[0-9A-Za-z]{15,18})-(?P<offset>\d+)/?$",
                api(self.query_more_view),
            ),
            re_path(v + r"/composite/sobjects/?$", api(self.collections_view)),
            re_path(v + r"/sobjects/?$", api(self.describe_global_view)),
            re_path(v + t + r"/?$", api(self.sobject_view)),
            re_path(v + t + r"/describe/?$", api(self.describe_view)),
            re_path(v + t + r"/(?P<window>updated|deleted)/?$", api(self.replication_view)),
            re_path(v + t + r"/(?P<record_id>\w+)/?$", api(self.record_view)),
            re_path(v + t + r"/(?P<ext_field>\w+)/(?P<ext_value>[^/]+)/?$", api(self.external_id_view)),
        ]

    # --- OAuth ----------------------------------------------------------------------------------

    def authorize_view(self, request: HttpRequest) -> HttpResponse:
        """The consent page: Allow → redirect_uri?code&state, Deny → error=access_denied."""
        params = request.POST if request.method == "POST" else request.GET
        client_id, redirect_uri = params.get("client_id", ""), params.get("redirect_uri", "")
        state = params.get("state", "")
        if client_id != self.client_credentials()[0]:
            return HttpResponse(
                "error=invalid_client_id: client identifier invalid", status=400, content_type="text/plain"
            )
        if urlsplit(redirect_uri).scheme not in {"http", "https"}:
            return HttpResponse(
                "error=redirect_uri_mismatch: redirect_uri must match configuration",
                status=400,
                content_type="text/plain",
            )
        if params.get("response_type") != "code":
            return _redirect(
                redirect_uri,
                error="unsupported_response_type",
                error_description="response type not supported",
                state=state,
            )
        method = params.get("code_challenge_method", "S256")
        if params.get("code_challenge") and method != "S256":
            return _redirect(
                redirect_uri,
                error="invalid_request",
                error_description="code_challenge_method must be S256",
                state=state,
            )
        if request.method != "POST":
            return HttpResponse(self._consent_page(params))
        if params.get("decision") != "allow":
            return _redirect(
                redirect_uri,
                error="access_denied",
                error_description="end-user denied authorization",
                state=state,
            )
        code = SandboxAuthCode.objects.create(
            provider=self.provider,
            code=f"aPr{secrets.token_urlsafe(32)}",
            client_id=client_id,
            redirect_uri=redirect_uri,
            code_challenge=params.get("code_challenge", ""),
            scopes=(params.get("scope") or " ".join(SCOPES)).split(),
            expires_at=timezone.now() + timedelta(minutes=15),
        )
        return _redirect(redirect_uri, code=code.code, state=state)

    def _consent_page(self, params: Any) -> str:
        hidden = format_html_join(
            "",
            '<input type="hidden" name="{}" value="{}">',
            (
                (name, params.get(name, ""))
                for name in (
                    "response_type",
                    "client_id",
                    "redirect_uri",
                    "scope",
                    "state",
                    "code_challenge",
                    "code_challenge_method",
                )
            ),
        )
        return format_html(
            "<!doctype html><html><head><title>Allow Access? | Salesforce</title></head><body>"
            "<h1>Allow Access?</h1><p>The app <b>{}</b> is asking to access your Salesforce data "
            "(scopes: {}) as <b>sandbox.user@example.com</b>.</p>"
            '<form method="post">{}<button type="submit" name="decision" value="deny">Deny</button> '
            '<button type="submit" name="decision" value="allow">Allow</button></form></body></html>',
            params.get("client_id", ""),
            params.get("scope") or " ".join(SCOPES),
            hidden,
        )

    def oauth_token_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return JsonResponse(
                {"error": "invalid_request", "error_description": "must use HTTP POST"}, status=400
            )
        form = request.POST
        client_id, client_secret = self.client_credentials()
        if form.get("client_id") != client_id or not hmac.compare_digest(
            form.get("client_secret", "").encode(), client_secret.encode()
        ):
            return _oauth_error("invalid_client", "invalid client credentials")
        grant = form.get("grant_type", "")
        if grant == "authorization_code":
            return self._grant_code(request, form)
        if grant == "refresh_token":
            return self._grant_refresh(request, form)
        return _oauth_error("unsupported_grant_type", "grant type not supported")

    def _grant_code(self, request: HttpRequest, form: Any) -> HttpResponse:
        with transaction.atomic():
            code = SandboxAuthCode.objects.filter(provider=self.provider, code=form.get("code", "")).first()
            if code is None or code.used or code.expires_at <= timezone.now():
                return _oauth_error("invalid_grant", "authentication failure")
            if code.redirect_uri != form.get("redirect_uri", ""):
                return _oauth_error("redirect_uri_mismatch", "redirect_uri must match configuration")
            if code.code_challenge:
                verifier = form.get("code_verifier", "")
                if not verifier or not hmac.compare_digest(code_challenge(verifier), code.code_challenge):
                    return _oauth_error("invalid_grant", "invalid code verifier")
            if not SandboxAuthCode.objects.filter(pk=code.pk, used=False).update(used=True):
                return _oauth_error("invalid_grant", "authentication failure")
        token = self.issue_token(client_id=code.client_id, scopes=code.scopes, data=self.token_data(request))
        return JsonResponse(self.token_response(token, request))

    def _grant_refresh(self, request: HttpRequest, form: Any) -> HttpResponse:
        refresh = form.get("refresh_token", "")
        known = SandboxToken.objects.filter(
            provider=self.provider, refresh_token=refresh, revoked=False
        ).first()
        if not refresh or known is None:
            return _oauth_error("invalid_grant", "expired access/refresh token")
        token = self.issue_token(
            client_id=known.client_id, scopes=known.scopes, data=known.data, refresh=False
        )
        token.refresh_token = refresh  # not rotated: the same refresh token keeps working
        token.save(update_fields=["refresh_token"])
        return JsonResponse(self.token_response(token, request, include_refresh=False))

    def revoke_view(self, request: HttpRequest) -> HttpResponse:
        value = (request.POST if request.method == "POST" else request.GET).get("token", "")
        tokens = SandboxToken.objects.filter(provider=self.provider)
        found = tokens.filter(Q(access_token=value) | Q(refresh_token=value)).first() if value else None
        if found is None:
            return _oauth_error("invalid_token", "invalid token")
        if found.refresh_token == value:
            tokens.filter(refresh_token=value).update(
                revoked=True
            )  # a refresh token takes its sessions along
        else:
            tokens.filter(pk=found.pk).update(revoked=True)
        return HttpResponse(status=200)

    # --- discovery and limits -------------------------------------------------------------------

    def identity_view(self, request: HttpRequest, org_id: str, user_id: str) -> HttpResponse:
        """The Identity URL from the token response: who the session belongs to."""
        if (org_id, user_id) != (ORG_ID, USER_ID):
            return self.error(404, "The requested resource does not exist", code="NOT_FOUND")
        base = self.instance_url(request)
        return JsonResponse(
            {
                "id": f"{base}/id/{ORG_ID}/{USER_ID}",
                "organization_id": ORG_ID,
                "user_id": USER_ID,
                "username": "sandbox.user@example.com",
                "display_name": "Sandbox User",
                "active": True,
                "urls": {
                    "rest": f"{PREFIX}/services/data/v{{version}}/",
                    "query": f"{PREFIX}/services/data/v{{version}}/query/",
                },
            }
        )

    def versions_view(self, request: HttpRequest) -> HttpResponse:
        return JsonResponse(
            [
                {"label": _label(n), "url": f"{PREFIX}/services/data/v{n}.0", "version": f"{n}.0"}
                for n in SUPPORTED_VERSIONS
            ],
            safe=False,
        )

    def resources_view(self, request: HttpRequest, version: str) -> HttpResponse:
        if (bad := self._check_version(version)) is not None:
            return bad
        base = f"{PREFIX}/services/data/{version}"
        return JsonResponse(
            {name: f"{base}/{name}" for name in ("limits", "query", "queryAll", "sobjects", "composite")}
        )

    def limits_view(self, request: HttpRequest, version: str) -> HttpResponse:
        if (bad := self._check_version(version)) is not None:
            return bad
        state = self.state()
        limit = int(state.settings.get("daily_limit", DEFAULT_DAILY_LIMIT))
        return JsonResponse(
            {
                "DailyApiRequests": {"Max": limit, "Remaining": max(0, limit - state.requests)},
                "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
                "DataStorageMB": {"Max": 5, "Remaining": 5},
                "ConcurrentSyncLongRunningRequests": {"Max": 25, "Remaining": 25},
            }
        )

    def describe_global_view(self, request: HttpRequest, version: str) -> HttpResponse:
        if (bad := self._check_version(version)) is not None:
            return bad
        return JsonResponse(
            {
                "encoding": "UTF-8",
                "maxBatchSize": COMPOSITE_LIMIT,
                "sobjects": [
                    {
                        "name": spec.name,
                        "label": spec.name,
                        "keyPrefix": spec.prefix,
                        "queryable": True,
                        "createable": True,
                        "updateable": True,
                        "deletable": True,
                        "urls": {"sobject": f"{PREFIX}/services/data/{version}/sobjects/{spec.name}"},
                    }
                    for spec in OBJECTS.values()
                ],
            }
        )

    def describe_view(self, request: HttpRequest, version: str, sobject: str) -> HttpResponse:
        spec = self._resolve(version, sobject)
        if isinstance(spec, HttpResponse):
            return spec
        return JsonResponse(
            {
                "name": spec.name,
                "keyPrefix": spec.prefix,
                "fields": [
                    {
                        "name": name,
                        "type": f.type,
                        "createable": f.createable,
                        "updateable": f.updateable,
                        "nillable": not f.required and f.type != "boolean",
                        "externalId": f.external_id,
                        "defaultedOnCreate": f.default is not None,
                        "referenceTo": list(f.references),
                        "restrictedPicklist": f.restricted,
                        "picklistValues": [{"value": p, "label": p, "active": True} for p in f.picklist],
                    }
                    for name, f in spec.fields.items()
                ],
            }
        )

    # --- query ----------------------------------------------------------------------------------

    def query_view(self, request: HttpRequest, version: str, kind: str) -> HttpResponse:
        if (bad := self._check_version(version)) is not None:
            return bad
        if request.method != "GET":
            return self.error(405, f"HTTP Method '{request.method}' not allowed. Allowed are GET,HEAD")
        text = request.GET.get("q", "")
        try:
            query = soql.parse(text)
            spec = self._spec(query.sobject)
            if spec is None:
                raise soql.InvalidType(f"sObject type '{query.sobject}' is not supported.")
            query = soql.bind(query, spec.types, sobject=spec.name)
        except soql.SoqlError as exc:
            return self.error(400, str(exc), code=exc.code)
        ids = self._matching_pks(spec, query, include_deleted=kind == "queryAll")
        locator = {
            "type": spec.name,
            "fields": list(query.fields),
            "ids": ids,
            "all": kind == "queryAll",
            "batch": self._batch_size(request),
        }
        return self._query_page(version, locator, locator_id=None, offset=0)

    def query_more_view(
        self, request: HttpRequest, version: str, kind: str, locator: str, offset: str
    ) -> HttpResponse:
        if (bad := self._check_version(version)) is not None:
            return bad
        row = SandboxRecord.objects.filter(
            provider=self.provider,
            object_type=QUERY_LOCATOR,
            remote_id=locator,
            updated_at__gt=timezone.now() - LOCATOR_IDLE,
        ).first()
        if row is None or int(offset) > len(row.data["ids"]):
            return self.error(400, "invalid query locator", code="INVALID_QUERY_LOCATOR")
        SandboxRecord.objects.filter(pk=row.pk).update(updated_at=timezone.now())  # cursors expire when idle
        return self._query_page(version, row.data, locator_id=locator, offset=int(offset))

    def _batch_size(self, request: HttpRequest) -> int:
        options = request.headers.get("Sforce-Query-Options", "")
        match = re.search(r"batchSize\s*=\s*(\d+)", options)
        if not match:
            return QUERY_BATCH_MAX
        return min(max(int(match.group(1)), QUERY_BATCH_MIN), QUERY_BATCH_MAX)

    def _query_page(
        self, version: str, locator: dict[str, Any], *, locator_id: str | None, offset: int
    ) -> HttpResponse:
        ids, batch = locator["ids"], int(locator["batch"])
        page_ids = ids[offset : offset + batch]
        rows = SandboxRecord.objects.in_bulk(page_ids)
        spec = OBJECTS[locator["type"]]
        records = []
        for pk in page_ids:
            row = rows.get(pk)
            if row is None or (row.archived and not locator["all"]):
                continue  # hard-deleted by a reset, or deleted since the query ran
            full = self._wire(spec, row)
            records.append(
                {
                    "attributes": self._attributes(spec, row.remote_id, version),
                    **{name: full.get(name) for name in locator["fields"]},
                }
            )
        body: dict[str, Any] = {"totalSize": len(ids), "done": offset + batch >= len(ids), "records": records}
        if not body["done"]:
            if locator_id is None:
                locator_id = self._store_locator(locator)
            body["nextRecordsUrl"] = f"{PREFIX}/services/data/{version}/query/{locator_id}-{offset + batch}"
        return JsonResponse(body)

    def _store_locator(self, locator: dict[str, Any]) -> str:
        moment = timezone.now()
        stale = SandboxRecord.objects.filter(
            provider=self.provider, object_type=QUERY_LOCATOR, updated_at__lt=moment - LOCATOR_IDLE
        )
        stale.delete()
        locator_id = new_ids("01g")[0]
        SandboxRecord.objects.create(
            provider=self.provider,
            object_type=QUERY_LOCATOR,
            remote_id=locator_id,
            data=locator,
            created_at=moment,
            updated_at=moment,
        )
        return locator_id

    def _matching_pks(self, spec: ObjectSpec, query: soql.Query, *, include_deleted: bool) -> list[int]:
        """The primary keys of the result, in order. Indexed columns become ORM filters; the rest is
        evaluated in Python only when the query needs it."""
        rows = self.records(spec.name)
        if not include_deleted:
            rows = rows.filter(archived=False)
        residual = []
        for cond in query.where:
            lookup = _orm_condition(cond)
            if lookup is None:
                residual.append(cond)
            else:
                rows = rows.filter(lookup)
        order = _ORM_ORDER.get(query.order_by.field) if query.order_by else ("pk",)
        if not residual and order is not None:
            if query.order_by and query.order_by.descending:
                order = tuple(f"-{name}" for name in order)
            pks = rows.order_by(*order).values_list("pk", flat=True)
            return list(pks[: query.limit] if query.limit is not None else pks)
        candidates = [
            (row.pk, self._wire(spec, row)) for row in rows.order_by("pk").iterator(chunk_size=2000)
        ]
        matching = [(pk, record) for pk, record in candidates if soql.matches(record, residual, spec.types)]
        if query.order_by:
            by_identity = {id(record): pk for pk, record in matching}
            ordered = soql.sort_records([record for _, record in matching], query.order_by, spec.types)
            result = [by_identity[id(record)] for record in ordered]
        else:
            result = [pk for pk, _ in matching]
        return result[: query.limit] if query.limit is not None else result

    # --- records --------------------------------------------------------------------------------

    def sobject_view(self, request: HttpRequest, version: str, sobject: str) -> HttpResponse:
        spec = self._resolve(version, sobject)
        if isinstance(spec, HttpResponse):
            return spec
        if request.method == "GET":
            recent = self.records(spec.name).filter(archived=False).order_by("-updated_at")[:10]
            return JsonResponse(
                {
                    "objectDescribe": {"name": spec.name, "keyPrefix": spec.prefix},
                    "recentItems": [
                        self._attributes(spec, r.remote_id, version) | {"Id": r.remote_id} for r in recent
                    ],
                }
            )
        if request.method != "POST":
            return self.error(405, f"HTTP Method '{request.method}' not allowed. Allowed are GET,HEAD,POST")
        body = json_body(request)
        if not isinstance(body, dict):
            return self.error(
                400, "Unexpected character: the body must be a JSON object", code="JSON_PARSER_ERROR"
            )
        try:
            values = self._clean(spec, body, creating=True)
            remote_id = self._insert(spec, [values])[0]
        except (RequestError, RecordError) as exc:
            return self._refusal(exc)
        return JsonResponse({"id": remote_id, "success": True, "errors": []}, status=201)

    def record_view(self, request: HttpRequest, version: str, sobject: str, record_id: str) -> HttpResponse:
        spec = self._resolve(version, sobject)
        if isinstance(spec, HttpResponse):
            return spec
        row = self._find(spec, record_id)
        if row is None or (row.archived and request.method == "GET"):
            return self.error(404, "The requested resource does not exist", code="NOT_FOUND")
        if row.archived:
            return self.error(404, "entity is deleted", code="ENTITY_IS_DELETED")
        if request.method == "GET":
            full = self._wire(spec, row)
            wanted = [name for name in request.GET.get("fields", "").split(",") if name.strip()]
            if wanted:
                names = [spec.lookup(name.strip()) for name in wanted]
                if None in names:
                    missing = wanted[names.index(None)]
                    return self.error(
                        400,
                        f"No such column '{missing}' on sobject of type {spec.name}",
                        code="INVALID_FIELD",
                    )
                full = {name: full.get(name) for name in names if name}
            return JsonResponse({"attributes": self._attributes(spec, row.remote_id, version), **full})
        if request.method == "PATCH":
            body = json_body(request)
            if not isinstance(body, dict):
                return self.error(400, "the body must be a JSON object", code="JSON_PARSER_ERROR")
            try:
                values = self._clean(spec, body, creating=False, current=row.data)
            except (RequestError, RecordError) as exc:
                return self._refusal(exc)
            self._save(row, values)
            return HttpResponse(status=204)
        if request.method == "DELETE":
            self._recycle([row])
            return HttpResponse(status=204)
        return self.error(
            405, f"HTTP Method '{request.method}' not allowed. Allowed are GET,HEAD,PATCH,DELETE"
        )

    def external_id_view(
        self, request: HttpRequest, version: str, sobject: str, ext_field: str, ext_value: str
    ) -> HttpResponse:
        """Upsert (PATCH) or read (GET) by an external-id field: 201 created, 204 updated, 300 ambiguous."""
        spec = self._resolve(version, sobject)
        if isinstance(spec, HttpResponse):
            return spec
        field_name = spec.lookup(ext_field)
        if field_name is None or not (spec.fields[field_name].external_id or field_name == "Id"):
            return self.error(
                404,
                f"Provided external ID field does not exist or is not accessible: {ext_field}",
                code="NOT_FOUND",
            )
        if field_name == "Id":
            found = [row] if (row := self._find(spec, ext_value)) is not None and not row.archived else []
        else:
            found = list(
                self.records(spec.name)
                .filter(archived=False)
                .alias(ext=Cast(KeyTextTransform(field_name, "data"), CharField()))  # Cast: compare as text
                .filter(ext=ext_value)[:50]
            )
        if len(found) > 1:
            return JsonResponse(
                [f"{PREFIX}/services/data/{version}/sobjects/{spec.name}/{row.remote_id}" for row in found],
                status=300,
                safe=False,
            )
        if request.method == "GET":
            if not found:
                return self.error(404, "The requested resource does not exist", code="NOT_FOUND")
            return JsonResponse(
                {
                    "attributes": self._attributes(spec, found[0].remote_id, version),
                    **self._wire(spec, found[0]),
                }
            )
        if request.method != "PATCH":
            return self.error(405, f"HTTP Method '{request.method}' not allowed. Allowed are GET,HEAD,PATCH")
        body = json_body(request)
        if not isinstance(body, dict):
            return self.error(400, "the body must be a JSON object", code="JSON_PARSER_ERROR")
        if any(spec.lookup(name) in {"Id", field_name} for name in body if name != "attributes"):
            return self.error(
                400,
                f"The field {field_name} must not be in the body of an upsert by {field_name}",
                code="INVALID_FIELD",
                fields=[field_name],
            )
        try:
            if found:
                self._save(found[0], self._clean(spec, body, creating=False, current=found[0].data))
                return HttpResponse(status=204)
            if request.GET.get("updateOnly") == "true":
                return self.error(404, "The requested resource does not exist", code="NOT_FOUND")
            values = self._clean(spec, body, creating=True)
            if field_name != "Id":
                values[field_name] = ext_value
            remote_id = self._insert(spec, [values])[0]
        except (RequestError, RecordError) as exc:
            return self._refusal(exc)
        return JsonResponse({"id": remote_id, "success": True, "errors": [], "created": True}, status=201)

    def replication_view(self, request: HttpRequest, version: str, sobject: str, window: str) -> HttpResponse:
        """``updated/`` and ``deleted/``: ids in a [start, end] window; seconds are ignored, as Salesforce does."""
        spec = self._resolve(version, sobject)
        if isinstance(spec, HttpResponse):
            return spec
        # A '+' in an unencoded offset arrives as a space.
        start = parse_datetime(request.GET.get("start", "").replace(" ", "+"))
        end = parse_datetime(request.GET.get("end", "").replace(" ", "+"))
        if start is None or end is None:
            return self.error(400, "start and end must be ISO 8601 date-times", code="MISSING_ARGUMENT")
        start, end = start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0)
        moment = timezone.now().astimezone(UTC)
        earliest = (moment - (RECYCLE_BIN_RETENTION if window == "deleted" else UPDATED_WINDOW)).replace(
            second=0, microsecond=0
        )
        if end <= start:
            return self.error(400, "end date must be after start date", code="INVALID_REPLICATION_DATE")
        if start < earliest:
            return self.error(
                400,
                f"startDate cannot be before {format_datetime(earliest)}",
                code="INVALID_REPLICATION_DATE",
            )
        covered = min(end, moment.replace(second=0, microsecond=0))
        rows = self.records(spec.name)
        if window == "deleted":
            rows = rows.filter(archived=True, archived_at__gte=start, archived_at__lte=covered)
            found = list(
                rows.order_by("archived_at").values_list("remote_id", "archived_at")[
                    : MAX_REPLICATION_IDS + 1
                ]
            )
            if len(found) > MAX_REPLICATION_IDS:
                return self.error(400, "too many ids: narrow the window", code="EXCEEDED_ID_LIMIT")
            return JsonResponse(
                {
                    "deletedRecords": [
                        {"id": rid, "deletedDate": format_datetime(when)} for rid, when in found
                    ],
                    "earliestDateAvailable": format_datetime(earliest),
                    "latestDateCovered": format_datetime(covered),
                }
            )
        rows = rows.filter(archived=False, updated_at__gte=start, updated_at__lte=covered)
        ids = list(rows.order_by("updated_at").values_list("remote_id", flat=True)[: MAX_REPLICATION_IDS + 1])
        if len(ids) > MAX_REPLICATION_IDS:
            return self.error(400, "too many ids: narrow the window", code="EXCEEDED_ID_LIMIT")
        return JsonResponse({"ids": ids, "latestDateCovered": format_datetime(covered)})

    # --- sObject Collections ----------------------------------------------------------------------

    def collections_view(self, request: HttpRequest, version: str) -> HttpResponse:
        if (bad := self._check_version(version)) is not None:
            return bad
        if request.method == "DELETE":
            ids = [value for value in request.GET.get("ids", "").split(",") if value]
            all_or_none = request.GET.get("allOrNone", "false").lower() == "true"
            if not ids:
                return self.error(400, "ids is required", code="MISSING_ARGUMENT")
            if len(ids) > COMPOSITE_LIMIT:
                return self._too_many()
            return JsonResponse(self._collection_delete(ids, all_or_none), safe=False)
        if request.method not in {"POST", "PATCH"}:
            return self.error(
                405, f"HTTP Method '{request.method}' not allowed. Allowed are POST,PATCH,DELETE"
            )
        body = json_body(request)
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("records"), list)
            or not all(isinstance(record, dict) for record in body["records"])
        ):
            return self.error(400, "records must be a list of sObjects", code="JSON_PARSER_ERROR")
        records, all_or_none = body["records"], bool(body.get("allOrNone", False))
        if len(records) > COMPOSITE_LIMIT:
            return self._too_many()
        types = [str((record.get("attributes") or {}).get("type") or "") for record in records]
        if sum(1 for i, name in enumerate(types) if i == 0 or name != types[i - 1]) > MAX_CHUNKS:
            return self.error(
                400,
                "Cannot have more than 10 chunks in a single operation. Please rearrange the "
                "data to reduce chunking.",
                code="INVALID_BATCH_REQUEST",
            )
        try:
            if request.method == "POST":
                return JsonResponse(self._collection_create(records, all_or_none), safe=False)
            return JsonResponse(self._collection_update(records, all_or_none), safe=False)
        except RequestError as exc:
            return self._refusal(exc)

    def _too_many(self) -> HttpResponse:
        return self.error(
            400,
            "record limit reached. cannot submit more than 200 records into this call",
            code="EXCEEDED_ID_LIMIT",
        )

    def _collection_create(self, records: list[dict[str, Any]], all_or_none: bool) -> list[dict[str, Any]]:
        results: list[dict[str, Any] | None] = []
        prepared: list[tuple[int, ObjectSpec, dict[str, Any]]] = []
        for index, record in enumerate(records):
            spec = self._spec(str((record.get("attributes") or {}).get("type") or ""))
            if spec is None:
                results.append(
                    _failure(
                        {
                            "statusCode": "INVALID_TYPE",
                            "message": "Must send a concrete entity type.",
                            "fields": [],
                        }
                    )
                )
                continue
            if "Id" in record:
                results.append(
                    _failure(
                        {
                            "statusCode": "INVALID_FIELD",
                            "message": "Id must not be set on insert",
                            "fields": ["Id"],
                        }
                    )
                )
                continue
            try:
                prepared.append((index, spec, self._clean(spec, record, creating=True)))
                results.append(None)
            except RecordError as exc:
                results.append(_failure(exc.as_item()))
        if self._rolled_back(results, all_or_none):
            return self._rollback(results)
        with transaction.atomic():
            for spec in {spec.name: spec for _, spec, _ in prepared}.values():
                batch = [(index, values) for index, s, values in prepared if s.name == spec.name]
                for (index, _), remote_id in zip(
                    batch, self._insert(spec, [v for _, v in batch]), strict=True
                ):
                    results[index] = {"id": remote_id, "success": True, "errors": []}
        return [result for result in results if result is not None]

    def _collection_update(self, records: list[dict[str, Any]], all_or_none: bool) -> list[dict[str, Any]]:
        ids = [normalize_id(record.get("Id")) for record in records]
        rows = {
            row.remote_id: row
            for row in SandboxRecord.objects.filter(
                provider=self.provider, remote_id__in=[i for i in ids if i]
            ).exclude(object_type=QUERY_LOCATOR)
        }
        results: list[dict[str, Any] | None] = []
        prepared: list[tuple[int, SandboxRecord, dict[str, Any]]] = []
        seen: set[str] = set()
        for index, (record, remote_id) in enumerate(zip(records, ids, strict=True)):
            row = rows.get(remote_id or "")
            given_type = (record.get("attributes") or {}).get("type")
            problem = _target_problem(record.get("Id"), remote_id, row, seen, given_type)
            if problem is not None or row is None:
                results.append(_failure(problem or {}, remote_id))
                continue
            try:
                values = self._clean(OBJECTS[row.object_type], record, creating=False, current=row.data)
                prepared.append((index, row, values))
                results.append(None)
            except RecordError as exc:
                results.append(_failure(exc.as_item(), remote_id))
        if self._rolled_back(results, all_or_none):
            return self._rollback(results)
        with transaction.atomic():
            for index, row, values in prepared:
                self._save(row, values)
                results[index] = {"id": row.remote_id, "success": True, "errors": []}
        return [result for result in results if result is not None]

    def _collection_delete(self, raw_ids: list[str], all_or_none: bool) -> list[dict[str, Any]]:
        ids = [normalize_id(value) for value in raw_ids]
        rows = {
            row.remote_id: row
            for row in SandboxRecord.objects.filter(
                provider=self.provider, remote_id__in=[i for i in ids if i]
            ).exclude(object_type=QUERY_LOCATOR)
        }
        results: list[dict[str, Any] | None] = []
        doomed: list[tuple[int, SandboxRecord]] = []
        seen: set[str] = set()
        for index, (raw, remote_id) in enumerate(zip(raw_ids, ids, strict=True)):
            row = rows.get(remote_id or "")
            problem = _target_problem(raw, remote_id, row, seen)
            if problem is not None or row is None:
                results.append(_failure(problem or {}, remote_id))
            else:
                doomed.append((index, row))
                results.append(None)
        if self._rolled_back(results, all_or_none):
            return self._rollback(results)
        self._recycle([row for _, row in doomed])
        for index, row in doomed:
            results[index] = {"id": row.remote_id, "success": True, "errors": []}
        return [result for result in results if result is not None]

    @staticmethod
    def _rolled_back(results: list[dict[str, Any] | None], all_or_none: bool) -> bool:
        return all_or_none and any(result is not None for result in results)

    @staticmethod
    def _rollback(results: list[dict[str, Any] | None]) -> list[dict[str, Any]]:
        rolled = {
            "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
            "fields": [],
            "message": "Record rolled back because not all records were valid and the request was using "
            "AllOrNone header",
        }
        return [result if result is not None else _failure(rolled) for result in results]

    # --- validation and storage -------------------------------------------------------------------

    def _clean(
        self, spec: ObjectSpec, body: dict[str, Any], *, creating: bool, current: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Values to store for a create or update; RequestError for the whole request, RecordError for this one."""
        values: dict[str, Any] = {}
        for raw_name, raw in body.items():
            if raw_name == "attributes":
                continue
            name = spec.lookup(raw_name)
            if name is None:
                raise RequestError(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{raw_name}' on sobject of type {spec.name}",
                    [raw_name],
                )
            if name == "Id" and not creating:
                continue  # collections updates name their record with Id
            fs = spec.fields[name]
            if not (fs.createable if creating else fs.updateable):
                raise RecordError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {name}. "
                    "Please check the security settings of this field and verify that it is "
                    "read/write for your profile or permission set.",
                    [name],
                )
            values[name] = _coerce(spec, name, fs, raw)
        if creating:
            defaults = {name: fs.default for name, fs in spec.fields.items() if fs.default is not None}
            values = {**defaults, "OwnerId": USER_ID, **{k: v for k, v in values.items() if v is not None}}
        merged = {**(current or {}), **values}
        missing = [name for name, fs in spec.fields.items() if fs.required and merged.get(name) in (None, "")]
        if missing:
            raise RecordError(
                "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
            )
        for name, value in values.items():
            if value is not None:
                values[name] = self._check_value(spec, name, spec.fields[name], value)
        return values

    def _check_value(self, spec: ObjectSpec, name: str, fs: FieldSpec, value: Any) -> Any:
        if fs.type == "email" and not _EMAIL.match(str(value)):
            raise RecordError("INVALID_EMAIL_ADDRESS", f"{name}: invalid email address: {value}", [name])
        if fs.restricted and value not in fs.picklist:
            raise RecordError(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{name}: bad value for restricted picklist field: {value}",
                [name],
            )
        if fs.type == "reference":
            remote_id = normalize_id(value)
            target = type_of_id(remote_id) if remote_id else None
            if remote_id is None or target not in fs.references:
                raise RecordError("MALFORMED_ID", f"{name}: id value of incorrect type: {value}", [name])
            if (
                target != "User"
                and not self.records(target).filter(remote_id=remote_id, archived=False).exists()
            ):
                raise RecordError(
                    "INVALID_CROSS_REFERENCE_KEY", f"{name}: invalid cross reference id", [name]
                )
            return remote_id
        return value

    def _insert(self, spec: ObjectSpec, rows: list[dict[str, Any]]) -> list[str]:
        moment = now_ms()
        ids = new_ids(spec.prefix, len(rows))
        SandboxRecord.objects.bulk_create(
            [
                SandboxRecord(
                    provider=self.provider,
                    object_type=spec.name,
                    remote_id=remote_id,
                    data=values,
                    created_at=moment,
                    updated_at=moment,
                )
                for remote_id, values in zip(ids, rows, strict=True)
            ]
        )
        return ids

    def _save(self, row: SandboxRecord, values: dict[str, Any]) -> None:
        row.data = {**row.data, **values}
        row.updated_at = now_ms()
        row.save(update_fields=["data", "updated_at"])

    def _recycle(self, rows: list[SandboxRecord]) -> None:
        """Move records to the Recycle Bin: IsDeleted, and a fresh SystemModstamp for replication."""
        moment = now_ms()
        SandboxRecord.objects.filter(pk__in=[row.pk for row in rows]).update(
            archived=True, archived_at=moment, updated_at=moment
        )

    def _wire(self, spec: ObjectSpec, row: SandboxRecord) -> dict[str, Any]:
        """The record as Salesforce shows it: every field (null when unset) plus system fields."""
        data = row.data
        record = {name: data.get(name) for name in spec.fields}
        record.update(
            {
                "Id": row.remote_id,
                "IsDeleted": row.archived,
                "CreatedDate": format_datetime(row.created_at),
                "LastModifiedDate": format_datetime(row.updated_at),
                "SystemModstamp": format_datetime(row.updated_at),
            }
        )
        if "Name" in spec.fields and not spec.fields["Name"].createable:
            record["Name"] = " ".join(part for part in (data.get("FirstName"), data.get("LastName")) if part)
        return record

    @staticmethod
    def _attributes(spec: ObjectSpec, remote_id: str, version: str) -> dict[str, str]:
        return {
            "type": spec.name,
            "url": f"{PREFIX}/services/data/{version}/sobjects/{spec.name}/{remote_id}",
        }

    def _find(self, spec: ObjectSpec, record_id: str) -> SandboxRecord | None:
        remote_id = normalize_id(record_id)
        if remote_id is None:
            return None
        return self.records(spec.name).filter(remote_id=remote_id).first()

    @staticmethod
    def _spec(name: str) -> ObjectSpec | None:
        return next((spec for known, spec in OBJECTS.items() if known.lower() == name.lower()), None)

    def _check_version(self, version: str) -> HttpResponse | None:
        number = version[1:].split(".")[0]
        if not number.isdigit() or int(number) not in SUPPORTED_VERSIONS:
            return self.error(404, "The requested resource does not exist", code="NOT_FOUND")
        return None

    def _resolve(self, version: str, sobject: str) -> ObjectSpec | HttpResponse:
        """The object named in the URL, or the 404 to answer."""
        bad = self._check_version(version)
        if bad is not None:
            return bad
        spec = self._spec(sobject)
        if spec is None:
            return self.error(
                404,
                f"The requested resource does not exist: sObject type '{sobject}' is not supported.",
                code="NOT_FOUND",
            )
        return spec

    def _refusal(self, exc: RequestError | RecordError) -> HttpResponse:
        status = exc.status if isinstance(exc, RequestError) else 400
        return self.error(status, exc.message, code=exc.code, fields=exc.fields)

    def _seed_data(self, sobject: str, n: int) -> dict[str, Any]:
        data: dict[str, Any] = {"OwnerId": USER_ID}
        if sobject in {"Contact", "Lead"}:
            data |= {
                "FirstName": f"Seed{n}",
                "LastName": f"Person{n}",
                "Email": f"seed{n}@example.com",
                "Phone": f"+1415555{n % 10_000:04d}",
            }
            if sobject == "Lead":
                data |= {"Company": f"Seed Co {n}", "Status": "Open - Not Contacted"}
        elif sobject == "Account":
            data |= {"Name": f"Seed Account {n}", "Website": f"seed{n}.example.com", "Industry": "Technology"}
        elif sobject == "Opportunity":
            data |= {
                "Name": f"Seed Deal {n}",
                "StageName": "Prospecting",
                "CloseDate": "2025-12-31",
                "Amount": float(1000 + n),
            }
        elif sobject == "Task":
            data |= {
                "Subject": f"Seed task {n}",
                "Status": "Not Started",
                "Priority": "Normal",
                "TaskSubtype": "Task",
                "ActivityDate": "2025-12-31",
            }
        else:
            data |= {"Subject": f"Seed event {n}", "ActivityDate": "2025-12-31", "DurationInMinutes": 30}
        return data

    # --- Outbound Messaging -----------------------------------------------------------------------

    def _default_events(self) -> list[dict[str, Any]]:
        recent = list(self.records("Contact").filter(archived=False).order_by("-updated_at")[:5])
        if not recent:
            values = self._clean(OBJECTS["Contact"], self.sample_record("contact", 0), creating=True)
            self._insert(OBJECTS["Contact"], [values])
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


# --- ORM translation of indexed SOQL conditions ----------------------------------------------------

_COLUMNS = {
    "SystemModstamp": "updated_at",
    "LastModifiedDate": "updated_at",
    "CreatedDate": "created_at",
    "IsDeleted": "archived",
    "Id": "remote_id",
}
_ORM_ORDER = {
    "SystemModstamp": ("updated_at", "pk"),
    "LastModifiedDate": ("updated_at", "pk"),
    "CreatedDate": ("created_at", "pk"),
    "Id": ("remote_id",),
}
_LOOKUPS = {"=": "exact", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte", "IN": "in"}


def _orm_condition(cond: soql.Condition) -> Q | None:
    """A Q on an indexed column for the condition, or None when it must be evaluated in Python."""
    column = _COLUMNS.get(cond.field)
    if column is None or cond.op == "LIKE":
        return None
    values = list(cond.value) if cond.op in soql.SET_OPERATORS else [cond.value]
    if column == "remote_id":
        if cond.op not in {"=", "!=", "IN", "NOT IN"}:
            return None
        # Ids compare in their 18-char form: a 15-char literal names the same record.
        values = [normalize_id(v) or "" for v in values if v is not None]
    if any(v is None for v in values):
        # No stored record has a null Id, date or flag: "= null" matches nothing, "!= null" everything.
        return Q(pk__in=[]) if cond.op in {"=", "IN"} else Q()
    negate = cond.op in {"!=", "NOT IN"}
    lookup = _LOOKUPS["IN" if cond.op in soql.SET_OPERATORS else ("=" if negate else cond.op)]
    q = Q(**{f"{column}__{lookup}": values if lookup == "in" else values[0]})
    return ~q if negate else q


def _target_problem(
    raw: Any, remote_id: str | None, row: SandboxRecord | None, seen: set[str], given_type: str | None = None
) -> dict[str, Any] | None:
    """The per-item error for a record an update or delete names, or None when it may be changed."""
    if not raw:
        code, message = "MISSING_ARGUMENT", "Id not specified in an update call"
    elif remote_id is None:
        code, message = "MALFORMED_ID", f"malformed id {raw}"
    elif remote_id in seen:
        code, message = "DUPLICATE_VALUE", "duplicate id in list"
    elif row is None or (given_type and given_type != row.object_type):
        code, message = "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id"
    elif row.archived:
        code, message = "ENTITY_IS_DELETED", "entity is deleted"
    else:
        seen.add(remote_id)
        return None
    return {"statusCode": code, "message": message, "fields": []}


def _coerce(spec: ObjectSpec, name: str, fs: FieldSpec, raw: Any) -> Any:
    """A JSON value in the field's stored form; JSON_PARSER_ERROR (whole request) when it cannot be one."""
    if raw is None:
        return None

    def refuse(kind: str) -> RequestError:
        shown = json.dumps(raw)[:60]
        return RequestError(
            400,
            "JSON_PARSER_ERROR",
            f"Cannot deserialize instance of {kind} from value {shown} "
            "or request may be missing a required field",
            [name],
        )

    if fs.type in soql.NUMERIC_TYPES:
        if isinstance(raw, bool):
            raise refuse("double")
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise refuse("double") from None
        return int(number) if fs.type == "int" and number.is_integer() else number
    if fs.type == "boolean":
        if not isinstance(raw, bool):
            raise refuse("boolean")
        return raw
    if fs.type == "date":
        if not isinstance(raw, str) or len(raw) != 10:
            raise refuse("date")
        try:
            return date.fromisoformat(raw).isoformat()
        except ValueError:
            raise refuse("date") from None
    if fs.type == "datetime":
        parsed = parse_datetime(raw) if isinstance(raw, str) else None
        if parsed is None:
            raise refuse("dateTime")
        return format_datetime(parsed)
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise refuse("string")
    return str(raw)


def _redirect(uri: str, **params: str) -> HttpResponse:
    separator = "&" if urlsplit(uri).query else "?"
    return HttpResponseRedirect(uri + separator + urlencode({k: v for k, v in params.items() if v}))


def _oauth_error(error: str, description: str) -> HttpResponse:
    return JsonResponse({"error": error, "error_description": description}, status=400)


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


emulator = SalesforceEmulator()
