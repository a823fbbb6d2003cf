"""AITable.ai: datasheets of user-named columns through the connector interface (providers.md §4).

Each entity is the datasheet the integration's ``datasheets`` names (contact: the Leads datasheet);
an entity without one pulls nothing and refuses writes. Records keep their column names as field
names; mappings are the user's (``mappings.py`` fits the seed's Leads columns).

Pull: AITable filters nothing by modification time, so every pull reads all pages (1,000 rows each)
and yields the records whose ``updatedAt`` is at or after the cursor's watermark minus ``OVERLAP``.
It lists no deletions either: the cursor also keeps the ids that were live, and ids missing from the
next scan come back as deleted records once a read by id confirms they are gone (a row skipped
because rows before it were deleted mid-scan is not mistaken for a deletion). Only the final page
carries the cursor: a scan that stops halfway starts over, which re-reads but loses nothing.

Writes: at most 10 records per request. A request AITable refuses for its content is sent again
record by record, so the bad record fails alone with AITable's message. A create whose answer was
lost is reported uncertain (never re-sent): the engine looks for it with ``find_created``, which
matches the payload's identifying cells (email, name, title, ...) with ``filterByFormula``.

Also a ``TableStore`` (the onboarding flow's rows, the wizard's datasheet and column lists) and an
``IdLister`` (the engine's id diff).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar

from connectors.aitable import webhooks
from connectors.aitable.client import WRITE_CAP, AITableClient, is_validation
from connectors.aitable.fields import create_body, primary, remote_field
from connectors.aitable.records import (
    cells,
    equals_formula,
    pack_ids,
    to_ms,
    to_record,
    tombstone,
    unpack_ids,
)
from connectors.base import (
    AuthError,
    ConfigError,
    Connector,
    EntitySpec,
    FieldSpec,
    Page,
    PermanentError,
    RemoteField,
    RemoteRecord,
    TestResult,
    TransientError,
    WriteResult,
    collect_results,
    decode_cursor,
    encode_cursor,
)
from connectors.capabilities import IdLister, RemoteTable, TableStore

logger = logging.getLogger(__name__)

OVERLAP_MS = 60_000  # re-read a minute back: clocks and scans of busy datasheets are not exact
ERROR_EXCERPT = 300
CREATED_SLACK_MS = 1_000  # ``since`` from our clock vs createdAt from AITable's
# What identifies a create payload, by column name (lower case), most distinctive first.
IDENTIFYING = ("email", "name", "title", "subject", "phone", "domain", "website")

Send = Callable[[list[Any]], list[dict[str, Any]]]


class AITableConnector(Connector, TableStore, IdLister):
    key = "aitable"
    display_name = "AITable.ai"
    entities: ClassVar[Mapping[str, EntitySpec]] = {
        entity: EntitySpec(remote_types=("datasheet",), modified_field="updatedAt")
        for entity in ("contact", "company", "deal", "activity")
    }
    batch_size = 100  # records per engine batch; sent 10 per request
    page_size = 1000
    rate_limit = "5/1"  # per datasheet and token; ``requests_per_second`` in the config
    default_base_url = "https://aitable.ai"
    webhook_module = webhooks
    creates_fields = True

    # --- configuration ----------------------------------------------------------------------------

    def auth(self):
        return self.config_bearer("api_token", "the AITable API token")

    @functools.cached_property
    def client(self) -> AITableClient:
        return AITableClient(
            base_url=self.base_url(),
            auth=self.auth(),
            token=str(self.config.get("api_token") or ""),
            requests_per_second=int(self.config.get("requests_per_second") or 5),
        )

    def datasheet(self, entity: str, *, required: bool = True) -> str:
        """The configured datasheet of ``entity``; "" (or ConfigError when ``required``) without one."""
        self.entity_spec(entity)
        configured = str((self.config.get("datasheets") or {}).get(entity) or "")
        if not configured and required:
            raise ConfigError(f"no AITable datasheet is configured for {entity} records", field="datasheets")
        return configured

    def space(self) -> str:
        space = str(self.config.get("space_id") or "")
        if not space:
            raise ConfigError("enter the AITable space id (spc…)", field="space_id")
        return space

    def test_connection(self) -> TestResult:
        """Prove the token and the space, then each configured datasheet.

        The wizard tests the token and space before any datasheet is picked (the user then picks
        them from ``tables_list``), so none is required: with a space its root nodes are listed,
        without one ``GET /spaces`` proves the token. Each datasheet already configured is read
        one row deep, which proves this token's user sees it."""
        try:
            details = self._space_details()
            for entity, datasheet in self._configured_datasheets().items():
                details[f"{entity}_rows"] = self.client.records_page(datasheet, pageSize=1).get("total")
        except AuthError as exc:
            return TestResult(ok=False, message=f"AITable refused the API token: {self.redacted(exc)}")
        except (ConfigError, PermanentError) as exc:
            return TestResult(ok=False, message=self.redacted(exc))
        return TestResult(ok=True, message="Connected to AITable.ai", details=details)

    def _space_details(self) -> dict[str, Any]:
        """What the token sees: the configured space's node count, or the spaces it can open."""
        details: dict[str, Any] = {"base_url": self.base_url()}
        space = str(self.config.get("space_id") or "")
        if space:
            details["space_nodes"] = len(self.client.space_nodes(space))
        else:
            details["spaces"] = [str(item.get("id") or "") for item in self.client.spaces()]
        return details

    def _configured_datasheets(self) -> dict[str, str]:
        """Entity → datasheet for the entities that have one configured."""
        configured = self.config.get("datasheets") or {}
        return {
            entity: str(configured[entity])
            for entity in self.entities
            if isinstance(configured, Mapping) and configured.get(entity)
        }

    # --- reads ------------------------------------------------------------------------------------

    def pull(self, entity: str, *, cursor: str | None) -> Iterator[Page]:
        datasheet = self.datasheet(entity, required=False)
        if not datasheet:
            return
        state = decode_cursor(cursor)
        if state is None:
            logger.warning("aitable cursor unreadable: pulling everything")
            state = {}
        watermark = state.get("updated") if isinstance(state.get("updated"), int) else None
        floor = watermark - OVERLAP_MS if watermark is not None else None
        known = unpack_ids(state.get("ids"))
        live: set[str] = set()
        newest = watermark
        seen = 0
        for data in self.client.iter_records(datasheet):
            raws = data.get("records") or []
            seen += len(raws)
            changed = []
            for raw in raws:
                live.add(str(raw.get("recordId")))
                newest = _later(newest, raw.get("updatedAt"))
                if _changed_since(raw, floor):
                    changed.append(to_record(raw))
            if changed:
                remaining = max(0, int(data.get("total") or 0) - seen) if floor is None else None
                yield Page(records=changed, cursor=None, remaining=remaining)
        final: list[RemoteRecord] = []
        if known:
            missing = sorted(known - live)
            still_there = self._fetch(datasheet, missing) if missing else []
            for raw in still_there:  # skipped by the scan, not deleted
                live.add(str(raw.get("recordId")))
                newest = _later(newest, raw.get("updatedAt"))
                if _changed_since(raw, floor):
                    final.append(to_record(raw))
            final += [tombstone(record_id) for record_id in missing if record_id not in live]
        yield Page(records=final, cursor=encode_cursor({"updated": newest, "ids": pack_ids(live)}))

    def get(self, entity: str, remote_ids: list[str]) -> list[RemoteRecord]:
        datasheet = self.datasheet(entity, required=False)
        if not datasheet:
            return []
        return self.rows_get(datasheet, remote_ids)

    def remote_ids(self, entity: str) -> Iterator[str]:
        """Every live record id, 1,000 per page, each row cut down to its primary column."""
        datasheet = self.datasheet(entity, required=False)
        if not datasheet:
            return
        column = primary(self.client.fields(datasheet))
        for data in self.client.iter_records(datasheet, fields=[column] if column else None):
            for raw in data.get("records") or []:
                yield str(raw.get("recordId"))

    def _fetch(self, datasheet: str, ids: list[str]) -> list[dict[str, Any]]:
        """Live records among ``ids``. Ids that are not ``rec…`` are absent; should AITable refuse
        a read for an id it does not know, the others are read one by one."""
        ids = [i for i in dict.fromkeys(ids) if isinstance(i, str) and i.startswith("rec")]
        if not ids:
            return []
        try:
            return self.client.records_by_ids(datasheet, ids)
        except PermanentError as exc:
            if isinstance(exc, AuthError) or not is_validation(exc):
                raise
            if len(ids) == 1:
                return []
            return [raw for record_id in ids for raw in self._fetch(datasheet, [record_id])]

    # --- field discovery --------------------------------------------------------------------------

    def discover_fields(self, entity: str) -> list[RemoteField]:
        datasheet = self.datasheet(entity, required=False)
        return self.table_fields(datasheet) if datasheet else []

    def create_fields(self, entity: str, specs: list[FieldSpec]) -> list[RemoteField]:
        """Add columns named ``spec.name`` (``POST /spaces/{spc}/datasheets/{dst}/fields``); columns
        already there are kept as they are. Refusals are named in one PermanentError after the rest."""
        datasheet, space = self.datasheet(entity), self.space()
        existing = {str(raw.get("name")) for raw in self.client.fields(datasheet)}
        refused: list[str] = []
        for spec in specs:
            if spec.name in existing:
                continue
            try:
                self.client.create_field(space, datasheet, create_body(spec))
            except AuthError:
                raise
            except PermanentError as exc:
                refused.append(f'"{spec.name}": {exc}')
                continue
            existing.add(spec.name)
        wanted = {spec.name for spec in specs}
        made = [field for field in self.table_fields(datasheet) if field.name in wanted]
        if refused:
            raise PermanentError(f"AITable did not create {'; '.join(refused)}")
        return made

    # --- writes -----------------------------------------------------------------------------------

    def create(self, entity: str, records: list[Mapping[str, Any]]) -> list[WriteResult]:
        return self.rows_create(self.datasheet(entity), records)

    def update(self, entity: str, records: list[tuple[str, Mapping[str, Any]]]) -> list[WriteResult]:
        return self.rows_update(self.datasheet(entity), records)

    def delete(self, entity: str, remote_ids: list[str]) -> list[WriteResult]:
        datasheet = self.datasheet(entity)
        results: list[WriteResult | None] = [None] * len(remote_ids)
        for offset, chunk in self.chunks(list(remote_ids), WRITE_CAP):
            self._delete_chunk(datasheet, offset, chunk, results)
        return collect_results(results, provider="AITable")

    def _delete_chunk(
        self, datasheet: str, offset: int, ids: list[str], results: list[WriteResult | None]
    ) -> None:
        try:
            self.client.delete_records(datasheet, ids)
        except PermanentError as exc:
            if isinstance(exc, AuthError):
                raise
            if len(ids) > 1 and is_validation(exc):
                for index, record_id in enumerate(ids):
                    self._delete_chunk(datasheet, offset + index, [record_id], results)
                return
            gone = len(ids) == 1 and not self._fetch(datasheet, ids)  # already deleted counts as done
            for index, record_id in enumerate(ids):
                results[offset + index] = (
                    WriteResult(index=offset + index, ok=True, remote_id=record_id)
                    if gone
                    else _failed(offset + index, exc)
                )
            return
        for index, record_id in enumerate(ids):
            results[offset + index] = WriteResult(index=offset + index, ok=True, remote_id=record_id)

    def _write(
        self, items: list[Any], send: Send, *, creating: bool, ids: list[str | None]
    ) -> list[WriteResult]:
        """Send ``items`` 10 per request; one result per item, in order."""
        results: list[WriteResult | None] = [None] * len(items)
        for offset, chunk in self.chunks(list(items), WRITE_CAP):
            self._write_chunk(offset, chunk, send, results, creating=creating, ids=ids)
        return collect_results(results, provider="AITable")

    def _write_chunk(
        self,
        offset: int,
        chunk: list[Any],
        send: Send,
        results: list[WriteResult | None],
        *,
        creating: bool,
        ids: list[str | None],
    ) -> None:
        try:
            raws = send(chunk)
        except PermanentError as exc:
            if isinstance(exc, AuthError):
                raise
            if len(chunk) > 1 and is_validation(exc):  # refused whole: find the bad record
                for index, item in enumerate(chunk):
                    self._write_chunk(offset + index, [item], send, results, creating=creating, ids=ids)
                return
            for index in range(len(chunk)):
                results[offset + index] = _failed(offset + index, exc)
            return
        except TransientError as exc:
            if not (creating and exc.ambiguous):
                raise
            for index in range(len(chunk)):  # maybe made: find_created settles it, never a resend
                results[offset + index] = WriteResult(
                    index=offset + index,
                    ok=False,
                    error=str(exc)[:ERROR_EXCERPT],
                    code="UNCERTAIN",
                    uncertain=True,
                )
            return
        for index, raw in enumerate(raws[: len(chunk)]):
            remote_id = str(raw.get("recordId") or "") or ids[offset + index]
            results[offset + index] = WriteResult(
                index=offset + index, ok=True, remote_id=remote_id, created=True if creating else None
            )

    def find_created(
        self, entity: str, records: list[Mapping[str, Any]], *, since: datetime
    ) -> list[list[str]]:
        """Rows created at or after ``since`` holding each payload's identifying cells: looked up
        by the most distinctive one (``{Column}="value"``), then compared on all of them."""
        datasheet = self.datasheet(entity, required=False)
        found: list[list[str]] = [[] for _ in records]
        if not datasheet:
            return found
        floor = to_ms(since) - CREATED_SLACK_MS
        for index, payload in enumerate(records):
            keys = identifying(cells(payload, creating=True))
            if not keys:
                continue
            column, value = keys[0]
            for data in self.client.iter_records(datasheet, filterByFormula=equals_formula(column, value)):
                for raw in data.get("records") or []:
                    if int(raw.get("createdAt") or 0) >= floor and _holds(raw, keys):
                        found[index].append(str(raw.get("recordId")))
        return found

    # --- TableStore -------------------------------------------------------------------------------

    def tables_list(self) -> list[RemoteTable]:
        """The space's datasheets, folders followed (``GET /spaces/{spc}/nodes``, ``/nodes/{id}``)."""
        tables: list[RemoteTable] = []
        pending = list(self.client.space_nodes(self.space()))
        visited: set[str] = set()
        while pending:
            node = pending.pop(0)
            node_id, kind = str(node.get("id") or ""), str(node.get("type") or "")
            if not node_id or node_id in visited:
                continue
            visited.add(node_id)
            if kind == "Datasheet":
                tables.append(RemoteTable(id=node_id, name=str(node.get("name") or node_id)))
            elif kind == "Folder":
                children = node.get("children")
                pending += (
                    children
                    if isinstance(children, list)
                    else self.client.node(node_id).get("children") or []
                )
        return tables

    def table_fields(self, table_id: str) -> list[RemoteField]:
        return [remote_field(raw) for raw in self.client.fields(table_id) if raw.get("name")]

    def rows_get(self, table_id: str, row_ids: list[str]) -> list[RemoteRecord]:
        return [to_record(raw) for raw in self._fetch(table_id, list(row_ids))]

    def rows_create(self, table_id: str, rows: list[Mapping[str, Any]]) -> list[WriteResult]:
        def send(chunk: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
            return self.client.create_records(table_id, [cells(row, creating=True) for row in chunk])

        return self._write(list(rows), send, creating=True, ids=[None] * len(rows))

    def rows_update(self, table_id: str, rows: list[tuple[str, Mapping[str, Any]]]) -> list[WriteResult]:
        def send(chunk: list[tuple[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
            changes = [(record_id, cells(fields, creating=False)) for record_id, fields in chunk]
            if not any(sent for _, sent in changes):  # nothing but relations or synthetic keys
                return [{"recordId": record_id} for record_id, _ in chunk]
            return self.client.update_records(table_id, changes)

        return self._write(list(rows), send, creating=False, ids=[record_id for record_id, _ in rows])

    def rows_find(self, table_id: str, column: str, value: str) -> list[RemoteRecord]:
        formula = equals_formula(column, value)
        return [
            to_record(raw)
            for data in self.client.iter_records(table_id, filterByFormula=formula)
            for raw in data.get("records") or []
        ]


def identifying(sent: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The payload's text cells that identify a record, most distinctive column first; all its
    text cells when none is named like an email, name, title, ... column."""
    texts = [
        (column, value.strip()) for column, value in sent.items() if isinstance(value, str) and value.strip()
    ]

    def rank(item: tuple[str, str]) -> int:
        lowered = item[0].lower()
        return next((i for i, word in enumerate(IDENTIFYING) if word in lowered), len(IDENTIFYING))

    named = sorted((item for item in texts if rank(item) < len(IDENTIFYING)), key=rank)
    return named or texts


def _holds(raw: Mapping[str, Any], keys: list[tuple[str, str]]) -> bool:
    """Whether a row's cells carry every identifying value (e-mails compared without case)."""
    fields = raw.get("fields") or {}
    for column, value in keys:
        cell = str(fields.get(column) or "").strip()
        if cell != value and not ("email" in column.lower() and cell.lower() == value.lower()):
            return False
    return True


def _later(current: int | None, value: Any) -> int | None:
    try:
        stamp = int(value)
    except (TypeError, ValueError):
        return current
    return stamp if current is None or stamp > current else current


def _changed_since(raw: Mapping[str, Any], floor: int | None) -> bool:
    if floor is None:
        return True
    try:
        return int(raw.get("updatedAt")) >= floor
    except (TypeError, ValueError):
        return True  # no time to compare: yield it, re-reading is harmless


def _failed(index: int, exc: PermanentError) -> WriteResult:
    return WriteResult(index=index, ok=False, error=str(exc)[:ERROR_EXCERPT], code=exc.code)
