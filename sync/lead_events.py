"""Lead-lifecycle events for analytics services: any integration whose connector offers
``connectors.capabilities.EventSink`` (GA4 today) hears when a lead is generated, qualified and won.

What happened is read from the Change log, never from whoever wrote the record, so a contact
created through the API, a sync pull or a webhook is news all the same:

- a contact created → ``generate_lead`` (``lead_source``: the display name of the integration it
  came from, "admin" from the admin, else "api");
- a deal whose stage changed (or that was created in a stage) → ``qualify_lead`` once per stage it
  enters (``stage``, ``pipeline``; ``value`` and ``currency`` when the deal has an amount);
- a deal whose stage is won (``WON_STAGES``, the notion the enrichment report uses) →
  ``close_convert_lead`` once per deal, ``value`` = amount, ``currency`` = the deal's or
  ``DEFAULT_CURRENCY``.

What a full sync brings in (a CRM's first connection importing its contacts and deals, a weekly
full sync) is history, not news: changes an integration wrote while a full run of it was going
send nothing.

A deal's events are about its first contact: that contact's id is the ``user_id`` and its custom
field ``CLIENT_ID_FIELD`` the analytics ``client_id``.

Two steps, each safe to repeat and to race:

1. ``lead_events_queue`` reads the sub-account's Change log after its cursor (a row lock makes
   readers take turns; the cursor moves in the transaction that queues) and queues an outbox row
   per active EventSink integration and event. The unique constraint on (integration, event,
   record, stage) queues each at most once, whoever else queues it.
2. ``lead_events_send`` claims due rows per integration (``integrations.claims``: two workers never
   get the same row), drops what the service would silently drop (``events_problems``: status
   invalid, with the reason, never sent), and sends the rest a visitor at a time (a request
   speaks for one client id), at most ``max_events_per_request`` a request; claims are ordered
   by visitor so a visitor's events share requests. Each request's outcome is recorded as soon
   as it returns. A transient error leaves the chunk pending
   with a back-off; a permanent one fails it with the provider's message.

Every commit that writes Change rows kicks both (``sync.hooks.changes_recorded``, debounced); a
beat schedule every minute sends whatever a lost kick left. A paused integration gets nothing queued
while it is paused and has nothing sent until it is active again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from celery import current_app
from django.db import transaction
from django.db.models import F, Max, OuterRef, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from connectors.base import ConnectorError, PermanentError, TransientError
from connectors.capabilities import CLOSE_CONVERT_LEAD, GENERATE_LEAD, QUALIFY_LEAD, EventSink, LeadEvent
from connectors.errors import AuthError, ConfigError
from connectors.registry import connector_offers
from integrations.claims import rows_claim
from integrations.kick import kick
from integrations.models import Integration
from integrations.selectors import integrations_offering
from integrations.services import connector_for
from sync.api.enrichment_selectors import WON_STAGES
from sync.engine import integration_id_of
from sync.models import Change, Contact, Deal, DealContact, LeadEventCursor, LeadEventOutbox, SyncRun
from sync.selectors import subaccounts_with_changes_after

logger = logging.getLogger(__name__)

SEND_TASK = "sync.lead_events_send"  # sync/tasks.py
KICK_WINDOW = 0.5  # seconds: commits within it share one run
BATCH = 2000  # Change rows read per sub-account and run

# The contact custom field holding the visitor id the analytics service gave the contact (a web
# form or tracking script stores it there, e.g. from the ``_ga`` cookie). Blank or absent: unknown,
# and the connector identifies the lead by ``user_id`` (our contact id) instead.
CLIENT_ID_FIELD = "ga_client_id"
# The platform keeps no currency per sub-account: a won deal without one is valued in this.
DEFAULT_CURRENCY = "USD"

CLAIM_REQUESTS = 20  # a claim takes this many requests' worth of events, grouped by visitor
LEASE = timedelta(minutes=2)  # a claimed chunk's worker has this long to record the outcome
MAX_ATTEMPTS = 8  # transient failures before a row is given up as failed
BACKOFF_BASE = 30  # seconds: 30, 60, 120, ... capped at BACKOFF_MAX
BACKOFF_MAX = 3600
ERROR_MAX = 2000

ORIGIN_ADMIN = "admin"
SOURCE_API = "api"


# --- the hook: after a commit that wrote Change rows -------------------------------------------


def on_changes_recorded(sender, *, subaccount_id: int, **kwargs) -> None:
    transaction.on_commit(partial(lead_events_kick, subaccount_id))


def lead_events_kick(subaccount_id: int) -> None:
    """At most one queued run per sub-account per window (``integrations.kick`` never fails its
    caller: the beat schedule picks up what a lost kick left). Looked up by name: the task's module
    builds on this one."""
    kick(
        current_app.tasks[SEND_TASK],
        key=f"lead-events:{subaccount_id}",
        window=KICK_WINDOW,
        args=(subaccount_id,),
    )


def lead_events_run(*, subaccount_id: int | None = None, now: datetime | None = None) -> dict[str, int]:
    """Queue what the Change log says (one sub-account's, or every one's) until caught up, then
    send what is due: what the task does after a commit, and the beat every minute."""
    queued = 0
    while True:
        result = lead_events_queue(subaccount_id) if subaccount_id is not None else lead_events_queue_all()
        queued += result.queued
        if not result.behind:
            break
    sent = lead_events_send(subaccount_id=subaccount_id, now=now)
    return {
        "queued": queued,
        "sent": sent.sent,
        "invalid": sent.invalid,
        "failed": sent.failed,
        "retrying": sent.retrying,
        "requests": sent.requests,
    }


# --- step 1: the Change log → outbox rows ---------------------------------------------------------


def sink_integrations(subaccount_id: int) -> list[Integration]:
    """The sub-account's active integrations whose connector is an EventSink."""
    return integrations_offering(subaccount_id, EventSink)


@dataclass(frozen=True)
class QueueResult:
    changes: int
    queued: int
    behind: bool = False


def lead_events_queue_all(*, limit: int = BATCH) -> QueueResult:
    """``lead_events_queue`` for every sub-account with Change rows past its cursor."""
    changes = queued = 0
    behind = False
    cursors = LeadEventCursor.objects.filter(subaccount_id=OuterRef("pk")).values("position")[:1]
    for subaccount_id in subaccounts_with_changes_after(cursors):
        result = lead_events_queue(subaccount_id, limit=limit)
        changes, queued = changes + result.changes, queued + result.queued
        behind = behind or result.behind
    return QueueResult(changes=changes, queued=queued, behind=behind)


def lead_events_queue(subaccount_id: int, *, limit: int = BATCH) -> QueueResult:
    """Queue the events of the sub-account's next ``limit`` Change rows for its active EventSink
    integrations and move the cursor past them; repeatable. Without such an integration the cursor
    skips ahead: an analytics service connected later hears of what happens from then on."""
    LeadEventCursor.objects.get_or_create(subaccount_id=subaccount_id)
    with transaction.atomic():
        cursor = LeadEventCursor.objects.select_for_update().get(subaccount_id=subaccount_id)
        pending = Change.objects.filter(subaccount_id=subaccount_id, seq__gt=cursor.position)
        sinks = sink_integrations(subaccount_id)
        if not sinks:
            _advance(cursor, pending.aggregate(last=Max("seq"))["last"])
            return QueueResult(changes=0, queued=0)
        batch = list(pending.order_by("seq")[:limit])
        if not batch:
            return QueueResult(changes=0, queued=0)
        rows = [
            _outbox_row(sink, event)
            for change, event in _events(subaccount_id, batch)
            for sink in sinks
            if sink.created_at <= change.created_at  # news from before it was connected is not its
        ]
        rows = _not_queued_yet(rows)
        # The constraint has the last word: a row someone queued since the read above is skipped.
        LeadEventOutbox.objects.bulk_create(rows, ignore_conflicts=True)
        _advance(cursor, batch[-1].seq)
    return QueueResult(changes=len(batch), queued=len(rows), behind=len(batch) >= limit)


def _once_key(row: LeadEventOutbox) -> tuple:
    return (row.integration_id, row.event, row.record_type, row.record_id, row.stage)


def _not_queued_yet(rows: list[LeadEventOutbox]) -> list[LeadEventOutbox]:
    """The rows (deduplicated) whose (integration, event, record, stage) has no outbox row yet."""
    fresh = {_once_key(row): row for row in rows}
    if not fresh:
        return []
    queued = LeadEventOutbox.objects.filter(
        integration_id__in={key[0] for key in fresh}, record_id__in={key[3] for key in fresh}
    ).values_list("integration_id", "event", "record_type", "record_id", "stage")
    for key in queued:
        fresh.pop(tuple(key), None)
    return list(fresh.values())


def _advance(cursor: LeadEventCursor, seq: int | None) -> None:
    if seq is not None and seq > cursor.position:
        cursor.position = seq
        cursor.save(update_fields=["position"])


def _imported(changes: list[Change]) -> set[int]:
    """The changes a full sync wrote (a CRM's first connection, a weekly full sync): records it
    brings in are history, not news, and a thousand old deals must not reach analytics as
    conversions happening now. Their seqs."""
    by_integration: dict[int, list[Change]] = {}
    for change in changes:
        integration_id = integration_id_of(change.origin)
        if integration_id is not None:
            by_integration.setdefault(integration_id, []).append(change)
    if not by_integration:
        return set()
    earliest, latest = min(c.created_at for c in changes), max(c.created_at for c in changes)
    runs: dict[int, list[tuple[datetime, datetime | None]]] = {}
    for integration_id, started, finished in (
        SyncRun.objects.filter(
            integration_id__in=by_integration,
            kind=SyncRun.Kind.FULL,
            started_at__isnull=False,
            started_at__lte=latest,
        )
        .filter(Q(finished_at__isnull=True) | Q(finished_at__gte=earliest))
        .values_list("integration_id", "started_at", "finished_at")
    ):
        runs.setdefault(integration_id, []).append((started, finished))
    return {
        change.seq
        for integration_id, written in by_integration.items()
        for change in written
        if any(
            started <= change.created_at and (finished is None or change.created_at <= finished)
            for started, finished in runs.get(integration_id, ())
        )
    }


def _events(subaccount_id: int, changes: list[Change]) -> Iterable[tuple[Change, LeadEvent]]:
    """The lead events the changes amount to, each with the change that caused it. Records are
    read as they are now (a deal's stage is its current one); deleted ones are no news, nor are
    the records a full sync imports (``_imported``)."""
    imported = _imported(changes)
    changes = [c for c in changes if c.seq not in imported]
    created_contacts = {c.record_id: c for c in changes if c.entity == "contact" and c.op == Change.Op.CREATE}
    staged_deals = {
        c.record_id: c
        for c in changes
        if c.entity == "deal" and c.op != Change.Op.DELETE and "stage" in (c.fields or ())
    }
    deals = {
        d.pk: d
        for d in Deal.objects.filter(subaccount_id=subaccount_id, pk__in=staged_deals, is_deleted=False)
    }
    first_contact: dict[int, int] = {}
    for deal_id, contact_id in (
        DealContact.objects.filter(deal_id__in=deals)
        .order_by("deal_id", "pk")
        .values_list("deal_id", "contact_id")
    ):
        first_contact.setdefault(deal_id, contact_id)
    contacts = {
        c.pk: c
        for c in Contact.objects.filter(
            subaccount_id=subaccount_id, pk__in={*created_contacts, *first_contact.values()}
        )
    }
    sources = _sources(subaccount_id)
    for contact_id, change in created_contacts.items():
        contact = contacts.get(contact_id)
        if contact is not None and not contact.is_deleted:
            yield change, _generate_lead(contact, change, source=sources(change.origin))
    for deal_id, change in staged_deals.items():
        deal = deals.get(deal_id)
        if deal is None or not deal.stage:
            continue
        contact = contacts.get(first_contact.get(deal_id, 0))
        yield change, _deal_event(QUALIFY_LEAD, deal, contact, change)
        if deal.stage.strip().lower() in WON_STAGES:
            yield change, _deal_event(CLOSE_CONVERT_LEAD, deal, contact, change)


def _sources(subaccount_id: int):
    """origin → ``lead_source``: the display name of the integration it came from, else "admin"
    or "api"."""
    names = dict(
        Integration.objects.filter(subaccount_id=subaccount_id).values_list("pk", "template__display_name")
    )

    def source(origin: str) -> str:
        integration_id = integration_id_of(origin)
        if integration_id in names:
            return names[integration_id]
        return ORIGIN_ADMIN if origin.startswith(f"{ORIGIN_ADMIN}:") else SOURCE_API

    return source


def client_id_of(contact: Contact | None) -> str:
    """The analytics visitor id stored on the contact (``CLIENT_ID_FIELD``), blank when unknown."""
    if contact is None:
        return ""
    value = (contact.custom_fields or {}).get(CLIENT_ID_FIELD)
    return str(value).strip() if value not in (None, "") else ""


def _generate_lead(contact: Contact, change: Change, *, source: str) -> LeadEvent:
    return LeadEvent(
        name=GENERATE_LEAD,
        record_type="contact",
        record_id=contact.pk,
        user_id=str(contact.pk),
        client_id=client_id_of(contact),
        occurred_at=change.created_at,
        params={"lead_source": source},
    )


def _deal_event(name: str, deal: Deal, contact: Contact | None, change: Change) -> LeadEvent:
    """A deal's event, about its first contact (none: no ``user_id``, which the service may refuse)."""
    params: dict[str, Any] = {"stage": deal.stage, "pipeline": deal.pipeline}
    if deal.amount is not None:
        params.update(value=_number(deal.amount), currency=deal.currency or DEFAULT_CURRENCY)
    return LeadEvent(
        name=name,
        record_type="deal",
        record_id=deal.pk,
        user_id=str(contact.pk) if contact is not None else "",
        client_id=client_id_of(contact),
        occurred_at=change.created_at,
        params=params,
    )


def _number(amount: Decimal) -> int | float:
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def _outbox_row(integration: Integration, event: LeadEvent) -> LeadEventOutbox:
    # One qualify_lead per stage entered; one generate_lead and one close_convert_lead per record.
    stage = event.params.get("stage", "") if event.name == QUALIFY_LEAD else ""
    return LeadEventOutbox(
        subaccount_id=integration.subaccount_id,
        integration=integration,
        record_type=event.record_type,
        record_id=event.record_id,
        visitor=(event.client_id or event.user_id)[:255],
        event=event.name,
        stage=stage[: LeadEventOutbox._meta.get_field("stage").max_length],
        payload={
            "user_id": event.user_id,
            "client_id": event.client_id,
            "occurred_at": event.occurred_at.isoformat(),
            "params": event.params,
        },
        available_at=event.occurred_at,
    )


def lead_event_of(row: LeadEventOutbox) -> LeadEvent:
    """The outbox row as the ``LeadEvent`` the connector is given."""
    payload = row.payload or {}
    occurred_at = parse_datetime(str(payload.get("occurred_at") or "")) or row.created_at
    return LeadEvent(
        name=row.event,
        record_type=row.record_type,
        record_id=row.record_id,
        user_id=str(payload.get("user_id") or ""),
        client_id=str(payload.get("client_id") or ""),
        occurred_at=occurred_at,
        params=dict(payload.get("params") or {}),
    )


# --- step 2: outbox rows → the analytics service ---------------------------------------------------


@dataclass
class SendResult:
    sent: int = 0
    invalid: int = 0
    failed: int = 0
    retrying: int = 0
    requests: int = 0

    def add(self, other: SendResult) -> None:
        self.sent += other.sent
        self.invalid += other.invalid
        self.failed += other.failed
        self.retrying += other.retrying
        self.requests += other.requests


def _due(now: datetime) -> Q:
    return Q(status=LeadEventOutbox.Status.PENDING, available_at__lte=now) & (
        Q(locked_until__isnull=True) | Q(locked_until__lt=now)
    )


def lead_events_send(*, subaccount_id: int | None = None, now: datetime | None = None) -> SendResult:
    """Send the due events of every active EventSink integration (of one sub-account, or all)."""
    now = now or timezone.now()
    due = LeadEventOutbox.objects.filter(_due(now))
    if subaccount_id is not None:
        due = due.filter(subaccount_id=subaccount_id)
    total = SendResult()
    integrations = Integration.objects.filter(
        pk__in=due.values("integration_id"), status=Integration.Status.ACTIVE
    ).select_related("template")
    for integration in integrations.order_by("pk"):
        if connector_offers(integration.template.connector, EventSink):
            total.add(integration_events_send(integration, now=now))
    return total


def integration_events_send(integration: Integration, *, now: datetime | None = None) -> SendResult:
    """Claim and send the integration's due events a chunk at a time until none is left, the
    service says wait (transient error) or refuses our credentials or config."""
    now = now or timezone.now()
    connector = connector_for(integration)
    if not isinstance(connector, EventSink):  # connector_offers said so: a registry mix-up
        raise ConfigError(f"{integration} does not take lead events")
    owner = uuid.uuid4().hex[:16]
    result = SendResult()
    while True:
        rows = _claim(
            integration, owner=owner, limit=connector.max_events_per_request * CLAIM_REQUESTS, now=now
        )
        if not rows:
            return result
        if not _send_chunk(connector, rows, owner=owner, now=now, result=result):
            return result


def _claim(integration: Integration, *, owner: str, limit: int, now: datetime) -> list[LeadEventOutbox]:
    ids = rows_claim(
        LeadEventOutbox.objects.filter(integration=integration),
        where=_due(now),
        # A visitor's events together (they share requests), each visitor's in the order they happened.
        order_by=("visitor", "id"),
        limit=limit,
        values={"owner": owner, "locked_until": now + LEASE},
    )
    return list(LeadEventOutbox.objects.filter(pk__in=ids).order_by("visitor", "id"))


def _send_chunk(
    connector: EventSink, rows: list[LeadEventOutbox], *, owner: str, now: datetime, result: SendResult
) -> bool:
    """Validate and send one claimed chunk and record its outcome; whether to go on."""
    events = [lead_event_of(row) for row in rows]
    problems = connector.events_problems(events)
    valid = []
    for row, event, problem in zip(rows, events, problems, strict=True):
        if problem:
            _finish(row, owner, status=LeadEventOutbox.Status.INVALID, error=problem)
            result.invalid += 1
        else:
            valid.append((row, event))
    if not valid:
        return True
    # One request speaks for one visitor (GA4's Measurement Protocol carries a single client id):
    # each visitor's events go together, and each group's outcome is recorded on its own.
    groups: dict[str, list[tuple[LeadEventOutbox, LeadEvent]]] = {}
    for row, event in valid:
        groups.setdefault(event.client_id or event.user_id, []).append((row, event))
    size = connector.max_events_per_request
    pending = [events[n : n + size] for events in groups.values() for n in range(0, len(events), size)]
    while pending:
        group = pending.pop(0)
        if not _send_group(connector, group, owner=owner, now=now, result=result):
            _release([row for rest in pending for row, _ in rest], owner)
            return False
    return True


def _send_group(
    connector: EventSink,
    group: list[tuple[LeadEventOutbox, LeadEvent]],
    *,
    owner: str,
    now: datetime,
    result: SendResult,
) -> bool:
    """Send one visitor's events in one call and record the outcome; whether to go on."""
    chunk = [row for row, _ in group]
    try:
        result.requests += 1
        connector.events_send([event for _, event in group])
    except TransientError as exc:
        retrying = _back_off(chunk, owner, error=str(exc), retry_after=exc.retry_after, now=now)
        result.retrying += retrying
        result.failed += len(chunk) - retrying
        return False
    except (PermanentError, ConfigError) as exc:
        _finish_all(chunk, owner, status=LeadEventOutbox.Status.FAILED, error=str(exc))
        result.failed += len(chunk)
        # Refused credentials or config refuse every further request alike: stop here.
        return not isinstance(exc, AuthError | ConfigError)
    except ConnectorError as exc:
        _finish_all(chunk, owner, status=LeadEventOutbox.Status.FAILED, error=str(exc))
        result.failed += len(chunk)
        return True
    _finish_all(chunk, owner, status=LeadEventOutbox.Status.SENT, error="", sent_at=timezone.now())
    result.sent += len(chunk)
    return True


def _release(rows: list[LeadEventOutbox], owner: str) -> None:
    """Give back claimed rows that were not tried: due again at once, no attempt spent."""
    if rows:
        LeadEventOutbox.objects.filter(pk__in=[r.pk for r in rows], owner=owner).update(
            owner="", locked_until=None
        )


def _finish(row: LeadEventOutbox, owner: str, *, status: str, error: str) -> None:
    _finish_all([row], owner, status=status, error=error)


def _finish_all(
    rows: list[LeadEventOutbox], owner: str, *, status: str, error: str, sent_at: datetime | None = None
) -> None:
    """Record a final outcome, on the rows this worker still holds."""
    LeadEventOutbox.objects.filter(pk__in=[r.pk for r in rows], owner=owner).update(
        status=status,
        error=error[:ERROR_MAX],
        sent_at=sent_at,
        locked_until=None,
        attempts=F("attempts") + 1,
    )


def _back_off(
    rows: list[LeadEventOutbox], owner: str, *, error: str, retry_after: float | None, now: datetime
) -> int:
    """Leave the rows pending for a later run (after ``retry_after`` or an exponential back-off);
    rows out of attempts fail. Returns how many will be retried."""
    retrying = [r for r in rows if r.attempts + 1 < MAX_ATTEMPTS]
    given_up = [r for r in rows if r.attempts + 1 >= MAX_ATTEMPTS]
    for attempts in sorted({r.attempts for r in retrying}):
        delay = retry_after if retry_after is not None else min(BACKOFF_MAX, BACKOFF_BASE * 2**attempts)
        LeadEventOutbox.objects.filter(
            pk__in=[r.pk for r in retrying if r.attempts == attempts], owner=owner
        ).update(
            attempts=F("attempts") + 1,
            error=error[:ERROR_MAX],
            available_at=now + timedelta(seconds=delay),
            locked_until=None,
        )
    if given_up:
        _finish_all(
            given_up,
            owner,
            status=LeadEventOutbox.Status.FAILED,
            error=f"gave up after {MAX_ATTEMPTS} attempts: {error}",
        )
    return len(retrying)


def lead_events_retry(rows: Iterable[LeadEventOutbox], *, now: datetime | None = None) -> int:
    """Queue failed rows again (the admin's retry): pending, due now, attempts reset. Returns how many."""
    now = now or timezone.now()
    ids = [r.pk for r in rows if r.status == LeadEventOutbox.Status.FAILED]
    count = LeadEventOutbox.objects.filter(pk__in=ids, status=LeadEventOutbox.Status.FAILED).update(
        status=LeadEventOutbox.Status.PENDING,
        attempts=0,
        available_at=now,
        owner="",
        locked_until=None,
    )
    subaccounts = set(
        LeadEventOutbox.objects.filter(pk__in=ids).values_list("subaccount_id", flat=True).distinct()
    )
    for subaccount_id in subaccounts:
        transaction.on_commit(partial(lead_events_kick, subaccount_id))
    return count
