"""À La Carte Chat emulator state and shapes: the business, API keys, and the objects as the API
shows them (customers, conversations, messages, attachments).

The sandbox is one business (its id, webhook secret and WhatsApp account made on first use, gone on
reset); every key ``connect`` or ``_control/token`` issues is an API key of that business, as keys
made under Settings → API Access are. Errors are ``{"error": "<message>"}``; 401 for a missing or
unknown ``x-api-key``; 10 requests per second per key (``rate_per_second`` setting) → 429
``{"error": "rate_limited"}`` with ``Retry-After: 1``.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse

from connectors.sandbox.delivery import SignedWebhooks
from connectors.sandbox.emulator import iso_ms
from connectors.sandbox.emulator import mount_url as sandbox_mount_url
from connectors.sandbox.models import SandboxRecord, SandboxState, SandboxToken

CUSTOMERS, CONVERSATIONS, MESSAGES = "customers", "conversations", "messages"
ATTACHMENTS, SSO_TOKENS = "attachments", "sso_tokens"
STRING_FIELDS = (
    "name",
    "email",
    "phone",
    "whatsapp_number",
    "first_name",
    "last_name",
    "address",
    "notes",
    "external_id",
    "external_system",
)
CHANNELS = ("whatsapp", "email", "sms", "facebook", "instagram")
CONVERSATION_STATUSES = ("open", "pending", "closed")
DEFAULT_RATE_PER_SECOND = 10
# Path segments that follow the mount (``/sandbox/alacarte``) in every URL the emulator serves.
_MARKERS = ("/api-", "/api/", "/_control/", "/embed/", "/files/")


def mount_url(request: HttpRequest) -> str:
    return sandbox_mount_url(request, _MARKERS)


def new_id() -> str:
    return str(uuid.uuid4())


class AlaCarteStore(SignedWebhooks):
    provider = "alacarte"
    token_prefix = "alc"  # noqa: S105 (a prefix for generated keys)
    token_lifetime = None  # API keys do not expire
    webhook_user_agent = "AlaCarteChat-Webhooks/1.0 (sandbox)"
    # The demo's story (``make run``): one customer who is also a contact of the demo sub-account
    # (seed1@example.com) wrote in on WhatsApp; once the platform pushes its contacts, the upsert
    # matches her by e-mail and her message shows on her contact page.
    demo_seed = {"demo_conversation": 1}

    @property
    def rate_limit(self) -> tuple[int, int]:  # type: ignore[override]
        """Per key per second; the ``rate_per_second`` setting changes it."""
        return int(self.setting("rate_per_second", DEFAULT_RATE_PER_SECOND)), 1

    # --- provider shapes ------------------------------------------------------------------------

    def error(self, status: int, message: str, *, code: str = "", **extra: Any) -> HttpResponse:
        return JsonResponse({"error": message, **extra}, status=status)

    def unauthorized(self) -> HttpResponse:
        return self.error(401, "Invalid API key")

    def rate_limited_response(self, *, retry_after: float) -> HttpResponse:
        response = self.error(429, "rate_limited")
        response["Retry-After"] = "1"
        return response

    def authenticate(self, request: HttpRequest) -> SandboxToken | None:
        key = request.headers.get("x-api-key", "").strip()
        if not key:
            return None
        return SandboxToken.objects.filter(provider=self.provider, access_token=key, revoked=False).first()

    # --- the business and its keys ----------------------------------------------------------------

    def business(self) -> dict[str, str]:
        """The sandbox business: id, webhook secret, WhatsApp account; made once, under a row lock."""
        settings = self.state().settings
        if "business_id" in settings:
            return _business_of(settings)
        with transaction.atomic():
            state = SandboxState.objects.select_for_update().get(provider=self.provider)
            if "business_id" not in state.settings:
                state.settings = {
                    **state.settings,
                    "business_id": new_id(),
                    "webhook_secret": f"alcwh_{secrets.token_urlsafe(24)}",
                    "whatsapp_account_id": new_id(),
                }
                state.save(update_fields=["settings"])
        return _business_of(state.settings)

    def token_data(self, request: HttpRequest | None) -> dict[str, Any]:
        return {"account": self.business()["business_id"]}

    def token_response(self, token: SandboxToken, request: HttpRequest) -> dict[str, Any]:
        business = self.business()
        return {
            "api_key": token.access_token,
            "access_token": token.access_token,
            "business_id": business["business_id"],
            "webhook_secret": business["webhook_secret"],
        }

    def account_secret(self, account: str) -> str:
        return self.business()["webhook_secret"]

    def connect(self, sandbox_base: str) -> tuple[dict[str, Any], None]:
        """A config with a new API key of the sandbox business and its webhook secret."""
        token = self.issue_token(kind="api_key", refresh=False, data=self.token_data(None))
        config = {
            "api_key": token.access_token,
            "base_url": f"{sandbox_base.rstrip('/')}/alacarte",
            "webhook_secret": self.business()["webhook_secret"],
            "external_system": "custom",
        }
        return config, None

    # --- lookups ------------------------------------------------------------------------------------

    def record(self, object_type: str, remote_id: str) -> SandboxRecord | None:
        return self.records(object_type).filter(remote_id=str(remote_id)).first()

    def customer_by_reference(self, reference: str) -> SandboxRecord | None:
        """A customer by our id, else by the CRM's ``external_id`` (the seed sends either as ``customer_id``)."""
        if not reference:
            return None
        return (
            self.record(CUSTOMERS, reference)
            or self.records(CUSTOMERS).filter(data__external_id=reference).order_by("pk").first()
        )

    # --- shapes ---------------------------------------------------------------------------------------

    def customer_dict(self, record: SandboxRecord) -> dict[str, Any]:
        data = record.data
        return {
            "id": record.remote_id,
            **{name: data.get(name, "") for name in STRING_FIELDS},
            "tags": list(data.get("tags", [])),
            "custom_fields": dict(data.get("custom_fields", {})),
            "created_at": iso_ms(record.created_at),
            "updated_at": iso_ms(record.updated_at),
        }

    def conversation_dict(self, record: SandboxRecord) -> dict[str, Any]:
        data = record.data
        return {
            "id": record.remote_id,
            "customer_id": data["customer_id"],
            "status": data["status"],
            "channel": data["channel"],
            "assignee": data.get("assignee", ""),
            "subject": data.get("subject", ""),
            "created_at": iso_ms(record.created_at),
            "last_message_at": data.get("last_message_at"),
            "whatsapp_account_id": data.get("whatsapp_account_id"),
        }

    def attachment_dict(self, record: SandboxRecord, base: str) -> dict[str, Any]:
        data = record.data
        return {
            "id": record.remote_id,
            "filename": data["filename"],
            "type": data["type"],
            "size": data["size"],
            "url": self.file_url(record, base),
            "download_url": f"{base}/api/download-media?id={record.remote_id}",
        }

    def file_url(self, record: SandboxRecord, base: str) -> str:
        return f"{base}/files/{record.remote_id}/{record.data['filename']}"

    def message_attachments(self, record: SandboxRecord, base: str) -> list[dict[str, Any]]:
        ids = record.data.get("attachments", [])
        if not ids:
            return []
        found = {a.remote_id: a for a in self.records(ATTACHMENTS).filter(remote_id__in=ids)}
        return [self.attachment_dict(found[i], base) for i in ids if i in found]

    def message_dict(self, record: SandboxRecord, base: str, *, attachments: bool = False) -> dict[str, Any]:
        data = record.data
        shown = {
            "id": record.remote_id,
            "conversation_id": data["conversation_id"],
            "customer_id": data["customer_id"],
            "content": data["content"],
            "platform": data["channel"],
            "channel": data["channel"],
            "direction": data["direction"],
            "status": data["status"],
            "created_at": iso_ms(record.created_at),
        }
        if attachments:
            shown["attachments"] = self.message_attachments(record, base)
        return shown


def _business_of(settings: dict[str, Any]) -> dict[str, str]:
    return {k: str(settings[k]) for k in ("business_id", "webhook_secret", "whatsapp_account_id")}
