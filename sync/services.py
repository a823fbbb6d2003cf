"""The one write path for canonical records: every create, update and delete lands here.

Each write normalises its input (``sync.normalize``), assigns only the fields that changed, bumps
``version`` and appends a ``Change`` row in the same transaction; a write that changes nothing
writes nothing. The API passes ``origin="api_key:<prefix>"``, the sync engine
``origin="integration:<id>"``, the admin ``origin="admin:<user>"``.
"""

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from integrations.fields import BlindIndexField, with_blind_indexes
from integrations.models import SubAccount
from sync import hooks
from sync.bulk import insert_rows, insert_values
from sync.entities import ENTITIES, EntityDef, entity_def, entity_for
from sync.mapping import CUSTOM_PREFIX
from sync.matching import MatchIndex
from sync.models import CanonicalRecord, Change, IdempotencyKey
from sync.normalize import RecordInvalid, normalise_record

__all__ = [
    "MAX_BULK",
    "IDEMPOTENCY_TTL",
    "BatchTooLarge",
    "BulkResult",
    "DuplicateRecord",
    "IdempotencyConflict",
    "IdempotentResponse",
    "RecordInvalid",
    "UpsertResult",
    "change_log_lock",
    "change_record",
    "idempotency_execute",
    "idempotency_keys_purge",
    "idempotency_request_hash",
    "record_create",
    "record_delete",
    "record_rows_update",
    "record_update",
    "record_upsert",
    "records_bulk_upsert",
    "records_write",
    "relations_write",
]

MAX_BULK = 1000
IDEMPOTENCY_TTL = timedelta(hours=24)

Status = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class UpsertResult:
    record: CanonicalRecord
    status: Status


@dataclass(frozen=True)
class BulkResult:
    """One input record's outcome; ``error`` maps each offending field to its reason."""

    index: int
    status: Literal["created", "updated", "unchanged", "error"]
    id: int | None = None
    error: dict[str, str] | None = None


class BatchTooLarge(ValueError):
    pass


class DuplicateRecord(RecordInvalid):
    """The external_id belongs to another record of the same entity in this sub-account."""

    def __init__(self, entity: str, existing_id: int | None):
        self.existing_id = existing_id
        where = f" (id {existing_id})" if existing_id else " earlier in this batch"
        super().__init__({"external_id": f"Another {entity} already has this external_id{where}."})


# --- single records ---------------------------------------------------------------------------


def record_upsert(
    *, subaccount: SubAccount, entity: str, fields: Mapping[str, Any], origin: str, match: bool = True
) -> UpsertResult:
    """Create or update one record, matching external_id → email → phone (see sync.matching).

    Repeatable: the same fields again are "unchanged", with no write and no Change row.
    ``match=False`` never looks for the record by email/phone/domain and always creates
    (an external_id already in use is still refused). Raises RecordInvalid.
    """
    definition = entity_def(entity)
    clean = normalise_record(definition, fields, region=subaccount.default_region)
    with transaction.atomic():
        outcome = _upsert_batch(definition, subaccount, {0: clean}, origin=origin, match=match)[0]
    if isinstance(outcome, RecordInvalid):
        raise outcome
    return outcome


def record_create(
    *, subaccount: SubAccount, entity: str, fields: Mapping[str, Any], origin: str
) -> CanonicalRecord:
    """A new record (never matched to an existing one). Raises RecordInvalid / DuplicateRecord."""
    return record_upsert(
        subaccount=subaccount, entity=entity, fields=fields, origin=origin, match=False
    ).record


def record_update(*, record: CanonicalRecord, fields: Mapping[str, Any], origin: str) -> UpsertResult:
    """Apply ``fields`` (a partial update) to ``record``; "unchanged" when nothing differs.

    Works on the row as locked inside the transaction, so concurrent updates never lose a
    version. Raises RecordInvalid / DuplicateRecord.
    """
    definition = entity_for(record)
    subaccount = record.subaccount
    clean = normalise_record(definition, fields, region=subaccount.default_region)
    with transaction.atomic():
        change_log_lock(subaccount_id=subaccount.pk)
        errors = _reference_errors(definition, subaccount, {0: clean})
        if errors:
            raise RecordInvalid(errors[0])
        current = definition.model.objects.select_for_update().get(pk=record.pk)
        new_external_id = clean.get("external_id")
        if new_external_id and new_external_id != current.external_id:
            taken = (
                definition.model.objects.filter(subaccount=subaccount, external_id=new_external_id)
                .values_list("pk", flat=True)
                .first()
            )
            if taken is not None:
                raise DuplicateRecord(definition.name, taken)
        changed = _assign(current, clean)
        if not changed:
            return UpsertResult(current, "unchanged")
        current.version += 1
        columns = [name for name in _columns(changed) if name not in definition.many]
        current.save(update_fields=[*columns, "version", "updated_at"])
        relations_write(definition, [current])
        change_record(record=current, op=Change.Op.UPDATE, fields=changed, origin=origin)
    return UpsertResult(current, "updated")


def record_delete(*, record: CanonicalRecord, origin: str) -> CanonicalRecord:
    """Soft-delete ``record`` (hidden from lists, kept for the log); deleting twice is a no-op."""
    definition = entity_for(record)
    with transaction.atomic():
        change_log_lock(subaccount_id=record.subaccount_id)
        current = definition.model.objects.select_for_update().get(pk=record.pk)
        if current.is_deleted:
            return current
        current.is_deleted = True
        current.deleted_at = timezone.now()
        current.version += 1
        current.save(update_fields=["is_deleted", "deleted_at", "version", "updated_at"])
        change_record(record=current, op=Change.Op.DELETE, fields=["is_deleted"], origin=origin)
    return current


def change_record(*, record: CanonicalRecord, op: str, fields: Iterable[str], origin: str) -> Change:
    """Append one Change for ``record``; call it inside the transaction that wrote the record.

    Takes ``change_log_lock`` if the caller has not (re-taking it in one transaction is free);
    taking it first thing in the transaction, as the services here do, also avoids lock waits.
    """
    change_log_lock(subaccount_id=record.subaccount_id)
    change = _change_for(record, op=op, fields=fields, origin=origin)
    change.save()
    hooks.changes_recorded.send(sender=Change, subaccount_id=record.subaccount_id)
    return change


def change_log_lock(*, subaccount_id: int) -> None:
    """Serialise this sub-account's writers until the transaction ends, so seqs commit in order.

    A sequence hands out ``seq`` at INSERT but the row becomes visible at COMMIT: two concurrent
    writers could commit seq 11 before seq 10, and a feed reader already past 11 would skip 10 for
    ever. Holding the sub-account row lock from before the first write to COMMIT keeps one
    tenant's Change rows visible in seq order (the feed is per tenant). SQLite needs nothing:
    its write transactions are serial already.
    """
    if not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError("change_log_lock() needs an open transaction")
    if connection.features.has_select_for_update:
        list(SubAccount.objects.select_for_update().filter(pk=subaccount_id).values_list("pk", flat=True))


# --- batches ------------------------------------------------------------------------------------


def records_bulk_upsert(
    *, subaccount: SubAccount, entity: str, records: list[Any], origin: str
) -> list[BulkResult]:
    """Upsert up to MAX_BULK records; one result per input, in input order.

    A bad record fails alone, with its reasons; the rest are written in one transaction. The
    number of queries does not depend on the batch size: one per relation field used, one per
    matching rung, then one insert, one update and one insert of Change rows. Records of one
    batch that describe the same record (same email, or matching the same existing row) land on
    that one record; later ones update it.
    """
    if len(records) > MAX_BULK:
        raise BatchTooLarge(f"At most {MAX_BULK} records per request (got {len(records)}).")
    definition = entity_def(entity)
    outcomes: dict[int, UpsertResult | RecordInvalid] = {}
    clean: dict[int, dict[str, Any]] = {}
    for index, raw in enumerate(records):
        try:
            clean[index] = normalise_record(definition, raw, region=subaccount.default_region)
        except RecordInvalid as exc:
            outcomes[index] = exc
    with transaction.atomic():
        outcomes.update(_upsert_batch(definition, subaccount, clean, origin=origin, match=True))
    return [_bulk_result(index, outcomes[index]) for index in range(len(records))]


def _bulk_result(index: int, outcome: UpsertResult | RecordInvalid) -> BulkResult:
    if isinstance(outcome, RecordInvalid):
        return BulkResult(index=index, status="error", error=outcome.errors)
    return BulkResult(index=index, status=outcome.status, id=outcome.record.pk)


@dataclass
class _Touched:
    """A record this batch creates or changes, with the union of its changed fields."""

    record: CanonicalRecord
    created: bool
    fields: list[str] = field(default_factory=list)

    def add(self, names: Iterable[str]) -> None:
        self.fields.extend(name for name in names if name not in self.fields)


def _upsert_batch(
    definition: EntityDef,
    subaccount: SubAccount,
    clean: dict[int, dict[str, Any]],
    *,
    origin: str,
    match: bool,
) -> dict[int, UpsertResult | RecordInvalid]:
    """Match, assign and write normalised records; the caller holds the transaction."""
    change_log_lock(subaccount_id=subaccount.pk)
    outcomes: dict[int, UpsertResult | RecordInvalid] = {
        index: RecordInvalid(errors)
        for index, errors in _reference_errors(definition, subaccount, clean).items()
    }
    valid = {index: fields for index, fields in clean.items() if index not in outcomes}
    rungs = definition.match_fields if match else ("external_id",)
    matches = MatchIndex.load(definition, subaccount, valid.values(), rungs=rungs)
    touched: dict[int, _Touched] = {}  # by id() of the instance: new records have no pk yet
    statuses: dict[int, tuple[_Touched, Status]] = {}
    for index, fields in valid.items():
        target = matches.find(fields)
        if target is not None and not match:
            outcomes[index] = DuplicateRecord(definition.name, target.pk)
            continue
        if target is None:
            target = definition.model(subaccount=subaccount)
            entry = touched[id(target)] = _Touched(target, created=True)
            entry.add(_assign(target, fields))
            status: Status = "created"
        else:
            entry = touched.setdefault(id(target), _Touched(target, created=False))
            changed = [*_restore(target), *_assign(target, fields)]
            entry.add(changed)
            status = "updated" if changed else "unchanged"
        matches.remember(target)
        statuses[index] = (entry, status)
    _write(definition, list(touched.values()), origin=origin)
    outcomes.update(
        {index: UpsertResult(entry.record, status) for index, (entry, status) in statuses.items()}
    )
    return outcomes


def _write(definition: EntityDef, touched: list[_Touched], *, origin: str) -> None:
    """Insert new rows, update changed ones and append their Change rows: three statements."""
    now = timezone.now()
    created = [entry for entry in touched if entry.created]
    updated = [entry for entry in touched if not entry.created and entry.fields]
    for entry in updated:
        entry.record.version += 1
        entry.record.updated_at = now  # a raw UPDATE does not apply auto_now
    records_write(
        definition,
        created=[entry.record for entry in created],
        updated=[entry.record for entry in updated],
        columns=[column for entry in updated for column in _columns(entry.fields)],
        changes=[(entry.record, Change.Op.CREATE, entry.fields) for entry in created]
        + [(entry.record, Change.Op.UPDATE, entry.fields) for entry in updated],
        origin=origin,
    )


CHANGE_COLUMNS = ("subaccount_id", "entity", "record_id", "op", "fields", "origin", "created_at")


def records_write(
    definition: EntityDef,
    *,
    created: list[CanonicalRecord],
    updated: list[CanonicalRecord],
    columns: Iterable[str],
    changes: list[tuple[CanonicalRecord, str, Iterable[str]]],
    origin: str,
) -> None:
    """The bulk write every batch of canonical writes ends in: three statements, whatever its size.

    Inserts ``created`` (they get their ids), writes ``columns`` (plus version and updated_at, which
    the caller has bumped) of ``updated``, and appends one Change per (record, op, changed names).
    Call it inside the transaction that holds ``change_log_lock`` for the sub-account.
    """
    with _whole_batches():
        insert_rows(definition.model, created)
    columns = set(columns) - definition.many  # to-many relations live in their own table
    if updated:
        record_rows_update(definition.model, updated, sorted({*columns, "version", "updated_at"}))
    if definition.many:
        relations_write(definition, [*created, *updated])
    if changes:
        now, origin = timezone.now(), origin[: Change._meta.get_field("origin").max_length]
        insert_values(
            Change,
            CHANGE_COLUMNS,
            [
                (record.subaccount_id, definition.name, record.pk, op, list(fields), origin, now)
                for record, op, fields in changes
            ],
        )
        hooks.changes_recorded.send(sender=Change, subaccount_id=changes[0][0].subaccount_id)


def relations_write(definition: EntityDef, records: Iterable[CanonicalRecord]) -> None:
    """Store the to-many relations assigned on ``records`` (``Deal.contact_ids``): two statements."""
    for name in definition.many:
        dirty = [r for r in records if r.__dict__.pop(f"_{name}_dirty", False)]
        if not dirty:
            continue
        through = definition.model._meta.get_field(name.removesuffix("_ids") + "s").remote_field.through
        owner, target = _through_columns(through, definition.model)
        through.objects.filter(**{f"{owner}__in": [r.pk for r in dirty]}).delete()
        through.objects.bulk_create(
            [through(**{owner: r.pk, target: pk}) for r in dirty for pk in getattr(r, name)],
            ignore_conflicts=True,
        )


def _through_columns(through: type, model: type) -> tuple[str, str]:
    """The through table's two id columns: the owner's (``deal_id``) and the target's."""
    owner = next(f.attname for f in through._meta.concrete_fields if f.related_model is model)
    target = next(
        f.attname for f in through._meta.concrete_fields if f.is_relation and f.related_model is not model
    )
    return owner, target


def record_rows_update(
    model: type[CanonicalRecord], records: list[CanonicalRecord], columns: list[str]
) -> None:
    """Write ``columns`` of each record by primary key: one statement, executed for all rows at once.

    bulk_update() builds a CASE expression per field per row, which costs about a second of
    Python for 1,000 rows before the database sees anything. One parameterised UPDATE sent with
    executemany (SQLite loops in C; psycopg 3 pipelines it in one round trip) is ~20x faster.
    Values are adapted exactly as the ORM's own UPDATE would (get_db_prep_save), and the blind
    index of an indexed column is written with it.
    """
    fields = [model._meta.get_field(name) for name in with_blind_indexes(model, columns)]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote(model._meta.pk.column)} = %s"  # noqa: S608 (identifiers come from model metadata, values are parameters)
    readers = [_update_reader(field) for field in fields]
    rows = [[read(record) for read in readers] + [record.pk] for record in records]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _update_reader(field: models.Field) -> Callable[[CanonicalRecord], Any]:
    """A column's value for the UPDATE: a blind index recomputed from its source (as save() does),
    any other field adapted by the ORM (which encrypts personal data)."""
    if isinstance(field, BlindIndexField):
        return lambda record: field.pre_save(record, False)
    return lambda record: field.get_db_prep_save(getattr(record, field.attname), connection)


@contextmanager
def _whole_batches() -> Iterator[None]:
    """Let bulk_create send a whole batch as one INSERT on SQLite too.

    Django 5.2 sizes SQLite batches for the pre-3.32 limit of 999 bind parameters, splitting
    1,000 contacts into ~25 INSERTs; SQLite since 3.32 allows 32,766 (Debian builds 250,000) and
    Django 6.0 reads the real limit (ticket #36143). We apply the connection's real limit for the
    duration of the write; PostgreSQL needs nothing (one statement already).
    """
    if connection.vendor != "sqlite":
        yield
        return
    connection.ensure_connection()
    features = connection.features
    default = features.max_query_params
    real = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    features.max_query_params = max(default, real)
    try:
        yield
    finally:
        features.max_query_params = default


def _reference_errors(
    definition: EntityDef, subaccount: SubAccount, clean: Mapping[int, Mapping[str, Any]]
) -> dict[int, dict[str, str]]:
    """Relation ids that are not live records of this sub-account: one query per relation field."""
    errors: dict[int, dict[str, str]] = {}
    for name, target_entity in definition.relations.items():
        wanted = {pk for fields in clean.values() for pk in _ids(fields.get(name))}
        if not wanted:
            continue
        target = ENTITIES[target_entity].model
        found = set(
            target.objects.filter(subaccount=subaccount, is_deleted=False, pk__in=wanted).values_list(
                "pk", flat=True
            )
        )
        for index, fields in clean.items():
            missing = [pk for pk in _ids(fields.get(name)) if pk not in found]
            if missing:
                errors.setdefault(index, {})[name] = (
                    f"No {target_entity} with id {missing[0]} in this sub-account."
                )
    return errors


def _ids(value: Any) -> list[int]:
    """A relation's value as a list of ids (a to-one relation holds at most one)."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _assign(record: CanonicalRecord, clean: Mapping[str, Any]) -> list[str]:
    """Set the fields whose value differs; returns their names (a custom field as ``custom:<key>``,
    the name field mappings use). ``custom_fields`` merges: a key set to None is removed."""
    changed: list[str] = []
    for name, value in clean.items():
        if name == "custom_fields":
            merged = dict(record.custom_fields or {})
            for key, item in value.items():
                if item is None:
                    if merged.pop(key, _ABSENT) is not _ABSENT:
                        changed.append(f"{CUSTOM_PREFIX}{key}")
                elif key not in merged or _json(merged[key]) != _json(item):
                    merged[key] = item
                    changed.append(f"{CUSTOM_PREFIX}{key}")
            record.custom_fields = merged
        elif getattr(record, name) != value:
            setattr(record, name, value)
            changed.append(name)
    return changed


def _restore(record: CanonicalRecord) -> list[str]:
    """Bring a soft-deleted record back (an upsert matched it by external_id)."""
    if not record.is_deleted:
        return []
    record.is_deleted = False
    record.deleted_at = None
    return ["is_deleted", "deleted_at"]


def _columns(changed: Iterable[str]) -> list[str]:
    """Model field names behind change names ("custom:plan" is stored in custom_fields)."""
    return list(
        dict.fromkeys("custom_fields" if name.startswith(CUSTOM_PREFIX) else name for name in changed)
    )


def _change_for(record: CanonicalRecord, *, op: str, fields: Iterable[str], origin: str) -> Change:
    return Change(
        subaccount_id=record.subaccount_id,
        entity=entity_for(record).name,
        record_id=record.pk,
        op=op,
        fields=list(fields),
        origin=origin[: Change._meta.get_field("origin").max_length],
    )


_ABSENT = object()


def _json(value: Any) -> str:
    # Compare JSON values as JSON: in Python 1 == True, and stored 1.0 reads back as 1.0.
    return json.dumps(value, sort_keys=True)


# --- idempotency ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdempotentResponse:
    status_code: int
    body: Any
    replayed: bool


class IdempotencyConflict(Exception):
    """The key was used within IDEMPOTENCY_TTL for a different request."""


def idempotency_request_hash(*, method: str, path: str, body: Any) -> str:
    """A fingerprint of a request: same method, path and JSON body (key order ignored)."""
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_execute(
    *,
    subaccount: SubAccount,
    key: str,
    request_hash: str,
    perform: Callable[[], tuple[int, Any]],
    now: datetime | None = None,
) -> IdempotentResponse:
    """Run ``perform`` once per (sub-account, key) within IDEMPOTENCY_TTL.

    The same key with the same request hash replays the stored status and body without running
    ``perform``; with a different hash it raises IdempotencyConflict. Only 2xx answers are
    stored: ``perform`` raising (a 4xx) rolls back and leaves the key free for a corrected retry.
    The key is stored in the transaction that did the work, so two concurrent requests with one
    key cannot both write: the loser's work is rolled back and it replays the winner's answer.
    """
    now = now or timezone.now()
    stored = _stored_response(subaccount, key, now=now)
    if stored is not None:
        return _replay(stored, request_hash)
    try:
        with transaction.atomic():
            status_code, body = perform()
            if 200 <= status_code < 300:
                IdempotencyKey.objects.create(
                    subaccount=subaccount,
                    key=key,
                    request_hash=request_hash,
                    status_code=status_code,
                    response=body,
                )
    except IntegrityError:
        stored = _stored_response(subaccount, key, now=now)
        if stored is None:
            raise
        return _replay(stored, request_hash)
    return IdempotentResponse(status_code=status_code, body=body, replayed=False)


def idempotency_keys_purge(*, now: datetime | None = None) -> int:
    """Delete keys older than IDEMPOTENCY_TTL (they no longer replay); returns how many."""
    cutoff = (now or timezone.now()) - IDEMPOTENCY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def _stored_response(subaccount: SubAccount, key: str, *, now: datetime) -> IdempotencyKey | None:
    keys = IdempotencyKey.objects.filter(subaccount=subaccount, key=key)
    keys.filter(created_at__lt=now - IDEMPOTENCY_TTL).delete()  # expired: the key is free again
    return keys.first()


def _replay(stored: IdempotencyKey, request_hash: str) -> IdempotentResponse:
    if stored.request_hash != request_hash:
        raise IdempotencyConflict("This Idempotency-Key was already used for a different request.")
    return IdempotentResponse(status_code=stored.status_code, body=stored.response, replayed=True)
