"""Salesforce: Contact, Account, Opportunity and Task/Event as canonical contact, company, deal, activity.

Reads poll SOQL on SystemModstamp (the field Salesforce bumps on every change) and ``queryAll`` for the
Recycle Bin; writes go through sObject Collections, 200 records a call. Auth is the OAuth web-server flow;
the API lives at the org's ``instance_url`` (from the token response), never at a fixed host.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

from connectors.base import (
    AuthError,
    ConfigError,
    Connector,
    ConnectorError,
    EntitySpec,
    OAuthSpec,
    Page,
    PermanentError,
    ReauthorizationNeeded,
    RemoteRecord,
    TestResult,
    Tokens,
    TransientError,
    WriteResult,
    collect_results,
    decode_cursor,
    encode_cursor,
)
from connectors.netguard import check_url
from connectors.salesforce import webhooks
from connectors.salesforce.client import (
    API_VERSION,
    COMPOSITE_LIMIT,
    SalesforceClient,
    activity_kind,
    normalize_id,
    parse_datetime,
    remote_type_for_kind,
    soql_datetime,
    soql_string,
    type_of_id,
)

DEFAULT_LOGIN_URL = "https://login.salesforce.com"

# Step back OVERLAP from the watermark: a transaction can commit a moment after it stamped SystemModstamp,
# so a record may appear with a time just before the last one we saw. Re-reading is harmless (applying a
# record twice changes nothing); the ids already seen at the watermark itself are skipped.
OVERLAP = timedelta(seconds=1)
# More ids than this at one watermark are simply re-read next time rather than kept in the cursor.
SEEN_CAP = 200
GET_CHUNK = 200  # ids per `Id IN (...)` query, well inside the URL length limit

FIELDS: dict[str, tuple[str, ...]] = {
    "Contact": ("FirstName", "LastName", "Email", "Phone", "MobilePhone", "Title", "AccountId", "OwnerId"),
    "Account": ("Name", "Website", "Phone", "Industry", "OwnerId"),
    "Opportunity": ("Name", "Amount", "StageName", "CloseDate", "AccountId", "OwnerId"),
    "Task": (
        "Subject",
        "Description",
        "Status",
        "Priority",
        "TaskSubtype",
        "ActivityDate",
        "WhoId",
        "WhatId",
        "OwnerId",
    ),
    "Event": (
        "Subject",
        "Description",
        "ActivityDate",
        "ActivityDateTime",
        "DurationInMinutes",
        "Location",
        "WhoId",
        "WhatId",
        "OwnerId",
    ),
}
SYSTEM_FIELDS = ("Id", "CreatedDate", "LastModifiedDate", "SystemModstamp")
# Canonical activity mappings are shared by Task and Event, but each lacks some of the other's fields:
# sending one would make Salesforce refuse the whole batch (INVALID_FIELD).
ONLY_ON = {
    "Task": frozenset({"ActivityDateTime", "DurationInMinutes", "Location", "StartDateTime", "EndDateTime"}),
    "Event": frozenset({"Status", "Priority", "TaskSubtype"}),
}
_VERSION = re.compile(r"^v\d+\.0$")


class SalesforceConnector(Connector):
    key = "salesforce"
    display_name = "Salesforce"
    entities: ClassVar[Mapping[str, EntitySpec]] = {
        "contact": EntitySpec(("Contact",), "SystemModstamp"),
        "company": EntitySpec(("Account",), "SystemModstamp"),
        "deal": EntitySpec(("Opportunity",), "SystemModstamp"),
        "activity": EntitySpec(("Task", "Event"), "SystemModstamp"),
    }
    batch_size = COMPOSITE_LIMIT
    page_size = 2000
    oauth = OAuthSpec(
        authorize_url=f"{DEFAULT_LOGIN_URL}/services/oauth2/authorize",
        token_url=f"{DEFAULT_LOGIN_URL}/services/oauth2/token",
        revoke_url=f"{DEFAULT_LOGIN_URL}/services/oauth2/revoke",
        scopes=("api", "refresh_token"),
        pkce=True,
    )
    # The published limit is a daily budget (403 REQUEST_LIMIT_EXCEEDED); this only keeps bursts polite.
    rate_limit = "25/1"
    default_base_url = DEFAULT_LOGIN_URL
    url_fields = ("login_url",)

    def __init__(self, config: Mapping[str, Any], **kwargs: Any):
        super().__init__(config, **kwargs)
        self._client_cache: SalesforceClient | None = None

    # --- configuration and auth ---------------------------------------------------------------

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> None:
        super().validate_config(config)
        version = str(config.get("api_version") or API_VERSION)
        if not _VERSION.match(version):
            raise ConfigError("api_version must look like v62.0", field="api_version")
        org = str(config.get("organization_id") or "")
        if org and (not org.startswith("00D") or normalize_id(org) is None):
            raise ConfigError("organization_id must be a 15- or 18-character org id", field="organization_id")
        for entry in config.get("allowed_ips") or []:
            if not _is_network(entry):
                raise ConfigError(f"allowed_ips: {entry!r} is not an IP address or CIDR", field="allowed_ips")

    def base_url(self) -> str:
        return str(self.config.get("login_url") or DEFAULT_LOGIN_URL).rstrip("/")

    def oauth_endpoints(self) -> dict[str, str]:
        login = self.base_url()
        return {
            "authorize_url": f"{login}/services/oauth2/authorize",
            "token_url": f"{login}/services/oauth2/token",
            "revoke_url": f"{login}/services/oauth2/revoke",
        }

    def accept_tokens(self, tokens: Tokens) -> None:
        """Refuse a grant without a usable instance_url: every API call goes there."""
        instance = str(tokens.extra.get("instance_url") or "")
        if not instance:
            raise ConfigError(
                "Salesforce's token response carried no instance_url: reconnect", field="login_url"
            )
        try:
            check_url(instance)
        except ConfigError as exc:
            raise ConfigError(f"Salesforce's instance_url {exc}", field="login_url") from None

    def api_version(self) -> str:
        return str(self.config.get("api_version") or API_VERSION)

    def client(self) -> SalesforceClient:
        """The REST client for this org, at ``{instance_url}/services/data/{version}``."""
        if self._client_cache is None:
            tokens = self.token_store.load() if self.token_store is not None else None
            if tokens is None:
                raise ReauthorizationNeeded("not connected to Salesforce yet: authorize the integration")
            instance = str(tokens.extra.get("instance_url") or "").rstrip("/")
            if not instance:
                raise ReauthorizationNeeded("the stored Salesforce tokens have no instance_url: reconnect")
            self._client_cache = SalesforceClient(
                base_url=f"{instance}/services/data/{self.api_version()}",
                auth=self.auth(),
                limiter=self.limiter(),
            )
        return self._client_cache

    # --- lifecycle ----------------------------------------------------------------------------

    def test_connection(self) -> TestResult:
        try:
            limits = self.client().limits()
        except ConnectorError as exc:
            return TestResult(False, str(exc))
        daily = limits.get("DailyApiRequests") or {}
        return TestResult(
            True,
            f"Connected to Salesforce: {daily.get('Remaining', '?')} of {daily.get('Max', '?')} daily API "
            "requests left.",
            details={"daily_api_requests": daily},
        )

    # --- reads --------------------------------------------------------------------------------

    def pull(self, entity: str, *, cursor: str | None) -> Iterator[Page]:
        """Changed records per object type (SystemModstamp ascending), then that type's deletions.

        The cursor is JSON: per type ``{"since": <SOQL datetime>, "seen": [ids at that instant]}`` for
        changes and the same under ``"<Type>:deleted"`` for the Recycle Bin.
        """
        spec = self.entity_spec(entity)
        marks = _load_cursor(cursor, spec.remote_types)
        client = self.client()
        for remote_type in spec.remote_types:
            previous = marks.get(remote_type)
            fields = ", ".join(SYSTEM_FIELDS + FIELDS[remote_type])
            for records in self._scan(client, remote_type, fields, marks, remote_type, deleted=False):
                if previous is None:
                    # A full pull: deletions before now concern records we never saw, so the Recycle Bin
                    # is read from where this pull got to.
                    marks[f"{remote_type}:deleted"] = marks[remote_type]
                yield Page([self._record(entity, remote_type, raw) for raw in records], encode_cursor(marks))
            if previous is None:
                continue
            marks.setdefault(f"{remote_type}:deleted", previous)
            for records in self._scan(
                client, remote_type, "Id, SystemModstamp", marks, f"{remote_type}:deleted", deleted=True
            ):
                deleted = [
                    RemoteRecord(
                        id=raw["Id"],
                        modified_at=parse_datetime(raw.get("SystemModstamp")),
                        fields={"Id": raw["Id"]},
                        deleted=True,
                        remote_type=remote_type,
                    )
                    for raw in records
                ]
                yield Page(deleted, encode_cursor(marks))

    def _scan(
        self,
        client: SalesforceClient,
        remote_type: str,
        fields: str,
        marks: dict[str, dict],
        key: str,
        *,
        deleted: bool,
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of raw records past ``marks[key]``, advancing it after each page."""
        mark = marks.get(key)
        conditions = ["IsDeleted = true"] if deleted else []
        if mark and (since := parse_datetime(mark["since"])) is not None:
            conditions.append(f"SystemModstamp > {soql_datetime(since - OVERLAP)}")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        # SOQL built from constants and a formatted datetime: nothing user-supplied reaches it.
        soql = f"SELECT {fields} FROM {remote_type}{where} ORDER BY SystemModstamp ASC"  # noqa: S608 (constants only)
        snapshot: datetime | None = None
        for page in client.query_pages(soql, include_deleted=deleted):
            raw = [r for r in page.body.get("records") or [] if isinstance(r, dict) and r.get("Id")]
            if snapshot is None:
                snapshot = page.server_time
            fresh = [r for r in raw if not _seen(r, mark)]
            mark = _advance(mark, raw, snapshot)
            if mark is not None:
                marks[key] = mark
            if fresh:
                yield fresh

    def get(self, entity: str, remote_ids: list[str]) -> list[RemoteRecord]:
        spec = self.entity_spec(entity)
        wanted: dict[str, list[str]] = {}
        for value in remote_ids:
            remote_id = normalize_id(value)
            remote_type = type_of_id(remote_id) if remote_id else None
            if remote_id and remote_type in spec.remote_types:
                wanted.setdefault(remote_type, []).append(remote_id)
        found: dict[str, RemoteRecord] = {}
        client = self.client()
        for remote_type, ids in wanted.items():
            fields = ", ".join(SYSTEM_FIELDS + FIELDS[remote_type])
            for _, chunk in self.chunks(sorted(set(ids)), GET_CHUNK):
                # normalize_id admits only [A-Za-z0-9]{18}: quoting cannot be broken out of.
                quoted = ", ".join(f"'{remote_id}'" for remote_id in chunk)
                soql = f"SELECT {fields} FROM {remote_type} WHERE Id IN ({quoted})"  # noqa: S608 (validated ids)
                for page in client.query_pages(soql):
                    for raw in page.body.get("records") or []:
                        found[raw["Id"]] = self._record(entity, remote_type, raw)
        return [found[remote_id] for value in remote_ids if (remote_id := normalize_id(value)) in found]

    def _record(self, entity: str, remote_type: str, raw: Mapping[str, Any]) -> RemoteRecord:
        fields = {name: value for name, value in raw.items() if name != "attributes"}
        if entity == "activity":
            fields["_kind"] = activity_kind(remote_type, fields)
        return RemoteRecord(
            id=str(raw["Id"]),
            modified_at=parse_datetime(raw.get("SystemModstamp")),
            fields=fields,
            remote_type=remote_type,
        )

    # --- writes -------------------------------------------------------------------------------

    def create(self, entity: str, records: list[Mapping[str, Any]]) -> list[WriteResult]:
        spec = self.entity_spec(entity)
        results: list[WriteResult | None] = [None] * len(records)
        groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for index, record in enumerate(records):
            fields = dict(record)
            kind = str(fields.pop("_kind", "") or "")
            remote_type = spec.remote_types[0]
            if entity == "activity":
                remote_type = remote_type_for_kind(kind) or ""
                if not remote_type:
                    results[index] = WriteResult(
                        index,
                        False,
                        error=f"Salesforce has no activity of kind {kind!r}",
                        code="INVALID_TYPE",
                    )
                    continue
                if kind.lower() in {"call", "email"}:
                    fields.setdefault("TaskSubtype", kind.capitalize())
            fields.pop("Id", None)
            groups.setdefault(remote_type, []).append(
                (index, {"attributes": {"type": remote_type}, **_fit(remote_type, fields)})
            )
        self._write(groups, self.client().composite_create, results, created=True)
        return collect_results(results, provider="Salesforce")

    def find_created(
        self, entity: str, records: list[Mapping[str, Any]], *, since: datetime
    ) -> list[list[str]]:
        """A SOQL query per payload: its identifying text fields, created at or after ``since``."""
        spec = self.entity_spec(entity)
        found: list[list[str]] = []
        for record in records:
            remote_type = spec.remote_types[0]
            if entity == "activity":
                remote_type = remote_type_for_kind(str(record.get("_kind", "") or "")) or ""
            fields = _fit(remote_type, record) if remote_type else {}
            terms = [f"{name} = {soql_string(fields[name])}" for name in _identifying(fields)]
            if not remote_type or not terms:
                found.append([])
                continue
            soql = (
                f"SELECT Id FROM {remote_type} WHERE {' AND '.join(terms)} "  # noqa: S608 (names are ours, values quoted)
                f"AND CreatedDate >= {soql_datetime(since)} LIMIT 200"
            )
            found.append(
                [
                    row["Id"]
                    for page in self.client().query_pages(soql)
                    for row in page.body.get("records", [])
                ]
            )
        return found

    def update(self, entity: str, records: list[tuple[str, Mapping[str, Any]]]) -> list[WriteResult]:
        spec = self.entity_spec(entity)
        results: list[WriteResult | None] = [None] * len(records)
        groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for index, (value, changes) in enumerate(records):
            remote_id = normalize_id(value)
            remote_type = type_of_id(remote_id) if remote_id else None
            if remote_id is None or remote_type not in spec.remote_types:
                results[index] = _malformed_id(index, value, spec.remote_types)
                continue
            fields = {k: v for k, v in changes.items() if k not in {"_kind", "Id", "TaskSubtype"}}
            groups.setdefault(remote_type, []).append(
                (index, {"attributes": {"type": remote_type}, "Id": remote_id, **_fit(remote_type, fields)})
            )
        self._write(groups, self.client().composite_update, results, created=False)
        return collect_results(results, provider="Salesforce")

    def delete(self, entity: str, remote_ids: list[str]) -> list[WriteResult]:
        spec = self.entity_spec(entity)
        results: list[WriteResult | None] = [None] * len(remote_ids)
        batch: list[tuple[int, str]] = []
        for index, value in enumerate(remote_ids):
            remote_id = normalize_id(value)
            if remote_id is None or type_of_id(remote_id) not in spec.remote_types:
                results[index] = _malformed_id(index, value, spec.remote_types)
            else:
                batch.append((index, remote_id))
        self._write({"*": batch}, self.client().composite_delete, results, created=None)
        return collect_results(results, provider="Salesforce")

    def _write(
        self,
        groups: Mapping[str, list[tuple[int, Any]]],
        call: Callable[[list[Any]], list[dict]],
        results: list[WriteResult | None],
        *,
        created: bool | None,
    ) -> None:
        """Send each group in chunks of 200 and fill ``results`` at the inputs' positions.

        A refused call fails its chunk alone. A transient or auth failure before anything was written is
        raised (the whole write can be retried); after some chunks went through, the rest fail with it, so
        the results of what was written are never lost.
        """
        wrote = False
        for items in groups.values():
            for _, chunk in self.chunks(items, COMPOSITE_LIMIT):
                try:
                    answers = call([payload for _, payload in chunk])
                except (TransientError, AuthError) as exc:
                    if not wrote:
                        raise
                    _fail_pending(results, exc)
                    return
                except PermanentError as exc:
                    for index, _ in chunk:
                        results[index] = WriteResult(index, False, error=str(exc), code=exc.code)
                    continue
                wrote = True
                for (index, _), answer in zip(chunk, answers, strict=True):
                    results[index] = _write_result(index, answer, created)

    # --- webhooks -----------------------------------------------------------------------------

    webhook_module = webhooks


# --- helpers ----------------------------------------------------------------------------------------


def _malformed_id(index: int, value: Any, remote_types: tuple[str, ...]) -> WriteResult:
    """The result for an id that is not a Salesforce id of this entity's types (nothing is sent)."""
    return WriteResult(
        index,
        False,
        remote_id=str(value),
        code="MALFORMED_ID",
        error=f"{value!r} is not a {'/'.join(remote_types)} id",
    )


IDENTIFYING = ("Email", "Phone", "Website", "Name", "LastName", "FirstName", "Subject", "Title")


def _identifying(fields: Mapping[str, Any]) -> list[str]:
    """The text fields a created record can be found by, most distinctive first (at most five)."""
    return [name for name in IDENTIFYING if isinstance(fields.get(name), str) and fields[name]][:5]


def _fit(remote_type: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if name not in ONLY_ON.get(remote_type, ())}


def _write_result(index: int, answer: Mapping[str, Any], created: bool | None) -> WriteResult:
    if answer.get("success"):
        return WriteResult(index, True, remote_id=answer.get("id"), created=created)
    errors = answer.get("errors") or [{}]
    message = "; ".join(f"{e.get('statusCode', '')}: {e.get('message', '')}".strip(": ") for e in errors)
    return WriteResult(
        index,
        False,
        remote_id=answer.get("id"),
        error=message or "refused",
        code=str(errors[0].get("statusCode", "")),
    )


def _fail_pending(results: list[WriteResult | None], exc: ConnectorError) -> None:
    """Fail what has no result yet. The chunk that met the error may have been written: uncertain
    (the engine looks for such creates before sending them again); unsent chunks are found absent."""
    for index, result in enumerate(results):
        if result is None:
            results[index] = WriteResult(
                index,
                False,
                error=str(exc),
                code=getattr(exc, "code", "") or "TRANSIENT",
                uncertain=getattr(exc, "ambiguous", False),
            )


def _seen(raw: Mapping[str, Any], mark: Mapping[str, Any] | None) -> bool:
    """True when the record was delivered at exactly this SystemModstamp already (the overlap re-read)."""
    if not mark or raw.get("Id") not in mark.get("seen", ()):
        return False
    return parse_datetime(raw.get("SystemModstamp")) == parse_datetime(mark["since"])


def _advance(
    mark: dict[str, Any] | None, raw: list[dict[str, Any]], snapshot: datetime | None
) -> dict | None:
    """The watermark after a page: its newest SystemModstamp, never past the query's snapshot time.

    Salesforce pages a query's result as of when it ran but shows each record's current values; a record
    changed meanwhile carries a newer stamp than records still to come. Capping at the server's clock when
    the query began keeps those records ahead of the watermark instead of skipping the rest.
    """
    stamps = [(r["Id"], parse_datetime(r.get("SystemModstamp"))) for r in raw]
    stamps = [(remote_id, stamp) for remote_id, stamp in stamps if stamp is not None]
    if not stamps:
        return mark
    top = max(stamp for _, stamp in stamps)
    if snapshot is not None and top > snapshot:
        top = snapshot
    previous = parse_datetime(mark["since"]) if mark else None
    if previous is not None and previous > top:
        return mark  # never move backwards
    seen = [remote_id for remote_id, stamp in stamps if stamp == top]
    if mark is not None and previous == top:
        seen = list(dict.fromkeys([*mark.get("seen", []), *seen]))
    return {"since": soql_datetime(top), "seen": seen if len(seen) <= SEEN_CAP else []}


def _load_cursor(cursor: str | None, remote_types: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Parse a cursor; a bare ISO datetime is accepted as "changes since then" for every type."""
    if not cursor:
        return {}
    data = decode_cursor(cursor)
    if data is not None:
        return {k: v for k, v in data.items() if isinstance(v, dict) and parse_datetime(v.get("since"))}
    since = parse_datetime(cursor)
    if since is None:
        raise ConfigError("the Salesforce sync cursor is unreadable: run a full sync")
    return {remote_type: {"since": soql_datetime(since), "seen": []} for remote_type in remote_types}


def _is_network(entry: Any) -> bool:
    try:
        ipaddress.ip_network(str(entry).strip(), strict=False)
    except ValueError:
        return False
    return True
