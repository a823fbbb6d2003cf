"""Signed webhook delivery for emulators: registered targets, timestamped HMAC signatures, the
2 s / 4 s / 8 s retry rule and a log of every attempt. One implementation for every provider that
signs ``"{ts}.{body}"`` (MissionX, À La Carte Chat); a provider adds only its event body.

Targets (``_control/webhooks``): ``POST {"target_url", "secret"?, "api_key"?, "events"?}`` registers
(or replaces) one; ``GET`` lists them; ``DELETE`` removes them all. With ``api_key`` a target
receives that key's account's events only, else every account's; with ``events`` only those event
names; without ``secret`` each event is signed with its account's webhook secret
(``account_secret``). Keys carry their account in ``SandboxToken.data["account"]``.

Each event goes out as compact JSON with ``X-Webhook-Timestamp`` (Unix seconds, re-signed on every
attempt so a late retry is never stale) and ``X-Webhook-Signature`` = hex HMAC-SHA256(secret,
``"{ts}.{body}"``). 5xx, 429 and no answer (timeout, refused) are retried after the delays; any other
4xx ends the delivery. Deliveries run on a small worker pool after the current transaction commits,
as the provider's own queue would, so an API call never waits for a slow target; each target gets
its events one at a time in the order they happened (a retrying target holds its later events). Each delivery is a
``deliveries`` record (``_control/deliveries``). Settings: ``webhook_retry_delays`` (the schedule),
``webhook_delay_scale`` (shrinks the actual waits for tests; the logged ``delay`` stays nominal),
``webhook_timeout`` (seconds per attempt).
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import requests
from django.db import connections, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, path
from django.utils import timezone

from connectors.sandbox.emulator import Emulator, iso_ms, json_body
from connectors.sandbox.models import SandboxRecord, SandboxToken, SandboxWebhook
from connectors.signatures import hmac_signature, signed_message

logger = logging.getLogger(__name__)

DELIVERIES = "deliveries"
RETRY_DELAYS = (2, 4, 8)
DEFAULT_TIMEOUT = 10.0
_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sandbox-webhooks")
_pending: set[Future] = set()  # running drainers (deliveries_wait joins them)
# (provider, target) → (job, its finished event), the head running
_queues: dict[tuple[str, str], deque[tuple[Callable[[], None], threading.Event]]] = {}
_pending_lock = threading.Lock()


def compact_json(body: Any) -> bytes:
    """The bytes sent and signed: no spaces, non-ASCII as is (what ``JSON.stringify`` re-serialises to)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def delivered(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def retryable(status: int | None) -> bool:
    """5xx, 429 and no answer at all (timeout, refused) are worth another try; other 4xx are not."""
    return status is None or status == 429 or status >= 500


def deliveries_wait(timeout: float = 30.0) -> bool:
    """Wait for queued and running deliveries (tests, before the database goes); True when none is left."""
    deadline = time.monotonic() + timeout
    while True:
        with _pending_lock:
            running = list(_pending)
        if not running:
            return True
        if time.monotonic() >= deadline:
            return False
        for future in running:
            try:
                future.result(max(0.0, deadline - time.monotonic()))
            except Exception:  # noqa: BLE001, S112 (a failed delivery is logged on its record; only waiting here)
                continue


class SignedWebhooks(Emulator):
    """Mix into a provider emulator; call ``dispatch`` with each event's body."""

    webhook_user_agent = "Sandbox-Webhooks/1.0"

    # --- accounts -----------------------------------------------------------------------------

    def account_of(self, api_key: str) -> str | None:
        token = SandboxToken.objects.filter(provider=self.provider, access_token=api_key).first()
        return str(token.data.get("account", "")) if token is not None else None

    def account_secret(self, account: str) -> str:
        """The secret an account's events are signed with when its target names none."""
        token = SandboxToken.objects.filter(provider=self.provider, data__account=account).first()
        return str(token.data.get("webhook_secret", "")) if token else ""

    # --- registration -------------------------------------------------------------------------

    def targets(self, account: str, event: str = "") -> list[tuple[str, str]]:
        """(target URL, signing secret) for each registration that receives ``account``'s ``event``."""
        found = []
        for hook in self.setting("webhook_targets", []):
            if hook.get("account") and hook["account"] != account:
                continue
            if event and hook.get("events") and event not in hook["events"]:
                continue
            secret = hook.get("secret") or self.account_secret(account)
            if secret:
                found.append((hook["target_url"], secret))
        return found

    def target_add(
        self, target_url: str, *, secret: str = "", account: str = "", events: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Register (or replace) a webhook target, for one account's events or ("") everyone's."""
        state = self.state()
        hooks = [
            h
            for h in state.settings.get("webhook_targets", [])
            if (h["target_url"], h["account"]) != (target_url, account)
        ]
        hooks.append({"target_url": target_url, "secret": secret, "account": account, "events": events or []})
        state.settings = {**state.settings, "webhook_targets": hooks}
        state.save(update_fields=["settings"])
        return hooks

    def webhooks_connect(self, target_url: str, *, config: dict[str, Any], secret: str) -> None:
        """The account's webhook pointed at our receiver, signed with the secret the integration's
        config holds (the account's own when it holds none)."""
        self.target_add(
            target_url,
            secret=str(config.get("webhook_secret") or ""),
            account=self.account_of(str(config.get("api_key") or "")) or "",
        )

    def control_urls(self) -> list[URLPattern]:
        return super().control_urls() + [path("_control/deliveries", self._control(self._deliveries_view))]

    def _webhooks_view(self, request: HttpRequest) -> HttpResponse:
        """GET: the registrations; POST: register (or replace) a target; DELETE: remove them all."""
        state = self.state()
        hooks = list(state.settings.get("webhook_targets", []))
        if request.method == "DELETE":
            hooks = []
        elif request.method == "POST":
            body = json_body(request)
            body = body if isinstance(body, dict) else {}
            target = str(body.get("target_url") or "")
            if not target.startswith(("http://", "https://")):
                return self.error(400, "target_url (http or https) is required")
            events = body.get("events") or []
            if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
                return self.error(400, "events must be a list of event names")
            account = ""
            if body.get("api_key"):
                account = self.account_of(str(body["api_key"]))
                if account is None:
                    return self.error(404, "no such API key")
            hooks = self.target_add(
                target, secret=str(body.get("secret") or ""), account=account, events=events
            )
            return JsonResponse({"webhooks": hooks})
        state.settings = {**state.settings, "webhook_targets": hooks}
        state.save(update_fields=["settings"])
        return JsonResponse({"webhooks": hooks})

    def _deliveries_view(self, request: HttpRequest) -> HttpResponse:
        """Every delivery with its attempts, oldest first (``?event_id=`` / ``?event=`` to filter)."""
        rows = self.records(DELIVERIES).order_by("pk")
        for name in ("event_id", "event"):
            if request.GET.get(name):
                rows = rows.filter(**{f"data__{name}": request.GET[name]})
        return JsonResponse({"data": [row.data for row in rows]})

    # --- sending --------------------------------------------------------------------------------

    def dispatch(
        self, account: str, event: str, body: dict[str, Any], *, event_id: str = "", wait: bool = False
    ) -> list[int]:
        """Send ``body`` to every target for ``account``'s ``event``: on the pool after the current
        transaction commits, or now and waiting for the outcome with ``wait``. Returns the delivery
        records' pks."""
        raw = compact_json(body)
        made = []
        for target, secret in self.targets(account, event):
            record = SandboxRecord.objects.create(
                provider=self.provider,
                object_type=DELIVERIES,
                remote_id=f"dlv_{secrets.token_hex(8)}",
                data={
                    "event_id": event_id or f"evt_{secrets.token_hex(10)}",
                    "event": event,
                    "target_url": target,
                    "attempts": [],
                    "done": False,
                },
                created_at=timezone.now(),
                updated_at=timezone.now(),
            )
            made.append(record.pk)
            if wait:  # still behind the target's earlier events, so the order holds
                self._queue(record.pk, target, secret, raw).wait()
            else:
                transaction.on_commit(lambda r=record.pk, t=target, s=secret: self._queue(r, t, s, raw))
        return made

    def _queue(self, record_pk: int, target: str, secret: str, raw: bytes) -> threading.Event:
        return _enqueue(
            (self.provider, target), lambda: self._deliver_in_pool(record_pk, target, secret, raw)
        )

    def _deliver_in_pool(self, record_pk: int, target: str, secret: str, raw: bytes) -> None:
        try:
            self.deliver_signed(record_pk, target, secret, raw)
        finally:
            connections.close_all()  # this thread's own connections

    def signed_headers(self, secret: str, raw: bytes, *, at: int | None = None) -> dict[str, str]:
        """Headers signing ``raw`` at Unix time ``at`` (now unless given: known-answer tests fix it)."""
        timestamp = str(int(time.time()) if at is None else at)
        return {
            "Content-Type": "application/json",
            "User-Agent": self.webhook_user_agent,
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
        status = None
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
                    "at": iso_ms(timezone.now()),
                }
            )
            SandboxWebhook.objects.filter(pk=hook.pk).update(  # gone if the emulator was reset
                headers=headers, attempts=len(attempts), status_code=status
            )
            self._log(record_pk, attempts, done=False)
            if delivered(status) or not retryable(status):
                break
        self._log(record_pk, attempts, done=True, outcome="delivered" if delivered(status) else "failed")

    def _log(self, record_pk: int, attempts: list[dict[str, Any]], *, done: bool, outcome: str = "") -> None:
        record = SandboxRecord.objects.filter(pk=record_pk).first()
        if record is None:  # the emulator was reset meanwhile
            return
        record.data = {**record.data, "attempts": attempts, "done": done, "outcome": outcome}
        record.updated_at = timezone.now()
        record.save(update_fields=["data", "updated_at"])


def _enqueue(key: tuple[str, str], job: Callable[[], None]) -> threading.Event:
    """Queue ``job`` behind the target's earlier deliveries, starting a drainer when none runs;
    the returned event is set once the job has run."""
    finished = threading.Event()
    with _pending_lock:
        queue = _queues.setdefault(key, deque())
        queue.append((job, finished))
        if len(queue) > 1:  # the head is running: its drainer will get to this one
            return finished
        future = _POOL.submit(_drain, key)
        _pending.add(future)
    future.add_done_callback(_forget)
    return finished


def _drain(key: tuple[str, str]) -> None:
    """Run the target's jobs in order; the running one stays at the head until it is done. A job
    that raises (the emulator reset under it) is logged and the next one still runs."""
    while True:
        with _pending_lock:
            job, finished = _queues[key][0]
        try:
            job()
        except Exception:
            logger.exception("sandbox webhook delivery to %s failed", key[1])
        finished.set()
        with _pending_lock:
            queue = _queues[key]
            queue.popleft()
            if not queue:
                del _queues[key]
                return


def _forget(future: Future) -> None:
    with _pending_lock:
        _pending.discard(future)
