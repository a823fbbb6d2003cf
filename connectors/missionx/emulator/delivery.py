"""MissionX webhooks from the emulator: registered targets, signed events, retries and their log.

``_control/webhooks`` registers a target (``{"target_url", "secret"?, "api_key"?}``): with
``api_key`` it receives that account's events only, else every account's; without ``secret`` each
event is signed with its account's webhook secret (the one ``connect`` hands out). Each event is
POSTed as compact JSON, signed ``X-Webhook-Signature`` = hex HMAC-SHA256(secret, ``"{ts}.{body}"``)
with ``X-Webhook-Timestamp`` in Unix seconds (re-signed on every attempt, so a late retry is never
stale), and retried after 2 s, 4 s and 8 s on 5xx, 429 and timeouts; any other 4xx ends it.

Deliveries run on a thread, as MissionX's own queue would, so an API call never waits for a slow
target. Every attempt is logged on a ``deliveries`` record (``_control/deliveries``). The
``webhook_retry_delays`` setting changes the schedule and ``webhook_delay_scale`` shrinks the
actual waits for tests (the logged ``delay`` stays the nominal one).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from typing import Any

import requests
from django.db import connections, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from connectors.missionx.emulator.store import DELIVERIES, MissionXStore, iso
from connectors.sandbox.emulator import json_body
from connectors.sandbox.models import SandboxRecord, SandboxToken, SandboxWebhook
from connectors.signatures import hmac_signature, signed_message

RETRY_DELAYS = (2, 4, 8)
DEFAULT_TIMEOUT = 10.0


def delivered(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def retryable(status: int | None) -> bool:
    """5xx, 429 and no answer at all (timeout, refused) are worth another try; other 4xx are not."""
    return status is None or status == 429 or status >= 500


class MissionXDelivery(MissionXStore):
    # --- registration -------------------------------------------------------------------------

    def targets(self, account: str) -> list[tuple[str, str]]:
        """(target URL, signing secret) for each registration that receives ``account``'s events."""
        found = []
        for hook in self.setting("webhook_targets", []):
            if hook.get("account") and hook["account"] != account:
                continue
            secret = hook.get("secret") or self.account_secret(account)
            if secret:
                found.append((hook["target_url"], secret))
        return found

    def _webhooks_view(self, request: HttpRequest) -> HttpResponse:
        """GET: the registrations; POST: register (or replace) a target; DELETE: remove them all."""
        state = self.state()
        hooks = list(state.settings.get("webhook_targets", []))
        if request.method == "DELETE":
            hooks = []
        elif request.method == "POST":
            body = json_body(request) or {}
            target = str(body.get("target_url") or "") if isinstance(body, dict) else ""
            if not target.startswith(("http://", "https://")):
                return self.error(400, "target_url (http or https) is required")
            account = ""
            if body.get("api_key"):
                account = self.account_of(str(body["api_key"]))
                if account is None:
                    return self.error(404, "no such API key")
            hooks = self.target_add(target, secret=str(body.get("secret") or ""), account=account)
            return JsonResponse({"webhooks": hooks})
        state.settings = {**state.settings, "webhook_targets": hooks}
        state.save(update_fields=["settings"])
        return JsonResponse({"webhooks": hooks})

    def account_of(self, api_key: str) -> str | None:
        token = SandboxToken.objects.filter(provider=self.provider, access_token=api_key).first()
        return token.data["account"] if token is not None else None

    def target_add(self, target_url: str, *, secret: str = "", account: str = "") -> list[dict[str, Any]]:
        """Register (or replace) a webhook target, for one account's events or ("") everyone's."""
        state = self.state()
        hooks = [
            h
            for h in state.settings.get("webhook_targets", [])
            if (h["target_url"], h["account"]) != (target_url, account)
        ]
        hooks.append({"target_url": target_url, "secret": secret, "account": account})
        state.settings = {**state.settings, "webhook_targets": hooks}
        state.save(update_fields=["settings"])
        return hooks

    def webhooks_connect(self, target_url: str, *, config: dict[str, Any], secret: str) -> None:
        """The account's webhook (Settings → Webhooks) pointed at our receiver; MissionX signs with
        the account's secret, which the integration's config holds."""
        self.target_add(target_url, account=self.account_of(str(config.get("api_key") or "")) or "")

    def _deliveries_view(self, request: HttpRequest) -> HttpResponse:
        """Every delivery with its attempts, oldest first (``?event_id=`` for one event's)."""
        rows = self.records(DELIVERIES).order_by("pk")
        if request.GET.get("event_id"):
            rows = rows.filter(data__event_id=request.GET["event_id"])
        return JsonResponse({"data": [row.data for row in rows]})

    # --- events -------------------------------------------------------------------------------

    def emit(self, account: str, event: str, data: dict[str, Any], *, wait: bool = False) -> dict[str, Any]:
        """Build the event and send it to every target for ``account``: on a thread after the
        current transaction commits, or here and now with ``wait``. Returns the body."""
        body = {
            "id": f"evt_{secrets.token_hex(10)}",
            "event": event,
            "timestamp": iso(timezone.now()),
            "data": data,
        }
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        for target, secret in self.targets(account):
            record = SandboxRecord.objects.create(
                provider=self.provider,
                object_type=DELIVERIES,
                remote_id=f"dlv_{secrets.token_hex(8)}",
                data={
                    "event_id": body["id"],
                    "event": event,
                    "target_url": target,
                    "attempts": [],
                    "done": False,
                },
                created_at=timezone.now(),
                updated_at=timezone.now(),
            )
            if wait:
                self.deliver_signed(record.pk, target, secret, raw)
            else:
                transaction.on_commit(lambda r=record.pk, t=target, s=secret: self._start(r, t, s, raw))
        return body

    def _start(self, record_pk: int, target: str, secret: str, raw: bytes) -> None:
        threading.Thread(
            target=self._deliver_on_thread, args=(record_pk, target, secret, raw), daemon=True
        ).start()

    def _deliver_on_thread(self, record_pk: int, target: str, secret: str, raw: bytes) -> None:
        try:
            self.deliver_signed(record_pk, target, secret, raw)
        finally:
            connections.close_all()  # this thread's own connections

    def signed_headers(self, secret: str, raw: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()))
        return {
            "Content-Type": "application/json",
            "User-Agent": "MissionX-Webhooks/1.0 (sandbox)",
            "X-Webhook-Timestamp": timestamp,
            "X-Webhook-Signature": hmac_signature(secret, signed_message(timestamp, raw)),
        }

    def deliver_signed(self, record_pk: int, target: str, secret: str, raw: bytes) -> None:
        """POST until a 2xx, a non-retryable answer, or the retries run out; log each attempt."""
        delays = [float(d) for d in self.setting("webhook_retry_delays", list(RETRY_DELAYS))]
        scale = float(self.setting("webhook_delay_scale", 1.0))
        timeout = float(self.setting("webhook_timeout", DEFAULT_TIMEOUT))
        attempts: list[dict[str, Any]] = []
        hook = SandboxWebhook.objects.create(
            provider=self.provider, target_url=target, headers={}, body=raw.decode()
        )
        for delay in [0.0, *delays]:
            time.sleep(delay * scale)
            headers = self.signed_headers(secret, raw)
            status, error = None, ""
            try:
                status = requests.post(target, data=raw, headers=headers, timeout=timeout).status_code
            except requests.Timeout:
                error = "timeout"
            except requests.RequestException as exc:
                error = type(exc).__name__
            attempts.append(
                {
                    "n": len(attempts) + 1,
                    "delay": delay,
                    "status": status,
                    "error": error,
                    "at": iso(timezone.now()),
                }
            )
            SandboxWebhook.objects.filter(pk=hook.pk).update(  # gone if the emulator was reset
                headers=headers, attempts=len(attempts), status_code=status
            )
            self._log(record_pk, attempts, done=False)
            if delivered(status) or not retryable(status):
                break
        outcome = "delivered" if delivered(status) else "failed"
        self._log(record_pk, attempts, done=True, outcome=outcome)

    def _log(self, record_pk: int, attempts: list[dict[str, Any]], *, done: bool, outcome: str = "") -> None:
        record = SandboxRecord.objects.filter(pk=record_pk).first()
        if record is None:  # the emulator was reset meanwhile
            return
        record.data = {**record.data, "attempts": attempts, "done": done, "outcome": outcome}
        record.updated_at = timezone.now()
        record.save(update_fields=["data", "updated_at"])
