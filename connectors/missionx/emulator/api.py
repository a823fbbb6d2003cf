"""The MissionX API (providers.md §5) and the client-facing portal page, as the emulator serves them.

- ``POST /v1/portals {client_name, email, external_id}`` → 201 pending portal, fires
  ``portal.created``; ``GET|PATCH /v1/portals/{id}`` (``status`` pending/active/disabled,
  ``uploads_enabled``; a portal becoming active fires ``portal.activated``).
- ``GET /v1/portals?updated_since&cursor&limit`` → ``{"data", "next_cursor"}``, oldest change
  first, ``limit`` at most 100 (more is a 400).
- ``GET /v1/portals/{id}/files``, ``GET /v1/files/{id}/download`` (bytes, Content-Type and
  Content-Length; the ``download_chunked`` setting streams without a length instead).
- ``_control/upload {portal_id, filename, content_base64 | content, content_type}``: a client's
  upload; 409 unless the portal is active with uploads enabled; fires ``file.uploaded``.
- ``/p/{id}``: the page the portal URL opens.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils.html import format_html, format_html_join

from connectors.missionx.emulator.delivery import MissionXDelivery
from connectors.missionx.emulator.store import (
    FILES,
    PORTALS,
    STATUSES,
    decode_cursor,
    encode_cursor,
    mount_url,
    parse_iso,
)
from connectors.sandbox.emulator import json_body, now_ms

MAX_LIMIT = 100
DEFAULT_LIMIT = 50
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
CHUNK = 8192


def _account(request: HttpRequest) -> str:
    return str(request.sandbox_token.data.get("account", ""))  # type: ignore[attr-defined]


class MissionXApi(MissionXDelivery):
    # --- portals ----------------------------------------------------------------------------------

    def portals_view(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST":
            return self._portal_create(request)
        if request.method != "GET":
            return self.error(405, "use GET or POST")
        return self._portals_list(request)

    def _portal_create(self, request: HttpRequest) -> HttpResponse:
        body = json_body(request)
        if not isinstance(body, dict):
            return self.error(400, "the body must be a JSON object")
        client_name, email, external_id = (body.get(k, "") for k in ("client_name", "email", "external_id"))
        if not isinstance(client_name, str) or not client_name.strip():
            return self.error(400, "client_name is required")
        if not isinstance(email, str) or "@" not in email:
            return self.error(400, "email must be an e-mail address")
        if not isinstance(external_id, str):
            return self.error(400, "external_id must be a string")
        portal = self.portal_make(
            _account(request), client_name=client_name.strip(), email=email.strip(), external_id=external_id
        )
        shown = self.portal_dict(portal, mount_url(request))
        self.emit(portal.data["account"], "portal.created", {"portal": shown})
        return JsonResponse(shown, status=201)

    def _portals_list(self, request: HttpRequest) -> HttpResponse:
        raw_limit = request.GET.get("limit", str(DEFAULT_LIMIT))
        if not raw_limit.isdecimal() or not 1 <= int(raw_limit) <= MAX_LIMIT:
            return self.error(400, f"limit must be a whole number from 1 to {MAX_LIMIT}")
        since = None
        if request.GET.get("updated_since"):
            since = parse_iso(request.GET["updated_since"])
            if since is None:
                return self.error(400, "updated_since must be an ISO 8601 date-time with a time zone")
        after = None
        if request.GET.get("cursor"):
            after = decode_cursor(request.GET["cursor"])
            if after is None:
                return self.error(400, "cursor is not one this API gave out")
        rows, more = self.changed_page(_account(request), since=since, after=after, limit=int(raw_limit))
        base = mount_url(request)
        return JsonResponse(
            {
                "data": [self.portal_dict(row, base) for row in rows],
                "next_cursor": encode_cursor(rows[-1]) if more else None,
            }
        )

    def portal_view(self, request: HttpRequest, portal_id: str) -> HttpResponse:
        portal = self.portals(_account(request)).filter(remote_id=portal_id).first()
        if portal is None:
            return self.error(404, f"no portal {portal_id}")
        if request.method == "PATCH":
            return self._portal_update(request, portal)
        if request.method != "GET":
            return self.error(405, "use GET or PATCH")
        return JsonResponse(self.portal_dict(portal, mount_url(request)))

    def _portal_update(self, request: HttpRequest, portal) -> HttpResponse:
        body = json_body(request)
        if not isinstance(body, dict) or not body:
            return self.error(400, "send a JSON object with status and/or uploads_enabled")
        unknown = sorted(set(body) - {"status", "uploads_enabled"})
        if unknown:
            return self.error(400, f"cannot change {', '.join(unknown)}")
        if "status" in body and body["status"] not in STATUSES:
            return self.error(400, f"status must be one of {', '.join(STATUSES)}")
        if "uploads_enabled" in body and not isinstance(body["uploads_enabled"], bool):
            return self.error(400, "uploads_enabled must be true or false")
        changed = {k: v for k, v in body.items() if portal.data.get(k) != v}
        activated = changed.get("status") == "active"
        if changed:
            portal.data = {**portal.data, **changed}
            portal.updated_at = now_ms()
            portal.save(update_fields=["data", "updated_at"])
        shown = self.portal_dict(portal, mount_url(request))
        if activated:
            self.emit(portal.data["account"], "portal.activated", {"portal": shown})
        return JsonResponse(shown)

    # --- files ------------------------------------------------------------------------------------

    def portal_files_view(self, request: HttpRequest, portal_id: str) -> HttpResponse:
        if request.method != "GET":
            return self.error(405, "use GET")
        if not self.portals(_account(request)).filter(remote_id=portal_id).exists():
            return self.error(404, f"no portal {portal_id}")
        base = mount_url(request)
        files = self.records(FILES).filter(data__portal_id=portal_id).order_by("created_at", "pk")
        return JsonResponse({"data": [self.file_dict(f, base) for f in files]})

    def file_download_view(self, request: HttpRequest, file_id: str) -> HttpResponse:
        if request.method != "GET":
            return self.error(405, "use GET")
        record = self.records(FILES).filter(remote_id=file_id, data__account=_account(request)).first()
        if record is None:
            return self.error(404, f"no file {file_id}")
        content = base64.b64decode(record.data["content_base64"])
        content_type = record.data["content_type"]
        if self.setting("download_chunked", False):
            chunks = (content[i : i + CHUNK] for i in range(0, len(content), CHUNK))
            response: HttpResponse | StreamingHttpResponse = StreamingHttpResponse(
                chunks, content_type=content_type
            )
        else:
            response = HttpResponse(content, content_type=content_type)
            response["Content-Length"] = str(len(content))
        filename = str(record.data["filename"]).replace('"', "").replace("\r", "").replace("\n", "")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    # --- the client's side: uploads and the portal page -------------------------------------------

    def _upload_view(self, request: HttpRequest) -> HttpResponse:
        body = json_body(request)
        if request.method != "POST" or not isinstance(body, dict):
            return self.error(400, "POST a JSON object {portal_id, filename, content_base64 | content}")
        portal = self.records(PORTALS).filter(remote_id=str(body.get("portal_id") or "")).first()
        if portal is None:
            return self.error(404, f"no portal {body.get('portal_id')}")
        if portal.data["status"] != "active" or not portal.data["uploads_enabled"]:
            return self.error(409, "uploads are closed: the portal must be active with uploads enabled")
        content = self._upload_content(body)
        filename = body.get("filename")
        if content is None or not isinstance(filename, str) or not filename.strip():
            return self.error(400, "filename and content_base64 (or content) are required")
        if len(content) > int(self.setting("max_upload_bytes", MAX_UPLOAD_BYTES)):
            return self.error(400, "the file is too large")
        content_type = str(body.get("content_type") or "application/octet-stream")
        made = self.file_make(portal, filename=filename.strip(), content=content, content_type=content_type)
        base = mount_url(request)
        data = {"portal": self.portal_dict(portal, base), "file": self.file_dict(made, base)}
        event = self.emit(portal.data["account"], "file.uploaded", data, wait=bool(body.get("wait")))
        return JsonResponse({**data, "event_id": event["id"]}, status=201)

    @staticmethod
    def _upload_content(body: dict[str, Any]) -> bytes | None:
        if isinstance(body.get("content_base64"), str):
            try:
                return base64.b64decode(body["content_base64"], validate=True)
            except (ValueError, binascii.Error):
                return None
        if isinstance(body.get("content"), str):
            return body["content"].encode()
        return None

    def portal_page(self, request: HttpRequest, portal_id: str) -> HttpResponse:
        """What the client sees at the portal URL: who it is for, whether uploads are open, the files."""
        portal = self.records(PORTALS).filter(remote_id=portal_id).first()
        if portal is None:
            return HttpResponse("<h1>No such portal</h1>", status=404)
        files = self.records(FILES).filter(data__portal_id=portal_id).order_by("created_at", "pk")
        open_ = portal.data["status"] == "active" and portal.data["uploads_enabled"]
        listing = format_html_join(
            "", "<li>{} ({} bytes)</li>", ((f.data["filename"], f.data["size"]) for f in files)
        )
        return HttpResponse(
            format_html(
                "<!doctype html><html><head><title>MissionX portal: {name}</title></head><body>"
                "<h1>Client portal for {name}</h1><p>Status: <strong>{status}</strong></p>"
                "<p>{uploads}</p><h2>Files</h2><ul>{files}</ul></body></html>",
                name=portal.data["client_name"],
                status=portal.data["status"],
                uploads="Uploads are open." if open_ else "Uploads are not open yet.",
                files=listing or format_html("<li>{}</li>", "No files yet."),
            )
        )
