"""The Data API's ``runReport`` (providers.md §10) over the seeded traffic table and the events MP
kept, with the property's quotas.

Access: the token's (or self-signed JWT's) service account must be a user of the property, else
403 ``PERMISSION_DENIED`` (an unknown property answers the same, as Google does). Figures:
``traffic`` rows (``_control/seed``) add their sessions and conversions; stored events add, per
date × source × medium, one session per distinct (visitor, ``session_id`` param or day) — an
approximation of GA's sessionisation — and one conversion per key event (``key_events`` setting,
default ``generate_lead`` and ``close_convert_lead``); an event's source and medium are its
``source``/``medium`` params, else ``(direct)``/``(none)``. Dates are UTC. Values are strings,
``date`` is ``YYYYMMDD``; ``limit`` (default 10,000, at most 250,000) and ``offset`` page the
rows, ``rowCount`` is the total; ``orderBys`` on dimensions or metrics are honoured.

Quotas (settings): ``tokens_per_report`` charged per request against ``tokens_per_hour``
(40,000) and ``tokens_per_day`` (200,000) per property, and ``concurrent_requests`` (10) at once
per property in this process (``report_delay_ms`` holds each request open to reach it); beyond
any → 429 ``RESOURCE_EXHAUSTED``. ``returnPropertyQuota`` reports what is left.
"""

from __future__ import annotations

import re
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse

from connectors.google_analytics.emulator.collect import EVENTS, PROPERTIES, MeasurementProtocol
from connectors.sandbox.emulator import json_body
from connectors.sandbox.models import SandboxState

TRAFFIC = "traffic"
DIMENSIONS = ("date", "sessionSource", "sessionMedium")
METRICS = ("sessions", "conversions", "keyEvents", "eventCount")
DEFAULT_KEY_EVENTS = ("generate_lead", "close_convert_lead")
DEFAULT_LIMIT, MAX_LIMIT = 10_000, 250_000
QUOTA_DEFAULTS = {"tokens_per_hour": 40_000, "tokens_per_day": 200_000, "concurrent_requests": 10}
DAYS_AGO = re.compile(r"^(\d+)daysAgo$")
SCHEMA_HINT = "For a list of valid dimensions and metrics, see https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema"

_in_flight: dict[str, int] = defaultdict(int)
_in_flight_lock = threading.Lock()


class ReportInvalid(ValueError):
    """An INVALID_ARGUMENT answer."""


def parse_day(value: Any, today: date) -> date:
    text = str(value or "")
    if text == "today":
        return today
    if text == "yesterday":
        return today - timedelta(days=1)
    ago = DAYS_AGO.match(text)
    if ago:
        return today - timedelta(days=int(ago.group(1)))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ReportInvalid(
            f"Invalid date: {text!r}. Use YYYY-MM-DD, NdaysAgo, yesterday or today."
        ) from None


def int_field(body: dict[str, Any], name: str, default: int) -> int:
    """An int64 field: Google's JSON mapping sends them as strings, plain clients as numbers."""
    try:
        value = int(str(body.get(name, default) or default))
    except ValueError:
        raise ReportInvalid(f"Invalid value for {name}.") from None
    if value < 0:
        raise ReportInvalid(f"{name} must be positive.")
    return value


class DataApi(MeasurementProtocol):
    # --- access and quotas --------------------------------------------------------------------------

    def quota_setting(self, name: str) -> int:
        return int(self.setting(name, QUOTA_DEFAULTS.get(name, 10)))

    def quota_charge(self, property_id: str) -> tuple[dict[str, Any] | None, str]:
        """Charge one report's tokens; (the property's quota after it, "") or (None, why refused)."""
        cost = int(self.setting("tokens_per_report", 10))
        now = datetime.now(UTC)
        hour, day = now.strftime("%Y%m%d%H"), now.strftime("%Y%m%d")
        with transaction.atomic():
            state = SandboxState.objects.select_for_update().get(pk=self.state().pk)
            quotas = dict(state.settings.get("quota") or {})
            used = dict(quotas.get(property_id) or {})
            hour_used = used.get("hour_used", 0) if used.get("hour") == hour else 0
            day_used = used.get("day_used", 0) if used.get("day") == day else 0
            per_hour, per_day = self.quota_setting("tokens_per_hour"), self.quota_setting("tokens_per_day")
            if day_used + cost > per_day:
                return None, "Exhausted property tokens per day for this property."
            if hour_used + cost > per_hour:
                return None, "Exhausted property tokens per hour for this property."
            used = {"hour": hour, "hour_used": hour_used + cost, "day": day, "day_used": day_used + cost}
            quotas[property_id] = used
            state.settings = {**state.settings, "quota": quotas}
            state.save(update_fields=["settings"])
        return used, ""

    @contextmanager
    def concurrency_slot(self, property_id: str) -> Iterator[bool]:
        limit = self.quota_setting("concurrent_requests")
        with _in_flight_lock:
            granted = _in_flight[property_id] < limit
            if granted:
                _in_flight[property_id] += 1
        try:
            yield granted
        finally:
            if granted:
                with _in_flight_lock:
                    _in_flight[property_id] -= 1

    def property_quota(self, used: dict[str, Any]) -> dict[str, Any]:
        per_hour, per_day = self.quota_setting("tokens_per_hour"), self.quota_setting("tokens_per_day")
        concurrent = self.quota_setting("concurrent_requests")
        return {
            "tokensPerDay": {"consumed": used["day_used"], "remaining": max(0, per_day - used["day_used"])},
            "tokensPerHour": {
                "consumed": used["hour_used"],
                "remaining": max(0, per_hour - used["hour_used"]),
            },
            "concurrentRequests": {"consumed": 0, "remaining": concurrent},
            "serverErrorsPerProjectPerHour": {"consumed": 0, "remaining": 10},
            "potentiallyThresholdedRequestsPerHour": {"consumed": 0, "remaining": 120},
            "tokensPerProjectPerHour": {
                "consumed": used["hour_used"],
                "remaining": max(0, 14_000 - used["hour_used"]),
            },
        }

    # --- the endpoint -------------------------------------------------------------------------------

    def run_report_view(self, request: HttpRequest, property_id: str) -> HttpResponse:
        if request.method != "POST":
            return self.error(405, "Use POST.")
        who = str((request.sandbox_token.data or {}).get("client_email", ""))  # type: ignore[attr-defined]
        prop = self.records(PROPERTIES).filter(remote_id=property_id).first()
        if prop is None or who not in prop.data.get("users", []):
            return self.error(
                403,
                "User does not have sufficient permissions for this property. To learn more about "
                "Property ID, see https://developers.google.com/analytics/devguides/reporting/data/v1/property-id.",
            )
        body = json_body(request)
        if not isinstance(body, dict):
            return self.error(400, "Invalid JSON payload received.")
        with self.concurrency_slot(property_id) as granted:
            if not granted:
                return self.error(429, "Exhausted concurrent requests quota for this property.")
            used, refused = self.quota_charge(property_id)
            if used is None:
                return self.error(429, refused)
            delay = int(self.setting("report_delay_ms", 0))
            if delay:
                time.sleep(delay / 1000)
            try:
                answer = self.report(property_id, body)
            except ReportInvalid as exc:
                return self.error(400, str(exc))
        if body.get("returnPropertyQuota"):
            answer["propertyQuota"] = self.property_quota(used)
        return JsonResponse(answer)

    # --- the figures --------------------------------------------------------------------------------

    def report(self, property_id: str, body: dict[str, Any]) -> dict[str, Any]:
        dims = [str((d or {}).get("name", "")) for d in body.get("dimensions") or []]
        metrics = [str((m or {}).get("name", "")) for m in body.get("metrics") or []]
        for name in dims:
            if name not in DIMENSIONS:
                raise ReportInvalid(f"Field {name} is not a valid dimension. {SCHEMA_HINT}")
        for name in metrics:
            if name not in METRICS:
                raise ReportInvalid(f"Field {name} is not a valid metric. {SCHEMA_HINT}")
        if not metrics and not dims:
            raise ReportInvalid("At least one dimension or metric is required.")
        ranges = body.get("dateRanges") or []
        if not ranges:
            raise ReportInvalid("dateRanges is required.")
        today = datetime.now(UTC).date()
        spans = [(parse_day(r.get("startDate"), today), parse_day(r.get("endDate"), today)) for r in ranges]
        limit = min(int_field(body, "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT, MAX_LIMIT)
        offset = int_field(body, "offset", 0)
        totals: dict[tuple[str, ...], dict[str, float]] = defaultdict(lambda: dict.fromkeys(METRICS, 0.0))
        for fact in self.facts(property_id):
            if not any(start <= fact["day"] <= end for start, end in spans):
                continue
            values = {
                "date": fact["day"].strftime("%Y%m%d"),
                "sessionSource": fact["source"],
                "sessionMedium": fact["medium"],
            }
            row = totals[tuple(values[name] for name in dims)]
            for name in METRICS:
                row[name] += fact[name]
        rows = [
            (key, figures)
            for key, figures in totals.items()
            if any(figures[m] for m in metrics) or not metrics
        ]
        rows = self.ordered(rows, body.get("orderBys") or [], dims, metrics)
        answer: dict[str, Any] = {
            "dimensionHeaders": [{"name": name} for name in dims],
            "metricHeaders": [{"name": name, "type": "TYPE_INTEGER"} for name in metrics],
            "metadata": {"currencyCode": "USD", "timeZone": "Etc/UTC"},
            "kind": "analyticsData#runReport",
        }
        page = rows[offset : offset + limit]
        if page:
            answer["rows"] = [
                {
                    "dimensionValues": [{"value": value} for value in key],
                    "metricValues": [{"value": str(int(figures[name]))} for name in metrics],
                }
                for key, figures in page
            ]
        if rows:
            answer["rowCount"] = len(rows)
        return answer

    @staticmethod
    def ordered(rows: list, order_bys: list, dims: list[str], metrics: list[str]) -> list:
        """Sorted by ``orderBys`` (last key applied first), else by the dimensions in order."""
        rows = sorted(rows, key=lambda row: row[0])
        for order in reversed(order_bys):
            descending = bool(order.get("desc"))
            if "metric" in order and order["metric"].get("metricName") in metrics:
                name = order["metric"]["metricName"]
                rows.sort(key=lambda row, n=name: row[1][n], reverse=descending)
            elif "dimension" in order and order["dimension"].get("dimensionName") in dims:
                index = dims.index(order["dimension"]["dimensionName"])
                rows.sort(key=lambda row, i=index: row[0][i], reverse=descending)
        return rows

    def facts(self, property_id: str) -> Iterator[dict[str, Any]]:
        """Per day × source × medium: the seeded traffic, then what the stored events add."""
        for record in self.records(TRAFFIC).filter(data__property_id=property_id):
            data = record.data
            yield {
                "day": date.fromisoformat(data["date"]),
                "source": data["source"],
                "medium": data["medium"],
                "sessions": float(data.get("sessions", 0)),
                "conversions": float(data.get("conversions", 0)),
                "keyEvents": float(data.get("conversions", 0)),
                "eventCount": float(data.get("events", 0)),
            }
        key_events = set(self.setting("key_events", DEFAULT_KEY_EVENTS))
        groups: dict[tuple[date, str, str], dict[str, Any]] = {}
        for data in self.records(EVENTS).filter(data__property_id=property_id).values_list("data", flat=True):
            params = data.get("params") or {}
            day = datetime.fromtimestamp(int(data["timestamp_micros"]) / 1_000_000, UTC).date()
            group = groups.setdefault(
                (day, str(params.get("source") or "(direct)"), str(params.get("medium") or "(none)")),
                {"sessions": set(), "conversions": 0, "events": 0},
            )
            visitor = data.get("client_id") or data.get("user_id")
            group["sessions"].add((visitor, str(params.get("session_id") or day.isoformat())))
            group["conversions"] += data["name"] in key_events
            group["events"] += 1
        for (day, source, medium), group in groups.items():
            yield {
                "day": day,
                "source": source,
                "medium": medium,
                "sessions": float(len(group["sessions"])),
                "conversions": float(group["conversions"]),
                "keyEvents": float(group["conversions"]),
                "eventCount": float(group["events"]),
            }
