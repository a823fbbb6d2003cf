"""``GET /act_{ad-account-id}/insights`` at campaign level, as the Marketing API answers it: one row
per campaign (per day with ``time_increment=1``) with ``spend`` and ``impressions`` as strings and
``actions`` listing ``lead`` counts (omitted when zero). The sandbox account's campaigns are its
forms' (one ad, ad set and campaign per form); leads are the stored ones, counted per UTC day, and
impressions and spend follow from them deterministically. Needs a user token (``ads_read``).

``GET /act_{id}`` is the ad account node (``id``, ``account_id``, ``name``, ``currency``,
``timezone_name``): how a reader learns the currency ``spend`` is in."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from connectors.facebook_leads.emulator.store import LEADS, GraphStore, only, requested_fields

INSIGHT_DEFAULT_FIELDS = ("date_start", "date_stop", "impressions", "spend")
DATE_PRESETS = {"today": 0, "yesterday": 1, "last_7d": 7, "last_14d": 14, "last_30d": 30, "last_90d": 90}
MAX_DAYS = 37 * 31  # the API's 37-month reach
ACCOUNT_DEFAULT_FIELDS = ("id", "account_id")


def day_of(unix: int) -> date:
    return datetime.fromtimestamp(unix, tz=UTC).date()


class InsightsApi(GraphStore):
    def campaigns(self) -> list[dict[str, str]]:
        """The forms' campaigns, then any other campaign a stored lead names (a lead added behind
        another ad), in a stable order."""
        found: dict[str, str] = {
            str(int(form.data["ad_id"]) + 2): f"{form.data['name']} campaign"
            for form in self.records("form").order_by("pk")
        }
        for campaign_id, name in (
            self.records(LEADS).order_by("pk").values_list("data__campaign_id", "data__campaign_name")
        ):
            found.setdefault(str(campaign_id), str(name))
        return [{"campaign_id": cid, "campaign_name": name} for cid, name in found.items()]

    def account_view(self, request: HttpRequest, version: str, account_id: str) -> HttpResponse:
        """``GET /act_{id}``: the ad account node (user token)."""
        if request.sandbox_token.kind not in ("user_short", "user_long"):
            return self.graph_error("(#200) Requires ads_management or ads_read permission", code=200)
        if f"act_{account_id}" != self.setting("ad_account_id", ""):
            return self.not_found(f"act_{account_id}")
        account = {
            "id": f"act_{account_id}",
            "account_id": account_id,
            "name": "Sandbox Bakery ads",
            "currency": self.setting("ad_account_currency", "USD"),
            "timezone_name": "Etc/GMT",
        }
        return JsonResponse(only(account, requested_fields(request, ACCOUNT_DEFAULT_FIELDS)))

    def time_range(self, request: HttpRequest) -> tuple[date, date] | str:
        """(since, until) from ``time_range`` JSON or ``date_preset`` (default last_30d)."""
        today = timezone.now().astimezone(UTC).date()
        if request.GET.get("time_range"):
            try:
                span = json.loads(request.GET["time_range"])
                since, until = date.fromisoformat(span["since"]), date.fromisoformat(span["until"])
            except (ValueError, KeyError, TypeError):
                return 'time_range must be {"since":"YYYY-MM-DD","until":"YYYY-MM-DD"}'
            if since > until or (until - since).days > MAX_DAYS:
                return "time_range since must be before until, within 37 months"
            return since, until
        preset = request.GET.get("date_preset", "last_30d")
        if preset not in DATE_PRESETS:
            return f"date_preset must be one of {', '.join(DATE_PRESETS)}"
        if preset == "today":
            return today, today
        return today - timedelta(days=DATE_PRESETS[preset]), today - timedelta(days=1)

    def insight_row(self, campaign: dict[str, str], since: date, until: date, leads: int) -> dict[str, Any]:
        days = (until - since).days + 1
        impressions = 800 * days + 137 * leads
        row: dict[str, Any] = {
            **campaign,
            "impressions": str(impressions),
            "spend": f"{impressions * 0.0042 + leads * 1.5:.2f}",
            "date_start": since.isoformat(),
            "date_stop": until.isoformat(),
        }
        if leads:
            row["actions"] = [
                {"action_type": "lead", "value": str(leads)},
                {"action_type": "onsite_conversion.lead_grouped", "value": str(leads)},
            ]
        return row

    def insights_view(self, request: HttpRequest, version: str, account_id: str) -> HttpResponse:
        if request.sandbox_token.kind not in ("user_short", "user_long"):
            return self.graph_error("(#200) Requires ads_management or ads_read permission", code=200)
        if f"act_{account_id}" != self.setting("ad_account_id", ""):
            return self.not_found(f"act_{account_id}")
        if request.GET.get("level", "campaign") != "campaign":
            return self.bad_parameter("The sandbox reports insights at level=campaign only")
        span = self.time_range(request)
        if isinstance(span, str):
            return self.bad_parameter(span)
        since, until = span
        daily = request.GET.get("time_increment", "all_days") == "1"
        counts: dict[tuple[str, date], int] = {}
        for campaign_id, unix in self.records(LEADS).values_list("data__campaign_id", "data__created_unix"):
            key = (str(campaign_id), day_of(unix))
            counts[key] = counts.get(key, 0) + 1
        wanted = [f.strip() for f in request.GET.get("fields", "").split(",") if f.strip()]
        keep = set(wanted or INSIGHT_DEFAULT_FIELDS) | {"date_start", "date_stop"}
        rows = []
        for campaign in self.campaigns():
            days = [since + timedelta(days=n) for n in range((until - since).days + 1)]
            spans = [(day, day) for day in days] if daily else [(since, until)]
            for start, stop in spans:
                leads = sum(
                    n
                    for (campaign_id, day), n in counts.items()
                    if campaign_id == campaign["campaign_id"] and start <= day <= stop
                )
                row = self.insight_row(campaign, start, stop, leads)
                rows.append({k: v for k, v in row.items() if k in keep})
        body = self.page_of(request, rows)
        return self.bad_parameter(body) if isinstance(body, str) else JsonResponse(body)
