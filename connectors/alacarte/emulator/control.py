"""The emulator's own surface: what customers and agents do in À La Carte Chat (``_control/inbound``,
``assign``, ``status``), seeding, the pages and files an iframe or a download link opens.

- ``_control/inbound {customer_id | external_id | email/phone (+ name to create), channel, content,
  attachment: {filename, type, size}?, wait?}``: a customer writes in; makes the customer
  (``customer.created``) and the conversation (``conversation.created``) when new, then the message
  (``message.received``). Answers ``{"message", "customer", "conversation"}``.
- ``_control/assign {conversation_id, assignee}`` / ``_control/status {conversation_id, status}``:
  ``conversation.assigned`` / ``conversation.status_changed``; answer ``{"conversation"}``.
- ``_control/seed {object: customers | messages, count}`` (no webhooks: it is history).
- ``embed/inbox?token=``: the inbox an SSO token opens (403 unknown or expired).
- ``files/<id>/<name>`` (the ``file_url``/``url``) and ``api/download-media?id=``: the bytes.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import format_html, format_html_join

from connectors.alacarte.emulator.api import AlaCarteApi
from connectors.alacarte.emulator.customers import CustomerInvalid, customer_changes
from connectors.alacarte.emulator.store import (
    ATTACHMENTS,
    CHANNELS,
    CONVERSATION_STATUSES,
    CONVERSATIONS,
    CUSTOMERS,
    MESSAGES,
    mount_url,
)
from connectors.sandbox.emulator import json_body, now_ms, sample_phone
from connectors.sandbox.models import SandboxRecord

_FILLER = b"A La Carte Chat sandbox attachment. "


DEMO_CONVERSATION = "demo_conversation"
DEMO_CUSTOMER = {"name": "Known1", "first_name": "Known1", "email": "seed1@example.com"}
DEMO_MESSAGES = ("Hi! Is my order ready for pickup?", "I can come by on Friday afternoon.")


class AlaCarteControl(AlaCarteApi):
    # --- what the contract suite and the demo ask of every emulator -------------------------------

    def sample_record(self, entity: str, n: int) -> dict[str, Any]:
        """A valid customer in the API's own field names, unique per ``n``."""
        return {
            "name": f"Sample Customer {n}",
            "first_name": "Sample",
            "last_name": f"Customer {n}",
            "email": f"customer{n}@example.com",
            "phone": sample_phone(n),
        }

    def invalid_record(self, entity: str) -> dict[str, Any]:
        """A name with neither e-mail nor phone: "email or phone is required"."""
        return {"name": "No Contact Method"}

    def seed(self, object_type: str, count: int, request: HttpRequest | None) -> int:
        if object_type == CUSTOMERS:
            first = self.customers().count()
            for n in range(first, first + count):
                self.customer_upsert(self.sample_record("contact", n), fire=False)
            return count
        if object_type == MESSAGES:
            return self._seed_messages(count)
        if object_type == DEMO_CONVERSATION:  # once: a second seed_demo adds nothing
            customer = self.customer_upsert(DEMO_CUSTOMER, fire=False).record
            if self.records(MESSAGES).filter(data__customer_id=customer.remote_id).exists():
                return 0
            for content in DEMO_MESSAGES:
                self.message_add(
                    customer, channel="whatsapp", content=content, direction="inbound", fire=False
                )
            return 1
        raise ValueError(f"alacarte emulator can seed {CUSTOMERS!r}, {MESSAGES!r} or {DEMO_CONVERSATION!r}")

    def _seed_messages(self, count: int) -> int:
        """``count`` messages one second apart, ending now, taking turns between the first ten
        customers (one is made when there are none); mostly inbound WhatsApp."""
        customers = list(self.customers().order_by("pk")[:10])
        if not customers:
            self.seed(CUSTOMERS, 1, None)
            customers = list(self.customers().order_by("pk")[:1])
        end = now_ms()
        for i in range(count):
            self.message_add(
                customers[i % len(customers)],
                channel="whatsapp",
                content=f"Seeded message {i + 1}",
                direction="outbound" if i % 3 == 2 else "inbound",
                at=end - timedelta(seconds=count - 1 - i),
                fire=False,
            )
        return count

    # --- a customer writes in; agents act ---------------------------------------------------------

    def _inbound_view(self, request: HttpRequest) -> HttpResponse:
        body = json_body(request)
        if request.method != "POST" or not isinstance(body, dict):
            return self.error(
                400, "POST a JSON object {customer_id | external_id | email/phone + name, content}"
            )
        channel, content = body.get("channel", "whatsapp"), body.get("content") or ""
        if channel not in CHANNELS or not isinstance(content, str):
            return self.error(400, f"channel must be one of {', '.join(CHANNELS)} and content a string")
        attachment = body.get("attachment")
        if attachment is not None and not isinstance(attachment, dict):
            return self.error(400, "attachment must be an object {filename, type, size}")
        if not content.strip() and attachment is None:
            return self.error(400, "content or attachment required")
        wait = bool(body.get("wait"))
        customer = self._inbound_customer(body, wait=wait)
        if isinstance(customer, HttpResponse):
            return customer
        files = []
        if attachment is not None:
            size = attachment.get("size", len(_FILLER))
            if not isinstance(size, int) or not 0 <= size <= self.max_upload():
                return self.error(400, f"attachment size must be 0 to {self.max_upload()} bytes")
            content_bytes = (_FILLER * (size // len(_FILLER) + 1))[:size]
            files.append(
                self.attachment_make(
                    filename=str(attachment.get("filename") or "attachment.bin"),
                    content_type=str(attachment.get("type") or "application/octet-stream"),
                    content=content_bytes,
                )
            )
        base = mount_url(request)
        message, conversation = self.message_add(
            customer,
            channel=channel,
            content=content,
            direction="inbound",
            attachments=files,
            base=base,
            wait=wait,
        )
        return JsonResponse(
            {
                "message": self.message_dict(message, base, attachments=True),
                "customer": self.customer_dict(customer),
                "conversation": self.conversation_dict(conversation),
            }
        )

    def _inbound_customer(self, body: dict[str, Any], *, wait: bool) -> SandboxRecord | HttpResponse:
        """The writing customer: by id, else matched as a sync matches, else made from the body's
        name, external_id, email and phone."""
        if body.get("customer_id"):
            found = self.record(CUSTOMERS, str(body["customer_id"]))
            return found if found is not None else self.error(404, "Customer not found")
        keys = {k: body[k] for k in ("external_id", "email", "phone", "name") if body.get(k)}
        if not keys.keys() & {"external_id", "email", "phone"}:
            return self.error(400, "name the customer: customer_id, external_id, email or phone")
        try:
            found, _ = self.customer_match(customer_changes(keys, self.default_country()))
            if found is None:
                found = self.customer_upsert(keys, wait=wait).record
        except CustomerInvalid as exc:
            return self.error(400, f"Cannot make the customer: {exc}")
        return found

    def _assign_view(self, request: HttpRequest) -> HttpResponse:
        return self._conversation_change(request, "assignee", "assigned")

    def _status_view(self, request: HttpRequest) -> HttpResponse:
        return self._conversation_change(request, "status", "status_changed")

    def _conversation_change(self, request: HttpRequest, key: str, event: str) -> HttpResponse:
        body = json_body(request)
        if request.method != "POST" or not isinstance(body, dict) or not isinstance(body.get(key), str):
            return self.error(400, f"POST a JSON object {{conversation_id, {key}}}")
        if key == "status" and body[key] not in CONVERSATION_STATUSES:
            return self.error(400, f"status must be one of {', '.join(CONVERSATION_STATUSES)}")
        conversation = self.record(CONVERSATIONS, str(body.get("conversation_id") or ""))
        if conversation is None:
            return self.error(404, "Conversation not found")
        self.conversation_update(conversation, event, {key: body[key]}, wait=bool(body.get("wait")))
        return JsonResponse({"conversation": self.conversation_dict(conversation)})

    # --- pages and files --------------------------------------------------------------------------

    def embed_page(self, request: HttpRequest) -> HttpResponse:
        """The inbox an SSO token opens: the customer's conversations and their messages."""
        customer = self.sso_customer(request.GET.get("token", ""))
        if customer is None:
            return HttpResponse("<h1>This link has expired or is not valid</h1>", status=403)
        sections = []
        for conversation in self.conversations_of(customer).order_by("-updated_at", "-pk"):
            messages = self.records(MESSAGES).filter(data__conversation_id=conversation.remote_id)
            items = format_html_join(
                "",
                '<li class="{}">{}: {}</li>',
                (
                    (m.data["direction"], m.created_at.strftime("%Y-%m-%d %H:%M"), m.data["content"])
                    for m in messages.order_by("created_at", "remote_id")
                ),
            )
            sections.append(
                format_html(
                    "<section><h2>{} · {}</h2><ul>{}</ul></section>",
                    conversation.data["channel"],
                    conversation.data["status"],
                    items,
                )
            )
        return HttpResponse(
            format_html(
                "<!doctype html><html><head><title>Inbox: {name}</title></head><body><h1>{name}</h1>{body}</body></html>",
                name=customer.data.get("name", ""),
                body=format_html_join("", "{}", ((s,) for s in sections))
                or format_html("<p>{}</p>", "No conversations yet."),
            )
        )

    def file_view(self, request: HttpRequest, attachment_id: str, filename: str = "") -> HttpResponse:
        return self._file_response(self.record(ATTACHMENTS, attachment_id), inline=True)

    def download_view(self, request: HttpRequest) -> HttpResponse:
        return self._file_response(self.record(ATTACHMENTS, request.GET.get("id", "")), inline=False)

    def _file_response(self, record: SandboxRecord | None, *, inline: bool) -> HttpResponse:
        if record is None:
            return self.error(404, "File not found")
        response = HttpResponse(
            base64.b64decode(record.data["content_base64"]), content_type=record.data["type"]
        )
        filename = str(record.data["filename"]).replace('"', "").replace("\r", "").replace("\n", "")
        response["Content-Disposition"] = f'{"inline" if inline else "attachment"}; filename="{filename}"'
        return response
