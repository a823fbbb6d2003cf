"""HubSpot: raw CRM v3 dicts ↔ RemoteRecord, delta pulls through search, batched writes.

Pull: search ``GT`` on the modified-time property (``lastmodifieddate`` for contacts,
``hs_lastmodifieddate`` otherwise), sorted ascending; a query stops at HubSpot's 10,000-result
ceiling, so before reaching it the query restarts from the last timestamp seen. Archived records
come next, from ``archived=true`` lists, as deleted records. The cursor is a JSON object of
per-type watermarks in epoch ms: ``{"contacts": {"modified": ms, "archived": ms}}``.
Activities are notes, tasks, calls, emails and meetings: their ids read ``notes/123`` and
``fields["_kind"]`` says which (note / task / call / email / meeting); ``_kind`` picks the type on
create. A chat message (kind "message") is a note with a marker in its body (``messages.py``).

Relations are HubSpot associations (``relations.py``): every pulled or fetched record carries the
ids of its associated companies / contacts / deals, and writes apply a payload's ``RELATIONS_KEY``
changes after the record itself is written. Field discovery reads the properties API (``fields.py``);
mapped custom properties (``want_fields``) are requested on every read. ``create_fields`` creates
custom properties through the same API, in a property group of the platform's own (creating
properties needs the ``crm.schemas.<type>.write`` scopes, asked for as optional scopes).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from connectors.base import (
    RELATIONS_KEY,
    AuthError,
    ConfigError,
    Connector,
    EntitySpec,
    FieldSpec,
    OAuthSpec,
    Page,
    PermanentError,
    RemoteField,
    RemoteRecord,
    TestResult,
    WriteResult,
    collect_results,
    decode_cursor,
    encode_cursor,
)
from connectors.http import bearer
from connectors.hubspot import messages, webhooks
from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.fields import property_create_body, remote_field
from connectors.hubspot.relations import ASSOCIATION_READ_BATCH, Associations, LinkChange, choose
from connectors.ratelimit import RateLimiter

logger = logging.getLogger(__name__)
SEARCH_FILTER_GROUPS = 5  # HubSpot's cap on filterGroups in one search
# The property group the platform's custom properties (create_fields) are made in.
PROPERTY_GROUP = "platform"
PROPERTY_GROUP_LABEL = "Platform"

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Step back this far when resuming: HubSpot's search index trails writes by a few seconds, and a page
# can end among records sharing one timestamp. Re-reading a record is harmless (applying it twice
# changes nothing).
OVERLAP_MS = 5_000
SEARCH_PAGE = 200  # HubSpot's search limit cap
ERROR_EXCERPT = 300

KIND_TYPES = {"note": "notes", "task": "tasks", "call": "calls", "email": "emails", "meeting": "meetings"}
TYPE_KINDS = {t: k for k, t in KIND_TYPES.items()}

# Properties read per type: HubSpot returns only the properties a request names.
READ_PROPERTIES: dict[str, tuple[str, ...]] = {
    "contacts": (
        "firstname",
        "lastname",
        "email",
        "phone",
        "mobilephone",
        "jobtitle",
        "company",
        "hubspot_owner_id",
        "lifecyclestage",
        "createdate",
        "lastmodifieddate",
    ),
    "companies": (
        "name",
        "domain",
        "phone",
        "industry",
        "hubspot_owner_id",
        "createdate",
        "hs_lastmodifieddate",
    ),
    "deals": (
        "dealname",
        "amount",
        "deal_currency_code",
        "dealstage",
        "pipeline",
        "closedate",
        "hubspot_owner_id",
        "createdate",
        "hs_lastmodifieddate",
    ),
    "notes": ("hs_timestamp", "hs_note_body", "hubspot_owner_id", "hs_lastmodifieddate"),
    "tasks": (
        "hs_timestamp",
        "hs_task_subject",
        "hs_task_body",
        "hs_task_status",
        "hs_task_priority",
        "hubspot_owner_id",
        "hs_lastmodifieddate",
    ),
    "calls": (
        "hs_timestamp",
        "hs_call_title",
        "hs_call_body",
        "hs_call_direction",
        "hs_call_duration",
        "hubspot_owner_id",
        "hs_lastmodifieddate",
    ),
    "emails": (
        "hs_timestamp",
        "hs_email_subject",
        "hs_email_text",
        "hs_email_direction",
        "hubspot_owner_id",
        "hs_lastmodifieddate",
    ),
    "meetings": (
        "hs_timestamp",
        "hs_meeting_title",
        "hs_meeting_body",
        "hs_meeting_start_time",
        "hs_meeting_end_time",
        "hubspot_owner_id",
        "hs_lastmodifieddate",
    ),
}
# Properties only one activity type has: a write to another type drops them (see mappings.py).
OWN_PROPERTIES = {
    t: {p for p in READ_PROPERTIES[t] if p.startswith(f"hs_{TYPE_KINDS[t]}_")} for t in TYPE_KINDS
}


def to_ms(value: datetime) -> int:
    """Epoch milliseconds, exactly (no float rounding)."""
    return (value - EPOCH) // timedelta(milliseconds=1)


def parse_time(value: Any) -> datetime | None:
    """HubSpot dates: ISO 8601 (``2019-10-30T03:30:17.883Z``) or epoch-ms strings."""
    if value in (None, ""):
        return None
    text = str(value)
    if text.isdecimal():
        return EPOCH + timedelta(milliseconds=int(text))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class HubSpotConnector(Connector):
    key = "hubspot"
    display_name = "HubSpot"
    entities: ClassVar[Mapping[str, EntitySpec]] = {
        "contact": EntitySpec(remote_types=("contacts",), modified_field="lastmodifieddate"),
        "company": EntitySpec(remote_types=("companies",), modified_field="hs_lastmodifieddate"),
        "deal": EntitySpec(remote_types=("deals",), modified_field="hs_lastmodifieddate"),
        "activity": EntitySpec(
            remote_types=("notes", "tasks", "calls", "emails", "meetings"),
            modified_field="hs_lastmodifieddate",
        ),
    }
    batch_size = 100
    page_size = SEARCH_PAGE
    oauth = OAuthSpec(
        authorize_url="https://app.hubspot.com/oauth/authorize",
        token_url="https://api.hubapi.com/oauth/v3/token",  # noqa: S106 (a URL, not a password)
        revoke_url="https://api.hubapi.com/oauth/v3/token/revoke",
        # Notes, tasks, calls, emails and meetings need no scopes of their own: HubSpot's activity
        # APIs ask for the contacts scopes (developers.hubspot.com/docs/api-reference/latest/crm/
        # activities/tasks/guide, "Scope requirements": crm.objects.contacts.read/.write).
        scopes=(
            "crm.objects.contacts.read",
            "crm.objects.contacts.write",
            "crm.objects.companies.read",
            "crm.objects.companies.write",
            "crm.objects.deals.read",
            "crm.objects.deals.write",
            "oauth",
        ),
        pkce=True,
        client_auth="body",
        # Creating the enrichment properties (create_fields) needs the schema scopes; optional, so
        # an install that is not granted them still syncs (the fields are then named as missing).
        extra_authorize_params={"optional_scope": "crm.schemas.contacts.write crm.schemas.companies.write"},
    )
    rate_limit = "100/10"  # Free/Starter; Professional and Enterprise allow 190/10
    search_rate_limit = "5/1"  # search endpoints have their own, lower limit
    default_base_url = "https://api.hubapi.com"
    # HubSpot refuses to page a search past this many results; an instance may lower it (tests do).
    search_ceiling = 10_000
    relations: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "contact": ("company_id",),
        "deal": ("company_id", "contact_ids"),
        "activity": ("contact_id", "company_id", "deal_id"),
    }

    # --- configuration and auth ---------------------------------------------------------------

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> None:
        super().validate_config(config)
        if config.get("auth_mode", "private_app") not in {"private_app", "oauth"}:
            raise ConfigError("auth_mode must be private_app or oauth", field="auth_mode")

    def oauth_endpoints(self, callback: Mapping[str, str] | None = None) -> dict[str, str]:
        """With a ``base_url`` (the sandbox), the authorize and token endpoints live under it."""
        if not self.config.get("base_url"):
            return {}
        base = self.base_url()
        return {
            "authorize_url": f"{base}/oauth/authorize",
            "token_url": f"{base}/oauth/v3/token",
            "revoke_url": f"{base}/oauth/v3/token/revoke",
        }

    def auth(self):
        if self.config.get("auth_mode", "private_app") == "private_app":
            token = str(self.config.get("access_token") or "")
            if not token:
                raise ConfigError("enter the private app's access token", field="access_token")
            return bearer(token)
        return super().auth()

    @functools.cached_property
    def client(self) -> HubSpotClient:
        search_limiter = RateLimiter(
            key=f"{self.key}:{self.account_key()}:search",
            rate=str(self.config.get("search_rate_limit") or self.search_rate_limit),
        )
        return HubSpotClient(
            base_url=self.base_url(), auth=self.auth(), limiter=self.limiter(), search_limiter=search_limiter
        )

    @functools.cached_property
    def associations(self) -> Associations:
        return Associations(self.client)

    def test_connection(self) -> TestResult:
        """One cheap call; an AuthError (401) propagates with HubSpot's message."""
        self.client.list_page("contacts", limit=1)
        return TestResult(ok=True, message="Connected to HubSpot", details={"base_url": self.base_url()})

    # --- reads ----------------------------------------------------------------------------------

    def pull(self, entity: str, *, cursor: str | None) -> Iterator[Page]:
        spec = self.entity_spec(entity)
        state = self._decode_cursor(cursor)
        for remote_type in spec.remote_types:
            position = state.setdefault(remote_type, {"modified": 0, "archived": 0})
            yield from self._pull_changed(entity, remote_type, spec.modified_field, position, state)
            yield from self._pull_archived(entity, remote_type, position, state)

    def _pull_changed(
        self,
        entity: str,
        remote_type: str,
        modified_field: str,
        position: dict[str, int],
        state: dict[str, Any],
    ) -> Iterator[Page]:
        """Search pages with their relations, read for several pages at once: one association read
        per relation per ASSOCIATION_READ_BATCH records rather than one per search page."""
        held: list[Page] = []
        for page in self._search_changed(entity, remote_type, modified_field, position, state):
            held.append(page)
            if sum(len(p.records) for p in held) >= ASSOCIATION_READ_BATCH:
                yield from self._pages_with_relations(entity, remote_type, held)
                held = []
        yield from self._pages_with_relations(entity, remote_type, held)

    def _pages_with_relations(self, entity: str, remote_type: str, pages: list[Page]) -> Iterator[Page]:
        records = self._with_relations(entity, remote_type, [r for page in pages for r in page.records])
        start = 0
        for page in pages:
            end = start + len(page.records)
            yield dataclasses.replace(page, records=records[start:end])
            start = end

    def _search_changed(
        self,
        entity: str,
        remote_type: str,
        modified_field: str,
        position: dict[str, int],
        state: dict[str, Any],
    ) -> Iterator[Page]:
        floor = max(0, position["modified"] - OVERLAP_MS) if position["modified"] else 0
        after = 0
        while True:
            body: dict[str, Any] = {
                "filterGroups": [
                    {"filters": [{"propertyName": modified_field, "operator": "GT", "value": str(floor)}]}
                ],
                "sorts": [{"propertyName": modified_field, "direction": "ASCENDING"}],
                "properties": self._read_properties(entity, remote_type),
                "limit": min(self.page_size, self.search_ceiling - after),
            }
            if after:
                body["after"] = str(after)
            page = self.client.search(remote_type, body)
            records = [self._record(entity, remote_type, raw) for raw in page.get("results", [])]
            stamps = [to_ms(r.modified_at) for r in records if r.modified_at is not None]
            if stamps:
                position["modified"] = max(position["modified"], max(stamps))
            if records:
                remaining = max(0, int(page.get("total", 0)) - after - len(records))
                yield Page(records=records, cursor=encode_cursor(state), remaining=remaining)
            next_after = page.get("paging", {}).get("next", {}).get("after")
            if not next_after:
                return
            after = int(next_after)
            if after >= self.search_ceiling:
                if not stamps:
                    return  # nothing to restart from (HubSpot always sends the modified time)
                # Restart just below the last timestamp seen, so records sharing it are read again
                # rather than skipped.
                restart = max(stamps) - 1
                if restart <= floor:
                    # More than a whole query's worth of records share one millisecond: search cannot
                    # reach the rest, so step past them rather than loop forever.
                    logger.warning("hubspot search ceiling within one timestamp", extra={"type": remote_type})
                    restart = max(stamps)
                floor, after = restart, 0

    def _pull_archived(
        self, entity: str, remote_type: str, position: dict[str, int], state: dict[str, Any]
    ) -> Iterator[Page]:
        since = max(0, position["archived"] - OVERLAP_MS) if position["archived"] else 0
        for results in self.client.iter_list(remote_type, archived=True, properties=["hs_object_id"]):
            deleted = []
            for raw in results:
                archived_at = parse_time(raw.get("archivedAt")) or parse_time(raw.get("updatedAt"))
                if archived_at is None or to_ms(archived_at) <= since:
                    continue
                position["archived"] = max(position["archived"], to_ms(archived_at))
                deleted.append(
                    RemoteRecord(
                        id=self._record_id(entity, remote_type, str(raw["id"])),
                        modified_at=archived_at,
                        fields={},
                        deleted=True,
                        remote_type=remote_type,
                    )
                )
            if deleted:
                yield Page(records=deleted, cursor=encode_cursor(state))

    def get(self, entity: str, remote_ids: list[str]) -> list[RemoteRecord]:
        records: list[RemoteRecord] = []
        for remote_type, items in self._group_ids(entity, remote_ids).items():
            for _, chunk in self.chunks(items, self.batch_size):
                body = self.client.batch_read(
                    remote_type,
                    [rid for _, rid in chunk],
                    properties=self._read_properties(entity, remote_type),
                )
                found = [self._record(entity, remote_type, raw) for raw in body.get("results", [])]
                records += self._with_relations(entity, remote_type, found)
        return records

    def _read_properties(self, entity: str, remote_type: str) -> list[str]:
        """What a read names: our defaults, then the mapped custom properties (HubSpot ignores names
        a type does not have, so one entity's wanted names serve all its activity types)."""
        return list(
            dict.fromkeys([*READ_PROPERTIES[remote_type], *sorted(self.wanted_fields.get(entity, ()))])
        )

    def _with_relations(
        self, entity: str, remote_type: str, records: list[RemoteRecord]
    ) -> list[RemoteRecord]:
        """The records with their associations read: one batch read per relation per 1,000 records."""
        specs = self.relations_for(entity)
        if not specs or not records:
            return records
        bare = {r.id: r.id.rpartition("/")[2] for r in records}
        relations: dict[str, dict[str, tuple[str, ...]]] = {r.id: {} for r in records}
        for name, spec in specs.items():
            to_type = self.entity_spec(spec.target).remote_types[0]
            found = self.associations.read(remote_type, to_type, bare.values())
            for record in records:
                targets = found.get(bare[record.id])
                if targets is not None:
                    relations[record.id][name] = choose(targets, many=spec.many)
        return [dataclasses.replace(r, relations=relations[r.id]) for r in records]

    # --- field discovery --------------------------------------------------------------------------

    def discover_fields(self, entity: str) -> list[RemoteField]:
        """Every property of the entity's object types (for activities: of each of them, with
        ``remote_type`` set), standard and custom."""
        spec = self.entity_spec(entity)
        return [
            remote_field(raw, remote_type if entity == "activity" else "")
            for remote_type in spec.remote_types
            for raw in self.client.properties(remote_type)
            if not raw.get("archived")
        ]

    creates_fields = True

    @classmethod
    def custom_field_name(cls, name: str) -> str:
        """HubSpot's internal property names are lower-case."""
        return name.lower()

    def create_fields(self, entity: str, specs: list[FieldSpec]) -> list[RemoteField]:
        """Create custom properties on each of the entity's object types, in the platform's property
        group (made first when missing). A property that already exists (HubSpot's 409) is read
        and returned as it is. Properties HubSpot refuses are named in one PermanentError raised
        after the others were created; an auth failure stops at once."""
        made: list[RemoteField] = []
        refused: list[str] = []
        for remote_type in self.entity_spec(entity).remote_types:
            tag = remote_type if entity == "activity" else ""
            self.client.ensure_property_group(remote_type, PROPERTY_GROUP, PROPERTY_GROUP_LABEL)
            for spec in specs:
                name = self.custom_field_name(spec.name)
                try:
                    raw = self.client.create_property(
                        remote_type, property_create_body(spec, name=name, group=PROPERTY_GROUP)
                    )
                except AuthError:
                    raise
                except PermanentError as exc:
                    if exc.status != 409:
                        refused.append(f"{name}: {exc}")
                        continue
                    raw = self.client.property(remote_type, name)
                made.append(remote_field(raw, tag))
        if refused:
            raise PermanentError(f"HubSpot did not create {'; '.join(refused)}")
        return made

    # --- writes ---------------------------------------------------------------------------------

    def create(self, entity: str, records: list[Mapping[str, Any]]) -> list[WriteResult]:
        results: list[WriteResult | None] = [None] * len(records)
        groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for index, fields in enumerate(records):
            try:
                remote_type = self._type_for_create(entity, fields)
            except ValueError as exc:
                results[index] = WriteResult(index=index, ok=False, error=str(exc), code="INVALID_KIND")
                continue
            groups.setdefault(remote_type, []).append((index, self._create_properties(remote_type, fields)))
        for remote_type, items in groups.items():
            for _, chunk in self.chunks(items, self.batch_size):
                inputs = [{"properties": props, "objectWriteTraceId": str(i)} for i, props in chunk]
                self._write(entity, remote_type, "create", chunk, inputs, results)
        return self._write_relations(entity, collect_results(results, provider="HubSpot"), records)

    def update(self, entity: str, records: list[tuple[str, Mapping[str, Any]]]) -> list[WriteResult]:
        results: list[WriteResult | None] = [None] * len(records)
        groups: dict[str, list[tuple[int, str, dict[str, Any]]]] = {}
        for index, (remote_id, fields) in enumerate(records):
            try:
                remote_type, bare_id = self._split_id(entity, remote_id)
            except ValueError as exc:
                results[index] = WriteResult(index=index, ok=False, error=str(exc), code="INVALID_ID")
                continue
            groups.setdefault(remote_type, []).append((index, bare_id, self._properties(remote_type, fields)))
        if "notes" in groups:
            self._mark_messages(
                groups["notes"], {index: records[index][1] for index, _, _ in groups["notes"]}
            )
        for remote_type, items in groups.items():
            for _, chunk in self.chunks(items, self.batch_size):
                inputs = [
                    {"id": rid, "properties": props, "objectWriteTraceId": str(i)} for i, rid, props in chunk
                ]
                self._write(entity, remote_type, "update", [(i, rid) for i, rid, _ in chunk], inputs, results)
        return self._write_relations(
            entity, collect_results(results, provider="HubSpot"), [fields for _, fields in records]
        )

    def delete(self, entity: str, remote_ids: list[str]) -> list[WriteResult]:
        results: list[WriteResult | None] = [None] * len(remote_ids)
        groups: dict[str, list[tuple[int, str]]] = {}
        for index, remote_id in enumerate(remote_ids):
            try:
                remote_type, bare_id = self._split_id(entity, remote_id)
            except ValueError as exc:
                results[index] = WriteResult(index=index, ok=False, error=str(exc), code="INVALID_ID")
                continue
            groups.setdefault(remote_type, []).append((index, bare_id))
        for remote_type, items in groups.items():
            for _, chunk in self.chunks(items, self.batch_size):
                self._write(entity, remote_type, "archive", chunk, [{"id": rid} for _, rid in chunk], results)
        return collect_results(results, provider="HubSpot")

    def _write_relations(
        self, entity: str, results: list[WriteResult], payloads: list[Mapping[str, Any]]
    ) -> list[WriteResult]:
        """Apply each written record's ``RELATIONS_KEY`` changes; a refused association leaves the
        record written, with the relations that failed and HubSpot's message."""
        specs = self.relations_for(entity)
        changes: list[LinkChange] = []
        failed: dict[int, dict[str, str]] = {}
        for result, payload in zip(results, payloads, strict=True):
            wanted = payload.get(RELATIONS_KEY) or {}
            if not wanted or not result.ok or not result.remote_id:
                continue
            from_type, from_id = self._split_id(entity, result.remote_id)
            for name, delta in wanted.items():
                spec = specs.get(name)
                if spec is None:
                    failed.setdefault(result.index, {})[name] = (
                        f"HubSpot does not sync {entity} relation {name!r}"
                    )
                    continue
                changes.append(
                    LinkChange(
                        index=result.index,
                        relation=name,
                        from_type=from_type,
                        from_id=from_id,
                        to_type=self.entity_spec(spec.target).remote_types[0],
                        single=not spec.many,
                        add=[str(i) for i in delta.get("add") or []],
                        remove=[str(i) for i in delta.get("remove") or []],
                    )
                )
        for index, why in self.associations.write(changes).items():
            failed.setdefault(index, {}).update(why)
        return [
            dataclasses.replace(
                result,
                relations_failed=tuple(sorted(failed[result.index])),
                relations_error="; ".join(dict.fromkeys(failed[result.index].values())),
            )
            if result.index in failed
            else result
            for result in results
        ]

    def _write(
        self,
        entity: str,
        remote_type: str,
        action: str,
        chunk: list[tuple[int, Any]],
        inputs: list[dict[str, Any]],
        results: list[WriteResult | None],
    ) -> None:
        """One batch call; fills ``results`` at the inputs' indexes.

        HubSpot may refuse a whole batch (400/409) for one bad input: then each input is sent alone,
        so only the bad one fails.
        """
        try:
            body = self.client.batch(remote_type, action, inputs)
        except AuthError:
            raise
        except PermanentError as exc:
            if len(inputs) > 1:
                for item, single in zip(chunk, inputs, strict=True):
                    self._write(entity, remote_type, action, [item], [single], results)
                return
            index = chunk[0][0]
            results[index] = WriteResult(index=index, ok=False, error=str(exc)[:ERROR_EXCERPT], code=exc.code)
            return
        by_trace = {str(index): index for index, _ in chunk}
        by_id: dict[str, list[int]] = {}
        if action != "create":
            for index, rid in chunk:
                by_id.setdefault(str(rid), []).append(index)
        if action == "archive" and not body.get("errors"):
            for index, rid in chunk:
                results[index] = WriteResult(
                    index=index, ok=True, remote_id=self._record_id(entity, remote_type, rid)
                )
            return
        unplaced = [
            r
            for r in body.get("results", [])
            if not self._place_result(entity, remote_type, action, r, by_trace, by_id, results)
        ]
        unplaced_errors = [
            e for e in body.get("errors", []) if not self._place_error(e, by_trace, by_id, results)
        ]
        # Without trace ids HubSpot's results still come in input order: give them to the open slots.
        open_slots = [index for index, _ in chunk if results[index] is None]
        for index, raw in zip(open_slots, unplaced, strict=False):
            results[index] = self._ok(entity, remote_type, action, index, raw)
        open_slots = [index for index, _ in chunk if results[index] is None]
        for index, error in zip(open_slots, unplaced_errors, strict=False):
            results[index] = self._failed(index, error)

    def _place_result(
        self,
        entity: str,
        remote_type: str,
        action: str,
        raw: dict[str, Any],
        by_trace: dict[str, int],
        by_id: dict[str, list[int]],
        results: list[WriteResult | None],
    ) -> bool:
        trace = raw.get("objectWriteTraceId")
        indexes = (
            [by_trace[str(trace)]]
            if trace is not None and str(trace) in by_trace
            else by_id.get(str(raw.get("id")), [])
        )
        for index in indexes:
            results[index] = self._ok(entity, remote_type, action, index, raw)
        return bool(indexes)

    def _place_error(
        self,
        error: dict[str, Any],
        by_trace: dict[str, int],
        by_id: dict[str, list[int]],
        results: list[WriteResult | None],
    ) -> bool:
        context = error.get("context") or {}
        indexes = [by_trace[str(t)] for t in context.get("objectWriteTraceId", []) if str(t) in by_trace]
        if not indexes:
            indexes = [i for rid in context.get("ids", []) for i in by_id.get(str(rid), [])]
        for index in indexes:
            results[index] = self._failed(index, error)
        return bool(indexes)

    def _ok(self, entity: str, remote_type: str, action: str, index: int, raw: dict[str, Any]) -> WriteResult:
        remote_id = self._record_id(entity, remote_type, str(raw.get("id", "")))
        return WriteResult(
            index=index, ok=True, remote_id=remote_id, created=True if action == "create" else None
        )

    @staticmethod
    def _failed(index: int, error: dict[str, Any]) -> WriteResult:
        code = str(
            error.get("error") if error.get("error") == "CONTACT_EXISTS" else error.get("category") or ""
        )
        return WriteResult(
            index=index, ok=False, error=str(error.get("message", ""))[:ERROR_EXCERPT], code=code
        )

    def find_created(
        self, entity: str, records: list[Mapping[str, Any]], *, since: datetime
    ) -> list[list[str]]:
        """Search the payloads' identifying values among records created since ``since``: five
        payloads per search (one filter group each, ORed), results matched back by their values."""
        found: list[list[str]] = [[] for _ in records]
        wanted: dict[str, list[tuple[int, dict[str, str]]]] = {}
        for index, fields in enumerate(records):
            try:
                remote_type = self._type_for_create(entity, fields)
            except ValueError:
                continue  # never sendable, so never created
            props = self._create_properties(remote_type, fields)
            identifying = {name: str(props[name]) for name in self._identifying(props)}
            if identifying:
                wanted.setdefault(remote_type, []).append((index, identifying))
        stamp = str(int(since.timestamp() * 1000))
        for remote_type, items in wanted.items():
            created = "createdate" if remote_type in {"contacts", "companies", "deals"} else "hs_createdate"
            for _, chunk in self.chunks(items, SEARCH_FILTER_GROUPS):
                groups = [
                    {
                        "filters": [
                            *({"propertyName": k, "operator": "EQ", "value": v} for k, v in values.items()),
                            {"propertyName": created, "operator": "GTE", "value": stamp},
                        ]
                    }
                    for _, values in chunk
                ]
                names = sorted({name for _, values in chunk for name in values})
                body = self.client.search(
                    remote_type, {"filterGroups": groups, "properties": names, "limit": 100}
                )
                for raw in body.get("results", []):
                    have = raw.get("properties") or {}
                    for index, values in chunk:
                        if all(_same(name, have.get(name), value) for name, value in values.items()):
                            found[index].append(self._record_id(entity, remote_type, str(raw["id"])))
        return found

    @staticmethod
    def _identifying(props: Mapping[str, Any]) -> list[str]:
        """Up to five properties to search a payload by: the most distinctive first (HubSpot allows
        six filters in a group; the sixth is the creation time)."""
        preferred = ("email", "phone", "domain", "name", "dealname", "firstname", "lastname", "hs_timestamp")
        scalar = [k for k, v in props.items() if isinstance(v, str | int | float) and str(v) != ""]
        return sorted(scalar, key=lambda k: (preferred.index(k) if k in preferred else len(preferred), k))[:5]

    # --- webhooks -----------------------------------------------------------------------------

    webhook_module = webhooks

    # --- translation --------------------------------------------------------------------------

    def _record(self, entity: str, remote_type: str, raw: dict[str, Any]) -> RemoteRecord:
        fields = dict(raw.get("properties") or {})
        modified_field = "lastmodifieddate" if remote_type == "contacts" else "hs_lastmodifieddate"
        modified_at = parse_time(fields.get(modified_field)) or parse_time(raw.get("updatedAt"))
        if remote_type in TYPE_KINDS:
            fields["_kind"] = TYPE_KINDS[remote_type]
        if remote_type == "notes":
            fields = messages.read(fields)
        return RemoteRecord(
            id=self._record_id(entity, remote_type, str(raw["id"])),
            modified_at=modified_at,
            fields=fields,
            remote_type=remote_type,
        )

    @staticmethod
    def _record_id(entity: str, remote_type: str, bare_id: str) -> str:
        return f"{remote_type}/{bare_id}" if entity == "activity" else bare_id

    def _split_id(self, entity: str, remote_id: str) -> tuple[str, str]:
        if entity != "activity":
            return self.entity_spec(entity).remote_types[0], remote_id
        remote_type, _, bare_id = remote_id.partition("/")
        if remote_type not in TYPE_KINDS or not bare_id:
            raise ValueError(f"activity ids look like notes/123, not {remote_id!r}")
        return remote_type, bare_id

    def _group_ids(self, entity: str, remote_ids: list[str]) -> dict[str, list[tuple[int, str]]]:
        groups: dict[str, list[tuple[int, str]]] = {}
        for index, remote_id in enumerate(remote_ids):
            try:
                remote_type, bare_id = self._split_id(entity, remote_id)
            except ValueError:
                continue  # not an id this entity can have: simply absent from the result
            groups.setdefault(remote_type, []).append((index, bare_id))
        return groups

    def _type_for_create(self, entity: str, fields: Mapping[str, Any]) -> str:
        if entity != "activity":
            return self.entity_spec(entity).remote_types[0]
        kind = str(fields.get("_kind") or "")
        if kind == messages.KIND:
            return "notes"
        if kind not in KIND_TYPES:
            kinds = ", ".join((*KIND_TYPES, messages.KIND))
            raise ValueError(f"activity _kind must be one of {kinds}, not {kind!r}")
        return KIND_TYPES[kind]

    @staticmethod
    def _properties(remote_type: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Fields to send: no synthetic ones (``_kind``, a message's ``_channel``) nor relation
        changes, none of another activity type's own properties."""
        foreign = set().union(*(own for t, own in OWN_PROPERTIES.items() if t != remote_type))
        return {k: v for k, v in fields.items() if not k.startswith("_") and k not in foreign}

    @classmethod
    def _create_properties(cls, remote_type: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """A create's properties: a message's note body carries its marker (``messages.py``)."""
        props = cls._properties(remote_type, fields)
        if fields.get("_kind") == messages.KIND:
            props[messages.BODY] = messages.note_body(
                fields.get(messages.BODY), fields.get(messages.CHANNEL), fields.get(messages.DIRECTION)
            )
        return props

    def _mark_messages(
        self, items: list[tuple[int, str, dict[str, Any]]], changes: Mapping[int, Mapping[str, Any]]
    ) -> None:
        """Note updates that touch a message's body, channel, direction or kind: the body to write,
        from the note's current one (read in one batch per 100), so a message keeps its marker."""
        touching = {messages.BODY, messages.CHANNEL, messages.DIRECTION, "_kind"}
        wanted = [
            (index, bare_id, props) for index, bare_id, props in items if touching & set(changes[index])
        ]
        current: dict[str, Any] = {}
        for _, chunk in self.chunks(sorted({bare_id for _, bare_id, _ in wanted}), self.batch_size):
            body = self.client.batch_read("notes", chunk, properties=[messages.BODY])
            current |= {
                str(r["id"]): (r.get("properties") or {}).get(messages.BODY) for r in body.get("results", [])
            }
        for index, bare_id, props in wanted:
            written = messages.updated_body(current.get(bare_id), changes[index])
            if written is not None:
                props[messages.BODY] = written

    @staticmethod
    def _decode_cursor(cursor: str | None) -> dict[str, Any]:
        state = decode_cursor(cursor)
        if state is None:
            logger.warning("hubspot cursor unreadable: pulling everything")
            return {}
        return {
            t: {"modified": int(p.get("modified", 0)), "archived": int(p.get("archived", 0))}
            for t, p in state.items()
            if isinstance(p, dict)
        }


def _same(name: str, have: Any, sent: str) -> bool:
    """Whether a found record's property holds what we sent (HubSpot keeps emails lower-case)."""
    if have is None:
        return False
    return str(have).lower() == sent.lower() if name == "email" else str(have) == sent
