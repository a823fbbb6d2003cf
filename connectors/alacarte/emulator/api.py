"""The À La Carte Chat API as the emulator serves it (/work/wt/ALACARTE_WIRE.md, providers.md §8):
one path per Supabase Edge Function, every one behind ``x-api-key``.

``api-customers`` (GET one), ``api-customers-batch-lookup``, ``api-customers-bulk-create``,
``api-customers-sync`` (≤ 1000 customers, else 413; each fails alone), ``api-conversations-by-customer``,
``api-messages-since`` (inclusive ``since``, ``has_more``), ``api-send-message``,
``api-upload-attachment`` (≤ 10 MB, else 413) and ``api-sso-generate-token`` (≤ 3600 s).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse

from connectors.alacarte.emulator.customers import MAX_BATCH, CustomerInvalid, Upserted
from connectors.alacarte.emulator.inbox import MAX_SSO_SECONDS, AlaCarteInbox
from connectors.alacarte.emulator.phones import e164
from connectors.alacarte.emulator.store import CHANNELS, CUSTOMERS, MESSAGES, mount_url
from connectors.sandbox.emulator import json_body, parse_iso

MAX_MESSAGES_LIMIT = 100
LOOKUP_KEYS = ("ids", "emails", "phones", "external_ids")


def _flag(request: HttpRequest, name: str) -> bool:
    return request.GET.get(name, "").strip().lower() in ("true", "1", "yes")


def _customers_list(body: Any) -> list[Any] | None:
    if isinstance(body, dict) and isinstance(body.get("customers"), list):
        return body["customers"]
    return None


class AlaCarteApi(AlaCarteInbox):
    def _only(self, request: HttpRequest, method: str) -> HttpResponse | None:
        return None if request.method == method else self.error(405, f"Method not allowed: use {method}")

    # --- customers --------------------------------------------------------------------------------

    def customers_view(self, request: HttpRequest) -> HttpResponse:
        """``GET ?id=|external_id=|email=|phone=`` → ``{"customer"}`` (the first parameter given wins)."""
        refused = self._only(request, "GET")
        if refused:
            return refused
        query = self.customers()
        if request.GET.get("id"):
            query = query.filter(remote_id=request.GET["id"].strip())
        elif request.GET.get("external_id"):
            query = query.filter(data__external_id=request.GET["external_id"].strip())
        elif request.GET.get("email"):
            query = query.filter(data__email__iexact=request.GET["email"].strip())
        elif request.GET.get("phone"):
            raw = request.GET["phone"]  # an unencoded "+353…" arrives as " 353…"
            phone = e164(f"+{raw[1:]}" if raw.startswith(" ") else raw, self.default_country())
            if phone is None:
                return self.error(400, "invalid phone")
            query = query.filter(data__phone=phone)
        else:
            return self.error(400, "Provide id, email, phone or external_id")
        found = query.order_by("pk").first()
        if found is None:
            return self.error(404, "Customer not found")
        return JsonResponse({"customer": self.customer_dict(found)})

    def batch_lookup_view(self, request: HttpRequest) -> HttpResponse:
        refused = self._only(request, "POST")
        if refused:
            return refused
        body = json_body(request)
        if not isinstance(body, dict):
            return self.error(400, "Body must be a JSON object with ids, emails, phones and/or external_ids")
        values: dict[str, list[str]] = {}
        for key in LOOKUP_KEYS:
            given = body.get(key) or []
            if not isinstance(given, list) or not all(isinstance(v, str) for v in given):
                return self.error(400, f"{key} must be a list of strings")
            values[key] = given
        if sum(len(v) for v in values.values()) > MAX_BATCH:
            return self.error(413, f"At most {MAX_BATCH} values per request")
        found = self.customers_lookup(**values)
        return JsonResponse({"customers": [self.customer_dict(c) for c in found]})

    def _upsert_all(
        self, request: HttpRequest, report: Callable[[list[Any], list[Any]], dict]
    ) -> HttpResponse:
        """Create-or-update each input customer in order, each failing alone; ``report`` shapes the
        answer from the inputs and their outcomes (an Upserted, or the CustomerInvalid)."""
        refused = self._only(request, "POST")
        if refused:
            return refused
        customers = _customers_list(json_body(request))
        if customers is None:
            return self.error(400, "Body must be a JSON object with a customers list")
        if len(customers) > MAX_BATCH:
            return self.error(413, f"At most {MAX_BATCH} customers per request")
        outcomes: list[Upserted | CustomerInvalid] = []
        country, fire = self.default_country(), bool(self.setting("webhook_targets", []))
        with transaction.atomic():  # one commit for the batch; its webhooks go out after it
            for raw in customers:
                try:  # a refused customer raises before anything is written
                    outcomes.append(self.customer_upsert(raw, country=country, fire=fire))
                except CustomerInvalid as exc:
                    outcomes.append(exc)
        return JsonResponse(report(customers, outcomes))

    def sync_view(self, request: HttpRequest) -> HttpResponse:
        return self._upsert_all(request, _sync_report)

    def bulk_create_view(self, request: HttpRequest) -> HttpResponse:
        return self._upsert_all(request, _bulk_report)

    # --- conversations and messages --------------------------------------------------------------

    def conversations_view(self, request: HttpRequest) -> HttpResponse:
        refused = self._only(request, "GET")
        if refused:
            return refused
        if request.GET.get("customer_id"):
            customer = self.record(CUSTOMERS, request.GET["customer_id"].strip())
        elif request.GET.get("external_id"):
            customer = (
                self.customers()
                .filter(data__external_id=request.GET["external_id"].strip())
                .order_by("pk")
                .first()
            )
        else:
            return self.error(400, "Provide external_id or customer_id")
        if customer is None:
            return self.error(404, "Customer not found")
        with_messages, with_files = _flag(request, "include_messages"), _flag(request, "include_attachments")
        base = mount_url(request)
        shown = []
        for conversation in self.conversations_of(customer).order_by("-updated_at", "-pk"):
            row = self.conversation_dict(conversation)
            if with_messages:
                messages = self.records(MESSAGES).filter(data__conversation_id=conversation.remote_id)
                row["messages"] = [
                    self.message_dict(m, base, attachments=with_files)
                    for m in messages.order_by("created_at", "remote_id")
                ]
            shown.append(row)
        return JsonResponse({"customer": self.customer_dict(customer), "conversations": shown})

    def messages_since_view(self, request: HttpRequest) -> HttpResponse:
        refused = self._only(request, "GET")
        if refused:
            return refused
        raw = (
            request.GET.get("since", "").strip().replace(" ", "+")
        )  # an unencoded "+01:00" arrives as " 01:00"
        if not raw:
            return self.error(400, "since is required")
        since = parse_iso(raw) or parse_iso(f"{raw}Z")
        if since is None:
            return self.error(400, "since must be an ISO 8601 date-time")
        limit = request.GET.get("limit", str(MAX_MESSAGES_LIMIT)).strip()
        if not limit.isdecimal() or not 1 <= int(limit) <= MAX_MESSAGES_LIMIT:
            return self.error(400, f"limit must be between 1 and {MAX_MESSAGES_LIMIT}")
        rows, more = self.messages_since(since, int(limit))
        base, with_files = mount_url(request), _flag(request, "include_attachments")
        return JsonResponse(
            {"messages": [self.message_dict(m, base, attachments=with_files) for m in rows], "has_more": more}
        )

    def send_message_view(self, request: HttpRequest) -> HttpResponse:
        refused = self._only(request, "POST")
        if refused:
            return refused
        body = json_body(request)
        if not isinstance(body, dict):
            return self.error(400, "Body must be a JSON object")
        channel, content, urls = body.get("channel"), body.get("content") or "", body.get("attachments") or []
        if channel not in CHANNELS:
            return self.error(400, f"channel must be one of {', '.join(CHANNELS)}")
        if not isinstance(content, str) or not isinstance(urls, list):
            return self.error(400, "content must be a string and attachments a list of file URLs")
        if not content.strip() and not urls:
            return self.error(400, "content or attachments required")
        files = [self.attachment_by_url(url) for url in urls]
        unknown = [url for url, found in zip(urls, files, strict=True) if found is None]
        if unknown:
            return self.error(400, "Unknown attachment", details={"attachments": unknown})
        customer = self.customer_by_reference(str(body.get("customer_id") or ""))
        if customer is None:
            return self.error(404, "Customer not found")
        base = mount_url(request)
        message, _ = self.message_add(
            customer, channel=channel, content=content, direction="outbound", attachments=files, base=base
        )
        return JsonResponse({"success": True, "message": self.message_dict(message, base, attachments=True)})

    # --- files and SSO ----------------------------------------------------------------------------

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        refused = self._only(request, "POST")
        if refused:
            return refused
        upload = request.FILES.get("file")
        if upload is None:
            return self.error(400, "No file provided (multipart field 'file')")
        limit = self.max_upload()
        if upload.size > limit:
            return self.error(413, f"File too large (max {limit // (1024 * 1024)} MB)")
        filename = upload.name or "file"
        content_type = upload.content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        if content_type == "application/octet-stream":
            content_type = mimetypes.guess_type(filename)[0] or content_type
        record = self.attachment_make(filename=filename, content_type=content_type, content=upload.read())
        shown = {
            "id": record.remote_id,
            "file_url": self.file_url(record, mount_url(request)),
            "filename": filename,
            "type": content_type,
            "size": record.data["size"],
        }
        return JsonResponse({"success": True, "attachment": shown})

    def sso_view(self, request: HttpRequest) -> HttpResponse:
        refused = self._only(request, "POST")
        if refused:
            return refused
        body = json_body(request)
        if not isinstance(body, dict):
            return self.error(400, "Body must be a JSON object")
        scope, expires_in = body.get("scope", "inbox"), body.get("expires_in", MAX_SSO_SECONDS)
        if scope != "inbox":
            return self.error(400, "scope must be inbox")
        if (
            isinstance(expires_in, bool)
            or not isinstance(expires_in, int)
            or not 1 <= expires_in <= MAX_SSO_SECONDS
        ):
            return self.error(400, f"expires_in must be between 1 and {MAX_SSO_SECONDS} seconds")
        customer = self.customer_by_reference(str(body.get("customer_id") or ""))
        if customer is None:
            return self.error(404, "Customer not found")
        token = self.sso_token_make(customer, scope=scope, expires_in=expires_in)
        return JsonResponse(
            {
                "token": token.remote_id,
                "expires_at": token.data["expires_at"],
                "embed_url": f"{mount_url(request)}/embed/inbox?token={token.remote_id}",
            }
        )


def _sync_report(customers: list[Any], outcomes: list[Upserted | CustomerInvalid]) -> dict[str, Any]:
    details = []
    for index, (raw, outcome) in enumerate(zip(customers, outcomes, strict=True)):
        external_id = raw.get("external_id") if isinstance(raw, dict) else None
        if isinstance(outcome, CustomerInvalid):
            details.append(
                {"index": index, "external_id": external_id, "action": "failed", "error": str(outcome)}
            )
        else:
            details.append(
                {
                    "index": index,
                    "external_id": external_id,
                    "customer_id": outcome.record.remote_id,
                    "action": outcome.action,
                    "matched_by": outcome.matched_by,
                }
            )
    counts = _counts(outcomes)
    return {"success": True, "results": {"total": len(customers), **counts, "details": details}}


def _bulk_report(customers: list[Any], outcomes: list[Upserted | CustomerInvalid]) -> dict[str, Any]:
    errors = [
        {"index": i, "error": str(outcome)}
        for i, outcome in enumerate(outcomes)
        if isinstance(outcome, CustomerInvalid)
    ]
    return {"success": True, **_counts(outcomes), "errors": errors}


def _counts(outcomes: list[Upserted | CustomerInvalid]) -> dict[str, int]:
    def count(action: str) -> int:
        return sum(1 for o in outcomes if isinstance(o, Upserted) and o.action == action)

    return {
        "created": count("created"),
        "updated": count("updated"),
        "failed": len(outcomes) - count("created") - count("updated"),
    }
