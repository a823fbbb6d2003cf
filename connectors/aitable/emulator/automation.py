"""Automations: "record created / updated" triggers with a "send webhook" action (providers.md §4
"Webhooks"), and the control endpoints that stand in for a person using the AITable UI.

AITable signs nothing: the automation POSTs the body its author wrote with static headers. The seed's
receiver contract is ``{"eventType", "datasheetId", "recordId", "record": {"fields": {…by name}}}`` with
``X-AITable-Signature: <shared secret verbatim>``; a failed delivery (non-2xx or no answer) is retried
up to ``webhook_retries`` (3) times with exponential backoff (``webhook_backoff`` 0.5 s, doubling).
Deliveries run on their own thread, so the API answer never waits for the receiver; every attempt is
recorded on a ``SandboxWebhook`` row (``attempts``, last ``status_code``).

Controls: ``POST _control/webhooks {"target_url", "secret", "datasheet_id"?, "events"?}`` registers an
automation (``GET`` lists automations and deliveries, ``DELETE`` removes them all);
``POST _control/records {"datasheet_id", "record_id"?, "fields": {…by name}}`` creates or edits a row
as the UI would, firing the automations.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import requests
from django.db import connections, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, path

from connectors.aitable.emulator.records import AITableRecords, RequestError
from connectors.sandbox.emulator import json_body
from connectors.sandbox.models import SandboxRecord, SandboxState, SandboxWebhook

EVENTS = ("record.created", "record.updated")
SIGNATURE_HEADER = "X-AITable-Signature"
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = 0.5
DEFAULT_TIMEOUT = 5.0

_running: set[threading.Thread] = set()
_running_lock = threading.Lock()


def deliveries_wait(timeout: float = 30.0) -> bool:
    """Wait for in-flight deliveries (tests, before the database goes); True when none is left."""
    deadline = time.monotonic() + timeout
    while True:
        with _running_lock:
            threads = list(_running)
        if not threads:
            return True
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if time.monotonic() >= deadline:
            with _running_lock:
                return not _running


class AITableAutomation(AITableRecords):
    """Automation registry, webhook delivery, the UI-edit control and the state dump."""

    # --- registry -------------------------------------------------------------------------------

    def automations(self) -> list[dict[str, Any]]:
        return list(self.setting("automations", []) or [])

    def automation_add(self, spec: dict[str, Any]) -> dict[str, Any]:
        target, secret = spec.get("target_url"), spec.get("secret", "")
        if not isinstance(target, str) or not target.startswith(("http://", "https://")):
            raise ValueError("target_url must be an http(s) URL")
        if not isinstance(secret, str):
            raise ValueError("secret must be a string")
        events = spec.get("events") or list(EVENTS)
        if not isinstance(events, list) or not set(events) <= set(EVENTS):
            raise ValueError(f"events must be a subset of {list(EVENTS)}")
        dst_id = spec.get("datasheet_id")
        if dst_id is not None and self.datasheet(str(dst_id)) is None:
            raise ValueError(f"no datasheet {dst_id}")
        automation = {"target_url": target, "secret": secret, "datasheet_id": dst_id, "events": events}
        with transaction.atomic():
            state = SandboxState.objects.select_for_update().get(pk=self.state().pk)
            state.settings = {**state.settings, "automations": [*self.automations(), automation]}
            state.save(update_fields=["settings"])
        return automation

    def webhooks_connect(self, target_url: str, *, config: dict[str, Any], secret: str) -> None:
        """The user's automation on the Leads datasheet: record created/updated → our receiver,
        with the integration's secret in ``X-AITable-Signature``."""
        leads = (config.get("datasheets") or {}).get("contact")
        self.automation_add({"target_url": target_url, "secret": secret, "datasheet_id": leads})

    # --- firing ---------------------------------------------------------------------------------

    def automation_fire(self, sheet: SandboxRecord, rows: list[SandboxRecord], event: str) -> list[int]:
        """Queue one delivery per row per matching automation; returns the SandboxWebhook ids."""
        hooks = [
            a
            for a in self.automations()
            if event in a["events"] and a.get("datasheet_id") in (None, sheet.remote_id)
        ]
        ids = []
        for automation in hooks:
            for row in rows:
                payload = {
                    "eventType": event,
                    "datasheetId": sheet.remote_id,
                    "recordId": row.remote_id,
                    "record": {"fields": self.record_body(sheet, row)["fields"]},
                }
                ids.append(self._queue(automation, json.dumps(payload, separators=(",", ":"))))
        return ids

    def _queue(self, automation: dict[str, Any], body: str) -> int:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "AITable-Automation (sandbox)",
            SIGNATURE_HEADER: automation["secret"],
        }
        hook = SandboxWebhook.objects.create(
            provider=self.provider, target_url=automation["target_url"], headers=headers, body=body
        )
        plan = (
            1 + int(self.setting("webhook_retries", DEFAULT_RETRIES)),
            float(self.setting("webhook_backoff", DEFAULT_BACKOFF)),
            float(self.setting("webhook_timeout", DEFAULT_TIMEOUT)),
        )
        transaction.on_commit(lambda: self._start(hook.pk, automation["target_url"], body, headers, plan))
        return hook.pk

    def _start(self, hook_id: int, url: str, body: str, headers: dict[str, str], plan: tuple) -> None:
        thread = threading.Thread(
            target=self._deliver, args=(hook_id, url, body, headers, plan), daemon=True, name="aitable-hook"
        )
        with _running_lock:
            _running.add(thread)
        thread.start()

    @staticmethod
    def _deliver(hook_id: int, url: str, body: str, headers: dict[str, str], plan: tuple) -> None:
        attempts, backoff, timeout = plan
        try:
            for attempt in range(1, attempts + 1):
                try:
                    status = requests.post(
                        url, data=body.encode(), headers=headers, timeout=timeout
                    ).status_code
                except requests.RequestException:
                    status = None
                SandboxWebhook.objects.filter(pk=hook_id).update(attempts=attempt, status_code=status)
                if status is not None and 200 <= status < 300:
                    return
                if attempt < attempts:
                    time.sleep(backoff * 2 ** (attempt - 1))
        finally:
            connections.close_all()
            with _running_lock:
                _running.discard(threading.current_thread())

    # --- controls -------------------------------------------------------------------------------

    def _webhooks_view(self, request: HttpRequest) -> HttpResponse:
        if request.method == "GET":
            return JsonResponse({"automations": self.automations(), "deliveries": self.deliveries()})
        if request.method == "DELETE":
            state = self.state()
            state.settings = {**state.settings, "automations": []}
            state.save(update_fields=["settings"])
            return JsonResponse({"automations": []})
        body = json_body(request)
        try:
            automation = self.automation_add(body if isinstance(body, dict) else {})
        except ValueError as exc:
            return JsonResponse({"error": str(exc)}, status=400)
        return JsonResponse({"automation": automation, "automations": self.automations()})

    def deliveries(self) -> list[dict[str, Any]]:
        hooks = SandboxWebhook.objects.filter(provider=self.provider).order_by("id")
        return [
            {
                "id": h.pk,
                "target_url": h.target_url,
                "headers": h.headers,
                "body": json.loads(h.body),
                "attempts": h.attempts,
                "status_code": h.status_code,
            }
            for h in hooks
        ]

    def records_control_view(self, request: HttpRequest) -> HttpResponse:
        """A person adds or edits a row in the grid: no token, no rate limit, automations fire."""
        body = json_body(request)
        if request.method != "POST" or not isinstance(body, dict):
            return JsonResponse({"error": "POST a JSON object"}, status=400)
        sheet = self.datasheet(str(body.get("datasheet_id", "")))
        if sheet is None:
            return JsonResponse({"error": f"no datasheet {body.get('datasheet_id')!r}"}, status=400)
        try:
            if body.get("record_id"):
                item = {"recordId": body["record_id"], "fields": body.get("fields") or {}}
                rows, event = self.records_update(sheet, [item]), "record.updated"
            else:
                rows, event = (
                    self.records_create(sheet, [{"fields": body.get("fields") or {}}]),
                    "record.created",
                )
        except RequestError as exc:
            return JsonResponse({"error": str(exc), "code": exc.code}, status=400)
        hooks = self.automation_fire(sheet, rows, event)
        return JsonResponse({"record": self.record_body(sheet, rows[0]), "event": event, "deliveries": hooks})

    def control_urls(self) -> list[URLPattern]:
        return [*super().control_urls(), path("_control/records", self._control(self.records_control_view))]

    def _state_dict(self, state: SandboxState) -> dict[str, Any]:
        """The base counters plus every datasheet with its fields and rows, and the deliveries."""
        return {
            **super()._state_dict(state),
            "datasheets": [
                {
                    "id": sheet.remote_id,
                    "name": sheet.data["name"],
                    "space_id": sheet.data.get("space_id"),
                    "fields": sheet.data["fields"],
                    "views": sheet.data["views"],
                    "records": [self.record_body(sheet, row) for row in self.rows(sheet)],
                }
                for sheet in self.datasheets()
            ],
            "deliveries": self.deliveries(),
        }
