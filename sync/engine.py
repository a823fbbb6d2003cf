"""Pull and push for one integration and entity, a page at a time, in bulk.

``apply_pull_page`` applies one page of remote records in one transaction together with its
cursor, so a crash never moves the cursor past uncommitted work. ``push_changes`` sends Change
rows made by anyone but this integration (no echo) through the connector's batch writes.

Both are written for throughput: a page costs a fixed number of queries (links, locals, matches,
bulk writes), not a number per record.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from connectors.base import Connector, RemoteRecord
from integrations.models import Integration
from sync import hooks
from sync.bulk import insert_rows
from sync.failpoints import failpoint
from sync.mapping import (
    CUSTOM_PREFIX,
    FieldMap,
    canonical_value,
    local_to_remote,
    mappings_for,
    remote_to_local,
)
from sync.merge import FieldRule, merge, outbound_diff
from sync.models import Conflict, CreateIntent, EntityLink, SyncCursor, SyncRecordError, SyncRun
from sync.services import change_log_lock, record_rows_update
from sync.transforms import TransformError

logger = logging.getLogger(__name__)

ENTITY_MODELS = {"contact": "Contact", "company": "Company", "deal": "Deal", "activity": "Activity"}
# Matching rungs for a remote record we have never linked, before anything is created.
MATCH_FIELDS = {
    "contact": ("external_id", "email", "phone"),
    "company": ("external_id", "domain"),
    "deal": ("external_id",),
    "activity": ("external_id",),
}
PUSH_CHUNK = 500
# How far before an interrupted create's intent a found record may have been created: our clock
# and the provider's differ a little.
CREATE_CLOCK_SKEW = timedelta(minutes=5)


def entity_model(entity: str) -> type[models.Model]:
    return apps.get_model("sync", ENTITY_MODELS[entity])


def origin_of(integration: Integration) -> str:
    return f"integration:{integration.pk}"


@dataclass
class EntityContext:
    """Everything a page needs about one integration × entity, computed once per run."""

    integration: Integration
    entity: str
    maps: list[FieldMap]
    model: type[models.Model]
    region: str
    origin: str
    strategy: str
    delete_policy: str

    @classmethod
    def build(cls, integration: Integration, entity: str) -> EntityContext:
        return cls(
            integration=integration,
            entity=entity,
            maps=mappings_for(integration, entity),
            model=entity_model(entity),
            region=integration.subaccount.default_region,
            origin=origin_of(integration),
            strategy=integration.conflict_strategy,
            delete_policy=integration.delete_policy,
        )

    @property
    def rules(self) -> list[FieldRule]:
        seen: dict[str, FieldRule] = {}
        for m in self.maps:
            rule = seen.get(m.local)
            seen[m.local] = FieldRule(
                m.local, m.inbound or bool(rule and rule.inbound), m.outbound or bool(rule and rule.outbound)
            )
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


# --- local values ---------------------------------------------------------------------------------


def local_values(obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    values = {}
    for name in fields:
        if name.startswith(CUSTOM_PREFIX):
            values[name] = canonical_value((obj.custom_fields or {}).get(name[len(CUSTOM_PREFIX) :]))
        else:
            values[name] = canonical_value(getattr(obj, name))
    return values


def coerce(model: type[models.Model], values: dict[str, Any]) -> dict[str, Any]:
    """Canonical values typed by the local model's fields, so "2024-05-01T00:00:00+00:00" from an
    epoch-ms transform and a DateField's date compare equal. Raises ValueError naming the field."""
    out = {}
    for name, value in values.items():
        if value is None or name.startswith(CUSTOM_PREFIX):
            out[name] = value
            continue
        model_field = model._meta.get_field(name)
        try:
            if isinstance(model_field, models.DateTimeField):
                typed = value if isinstance(value, datetime) else parse_datetime(str(value))
            elif isinstance(model_field, models.DateField):
                typed = parse_datetime(str(value)) or parse_date(str(value)[:10])
                typed = typed.date() if isinstance(typed, datetime) else typed
            elif isinstance(model_field, models.DecimalField | models.IntegerField | models.BooleanField):
                typed = model_field.to_python(value)
            else:
                typed = str(value)
                if getattr(model_field, "max_length", None) and len(typed) > model_field.max_length:
                    raise ValueError(f"longer than {model_field.max_length} characters")
        except (ValueError, TypeError, ValidationError) as exc:
            raise ValueError(f"{name}: {exc}") from None
        if typed is None:
            raise ValueError(f"{name}: {str(value)[:40]!r} is not a valid {model_field.get_internal_type()}")
        out[name] = canonical_value(typed)
    return out


def assign(obj: models.Model, values: dict[str, Any]) -> None:
    """Write canonical values onto a model instance, converting to each field's type."""
    for name, value in values.items():
        if name.startswith(CUSTOM_PREFIX):
            custom = dict(obj.custom_fields or {})
            key = name[len(CUSTOM_PREFIX) :]
            if value is None:
                custom.pop(key, None)
            else:
                custom[key] = value
            obj.custom_fields = custom
            continue
        model_field = obj._meta.get_field(name)
        if value is None:
            value = (
                ""
                if isinstance(model_field, models.CharField | models.TextField) and not model_field.null
                else None
            )
        else:
            value = model_field.to_python(value)
        setattr(obj, name, value)


def _field_names(values: Iterable[str]) -> set[str]:
    return {"custom_fields" if n.startswith(CUSTOM_PREFIX) else n for n in values}


# --- pull -----------------------------------------------------------------------------------------


def _match_existing(ctx: EntityContext, candidates: dict[str, dict[str, Any]]) -> dict[str, models.Model]:
    """Local records for unlinked remote ids, by external id → email → phone, one query per rung."""
    matched: dict[str, models.Model] = {}
    linked_elsewhere = set()
    for rung in MATCH_FIELDS[ctx.entity]:
        wanted = {
            rid: vals[rung] for rid, vals in candidates.items() if rid not in matched and vals.get(rung)
        }
        if not wanted:
            continue
        found = {}
        for obj in ctx.model.objects.filter(
            subaccount_id=ctx.integration.subaccount_id,
            is_deleted=False,
            **{f"{rung}__in": set(wanted.values())},
        ).order_by("pk"):
            found.setdefault(canonical_value(getattr(obj, rung)), obj)
        if not found:
            continue
        if not linked_elsewhere:
            linked_elsewhere = set(
                EntityLink.objects.filter(
                    integration=ctx.integration,
                    entity=ctx.entity,
                    local_id__in=[o.pk for o in found.values()],
                ).values_list("local_id", flat=True)
            )
        for rid, value in wanted.items():
            obj = found.get(value)
            if obj is not None and obj.pk not in linked_elsewhere:
                matched[rid] = obj
                linked_elsewhere.add(obj.pk)  # one local record links to one remote record
    return matched


def apply_pull_page(
    ctx: EntityContext, records: list[RemoteRecord], *, cursor: str | None, run: SyncRun | None
) -> Outcome:
    """Apply one page and store its cursor, atomically. Safe to repeat."""
    outcome = Outcome()
    newest: dict[str, RemoteRecord] = {}
    for record in records:  # a page may carry the same record twice (overlap): keep the last
        newest[record.id] = record
    with transaction.atomic():
        change_log_lock(subaccount_id=ctx.integration.subaccount_id)  # Change rows commit in seq order
        links = {
            link.remote_id: link
            for link in EntityLink.objects.filter(
                integration=ctx.integration, entity=ctx.entity, remote_id__in=list(newest)
            )
        }
        objs = ctx.model.objects.filter(subaccount_id=ctx.integration.subaccount_id).in_bulk(
            [link.local_id for link in links.values()]
        )
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
        unlinked = {rid: vals for rid, vals in mapped.items() if rid not in links}
        matches = _match_existing(ctx, unlinked) if unlinked else {}
        _apply(ctx, newest, mapped, links, objs, matches, outcome)
        if cursor is not None:
            SyncCursor.objects.update_or_create(
                integration=ctx.integration,
                entity=ctx.entity,
                kind=SyncCursor.Kind.PULL,
                defaults={"position": cursor},
            )
        if run is not None:
            _record_errors(run, ctx, outcome, direction="pull")
            _bump_counters(run, outcome)
    return outcome


def _apply(ctx, newest, mapped, links, objs, matches, outcome) -> None:
    now = timezone.now()
    rules = ctx.rules
    fields = [r.name for r in rules]
    to_create, to_update, update_fields = [], [], set()
    changes: list[tuple[models.Model, str, list[str]]] = []
    new_links, touched_links, conflicts = [], [], []
    deleted_objs = []
    pending_new: dict[tuple[str, Any], models.Model] = {}  # two new remote records, same email → one local

    for rid, record in newest.items():
        link = links.get(rid)
        if record.deleted:
            if link is not None and ctx.delete_policy != "ignore":
                obj = objs.get(link.local_id)
                if obj is not None and not obj.is_deleted:
                    obj.is_deleted, obj.deleted_at, obj.updated_at = True, now, now
                    obj.version += 1
                    deleted_objs.append(obj)
                    changes.append((obj, "delete", ["is_deleted"]))
                    outcome.deleted += 1
                    continue
            outcome.unchanged += 1
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
        obj = objs.get(link.local_id) if link is not None else matches.get(rid)
        if obj is None:
            key = next(((f, remote[f]) for f in MATCH_FIELDS[ctx.entity] if remote.get(f)), None)
            twin = pending_new.get(key) if key else None
            if twin is not None:
                obj = twin
            else:
                obj = ctx.model(subaccount_id=ctx.integration.subaccount_id, created_at=now, updated_at=now)
                assign(obj, remote)
                to_create.append(obj)
                if key:
                    pending_new[key] = obj
                base = {k: v for k, v in remote.items()}
                new_links.append((obj, rid, base, record.modified_at))
                outcome.created += 1
                continue
        base = link.base if link is not None else {}
        local = local_values(obj, fields)
        local_is_newer = bool(record.modified_at and obj.updated_at and obj.updated_at > record.modified_at)
        result = merge(
            rules=rules,
            base=base,
            local=local,
            remote=remote,
            strategy=ctx.strategy,
            local_is_newer=local_is_newer,
        )
        for name, mine, theirs, agreed in result.conflicts:
            conflicts.append(
                Conflict(
                    subaccount_id=ctx.integration.subaccount_id,
                    integration=ctx.integration,
                    entity=ctx.entity,
                    local_id=obj.pk or 0,
                    remote_id=rid,
                    field=name,
                    local_value=mine,
                    remote_value=theirs,
                    base_value=agreed,
                )
            )
        outcome.conflicts += len(result.conflicts)
        if result.to_local:
            assign(obj, result.to_local)
            obj.version += 1
            obj.updated_at = now
            if obj.pk is not None and obj not in to_update:
                to_update.append(obj)
                update_fields |= _field_names(result.to_local)
            changes.append((obj, "update", sorted(result.to_local)))
            outcome.updated += 1
        else:
            outcome.unchanged += 1
        if link is None:
            new_links.append((obj, rid, result.new_base, record.modified_at))
        elif result.new_base != link.base or record.modified_at != link.remote_modified_at:
            link.base, link.remote_modified_at = (
                result.new_base,
                record.modified_at or link.remote_modified_at,
            )
            touched_links.append(link)

    if to_create:
        insert_rows(ctx.model, to_create)
    if to_update:
        record_rows_update(ctx.model, to_update, sorted(update_fields | {"version", "updated_at"}))
    if deleted_objs:
        record_rows_update(ctx.model, deleted_objs, ["is_deleted", "deleted_at", "version", "updated_at"])
    created_ids = {id(o) for o in to_create}
    change_rows = [(o, "create", sorted(_field_names(fields))) for o in to_create]
    change_rows += [(o, op, f) for o, op, f in changes if id(o) not in created_ids]
    _write_changes(ctx, change_rows)
    if new_links:
        insert_rows(
            EntityLink,
            [
                EntityLink(
                    integration=ctx.integration,
                    entity=ctx.entity,
                    local_id=o.pk,
                    remote_id=rid,
                    base=base,
                    remote_modified_at=modified,
                )
                for o, rid, base, modified in new_links
            ],
        )
    if touched_links:
        EntityLink.objects.bulk_update(touched_links, ["base", "remote_modified_at", "last_synced_at"])
    if conflicts:
        for c in conflicts:
            c.local_id = c.local_id or next((o.pk for o, rid, *_ in new_links if rid == c.remote_id), 0)
        Conflict.objects.bulk_create(conflicts, ignore_conflicts=True)
        opened = Conflict.objects.filter(
            integration=ctx.integration, entity=ctx.entity, status=Conflict.Status.OPEN, created_at__gte=now
        )
        hooks.conflicts_detected.send(sender=Conflict, conflicts=list(opened))


def _write_changes(ctx: EntityContext, rows: list[tuple[models.Model, str, list[str]]]) -> None:
    if not rows:
        return
    change_model = apps.get_model("sync", "Change")
    insert_rows(
        change_model,
        [
            change_model(
                subaccount_id=ctx.integration.subaccount_id,
                entity=ctx.entity,
                record_id=o.pk,
                op=op,
                fields=f,
                origin=ctx.origin,
            )
            for o, op, f in rows
        ],
    )
    hooks.changes_recorded.send(sender=change_model, subaccount_id=ctx.integration.subaccount_id)


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
    change_model = apps.get_model("sync", "Change")
    integration = next(iter(contexts.values())).integration
    position = push_cursor(integration) if after is None else after
    total = Outcome()
    while True:
        batch = list(
            change_model.objects.filter(subaccount_id=integration.subaccount_id, seq__gt=position).order_by(
                "seq"
            )[:PUSH_CHUNK]
        )
        if not batch:
            break
        latest: dict[tuple[str, int], Any] = {}
        for change in batch:
            if change.origin != origin_of(integration) and change.entity in contexts:
                latest[(change.entity, change.record_id)] = change
        by_entity: dict[str, list[int]] = defaultdict(list)
        for entity, record_id in latest:
            by_entity[entity].append(record_id)
        for entity, ids in by_entity.items():
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
    rules = ctx.rules
    fields = [r.name for r in rules if r.outbound]
    objs = ctx.model.objects.filter(subaccount_id=ctx.integration.subaccount_id).in_bulk(local_ids)
    links = {
        link.local_id: link
        for link in EntityLink.objects.filter(
            integration=ctx.integration, entity=ctx.entity, local_id__in=local_ids
        )
    }
    blocked: dict[int, set[str]] = defaultdict(set)
    for local_id, name in Conflict.objects.filter(
        integration=ctx.integration, entity=ctx.entity, local_id__in=local_ids, status=Conflict.Status.OPEN
    ).values_list("local_id", "field"):
        blocked[local_id].add(name)

    creates: list[tuple[models.Model, dict, dict]] = []
    updates: list[tuple[EntityLink, dict, dict]] = []
    deletes: list[EntityLink] = []
    for local_id in local_ids:
        obj, link = objs.get(local_id), links.get(local_id)
        if obj is None:
            continue
        outcome.processed += 1
        if obj.is_deleted:
            if link is not None and ctx.delete_policy == "propagate":
                deletes.append(link)
            else:
                outcome.unchanged += 1
            continue
        local = local_values(obj, fields)
        if link is None:
            payload = {
                k: v for k, v in local_to_remote(ctx.maps, local, region=ctx.region).items() if v != ""
            }
            if payload:
                creates.append((obj, local, payload))
            else:
                outcome.unchanged += 1  # no mapped value to send yet
            continue
        diff = outbound_diff(rules=rules, base=link.base, local=local, blocked=blocked.get(local_id, set()))
        if not diff:
            outcome.unchanged += 1
            continue
        updates.append((link, diff, local_to_remote(ctx.maps, local, only=diff, region=ctx.region)))

    # Creates store their links batch by batch (and their share of the counters with them).
    created = _push_creates(ctx, connector, creates, run=run) if creates else Outcome()
    touched = []
    if updates:
        results = connector.update(ctx.entity, [(link.remote_id, payload) for link, _, payload in updates])
        for (link, diff, _), result in zip(updates, results, strict=True):
            if result.ok:
                link.base = {**link.base, **diff}
                touched.append(link)
                outcome.pushed += 1
                outcome.updated += 1
            else:
                outcome.failed += 1
                outcome.errors.append(
                    (str(link.local_id), result.error or "refused by the provider", result.code)
                )
    if deletes:
        results = connector.delete(ctx.entity, [link.remote_id for link in deletes])
        gone = [link.pk for link, result in zip(deletes, results, strict=True) if result.ok]
        for link, result in zip(deletes, results, strict=True):
            if not result.ok:
                outcome.failed += 1
                outcome.errors.append(
                    (str(link.local_id), result.error or "refused by the provider", result.code)
                )
        outcome.deleted += len(gone)
        EntityLink.objects.filter(pk__in=gone).delete()
    with transaction.atomic():
        if touched:
            EntityLink.objects.bulk_update(touched, ["base", "last_synced_at"])
        if run is not None:
            _record_errors(run, ctx, outcome, direction="push")
            _bump_counters(run, outcome)
    outcome.add(created)
    return outcome


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
                        base=local,
                    )
                )
                outcome.pushed += 1
                outcome.created += 1
                settled.append(obj.pk)
                continue
            outcome.failed += 1
            outcome.errors.append((str(obj.pk), result.error or "refused by the provider", result.code))
            if not result.uncertain:
                settled.append(obj.pk)  # refused: nothing was created
        with transaction.atomic():
            EntityLink.objects.bulk_create(new_links, ignore_conflicts=True)
            CreateIntent.objects.filter(
                integration=ctx.integration, entity=ctx.entity, local_id__in=settled
            ).delete()
            if run is not None:
                _record_errors(run, ctx, outcome, direction="push")
                _bump_counters(run, outcome)
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
