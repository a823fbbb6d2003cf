"""The Notification API: watch channels (``/actions/watch``: POST subscribe, GET list, PATCH update,
PUT replace, DELETE by ``channel_ids``), kept in the emulator's settings, and the callbacks a write sends
to every live channel watching its module and operation.

Channels expire (default 1 h, at most one week: a later ``channel_expiry`` is refused). A callback is
``{"server_time","query_params","module","resource_uri","ids","affected_fields","operation","channel_id",
"token"}``, unsigned, echoing the channel's ``token``. ``_control/webhooks`` sends one by hand:
``{"target_url", "events": {"module", "operation", "ids", "channel_id"?, "token"?, "server_time"?}}``.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from connectors.sandbox.emulator import json_body
from connectors.sandbox.models import SandboxState, SandboxWebhook
from connectors.zoho.emulator.records import ZohoRecords
from connectors.zoho.emulator.schema import MODULES

DEFAULT_EXPIRY = timedelta(hours=1)
MAX_EXPIRY = timedelta(days=7)
OPERATIONS = {"insert": "create", "update": "edit", "delete": "delete"}


class ZohoNotifications(ZohoRecords):
    def _channels(self) -> dict[str, dict[str, Any]]:
        return dict(self.setting("channels", {}) or {})

    def _save_channels(self, channels: dict[str, dict[str, Any]]) -> None:
        with transaction.atomic():
            state = SandboxState.objects.select_for_update().get(pk=self.state().pk)
            state.settings = {**state.settings, "channels": channels}
            state.save(update_fields=["settings"])

    def watch_view(self, request: HttpRequest, version: str) -> HttpResponse:
        if request.method == "GET":
            live = [c for c in self._channels().values() if not _expired(c)]
            return JsonResponse({"watch": live}) if live else HttpResponse(status=204)
        if request.method == "DELETE":
            return self._unwatch(request)
        body = json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("watch"), list) or not body["watch"]:
            return self.error(400, "invalid data", details={"api_name": "watch"})
        channels = self._channels()
        answers = []
        for item in body["watch"]:
            try:
                channel = self._channel(
                    item, channels.get(str(item.get("channel_id"))), request.method or "POST"
                )
            except ValueError as exc:
                answers.append(
                    {
                        "code": "INVALID_DATA",
                        "details": {"api_name": str(exc)},
                        "message": "invalid data",
                        "status": "error",
                    }
                )
                continue
            channels[channel["channel_id"]] = channel
            answers.append(
                {
                    "code": "SUCCESS",
                    "details": {
                        "events": [
                            {
                                "channel_expiry": channel["channel_expiry"],
                                "resource_uri": f"{request.scheme}://{request.get_host()}/crm/{version}/{event.split('.')[0]}",
                                "resource_id": str(
                                    5725767000000002170 + list(MODULES).index(event.split(".")[0])
                                ),
                                "resource_name": event.split(".")[0],
                                "channel_id": channel["channel_id"],
                            }
                            for event in channel["events"]
                        ]
                    },
                    "message": "Successfully subscribed for actions-watch of the given module",
                    "status": "success",
                }
            )
        self._save_channels(channels)
        ok = sum(1 for a in answers if a["status"] == "success")
        return JsonResponse({"watch": answers}, status=200 if ok == len(answers) else (207 if ok else 400))

    def _channel(self, item: Any, existing: dict[str, Any] | None, method: str) -> dict[str, Any]:
        if not isinstance(item, dict) or not str(item.get("channel_id") or "").isdigit():
            raise ValueError("channel_id")
        if method == "PATCH" and existing is None:
            raise ValueError("channel_id")
        merged = {**(existing or {}), **item} if method == "PATCH" else dict(item)
        events = merged.get("events") or []
        for event in events:
            module, _, operation = str(event).partition(".")
            if module not in MODULES or operation not in {"all", "create", "edit", "delete"}:
                raise ValueError("events")
        if not events:
            raise ValueError("events")
        if not str(merged.get("notify_url") or "").startswith(("http://", "https://")):
            raise ValueError("notify_url")
        if len(str(merged.get("token") or "")) > 50:
            raise ValueError("token")
        now = timezone.now()
        expiry = (
            parse_datetime(str(merged.get("channel_expiry") or ""))
            if merged.get("channel_expiry")
            else now + DEFAULT_EXPIRY
        )
        if expiry is None or expiry <= now or expiry > now + MAX_EXPIRY + timedelta(minutes=1):
            raise ValueError("channel_expiry")
        return {
            "channel_id": str(merged["channel_id"]),
            "events": list(events),
            "notify_url": merged["notify_url"],
            "token": str(merged.get("token") or ""),
            "channel_expiry": expiry.isoformat(),
            "return_affected_field_values": bool(merged.get("return_affected_field_values")),
        }

    def _unwatch(self, request: HttpRequest) -> HttpResponse:
        ids = [i for i in (request.GET.get("channel_ids") or "").split(",") if i]
        if not ids:
            return self.error(
                400,
                "One of the expected parameter is missing",
                code="REQUIRED_PARAM_MISSING",
                details={"param": "channel_ids"},
            )
        channels = self._channels()
        answers = []
        for channel_id in ids:
            if channels.pop(channel_id, None) is None:
                answers.append(
                    {
                        "code": "INVALID_DATA",
                        "details": {"channel_id": channel_id},
                        "message": "invalid channel id",
                        "status": "error",
                    }
                )
            else:
                answers.append(
                    {
                        "code": "SUCCESS",
                        "details": {"channel_id": channel_id},
                        "message": "Successfully unsubscribed from actions-watch",
                        "status": "success",
                    }
                )
        self._save_channels(channels)
        ok = sum(1 for a in answers if a["status"] == "success")
        return JsonResponse({"watch": answers}, status=200 if ok == len(answers) else (207 if ok else 400))

    # --- callbacks ------------------------------------------------------------------------------

    def notify(self, request: HttpRequest, module: str, operation: str, ids: list[str]) -> None:
        for channel in self._channels().values():
            wanted = {f"{module}.all", f"{module}.{OPERATIONS[operation]}"}
            if _expired(channel) or not wanted & set(channel["events"]):
                continue
            self._send(channel["notify_url"], self.callback(request, channel, module, operation, ids))

    def callback(
        self,
        request: HttpRequest,
        channel: dict[str, Any],
        module: str,
        operation: str,
        ids: list[str],
        server_time: int | None = None,
    ) -> dict[str, Any]:
        host = (
            f"{request.scheme}://{request.get_host()}" if request is not None else "https://www.zohoapis.com"
        )
        return {
            "server_time": server_time or int(time.time() * 1000),
            "query_params": {},
            "module": module,
            "resource_uri": f"{host}/crm/v7/{module}",
            "ids": list(ids),
            "affected_fields": [],
            "operation": operation,
            "channel_id": channel["channel_id"],
            "token": channel.get("token", ""),
        }

    def _send(self, url: str, payload: dict[str, Any]) -> SandboxWebhook:
        body = json.dumps(payload).encode()
        attempts = int(self.setting("notify_attempts", 1))
        return self.deliver(url, body, {"Content-Type": "application/json"}, attempts=attempts)

    def fire_webhooks(self, request: HttpRequest | None, target_url: str, payload: Any) -> SandboxWebhook:
        spec = payload if isinstance(payload, dict) else {}
        module, operation = str(spec.get("module") or "Contacts"), str(spec.get("operation") or "update")
        if module not in MODULES or operation not in OPERATIONS:
            raise ValueError("events needs a module and an operation (insert, update, delete)")
        channels = self._channels()
        channel = channels.get(str(spec.get("channel_id") or "")) or next(iter(channels.values()), None) or {}
        channel = {
            "channel_id": str(spec.get("channel_id") or channel.get("channel_id") or "0"),
            "token": spec.get("token", channel.get("token", "")),
        }
        ids = [str(i) for i in spec.get("ids") or []]
        return self._send(
            target_url, self.callback(request, channel, module, operation, ids, spec.get("server_time"))
        )


def _expired(channel: dict[str, Any]) -> bool:
    expiry = parse_datetime(str(channel.get("channel_expiry") or ""))
    return expiry is None or expiry <= timezone.now()
