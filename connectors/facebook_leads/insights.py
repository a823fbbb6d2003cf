"""Ad insights: spend, impressions and leads per campaign per day from the ad account
(``GET /act_{id}/insights?level=campaign&time_increment=1``), read with the user token. Graph
sends the numbers as strings and the lead count inside ``actions`` (absent when zero). As report
rows (``connectors.capabilities.ReportRow``) they are keyed by campaign, with the ad account's
currency (``GET /act_{id}?fields=currency``) named when Graph gives it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.capabilities import ReportRow

INSIGHT_FIELDS = "campaign_id,campaign_name,spend,impressions,actions"
LEAD_ACTION = "lead"
REPORT_KIND = "ad_insights"


@dataclass(frozen=True)
class AdInsight:
    day: date
    campaign_id: str
    campaign_name: str
    spend: Decimal  # in the ad account's currency
    impressions: int
    leads: int


def ad_account_path(ad_account_id: str) -> str:
    """``act_<number>``, whether the config holds the number or the prefixed id."""
    return ad_account_id if ad_account_id.startswith("act_") else f"act_{ad_account_id}"


def _number(value: Any) -> Decimal:
    try:
        return Decimal(str(value or "0"))
    except InvalidOperation:
        return Decimal(0)


def insight(row: dict[str, Any]) -> AdInsight:
    leads = sum(
        int(_number(a.get("value"))) for a in row.get("actions") or [] if a.get("action_type") == LEAD_ACTION
    )
    return AdInsight(
        day=date.fromisoformat(str(row["date_start"])),
        campaign_id=str(row.get("campaign_id", "")),
        campaign_name=str(row.get("campaign_name", "")),
        spend=_number(row.get("spend")),
        impressions=int(_number(row.get("impressions"))),
        leads=leads,
    )


def report_row(row: AdInsight, currency: str = "") -> ReportRow:
    """One campaign's day as the platform stores daily figures (``sync.reports``)."""
    dimensions = {"campaign_id": row.campaign_id, "campaign_name": row.campaign_name}
    if currency:
        dimensions["currency"] = currency
    return ReportRow(
        kind=REPORT_KIND,
        day=row.day,
        key=row.campaign_id,
        dimensions=dimensions,
        metrics={"spend": float(row.spend), "impressions": float(row.impressions), "leads": float(row.leads)},
    )
