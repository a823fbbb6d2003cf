"""Conversations, messages, attachments and SSO tokens: what the inbox holds.

A message joins its customer's open (or pending) conversation on that channel, or opens a new one
(``conversation.created``); it then fires ``message.received`` (inbound) or ``message.sent``.
Timestamps are kept to the millisecond, which is all the API shows, so a ``since`` taken from a
message's ``created_at`` finds that message again (``since`` is inclusive).
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from connectors.alacarte.emulator.customers import AlaCarteCustomers
from connectors.alacarte.emulator.store import (
    ATTACHMENTS,
    CONVERSATIONS,
    CUSTOMERS,
    MESSAGES,
    SSO_TOKENS,
    new_id,
)
from connectors.sandbox.emulator import iso_ms, now_ms
from connectors.sandbox.models import SandboxRecord

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_SSO_SECONDS = 3600
_FILE_PATH = re.compile(r"/files/([0-9a-f-]{36})(?:/|$)")


class AlaCarteInbox(AlaCarteCustomers):
    def max_upload(self) -> int:
        return int(self.setting("max_upload_bytes", MAX_UPLOAD_BYTES))

    # --- attachments ------------------------------------------------------------------------------

    def attachment_make(self, *, filename: str, content_type: str, content: bytes) -> SandboxRecord:
        now = now_ms()
        return SandboxRecord.objects.create(
            provider=self.provider,
            object_type=ATTACHMENTS,
            remote_id=new_id(),
            data={
                "filename": filename,
                "type": content_type,
                "size": len(content),
                "content_base64": base64.b64encode(content).decode(),
            },
            created_at=now,
            updated_at=now,
        )

    def attachment_by_url(self, url: Any) -> SandboxRecord | None:
        """The upload a ``file_url`` this account was given points at (any host: only the id counts)."""
        found = _FILE_PATH.search(url) if isinstance(url, str) else None
        return self.record(ATTACHMENTS, found.group(1)) if found else None

    # --- conversations and messages ---------------------------------------------------------------

    def conversations_of(self, customer: SandboxRecord) -> QuerySet[SandboxRecord]:
        return self.records(CONVERSATIONS).filter(data__customer_id=customer.remote_id)

    def conversation_for(
        self, customer: SandboxRecord, channel: str, *, at: datetime
    ) -> tuple[SandboxRecord, bool]:
        """The customer's open or pending conversation on ``channel``, or a new open one (True)."""
        current = (
            self.conversations_of(customer)
            .filter(data__channel=channel)
            .filter(Q(data__status="open") | Q(data__status="pending"))
            .order_by("-created_at", "-pk")
            .first()
        )
        if current is not None:
            return current, False
        made = SandboxRecord.objects.create(
            provider=self.provider,
            object_type=CONVERSATIONS,
            remote_id=new_id(),
            data={
                "customer_id": customer.remote_id,
                "status": "open",
                "channel": channel,
                "assignee": "",
                "subject": "",
                "last_message_at": None,
                "whatsapp_account_id": self.business()["whatsapp_account_id"]
                if channel == "whatsapp"
                else None,
            },
            created_at=at,
            updated_at=at,
        )
        return made, True

    def message_add(
        self,
        customer: SandboxRecord,
        *,
        channel: str,
        content: str,
        direction: str,
        attachments: Sequence[SandboxRecord] = (),
        at: datetime | None = None,
        base: str = "",
        fire: bool = True,
        wait: bool = False,
    ) -> tuple[SandboxRecord, SandboxRecord]:
        """Add a message to the customer's conversation on ``channel``; (message, conversation)."""
        at = at or now_ms()
        conversation, opened = self.conversation_for(customer, channel, at=at)
        message = SandboxRecord.objects.create(
            provider=self.provider,
            object_type=MESSAGES,
            remote_id=new_id(),
            data={
                "conversation_id": conversation.remote_id,
                "customer_id": customer.remote_id,
                "content": content,
                "channel": channel,
                "direction": direction,
                "status": "received" if direction == "inbound" else "sent",
                "attachments": [a.remote_id for a in attachments],
            },
            created_at=at,
            updated_at=at,
        )
        conversation.data = {
            **conversation.data,
            "last_message_at": iso_ms(at),
            "subject": conversation.data.get("subject") or content[:80],
        }
        conversation.updated_at = at
        conversation.save(update_fields=["data", "updated_at"])
        if fire:
            if opened:
                self.emit_conversation("created", conversation, customer, wait=wait)
            event = "received" if direction == "inbound" else "sent"
            self.emit_message(event, message, customer, base, wait=wait)
        return message, conversation

    def messages_since(self, since: datetime, limit: int) -> tuple[list[SandboxRecord], bool]:
        """Messages created at or after ``since``, oldest first (ties by id), and whether more remain."""
        rows = list(
            self.records(MESSAGES)
            .filter(created_at__gte=since)
            .order_by("created_at", "remote_id")[: limit + 1]
        )
        return rows[:limit], len(rows) > limit

    def conversation_update(
        self, conversation: SandboxRecord, event: str, changes: dict[str, Any], *, wait: bool = False
    ) -> SandboxRecord:
        conversation.data = {**conversation.data, **changes}
        conversation.updated_at = now_ms()
        conversation.save(update_fields=["data", "updated_at"])
        customer = self.record(CUSTOMERS, conversation.data["customer_id"])
        if customer is not None:
            self.emit_conversation(event, conversation, customer, wait=wait)
        return conversation

    # --- SSO ----------------------------------------------------------------------------------------

    def sso_token_make(self, customer: SandboxRecord, *, scope: str, expires_in: int) -> SandboxRecord:
        now = timezone.now()
        return SandboxRecord.objects.create(
            provider=self.provider,
            object_type=SSO_TOKENS,
            remote_id=secrets.token_urlsafe(27),
            data={
                "customer_id": customer.remote_id,
                "scope": scope,
                "expires_at": iso_ms(now + timedelta(seconds=expires_in)),
            },
            created_at=now,
            updated_at=now,
        )

    def sso_customer(self, token: str) -> SandboxRecord | None:
        """The customer a live SSO token opens the inbox of; None for an unknown or expired token."""
        found = self.record(SSO_TOKENS, token) if token else None
        if found is None:
            return None
        expires = datetime.fromisoformat(found.data["expires_at"].replace("Z", "+00:00"))
        if expires <= timezone.now():
            return None
        return self.record(CUSTOMERS, found.data["customer_id"])
