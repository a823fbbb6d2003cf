"""What the scorer needs about a batch of contacts or companies, in two queries for the whole batch.

1. For contacts, their linked companies (industry, name, what providers found about them).
2. The records' activities inside the engagement window, counted in SQL per record, kind,
   direction and UTC day (``occurred_at``, or ``created_at`` when it is not set).

Enriched data is merged with ``types.enriched_view`` in provider order ("builtin" first, then the
others by name). A contact's own view comes first; its company's view fills the keys it lacks, and
the company's signals follow the contact's own (a company that is hiring is a buying signal for its
people). A company's provider score is never a contact's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.db.models import Count, DateTimeField
from django.db.models.functions import Coalesce, TruncDate

from sync.enrichment.scoring import ActivityCount, ProfileLike, ScoreFacts
from sync.enrichment.types import Record, enriched_view
from sync.models import Activity, Company

__all__ = ["PROVIDER_ORDER", "facts_for", "window_start"]

PROVIDER_ORDER = ("builtin",)


def window_start(profile: ProfileLike, now: datetime) -> datetime:
    """The first instant the engagement window holds: midnight UTC, window days before today."""
    today = now.astimezone(UTC).date()
    return datetime.combine(today - timedelta(days=profile.engagement_window_days), time(), tzinfo=UTC)


def facts_for(
    entity: str, records: Sequence[Record], profile: ProfileLike, *, now: datetime
) -> dict[int, ScoreFacts]:
    """``ScoreFacts`` by record id for ``records`` (all of one sub-account and one entity)."""
    if not records:
        return {}
    activities = _activity_counts(entity, records, window_start(profile, now))
    if entity == "contact":
        companies = _companies(records)
        return {
            r.pk: _contact_facts(r, companies.get(r.company_id), activities.get(r.pk, ())) for r in records
        }
    return {r.pk: _company_facts(r, activities.get(r.pk, ())) for r in records}


def _activity_counts(
    entity: str, records: Sequence[Record], since: datetime
) -> dict[int, list[ActivityCount]]:
    owner = f"{entity}_id"
    occurred = Coalesce("occurred_at", "created_at", output_field=DateTimeField())
    rows = (
        Activity.objects.filter(
            subaccount_id=records[0].subaccount_id,
            is_deleted=False,
            **{f"{owner}__in": [r.pk for r in records]},
        )
        .annotate(at=occurred)
        .filter(at__gte=since)
        .annotate(day=TruncDate("at", tzinfo=UTC))
        .values_list(owner, "kind", "direction", "day")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: dict[int, list[ActivityCount]] = defaultdict(list)
    for record_id, kind, direction, day, n in rows:
        counts[record_id].append((kind, direction, day, n))
    return counts


def _companies(contacts: Sequence[Record]) -> dict[int, dict[str, Any]]:
    ids = {c.company_id for c in contacts if c.company_id}
    if not ids:
        return {}
    rows = Company.objects.filter(
        pk__in=ids, subaccount_id=contacts[0].subaccount_id, is_deleted=False
    ).values("pk", "name", "industry", "enriched")
    return {row["pk"]: row for row in rows}


def _contact_facts(
    contact: Record, company: dict[str, Any] | None, activities: Sequence[ActivityCount]
) -> ScoreFacts:
    own = enriched_view(contact.enriched, PROVIDER_ORDER)
    provider_score = own.get("provider_score")
    signals = list(own.get("signals", ()))
    view = dict(own)
    if company is not None:
        theirs = enriched_view(company["enriched"], PROVIDER_ORDER)
        for key, value in theirs.items():
            if key == "signals":
                signals.extend(s for s in value if s not in signals)
            elif key != "provider_score" and view.get(key) in (None, "", [], {}):
                view[key] = value
        if not view.get("industry") and company["industry"]:
            view["industry"] = company["industry"]
    return ScoreFacts(
        entity="contact",
        industry=str(view.get("industry") or ""),
        size=str(view.get("size") or ""),
        country=str(view.get("country") or ""),
        job_title=contact.job_title,
        company_name=contact.company_name or (company["name"] if company else ""),
        enriched=view,
        provider_score=_score(provider_score),
        provider_signals=tuple(signals),
        activities=tuple(activities),
    )


def _company_facts(company: Record, activities: Sequence[ActivityCount]) -> ScoreFacts:
    view = enriched_view(company.enriched, PROVIDER_ORDER)
    return ScoreFacts(
        entity="company",
        industry=company.industry or str(view.get("industry") or ""),
        size=str(view.get("size") or ""),
        country=str(view.get("country") or ""),
        company_name=company.name,
        enriched=view,
        provider_score=_score(view.get("provider_score")),
        provider_signals=tuple(view.get("signals", ())),
        activities=tuple(activities),
    )


def _score(value: Any) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return max(0, min(100, int(round(float(value)))))
    except (TypeError, ValueError):
        return None
