"""MissionX emulator state: accounts (one per API key issued), portals, files and their bodies.

Each key ``connect`` or ``_control/token`` issues opens its own account, with the webhook secret the
emulator signs that account's events with; portals and files belong to the account whose key made
them, and another account's ids answer 404 as they would at MissionX.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse

from connectors.sandbox.delivery import DELIVERIES as DELIVERIES  # the onboarding tests read the log
from connectors.sandbox.delivery import SignedWebhooks
from connectors.sandbox.emulator import iso_ms as iso
from connectors.sandbox.emulator import json_body, now_ms, parse_iso
from connectors.sandbox.emulator import mount_url as sandbox_mount_url
from connectors.sandbox.models import SandboxRecord, SandboxToken

PORTALS, FILES = "portals", "files"
STATUSES = ("pending", "active", "disabled")
STATUS_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    429: "rate_limited",
}
# Path segments that follow the mount (``/sandbox/missionx``) in every URL the emulator serves.
_MARKERS = ("/v1/", "/_control/", "/p/")


def encode_cursor(record: SandboxRecord) -> str:
    raw = json.dumps([iso(record.updated_at), record.pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    try:
        stamp, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        when = parse_iso(str(stamp))
        return (when, int(pk)) if when is not None else None
    except (ValueError, TypeError, binascii.Error):
        return None


def mount_url(request: HttpRequest) -> str:
    return sandbox_mount_url(request, _MARKERS)


class MissionXStore(SignedWebhooks):
    provider = "missionx"
    rate_limit = (10, 1)
    token_prefix = "mx"  # noqa: S105 (a prefix for generated keys)

    # --- provider shapes ------------------------------------------------------------------------

    def error(self, status: int, message: str, *, code: str = "", **extra: Any) -> HttpResponse:
        code = code or STATUS_CODES.get(status, "server_error")
        return JsonResponse({"error": {"code": code, "message": message, **extra}}, status=status)

    def unauthorized(self) -> HttpResponse:
        return self.error(401, "invalid API key: send Authorization: Bearer <key>")

    def rate_limited_response(self, *, retry_after: float) -> HttpResponse:
        response = self.error(429, "too many requests: at most 10 per second per key")
        response["Retry-After"] = str(max(1, int(retry_after + 0.999)))
        return response

    # --- accounts -------------------------------------------------------------------------------

    def token_data(self, request: HttpRequest | None) -> dict[str, Any]:
        """A new account per issued key, with its own webhook signing secret."""
        return {
            "account": f"acc_{secrets.token_hex(6)}",
            "webhook_secret": f"mxwh_{secrets.token_urlsafe(24)}",
        }

    def token_response(self, token: SandboxToken, request: HttpRequest) -> dict[str, Any]:
        return {**super().token_response(token, request), "webhook_secret": token.data["webhook_secret"]}

    def connect(self, sandbox_base: str) -> tuple[dict[str, Any], None]:
        """A config for a fresh account: API key and the secret its webhooks are signed with."""
        token = self.issue_token(kind="api_key", refresh=False, data=self.token_data(None))
        config = {
            "base_url": f"{sandbox_base.rstrip('/')}/missionx",
            "api_key": token.access_token,
            "webhook_secret": token.data["webhook_secret"],
        }
        return config, None

    # --- portals and files ------------------------------------------------------------------------

    def portals(self, account: str) -> QuerySet[SandboxRecord]:
        return self.records(PORTALS).filter(data__account=account)

    def portal_dict(self, record: SandboxRecord, base: str) -> dict[str, Any]:
        data = record.data
        return {
            "id": record.remote_id,
            "url": f"{base}/p/{record.remote_id}",
            "status": data["status"],
            "uploads_enabled": data["uploads_enabled"],
            "client_name": data["client_name"],
            "email": data["email"],
            "external_id": data["external_id"],
            "created_at": iso(record.created_at),
            "updated_at": iso(record.updated_at),
        }

    def file_dict(self, record: SandboxRecord, base: str) -> dict[str, Any]:
        data = record.data
        return {
            "id": record.remote_id,
            "portal_id": data["portal_id"],
            "filename": data["filename"],
            "size": data["size"],
            "content_type": data["content_type"],
            "uploaded_at": iso(record.created_at),
            "download_url": f"{base}/v1/files/{record.remote_id}/download",
        }

    def portal_make(self, account: str, *, client_name: str, email: str, external_id: str) -> SandboxRecord:
        now = now_ms()
        return SandboxRecord.objects.create(
            provider=self.provider,
            object_type=PORTALS,
            remote_id=f"prt_{secrets.token_hex(8)}",
            data={
                "account": account,
                "client_name": client_name,
                "email": email,
                "external_id": external_id,
                "status": "pending",
                "uploads_enabled": False,
            },
            created_at=now,
            updated_at=now,
        )

    def file_make(
        self, portal: SandboxRecord, *, filename: str, content: bytes, content_type: str
    ) -> SandboxRecord:
        now = now_ms()
        return SandboxRecord.objects.create(
            provider=self.provider,
            object_type=FILES,
            remote_id=f"fil_{secrets.token_hex(8)}",
            data={
                "account": portal.data["account"],
                "portal_id": portal.remote_id,
                "filename": filename,
                "size": len(content),
                "content_type": content_type,
                "content_base64": base64.b64encode(content).decode(),
            },
            created_at=now,
            updated_at=now,
        )

    def changed_page(
        self, account: str, *, since: datetime | None, after: tuple[datetime, int] | None, limit: int
    ) -> tuple[list[SandboxRecord], bool]:
        """Portals changed at or after ``since``, oldest change first, after the cursor's position."""
        rows = self.portals(account)
        if since is not None:
            rows = rows.filter(updated_at__gte=since)
        if after is not None:
            stamp, pk = after
            rows = rows.filter(Q(updated_at__gt=stamp) | Q(updated_at=stamp, pk__gt=pk))
        page = list(rows.order_by("updated_at", "pk")[: limit + 1])
        return page[:limit], len(page) > limit

    def seed(self, object_type: str, count: int, request: HttpRequest | None) -> int:
        """``portals``: ``count`` pending portals for the account of the body's ``api_key`` (else
        the most recently issued key's)."""
        if object_type != PORTALS:
            raise ValueError(f"missionx emulator can seed only {PORTALS!r}")
        body = json_body(request) if request is not None else {}
        tokens = SandboxToken.objects.filter(provider=self.provider)
        if isinstance(body, dict) and body.get("api_key"):
            tokens = tokens.filter(access_token=str(body["api_key"]))
        token = tokens.order_by("-pk").first()
        if token is None:
            raise ValueError("issue a key first (connect or _control/token)")
        for n in range(count):
            self.portal_make(
                token.data["account"],
                client_name=f"Client {n + 1}",
                email=f"client{n + 1}@example.com",
                external_id=f"seed-{n + 1}",
            )
        return count
