"""Turn the Change log into enrichment jobs: the changes that matter to a contact's or a company's
score queue that record.

What matters (``MATTERS``): a contact or company created, or changed in a field enrichment reads
(a company's change also queues its people, whose fit reads it, as bulk); an activity logged (its contact and company: engagement moved); a deal created or moved to another
stage (its contacts and company). Enrichment's and automation's own writes are not news (their
origin is ``ORIGINS_OWN``), so scoring never feeds itself.

Each sub-account has its own cursor (``EnrichmentCursor``), moved in the transaction that queues
the jobs under a row lock: a crash or a second reader never loses or doubles a change. A
sub-account with enrichment, scoring and assignment all off skips ahead without reading.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from celery import current_app
from django.db import transaction
from django.db.models import Max, OuterRef

from integrations.automation import automation_enabled_anywhere, automation_settings_for
from integrations.kick import kick
from integrations.models import Integration, SubAccount
from sync.engine import integration_id_of
from sync.enrichment.jobs import PRIORITY_BULK, PRIORITY_NORMAL, jobs_enqueue
from sync.models import Activity, Change, Contact, DealContact, EnrichmentCursor, SyncRun
from sync.models import Deal as DealModel
from sync.selectors import subaccounts_with_changes_after

BATCH = 2000
FEED_TASK = "sync.enrichment.feed"  # sync/enrichment/tasks.py
KICK_KEY = "enrichment:feed"
KICK_WINDOW = 0.1  # seconds
ORIGIN_ENRICHMENT = "enrichment"
ORIGIN_AUTOMATION = "automation"
ORIGINS_OWN = frozenset({ORIGIN_ENRICHMENT, ORIGIN_AUTOMATION})

# Fields whose change can move a score or an enrichment.
MATTERS = {
    "contact": frozenset(
        {
            "email",
            "first_name",
            "last_name",
            "phone",
            "mobile_phone",
            "job_title",
            "company_name",
            "company_id",
            "lifecycle_stage",
            "is_deleted",
        }
    ),
    "company": frozenset({"name", "domain", "phone", "industry", "is_deleted"}),
    "deal": frozenset({"stage", "contact_ids", "company_id"}),
}


@dataclass(frozen=True)
class FeedResult:
    changes: int
    jobs: int
    behind: bool = False


def feed_run(*, limit: int = BATCH) -> FeedResult:
    """Read every sub-account's new changes (up to ``limit`` each) and queue jobs; repeatable."""
    changes = jobs = 0
    behind = False
    for subaccount_id in _subaccounts_with_news():
        result = feed_subaccount(subaccount_id, limit=limit)
        changes, jobs, behind = changes + result.changes, jobs + result.jobs, behind or result.behind
    return FeedResult(changes=changes, jobs=jobs, behind=behind)


def feed_subaccount(subaccount_id: int, *, limit: int = BATCH) -> FeedResult:
    EnrichmentCursor.objects.get_or_create(subaccount_id=subaccount_id)
    with transaction.atomic():
        cursor = EnrichmentCursor.objects.select_for_update().get(subaccount_id=subaccount_id)
        pending = Change.objects.filter(subaccount_id=subaccount_id, seq__gt=cursor.position)
        subaccount = SubAccount.objects.get(pk=subaccount_id)
        if not automation_enabled_anywhere(subaccount):
            last = pending.aggregate(last=Max("seq"))["last"]
            _advance(cursor, last)
            return FeedResult(changes=0, jobs=0)
        batch = list(pending.order_by("seq")[:limit])
        if not batch:
            return FeedResult(changes=0, jobs=0)
        jobs = _queue(subaccount, batch)
        _advance(cursor, batch[-1].seq)
    return FeedResult(changes=len(batch), jobs=jobs, behind=len(batch) >= limit)


def _advance(cursor: EnrichmentCursor, seq: int | None) -> None:
    if seq is not None and seq > cursor.position:
        cursor.position = seq
        cursor.save(update_fields=["position"])


def _subaccounts_with_news() -> list[int]:
    return subaccounts_with_changes_after(
        EnrichmentCursor.objects.filter(subaccount_id=OuterRef("pk")).values("position")[:1]
    )


def _queue(subaccount: SubAccount, changes: list[Change]) -> int:
    """Queue a job per record the changes touch, grouped by where they came from (whose toggles
    apply) and how urgent they are (records a sync run brought in are bulk)."""
    integrations = {i.pk: i for i in Integration.objects.filter(subaccount=subaccount)}
    bulk_origins = _running_sync_origins(integrations)
    # (integration id or None, entity, operation, priority) → record ids
    wanted: dict[tuple[int | None, str, str, int], set[int]] = defaultdict(set)
    activities: dict[tuple[int | None, int], set[int]] = defaultdict(set)
    deals: dict[tuple[int | None, int], set[int]] = defaultdict(set)
    companies: dict[int | None, set[int]] = defaultdict(set)  # changed companies: their people's fit moved
    for change in changes:
        if change.origin in ORIGINS_OWN or change.op == Change.Op.DELETE:
            continue
        integration_id = _integration_of(change.origin, integrations)
        settings = automation_settings_for(subaccount, integrations.get(integration_id))
        if not settings.anything:
            continue
        priority = PRIORITY_BULK if change.origin in bulk_origins else PRIORITY_NORMAL
        if change.entity in ("contact", "company"):
            if change.op == Change.Op.CREATE or MATTERS[change.entity] & set(change.fields or ()):
                wanted[(integration_id, change.entity, change.op, priority)].add(change.record_id)
                if change.entity == "company" and change.op == Change.Op.UPDATE:
                    companies[integration_id].add(change.record_id)
        elif change.entity == "activity" and change.op == Change.Op.CREATE:
            activities[(integration_id, priority)].add(change.record_id)
        elif change.entity == "deal" and (
            change.op == Change.Op.CREATE or MATTERS["deal"] & set(change.fields or ())
        ):
            deals[(integration_id, priority)].add(change.record_id)
    for (integration_id, priority), ids in activities.items():
        rows = Activity.objects.filter(subaccount=subaccount, pk__in=ids).values_list(
            "contact_id", "company_id"
        )
        for contact_id, company_id in rows:
            if contact_id:
                wanted[(integration_id, "contact", "update", priority)].add(contact_id)
            if company_id:
                wanted[(integration_id, "company", "update", priority)].add(company_id)
    for (integration_id, priority), ids in deals.items():
        for contact_id in DealContact.objects.filter(
            deal__subaccount=subaccount, deal_id__in=ids
        ).values_list("contact_id", flat=True):
            wanted[(integration_id, "contact", "update", priority)].add(contact_id)
        for company_id in DealModel.objects.filter(
            subaccount=subaccount, pk__in=ids, company__isnull=False
        ).values_list("company_id", flat=True):
            wanted[(integration_id, "company", "update", priority)].add(company_id)
    for integration_id, ids in companies.items():
        people = Contact.objects.filter(subaccount=subaccount, company_id__in=ids, is_deleted=False)
        wanted[(integration_id, "contact", "update", PRIORITY_BULK)].update(
            people.values_list("pk", flat=True)
        )
    queued = 0
    for (integration_id, entity, op, priority), ids in sorted(wanted.items(), key=_order):
        queued += jobs_enqueue(
            subaccount_id=subaccount.pk,
            entity=entity,
            record_ids=ids,
            integration_id=integration_id,
            priority=priority,
            reason="change",
            operation="create" if op == Change.Op.CREATE else "update",
            join_pending=True,
        )
    return queued


def _order(item) -> tuple:
    (integration_id, entity, op, priority), _ = item
    return (-priority, entity, op, integration_id or 0)


def _integration_of(origin: str, integrations: dict[int, Integration]) -> int | None:
    """``integration:<id>`` → that id, when it is one of the sub-account's integrations."""
    integration_id = integration_id_of(origin)
    return integration_id if integration_id in integrations else None


def _running_sync_origins(integrations: dict[int, Integration]) -> frozenset[str]:
    """Origins of integrations running a full sync now: what they bring in is a bulk backlog."""
    running = SyncRun.objects.filter(
        integration_id__in=list(integrations), status=SyncRun.Status.RUNNING, kind=SyncRun.Kind.FULL
    ).values_list("integration_id", flat=True)
    return frozenset(f"integration:{pk}" for pk in running)


def feed_kick() -> None:
    """Have the feed read the new Change rows once the current transaction commits (debounced)."""
    transaction.on_commit(_kick_now)


def _kick_now() -> None:
    kick(current_app.tasks[FEED_TASK], key=KICK_KEY, window=KICK_WINDOW)
