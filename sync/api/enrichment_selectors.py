"""Reads over scores and the enrichment log that the API and the admin share: the priority queue,
score history and the calibration report (score bands against deals and won deals).

Each is a few queries whatever the number of records: the priority queue reads one index range
(see the lead's ``(subaccount, -score, -scored_at, -id)`` partial index), the calibration report
is one grouped query.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Least, Lower

from integrations.models import SubAccount
from sync.models import Company, Contact, DealContact, EnrichmentJob, ScoreHistory

# Deal stages that count as won, compared lower-case (CRMs spell the same stage differently).
WON_STAGES = frozenset({"closedwon", "closed won", "won", "closed_won"})

SCORED_MODELS: dict[str, type[Contact] | type[Company]] = {"contact": Contact, "company": Company}
PRIORITY_QUEUE_MAX = 200
BAND_WIDTH = 10
BANDS = 10  # 0-9, 10-19, ..., 90-100 (100 joins the top band)


def priority_queue_list(
    *,
    subaccount: SubAccount | None = None,
    subaccounts: QuerySet[SubAccount] | None = None,
    entity: str = "contact",
    owner_id: str | None = None,
    min_score: int | None = None,
    limit: int = 50,
) -> list[Contact | Company]:
    """Scored, live records, the best first: score, then the most recently scored, then the newest.

    One sub-account (the API) or several (the admin, scoped to what the staff user manages)."""
    model = SCORED_MODELS[entity]
    rows = model.objects.filter(score__isnull=False, is_deleted=False)
    if subaccount is not None:
        rows = rows.filter(subaccount=subaccount)
    if subaccounts is not None:
        rows = rows.filter(subaccount__in=subaccounts)
    if owner_id is not None:
        rows = rows.filter(owner_id=owner_id)
    if min_score:
        rows = rows.filter(score__gte=min_score)
    ordered = rows.order_by("-score", "-scored_at", "-id")
    return list(ordered.select_related("subaccount")[: max(1, min(limit, PRIORITY_QUEUE_MAX))])


def score_history_list(*, entity: str, record: Contact | Company) -> QuerySet[ScoreHistory]:
    """One record's scores, newest first."""
    return ScoreHistory.objects.filter(
        subaccount_id=record.subaccount_id, entity=entity, record_id=record.pk
    ).order_by("-created_at", "-id")


def enrichment_log_list(*, subaccount: SubAccount) -> QuerySet[EnrichmentJob]:
    return EnrichmentJob.objects.filter(subaccount=subaccount)


@dataclass(frozen=True)
class CalibrationBand:
    low: int
    high: int
    records: int
    deals: int
    won: int

    @property
    def label(self) -> str:
        return f"{self.low}-{self.high}"

    @property
    def deal_rate(self) -> float | None:
        """Percent of the band's records on a deal (None for an empty band)."""
        return round(100 * self.deals / self.records, 1) if self.records else None

    @property
    def win_rate(self) -> float | None:
        """Percent of the band's records on a won deal."""
        return round(100 * self.won / self.records, 1) if self.records else None


@dataclass(frozen=True)
class Calibration:
    bands: list[CalibrationBand]
    unscored: int

    @property
    def scored(self) -> int:
        return sum(band.records for band in self.bands)


def calibration_report(*, subaccount: SubAccount) -> Calibration:
    """Contacts per score band (of 10) and how many of them are on a deal and on a won deal.

    Two queries: one grouped by band, one counting the unscored."""
    live = Contact.objects.filter(subaccount=subaccount, is_deleted=False)
    on_deal = DealContact.objects.filter(contact=OuterRef("pk"), deal__is_deleted=False)
    won = on_deal.annotate(stage_lower=Lower("deal__stage")).filter(stage_lower__in=WON_STAGES)
    grouped = (
        live.filter(score__isnull=False)
        .annotate(
            band=Least(F("score") / BAND_WIDTH, Value(BANDS - 1), output_field=IntegerField()),
            on_deal=Exists(on_deal),
            on_won=Exists(won),
        )
        .values("band")
        .annotate(
            records=Count("pk"),
            deals=Count("pk", filter=Q(on_deal=True)),
            won=Count("pk", filter=Q(on_won=True)),
        )
        .order_by("band")
    )
    found = {row["band"]: row for row in grouped}
    bands = []
    for band in range(BANDS):
        row = found.get(band, {})
        low = band * BAND_WIDTH
        high = 100 if band == BANDS - 1 else low + BAND_WIDTH - 1
        bands.append(
            CalibrationBand(
                low=low,
                high=high,
                records=row.get("records", 0),
                deals=row.get("deals", 0),
                won=row.get("won", 0),
            )
        )
    return Calibration(bands=bands, unscored=live.filter(score__isnull=True).count())
