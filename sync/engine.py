"""Pull and push for one integration and entity, a page at a time, in bulk.

``apply_pull_page`` applies one page of remote records in one transaction together with its
cursor, so a crash never moves the cursor past uncommitted work. It reads what the page needs
(links, linked records, match candidates), decides per record with ``plan_page`` (pure: create,
update, delete, conflict, unchanged) and writes the plan in bulk through ``sync.services``, the one
write path for canonical records. ``push_changes`` sends Change rows made by anyone but this
integration (no echo) through the connector's batch writes.

Both are written for throughput: a page costs a fixed number of queries (links, locals, matches,
bulk writes), not a number per record.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

from connectors.base import (
    CANONICAL_RELATIONS,
    Connector,
    EntitySpec,
    RelationSpec,
    RemoteRecord,
    WriteResult,
)
from connectors.registry import connector_class
from integrations.models import Integration
from sync import hooks
from sync.bulk import insert_values
from sync.canonical import assign, coerce, field_names, local_values
from sync.conflict_rows import conflict_rows
from sync.entities import EntityDef, entity_def, in_dependency_order
from sync.failpoints import failpoint
from sync.mapping import FieldMap, local_to_remote, mappings_for, remote_to_local
from sync.matching import MatchIndex
from sync.merge import FieldRule, merge, outbound_diff
from sync.models import Change, Conflict, CreateIntent, EntityLink, SyncCursor, SyncRecordError, SyncRun
from sync.pending import pending_resolve, pending_store
from sync.relations import Resolved, relations_preload, remote_changes, resolve_pulled
from sync.services import change_log_lock, records_write
from sync.transforms import TransformError

logger = logging.getLogger(__name__)

PUSH_CHUNK = 500
# How far before an interrupted create's intent a found record may have been created: our clock
# and the provider's differ a little.
CREATE_CLOCK_SKEW = timedelta(minutes=5)
LINK_COLUMNS = (
    "integration_id",
    "entity",
    "local_id",
    "remote_id",
    "base",
    "remote_modified_at",
    "last_synced_at",
)


def origin_of(integration: Integration) -> str:
    return f"integration:{integration.pk}"


def integration_id_of(origin: str) -> int | None:
    """The integration an ``origin_of`` names (None for the API's, the admin's, …)."""
    prefix, _, rest = origin.partition(":")
    return int(rest) if prefix == "integration" and rest.isdigit() else None


@dataclass
class EntityContext:
    """Everything a page needs about one integration × entity, computed once per run."""

    integration: Integration
    entity: str
    definition: EntityDef
    maps: list[FieldMap]
    region: str
    origin: str
    strategy: str
    delete_policy: str
    relations: dict[str, RelationSpec] = field(default_factory=dict)  # the ones the connector syncs
    # What the provider lets us do with the entity (list, write, delete).
    spec: EntitySpec = field(default_factory=lambda: EntitySpec(()))
    # The remote field carrying our record id on every write (``Connector.local_id_field``).
    local_id_field: str = ""

    @classmethod
    def build(cls, integration: Integration, entity: str) -> EntityContext:
        connector_cls = connector_class(integration.template.connector)
        return cls(
            integration=integration,
            entity=entity,
            definition=entity_def(entity),
            maps=mappings_for(integration, entity),
            region=integration.subaccount.default_region,
            origin=origin_of(integration),
            strategy=integration.conflict_strategy,
            delete_policy=integration.delete_policy,
            relations=connector_cls.relations_for(entity),
            spec=connector_cls.entities.get(entity) or EntitySpec(()),
            local_id_field=connector_cls.local_id_field,
        )

    @property
    def model(self) -> type[models.Model]:
        return self.definition.model

    @property
    def rules(self) -> list[FieldRule]:
        seen: dict[str, FieldRule] = {}
        for m in self.maps:
            rule = seen.get(m.local)
            seen[m.local] = FieldRule(
                m.local, m.inbound or bool(rule and rule.inbound), m.outbound or bool(rule and rule.outbound)
            )
        for name in self.relations:  # relations flow both ways, merged like any field
            seen[name] = FieldRule(name, True, True)
        return list(seen.values())


@dataclass
class Outcome:
    processed: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    pushed: int = 0
    conflicts: int = 0
    failed: int = 0
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (remote_id or local_id, message, code)

    def add(self, other: Outcome) -> None:
        for name in SyncRun.COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)

    def refused(self, local_id: int, result: WriteResult) -> None:
        """Count a record the provider did not write, with its reason."""
        self.failed += 1
        self.errors.append((str(local_id), result.error or "refused by the provider", result.code))


# --- pull -----------------------------------------------------------------------------------------


@dataclass
class PagePlan:
    """What applying a page writes, decided without touching the database (``plan_page``)."""

    outcome: Outcome
    created: list[models.Model] = field(default_factory=list)
    updated: list[models.Model] = field(default_factory=list)  # changed or soft-deleted, in place
    columns: set[str] = field(default_factory=set)  # of ``updated``, besides version and updated_at
    changes: list[tuple[models.Model, str, list[str]]] = field(default_factory=list)
    links: list[tuple[models.Model, str, dict, datetime | None]] = field(default_factory=list)  # new
    touched_links: list[EntityLink] = field(default_factory=list)  # base or remote time moved
    # Open ones (manual) and ones the strategy settled (stored resolved), written in one statement.
    conflicts: list[tuple[Conflict, models.Model]] = field(default_factory=list)
    records: dict[str, models.Model] = field(default_factory=dict)  # remote id → its local record


def apply_pull_page(
    ctx: EntityContext, records: list[RemoteRecord], *, cursor: str | None, run: SyncRun | None
) -> Outcome:
    """Apply one page and store its cursor, atomically. Safe to repeat."""
    outcome = Outcome()
    newest: dict[str, RemoteRecord] = {}
    for record in records:  # a page may carry the same record twice (overlap): keep the last
        newest[record.id] = record
    mapped: dict[str, dict[str, Any]] = {}
    for rid, record in newest.items():
        outcome.processed += 1
        if record.deleted:
            continue
        try:
            mapped[rid] = coerce(ctx.model, remote_to_local(ctx.maps, record.fields, region=ctx.region))
        except (TransformError, ValueError) as exc:
            outcome.failed += 1
            outcome.errors.append((rid, f"could not map the remote record: {exc}", "transform"))
    with transaction.atomic():
        change_log_lock(subaccount_id=ctx.integration.subaccount_id)  # Change rows commit in seq order
        successors = {record.replaced_by for record in newest.values() if record.replaced_by}
        links = {
            link.remote_id: link
            for link in EntityLink.objects.filter(
                integration=ctx.integration, entity=ctx.entity, remote_id__in=[*newest, *successors]
            )
        }
        relinked = _relink(newest, links)
        resolved = _resolve_relations(ctx, newest, mapped)
        objs = ctx.model.objects.filter(subaccount_id=ctx.integration.subaccount_id).in_bulk(
            [link.local_id for link in links.values()]
        )
        unlinked = [values for rid, values in mapped.items() if rid not in links]
        matches = MatchIndex.load(ctx.definition, ctx.integration.subaccount, unlinked, live_only=True)
        relations_preload(ctx.definition, [*objs.values(), *matches.records()])
        linked = set(
            EntityLink.objects.filter(
                integration=ctx.integration,
                entity=ctx.entity,
                local_id__in=[candidate.pk for candidate in matches.records()],
            ).values_list("local_id", flat=True)
        )
        plan = plan_page(ctx, newest, mapped, links=links, objs=objs, matches=matches, linked=linked)
        plan.touched_links.extend(link for link in relinked if link not in plan.touched_links)
        outcome.add(plan.outcome)
        _write_plan(ctx, plan)
        pending_store(ctx.integration, ctx.entity, ctx.relations, plan.records, newest, resolved)
        newly_linked = [rid for _, rid, _, _ in plan.links] + [link.remote_id for link in relinked]
        if newly_linked:
            updated, conflicts = pending_resolve(ctx.integration, ctx.entity, newly_linked, origin=ctx.origin)
            outcome.add(Outcome(updated=updated, conflicts=conflicts))
        if cursor is not None:
            SyncCursor.objects.update_or_create(
                integration=ctx.integration,
                entity=ctx.entity,
                kind=SyncCursor.Kind.PULL,
                defaults={"position": cursor},
            )
        _store_outcome(run, ctx, outcome, direction="pull")
        hooks.records_pulled.send(
            sender=apply_pull_page,
            integration=ctx.integration,
            entity=ctx.entity,
            records=newest,
            failed={str(ref): message for ref, message, _ in outcome.errors},
        )
    return outcome


def _relink(newest: dict[str, RemoteRecord], links: dict[str, EntityLink]) -> list[EntityLink]:
    """Move the links of records that now live under another remote id (``replaced_by``: a lead
    converted to a contact) to that id, so the successor updates the same local record instead of
    arriving as a new one. A successor already linked keeps its own link."""
    moved = []
    for rid, record in newest.items():
        link = links.get(rid)
        if not record.replaced_by or link is None or record.replaced_by in links:
            continue
        del links[rid]
        link.remote_id = record.replaced_by
        links[record.replaced_by] = link
        moved.append(link)
    return moved


def _resolve_relations(
    ctx: EntityContext, newest: dict[str, RemoteRecord], mapped: dict[str, dict[str, Any]]
) -> Resolved:
    """Add the page's pulled relations, in local ids, to the mapped values (see sync.relations)."""
    if not ctx.relations:
        return Resolved()
    pulled = {rid: record.relations for rid, record in newest.items() if rid in mapped and record.relations}
    resolved = resolve_pulled(ctx.integration, ctx.relations, pulled)
    for rid, values in resolved.values.items():
        mapped[rid].update(values)
    return resolved


def plan_page(
    ctx: EntityContext,
    newest: dict[str, RemoteRecord],
    mapped: dict[str, dict[str, Any]],
    *,
    links: dict[str, EntityLink],
    objs: dict[int, models.Model],
    matches: MatchIndex,
    linked: set[int],
) -> PagePlan:
    """Decide, per remote record, what the page does locally. Touches no database.

    ``links``: this page's linked remote ids; ``objs``: their local records; ``matches``: candidates
    for the unlinked ones (external id → email → phone, see sync.matching); ``linked``: candidates
    already linked to another remote record of this integration (a link is one-to-one). Records
    that fail to map are absent from ``mapped`` and were counted by the caller.
    """
    plan = PagePlan(Outcome())
    outcome, now, rules = plan.outcome, timezone.now(), ctx.rules
    fields = [rule.name for rule in rules]
    created_fields = sorted(field_names(fields))  # what a create's Change row names
    claimed = set(linked)  # local ids that already answer one remote record
    updated: set[int] = set()  # id() of records already in plan.updated
    for rid, record in newest.items():
        link = links.get(rid)
        if record.deleted:
            obj = objs.get(link.local_id) if link is not None else None
            if obj is not None and not obj.is_deleted and ctx.delete_policy != "ignore":
                obj.is_deleted, obj.deleted_at, obj.updated_at = True, now, now
                obj.version += 1
                plan.updated.append(obj)
                updated.add(id(obj))
                plan.columns |= {"is_deleted", "deleted_at"}
                plan.changes.append((obj, "delete", ["is_deleted"]))
                outcome.deleted += 1
            else:
                outcome.unchanged += 1
            continue
        if record.replaced_by:
            outcome.unchanged += 1  # its successor carries the record from now on (see _relink)
            continue
        if rid not in mapped:
            continue  # failed to map: already counted
        remote = mapped[rid]
        if (
            link is not None
            and link.remote_modified_at
            and record.modified_at
            and record.modified_at < link.remote_modified_at
        ):
            outcome.unchanged += 1  # an older state than one already applied (out of order)
            continue
        obj = objs.get(link.local_id) if link is not None else matches.find(remote)
        if link is None and obj is not None and obj.pk in claimed:
            obj = None  # already another remote record's twin: this one is a record of its own
        if obj is None:
            obj = ctx.model(subaccount_id=ctx.integration.subaccount_id, created_at=now, updated_at=now)
            assign(obj, remote)
            plan.created.append(obj)
            plan.records[rid] = obj
            plan.links.append((obj, rid, dict(remote), record.modified_at))
            plan.changes.append((obj, "create", created_fields))
            outcome.created += 1
            continue
        if link is None:
            claimed.add(obj.pk)
        plan.records[rid] = obj
        result = merge(
            rules=rules,
            base=link.base if link is not None else {},
            local=local_values(obj, fields),
            remote=remote,
            strategy=ctx.strategy,
            local_is_newer=bool(
                record.modified_at and obj.updated_at and obj.updated_at > record.modified_at
            ),
        )
        rows = conflict_rows(
            result,
            integration=ctx.integration,
            entity=ctx.entity,
            local_id=obj.pk,
            remote_id=rid,
            strategy=ctx.strategy,
            now=now,
        )
        plan.conflicts += [(row, obj) for row in rows]
        outcome.conflicts += len(result.conflicts)
        if result.to_local:
            assign(obj, result.to_local)
            obj.version += 1
            obj.updated_at = now
            if id(obj) not in updated:
                plan.updated.append(obj)
                updated.add(id(obj))
            plan.columns |= field_names(result.to_local)
            plan.changes.append((obj, "update", sorted(result.to_local)))
            outcome.updated += 1
        else:
            outcome.unchanged += 1
        if link is None:
            plan.links.append((obj, rid, result.new_base, record.modified_at))
        elif (
            result.new_base != link.base
            or record.modified_at != link.remote_modified_at
            or link.remote_id != rid
        ):
            link.base = result.new_base
            link.remote_modified_at = record.modified_at or link.remote_modified_at
            plan.touched_links.append(link)
    return plan


def _write_plan(ctx: EntityContext, plan: PagePlan) -> None:
    """Write a page's plan: records and Change rows through the services' bulk writer, then links
    and conflicts. A fixed number of statements per page."""
    records_write(
        ctx.definition,
        created=plan.created,
        updated=plan.updated,
        columns=plan.columns,
        changes=plan.changes,
        origin=ctx.origin,
    )
    now = timezone.now()
    insert_values(
        EntityLink,
        LINK_COLUMNS,
        [
            (ctx.integration.pk, ctx.entity, obj.pk, rid, base, modified, now)
            for obj, rid, base, modified in plan.links
        ],
    )
    if plan.touched_links:
        EntityLink.objects.bulk_update(
            plan.touched_links, ["remote_id", "base", "remote_modified_at", "last_synced_at"]
        )
    if plan.conflicts:
        for conflict, obj in plan.conflicts:
            conflict.local_id = obj.pk
        Conflict.objects.bulk_create([conflict for conflict, _ in plan.conflicts], ignore_conflicts=True)
        if any(conflict.status == Conflict.Status.OPEN for conflict, _ in plan.conflicts):
            # Only open conflicts wait for a person: settled ones are not announced.
            opened = Conflict.objects.filter(
                integration=ctx.integration,
                entity=ctx.entity,
                status=Conflict.Status.OPEN,
                created_at__gte=now,
            )
            hooks.conflicts_detected.send(sender=Conflict, conflicts=list(opened))


def _store_outcome(run: SyncRun | None, ctx: EntityContext, outcome: Outcome, *, direction: str) -> None:
    """Add ``outcome`` to the run's counters and record errors (call it in the writing transaction)."""
    if run is not None:
        _record_errors(run, ctx, outcome, direction=direction)
        _bump_counters(run, outcome)


def _record_errors(run: SyncRun, ctx: EntityContext, outcome: Outcome, *, direction: str) -> None:
    if not outcome.errors:
        return
    SyncRecordError.objects.bulk_create(
        [
            SyncRecordError(
                run=run,
                integration=ctx.integration,
                entity=ctx.entity,
                direction=direction,
                remote_id=ref if direction == "pull" else "",
                local_id=int(ref) if direction == "push" and str(ref).isdigit() else None,
                message=message[:2000],
                code=code[:80],
            )
            for ref, message, code in outcome.errors
        ]
    )


def _bump_counters(run: SyncRun, outcome: Outcome) -> None:
    increments = {
        name: F(name) + getattr(outcome, name) for name in SyncRun.COUNTERS if getattr(outcome, name)
    }
    if increments:
        SyncRun.objects.filter(pk=run.pk).update(**increments)


# --- push -----------------------------------------------------------------------------------------


def push_cursor(integration: Integration) -> int:
    row = SyncCursor.objects.filter(integration=integration, entity="*", kind=SyncCursor.Kind.PUSH).first()
    return int(row.position or 0) if row else 0


def push_changes(
    contexts: dict[str, EntityContext],
    connector: Connector,
    *,
    run: SyncRun | None,
    after: int | None = None,
    heartbeat=None,
) -> Outcome:
    """Send local changes made since the push cursor, except this integration's own (no echo)."""
    integration = next(iter(contexts.values())).integration
    position = push_cursor(integration) if after is None else after
    # Entities the provider lets us write (chat messages are read only: sending one is an action).
    writable = {entity for entity, ctx in contexts.items() if ctx.spec.writable}
    total = Outcome()
    while True:
        batch = list(
            Change.objects.filter(subaccount_id=integration.subaccount_id, seq__gt=position).order_by("seq")[
                : max(PUSH_CHUNK, connector.batch_size)
            ]
        )
        if not batch:
            break
        latest: dict[tuple[str, int], Any] = {}
        for change in batch:
            if change.origin != origin_of(integration) and change.entity in writable:
                latest[(change.entity, change.record_id)] = change
        by_entity: dict[str, list[int]] = defaultdict(list)
        for entity, record_id in latest:
            by_entity[entity].append(record_id)
        for entity in in_dependency_order(by_entity):  # a relation's target gets its twin first
            ids = by_entity[entity]
            outcome = push_records(contexts[entity], connector, ids, run=run)
            total.add(outcome)
        position = batch[-1].seq
        SyncCursor.objects.update_or_create(
            integration=integration,
            entity="*",
            kind=SyncCursor.Kind.PUSH,
            defaults={"position": str(position)},
        )
        if heartbeat is not None:
            heartbeat()
    return total


def push_records(
    ctx: EntityContext, connector: Connector, local_ids: list[int], *, run: SyncRun | None
) -> Outcome:
    """Create, update or delete the remote side of these local records as needed."""
    outcome = Outcome()
    if not ctx.spec.writable:
        return outcome  # read only at the provider: never created or changed by a push
    rules = ctx.rules
    fields = [r.name for r in rules if r.outbound]
    objs = ctx.model.objects.filter(subaccount_id=ctx.integration.subaccount_id).in_bulk(local_ids)
    relations_preload(ctx.definition, list(objs.values()))
    links = {
        link.local_id: link
        for link in EntityLink.objects.filter(
            integration=ctx.integration, entity=ctx.entity, local_id__in=local_ids
        )
    }

    def own_id(obj: models.Model) -> dict[str, str]:
        # Our id on every write, where the provider keeps it (and matches its upserts on it first).
        return {ctx.local_id_field: str(obj.pk)} if ctx.local_id_field else {}

    blocked: dict[int, set[str]] = defaultdict(set)
    for local_id, name in Conflict.objects.filter(
        integration=ctx.integration, entity=ctx.entity, local_id__in=local_ids, status=Conflict.Status.OPEN
    ).values_list("local_id", "field"):
        blocked[local_id].add(name)

    creates: list[tuple[models.Model, dict, dict]] = []
    updates: list[tuple[EntityLink, dict, dict]] = []
    deletes: list[EntityLink] = []
    pending: list[tuple[models.Model, EntityLink | None, dict, dict]] = []  # obj, link, local, diff
    for local_id in local_ids:
        obj, link = objs.get(local_id), links.get(local_id)
        if obj is None:
            continue
        outcome.processed += 1
        if obj.is_deleted:
            if link is not None and ctx.delete_policy == "propagate" and ctx.spec.deletable:
                deletes.append(link)
            else:
                outcome.unchanged += 1
            continue
        local = local_values(obj, fields)
        if link is None:
            pending.append((obj, None, local, local))
            continue
        diff = outbound_diff(rules=rules, base=link.base, local=local, blocked=blocked.get(local_id, set()))
        if not diff:
            outcome.unchanged += 1
            continue
        pending.append((obj, link, local, diff))
    relation_payloads, unsent = remote_changes(
        ctx.integration,
        ctx.relations,
        [
            (link.base if link is not None else {}, {k: v for k, v in diff.items() if k in ctx.relations})
            for _, link, _, diff in pending
        ],
    )
    for (obj, link, local, diff), relations, skipped in zip(pending, relation_payloads, unsent, strict=True):
        fields_diff = {k: v for k, v in diff.items() if k not in ctx.relations}
        try:
            remote = local_to_remote(
                ctx.maps, local, only=None if link is None else fields_diff, region=ctx.region
            )
        except (TransformError, ValueError) as exc:  # this record's value cannot be sent: it fails alone
            outcome.failed += 1
            outcome.errors.append((str(obj.pk), f"could not map the local record: {exc}", "transform"))
            continue
        if link is None:
            payload = {k: v for k, v in remote.items() if v != ""}
            if payload:
                base = {k: v for k, v in local.items() if k not in skipped}
                creates.append((obj, base, {**payload, **own_id(obj), **relations}))
            else:
                outcome.unchanged += 1  # no mapped value to send yet
            continue
        diff = {k: v for k, v in diff.items() if k not in skipped}
        payload = {**remote, **relations}
        if not diff or not payload:
            outcome.unchanged += 1  # what changed cannot be sent yet (a relation's target has no twin)
            continue
        updates.append((link, diff, {**payload, **own_id(obj)}))

    # Creates store their links batch by batch (and their share of the counters with them).
    created = _push_creates(ctx, connector, creates, run=run) if creates else Outcome()
    touched = []
    if updates:
        results = connector.update(ctx.entity, [(link.remote_id, payload) for link, _, payload in updates])
        for (link, diff, _), result in zip(updates, results, strict=True):
            if result.ok:
                link.base = {**link.base, **_sent(diff, result, outcome, link.local_id)}
                touched.append(link)
                outcome.pushed += 1
                outcome.updated += 1
            else:
                outcome.refused(link.local_id, result)
    if deletes:
        results = connector.delete(ctx.entity, [link.remote_id for link in deletes])
        gone = [link.pk for link, result in zip(deletes, results, strict=True) if result.ok]
        for link, result in zip(deletes, results, strict=True):
            if not result.ok:
                outcome.refused(link.local_id, result)
        outcome.deleted += len(gone)
        EntityLink.objects.filter(pk__in=gone).delete()
    with transaction.atomic():
        if touched:
            EntityLink.objects.bulk_update(touched, ["base", "last_synced_at"])
        _store_outcome(run, ctx, outcome, direction="push")
    outcome.add(created)
    if created.created:
        new = EntityLink.objects.filter(
            integration=ctx.integration, entity=ctx.entity, local_id__in=[obj.pk for obj, _, _ in creates]
        ).values_list("local_id", flat=True)
        outcome.add(_push_dependents(ctx, connector, list(new), run=run))
    hooks.records_pushed.send(
        sender=push_records,
        integration=ctx.integration,
        entity=ctx.entity,
        local_ids=local_ids,
        failed={int(ref): message for ref, message, _ in outcome.errors if str(ref).isdigit()},
    )
    return outcome


def _push_dependents(ctx: EntityContext, connector: Connector, target_ids: list[int], *, run) -> Outcome:
    """Push the linked records whose relations point at records that just got their remote twin.

    Their relation could not be sent before (no remote id to name: ``remote_changes`` kept it out
    of the base); nothing else would send it until they change again. One query per relation."""
    total = Outcome()
    syncs = connector_class(ctx.integration.template.connector).supports
    for entity in in_dependency_order(CANONICAL_RELATIONS):
        if not syncs(entity):
            continue
        dependent = EntityContext.build(ctx.integration, entity)
        names = [name for name, spec in dependent.relations.items() if spec.target == ctx.entity]
        if not names:
            continue
        pointing = Q()
        for name in names:
            column = "contacts" if name in dependent.definition.many else name.removesuffix("_id")
            pointing |= Q(**{f"{column}__in": target_ids})
        ids = set(
            dependent.model.objects.filter(subaccount_id=ctx.integration.subaccount_id, is_deleted=False)
            .filter(pointing)
            .values_list("pk", flat=True)
        )
        linked = sorted(
            EntityLink.objects.filter(
                integration=ctx.integration, entity=entity, local_id__in=ids
            ).values_list("local_id", flat=True)
        )
        if linked:
            total.add(push_records(dependent, connector, linked, run=run))
    return total


def _sent(values: dict[str, Any], result: WriteResult, outcome: Outcome, local_id: int) -> dict[str, Any]:
    """What a successful write put on the provider: ``values`` less the relations it could not
    write (kept out of the base, so the next push sends them again; the reason is recorded)."""
    if not result.relations_failed:
        return values
    outcome.errors.append(
        (str(local_id), result.relations_error or "the provider refused a relation", "relation")
    )
    return {k: v for k, v in values.items() if k not in result.relations_failed}


def _push_creates(
    ctx: EntityContext, connector: Connector, creates: list[tuple[models.Model, dict, dict]], *, run
) -> Outcome:
    """Create the remote side of never-linked records, a provider batch at a time.

    A CreateIntent per record is committed before the provider is called, and each batch's links
    are committed (deleting those intents) as soon as it returns, so a failure in a later batch,
    or a crash anywhere, leaves every record either linked or marked as "maybe created": the next
    attempt looks for those (``create_intents_reconcile``) instead of creating them twice.
    """
    total = Outcome()
    local_ids = [obj.pk for obj, _, _ in creates]
    if CreateIntent.objects.filter(
        integration=ctx.integration, entity=ctx.entity, local_id__in=local_ids
    ).exists():
        create_intents_reconcile(ctx, connector, run=run, local_ids=local_ids)
        linked = set(
            EntityLink.objects.filter(
                integration=ctx.integration, entity=ctx.entity, local_id__in=local_ids
            ).values_list("local_id", flat=True)
        )
        creates = [item for item in creates if item[0].pk not in linked]
    for _, batch in connector.chunks(creates, connector.batch_size):
        now = timezone.now()
        CreateIntent.objects.bulk_create(
            [
                CreateIntent(
                    integration=ctx.integration,
                    entity=ctx.entity,
                    local_id=obj.pk,
                    payload=payload,
                    base=local,
                    created_at=now,
                )
                for obj, local, payload in batch
            ],
            ignore_conflicts=True,
        )
        results = connector.create(ctx.entity, [payload for _, _, payload in batch])
        failpoint("push.after_create")
        outcome, new_links, settled = Outcome(), [], []
        for (obj, local, _), result in zip(batch, results, strict=True):
            if result.ok and result.remote_id:
                new_links.append(
                    EntityLink(
                        integration=ctx.integration,
                        entity=ctx.entity,
                        local_id=obj.pk,
                        remote_id=result.remote_id,
                        base=_sent(local, result, outcome, obj.pk),
                        matched_by=result.matched_by or ("created" if result.created is not False else ""),
                    )
                )
                outcome.pushed += 1
                outcome.created += 1
                settled.append(obj.pk)
                continue
            outcome.refused(obj.pk, result)
            if not result.uncertain:
                settled.append(obj.pk)  # refused: nothing was created
        with transaction.atomic():
            EntityLink.objects.bulk_create(new_links, ignore_conflicts=True)
            if new_links:
                # A provider whose create matches an existing record (À La Carte Chat's upsert, by
                # e-mail or phone) may already have pulled records pointing at it: they get it now.
                change_log_lock(subaccount_id=ctx.integration.subaccount_id)
                pending_resolve(
                    ctx.integration, ctx.entity, [link.remote_id for link in new_links], origin=ctx.origin
                )
            CreateIntent.objects.filter(
                integration=ctx.integration, entity=ctx.entity, local_id__in=settled
            ).delete()
            _store_outcome(run, ctx, outcome, direction="push")
        total.add(outcome)
    return total


def create_intents_reconcile(
    ctx: EntityContext, connector: Connector, *, run: SyncRun | None, local_ids: list[int] | None = None
) -> int:
    """Settle creates whose outcome was never stored; returns how many were found and linked
    (counted as pushed: the push that made them is only now complete).

    Each is linked to a remote record the connector finds for its payload (created since the
    intent, and not linked to anything yet), or forgotten when there is none, so that it is
    created again. Runs before a pull too: otherwise the pull would take our own unlinked create
    for a new remote record and import it as a duplicate.
    """
    intents = CreateIntent.objects.filter(integration=ctx.integration, entity=ctx.entity).order_by("pk")
    if local_ids is not None:
        intents = intents.filter(local_id__in=local_ids)
    found = 0
    for _, chunk in connector.chunks(list(intents), connector.batch_size):
        since = min(intent.created_at for intent in chunk) - CREATE_CLOCK_SKEW
        candidates = connector.find_created(ctx.entity, [intent.payload for intent in chunk], since=since)
        links = EntityLink.objects.filter(integration=ctx.integration, entity=ctx.entity)
        taken = set(
            links.filter(remote_id__in={rid for ids in candidates for rid in ids}).values_list(
                "remote_id", flat=True
            )
        )
        already = set(
            links.filter(local_id__in=[i.local_id for i in chunk]).values_list("local_id", flat=True)
        )
        new_links = []
        for intent, ids in zip(chunk, candidates, strict=True):
            remote_id = next((rid for rid in ids if rid not in taken), None)
            if remote_id is None or intent.local_id in already:
                continue
            taken.add(remote_id)  # one remote record answers one intent
            new_links.append(
                EntityLink(
                    integration=ctx.integration,
                    entity=ctx.entity,
                    local_id=intent.local_id,
                    remote_id=remote_id,
                    base=intent.base,
                )
            )
        with transaction.atomic():
            EntityLink.objects.bulk_create(new_links, ignore_conflicts=True)
            if new_links:
                # A provider whose create matches an existing record (À La Carte Chat's upsert, by
                # e-mail or phone) may already have pulled records pointing at it: they get it now.
                change_log_lock(subaccount_id=ctx.integration.subaccount_id)
                pending_resolve(
                    ctx.integration, ctx.entity, [link.remote_id for link in new_links], origin=ctx.origin
                )
            CreateIntent.objects.filter(pk__in=[intent.pk for intent in chunk]).delete()
            if run is not None:
                _bump_counters(run, Outcome(pushed=len(new_links), created=len(new_links)))
        found += len(new_links)
    if found:
        logger.info(
            "interrupted creates found and linked",
            extra={"integration_id": ctx.integration.pk, "entity": ctx.entity, "count": found},
        )
    return found


def unlinked_local_ids(ctx: EntityContext, *, after_id: int, limit: int) -> list[int]:
    """Local records this integration has never seen (a full sync exports them)."""
    linked = EntityLink.objects.filter(integration=ctx.integration, entity=ctx.entity).values("local_id")
    return list(
        ctx.model.objects.filter(
            subaccount_id=ctx.integration.subaccount_id, is_deleted=False, pk__gt=after_id
        )
        .exclude(pk__in=linked)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
