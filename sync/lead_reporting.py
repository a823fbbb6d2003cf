"""The sub-account reporting page's numbers: leads per day by source, cost per lead per campaign,
web sessions and conversions per day, and lead → deal conversion.

A lead is a contact created in the sub-account. Its source is the ad campaign it came from when the
contact carries one (``custom_fields.campaign_id``, named by the ad insights' ``campaign_name``),
else the integration that created it (the creating Change's origin), else "API" or "Admin". Spend
and web figures come from the providers' daily reports (``sync.reports``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Exists, OuterRef
from django.db.models.functions import TruncDate
from django.utils import timezone

from integrations.models import Integration, SubAccount
from sync.engine import origin_of
from sync.models import Change, Contact, DailyReport, DealContact

CAMPAIGN_FIELD = "campaign_id"  # custom field carrying a lead's ad campaign (any ad source)
AD_INSIGHTS = "ad_insights"
WEB_TRAFFIC = "web_traffic"
OTHER = "Other"


@dataclass(frozen=True)
class CampaignCost:
    campaign_id: str
    name: str
    spend: float
    currency: str
    leads: int  # leads that arrived here from the campaign
    reported_leads: int  # what the ad platform counted

    @property
    def cost_per_lead(self) -> float | None:
        return round(self.spend / self.leads, 2) if self.leads else None


@dataclass(frozen=True)
class SourceConversion:
    source: str
    leads: int
    with_deal: int

    @property
    def rate(self) -> float:
        return round(100 * self.with_deal / self.leads, 1) if self.leads else 0.0


@dataclass
class LeadReport:
    since: date
    until: date
    days: list[date]
    leads_by_source: dict[str, list[int]] = field(default_factory=dict)  # source → count per day
    campaigns: list[CampaignCost] = field(default_factory=list)
    sessions: list[float] = field(default_factory=list)  # per day
    conversions: list[float] = field(default_factory=list)  # per day
    conversion: list[SourceConversion] = field(default_factory=list)

    @property
    def leads_total(self) -> int:
        return sum(sum(counts) for counts in self.leads_by_source.values())

    @property
    def with_deal_total(self) -> int:
        return sum(row.with_deal for row in self.conversion)

    @property
    def conversion_rate(self) -> float:
        return round(100 * self.with_deal_total / self.leads_total, 1) if self.leads_total else 0.0

    @property
    def spend_total(self) -> float:
        return round(sum(c.spend for c in self.campaigns), 2)

    @property
    def has_web(self) -> bool:
        return any(self.sessions) or any(self.conversions)


def _origin_names(subaccount: SubAccount) -> dict[str, str]:
    """``integration:<id>`` → the integration's name, for this sub-account's integrations."""
    return {origin_of(i): i.name for i in Integration.objects.filter(subaccount=subaccount)}


def _origin_label(origin: str, names: dict[str, str]) -> str:
    if origin in names:
        return names[origin]
    if origin.startswith("api_key:"):
        return "API"
    if origin.startswith("admin:"):
        return "Admin"
    return OTHER


def _campaign_names(subaccount: SubAccount) -> dict[str, str]:
    """Campaign id → its latest name in the ad insights."""
    names = {}
    for row in DailyReport.objects.filter(subaccount=subaccount, kind=AD_INSIGHTS).order_by("day"):
        names[row.key] = row.dimensions.get("campaign_name") or row.key
    return names


def lead_report(*, subaccount: SubAccount, days: int = 30, today: date | None = None) -> LeadReport:
    until = today or timezone.localdate()
    since = until - timedelta(days=days - 1)
    day_list = [since + timedelta(days=n) for n in range(days)]
    index = {day: n for n, day in enumerate(day_list)}
    report = LeadReport(since=since, until=until, days=day_list)

    leads = list(
        Contact.objects.filter(
            subaccount=subaccount,
            is_deleted=False,
            created_at__date__gte=since,
            created_at__date__lte=until,
        )
        .annotate(
            day=TruncDate("created_at"),
            has_deal=Exists(DealContact.objects.filter(contact=OuterRef("pk"), deal__is_deleted=False)),
        )
        .values("pk", "day", "custom_fields", "has_deal")
    )
    origins = dict(
        Change.objects.filter(
            subaccount=subaccount,
            entity="contact",
            op=Change.Op.CREATE,
            record_id__in=[lead["pk"] for lead in leads],
        ).values_list("record_id", "origin")
    )
    names = _origin_names(subaccount)
    campaign_names = _campaign_names(subaccount)
    by_source: dict[str, list[int]] = defaultdict(lambda: [0] * days)
    per_campaign: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    converted: Counter[str] = Counter()
    for lead in leads:
        campaign = str((lead["custom_fields"] or {}).get(CAMPAIGN_FIELD) or "")
        if campaign:
            per_campaign[campaign] += 1
            source = campaign_names.get(campaign) or f"Campaign {campaign}"
        else:
            source = _origin_label(origins.get(lead["pk"], ""), names)
        if lead["day"] in index:
            by_source[source][index[lead["day"]]] += 1
        sources[source] += 1
        converted[source] += 1 if lead["has_deal"] else 0
    report.leads_by_source = dict(sorted(by_source.items(), key=lambda item: -sum(item[1])))
    report.conversion = [
        SourceConversion(source=source, leads=count, with_deal=converted[source])
        for source, count in sources.most_common()
    ]
    report.campaigns = _campaign_costs(subaccount, since, until, per_campaign, campaign_names)
    report.sessions, report.conversions = _web_per_day(subaccount, since, until, index)
    return report


def _campaign_costs(
    subaccount: SubAccount, since: date, until: date, leads: Counter[str], names: dict[str, str]
) -> list[CampaignCost]:
    spend: dict[str, float] = defaultdict(float)
    reported: Counter[str] = Counter()
    currency: dict[str, str] = {}
    for row in DailyReport.objects.filter(
        subaccount=subaccount, kind=AD_INSIGHTS, day__gte=since, day__lte=until
    ):
        spend[row.key] += float(row.metrics.get("spend") or 0)
        reported[row.key] += int(row.metrics.get("leads") or 0)
        currency[row.key] = row.dimensions.get("currency", "")
    campaigns = set(spend) | set(leads)
    rows = [
        CampaignCost(
            campaign_id=cid,
            name=names.get(cid) or f"Campaign {cid}",
            spend=round(spend.get(cid, 0.0), 2),
            currency=currency.get(cid, ""),
            leads=leads.get(cid, 0),
            reported_leads=reported.get(cid, 0),
        )
        for cid in campaigns
    ]
    return sorted(rows, key=lambda row: (-row.spend, row.name))


def _web_per_day(
    subaccount: SubAccount, since: date, until: date, index: dict[date, int]
) -> tuple[list[float], list[float]]:
    sessions, conversions = [0.0] * len(index), [0.0] * len(index)
    for row in DailyReport.objects.filter(
        subaccount=subaccount, kind=WEB_TRAFFIC, day__gte=since, day__lte=until
    ):
        sessions[index[row.day]] += float(row.metrics.get("sessions") or 0)
        conversions[index[row.day]] += float(row.metrics.get("conversions") or 0)
    return sessions, conversions
