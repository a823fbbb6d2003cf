"""Salesforce: Contact (and/or Lead), Account, Opportunity, Case and Task/Event/notes as canonical contact,
company, deal, conversation, activity (a chat message is a Task marked Type "Message"); their lookups and junction objects as canonical relations (``relations.py``).

Reads poll SOQL on SystemModstamp (the field Salesforce bumps on every change) and ``queryAll`` for the
Recycle Bin; writes go through sObject Collections, 200 records a call. Auth is the OAuth web-server flow;
the API lives at the org's ``instance_url`` (from the token response), never at a fixed host.

Custom fields the platform pushes (``create_fields``) are created through the Tooling API
(``tooling/sobjects/CustomField/``), named ``<name>__c``. On a real org a new field is visible only to
profiles given field-level security on it: the integration user's profile (or a permission set it
holds) must be granted read/edit on the new fields, or describe will not list them and writes skip them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, ClassVar

from connectors.base import (
    RELATIONS_KEY,
    AuthError,
    ConfigError,
    Connector,
    ConnectorError,
    EntitySpec,
    FieldSpec,
    OAuthSpec,
    Page,
    PermanentError,
    ReauthorizationNeeded,
    RemoteField,
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
from connectors.salesforce import notes, webhooks
from connectors.salesforce import relations as sf_relations
from connectors.salesforce.client import (
    API_VERSION,
    COMPOSITE_LIMIT,
    MESSAGE_TASK_STATUS,
    MESSAGE_TYPE,
    NOTE_OBJECTS,
    TASK_SUBTYPES,
    SalesforceClient,
    activity_fields,
    normalize_id,
    parse_datetime,
    remote_type_for_kind,
    soql_datetime,
    soql_string,
    type_of_id,
)
from connectors.salesforce.fields import CUSTOM_SUFFIX, custom_field_metadata

DEFAULT_LOGIN_URL = "https://login.salesforce.com"
# Objects whose fields discover_fields lists for an entity whatever the config pulls.
ALSO_DESCRIBED = {"contact": ("Contact", "Lead")}

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
        "Type",
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
    "Lead": (
        "FirstName",
        "LastName",
        "Email",
        "Phone",
        "MobilePhone",
        "Title",
        "Company",
        "Status",
        "IsConverted",
        "ConvertedContactId",
        "OwnerId",
    ),
    "Case": (
        "CaseNumber",
        "Subject",
        "Description",
        "Status",
        "Origin",
        "Priority",
        "IsClosed",
        "ClosedDate",
        "ContactId",
        "AccountId",
        "OwnerId",
    ),
    "ContentNote": ("Title", "Content", "OwnerId"),
    "Note": ("Title", "Body", "ParentId", "OwnerId"),
}
# The field each object stamps on every change: ContentNote has no SystemModstamp.
MODIFIED_FIELD = {"ContentNote": "LastModifiedDate"}
# Every object an entity's records can be, whatever the config picks for pulls and creates.
KNOWN_TYPES = {
    "contact": ("Contact", "Lead"),
    "company": ("Account",),
    "deal": ("Opportunity",),
    "conversation": ("Case",),
    "activity": ("Task", "Event", *NOTE_OBJECTS),
}
LEAD_MODES = ("contact", "lead", "both")
LEAD_PLACEHOLDER_COMPANY = "[not provided]"  # what Salesforce itself stores when a lead has no company
LIFECYCLE = "_lifecycle"  # synthetic field: "lead" on Lead records; on creates, "lead" asks for a Lead
# Canonical activity mappings are shared by Task and Event, but each lacks some of the other's fields:
# sending one would make Salesforce refuse the whole batch (INVALID_FIELD).
# Likewise a contact payload is shared by Contact and Lead.
NOT_ON = {
    "Task": frozenset({"ActivityDateTime", "DurationInMinutes", "Location", "StartDateTime", "EndDateTime"}),
    "Event": frozenset({"Status", "Priority", "TaskSubtype", "Type"}),
    "Contact": frozenset({"Company", "Status"}),
    "Lead": frozenset({"AccountId"}),
}
# A note takes only its title and body: the shared activity mapping's Subject and Description.
NOTE_WRITABLE = {"ContentNote": ("Title", "Content"), "Note": ("Title", "Body", "IsPrivate")}
_VERSION = re.compile(r"^v\d+\.0$")


class SalesforceConnector(Connector):
    key = "salesforce"
    display_name = "Salesforce"
    entities: ClassVar[Mapping[str, EntitySpec]] = {
        "contact": EntitySpec(("Contact",), "SystemModstamp"),
        "company": EntitySpec(("Account",), "SystemModstamp"),
        "deal": EntitySpec(("Opportunity",), "SystemModstamp"),
        "activity": EntitySpec(("Task", "Event"), "SystemModstamp"),
        "conversation": EntitySpec(("Case",), "SystemModstamp"),
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
    relations: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "contact": ("company_id",),
        "deal": ("company_id", "contact_ids"),
        "activity": ("contact_id", "company_id", "deal_id", "conversation_id"),
        "conversation": ("contact_id",),
    }

    def __init__(self, config: Mapping[str, Any], **kwargs: Any):
        super().__init__(config, **kwargs)
        self._client_cache: SalesforceClient | None = None
        self._describes: dict[str, dict[str, dict[str, Any]]] = {}

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
        if str(config.get("lead_mode") or "contact") not in LEAD_MODES:
            raise ConfigError(f"lead_mode must be one of {', '.join(LEAD_MODES)}", field="lead_mode")
        if str(config.get("note_object") or "ContentNote") not in NOTE_OBJECTS:
            raise ConfigError(f"note_object must be one of {', '.join(NOTE_OBJECTS)}", field="note_object")
        for entry in config.get("allowed_ips") or []:
            if not _is_network(entry):
                raise ConfigError(f"allowed_ips: {entry!r} is not an IP address or CIDR", field="allowed_ips")

    def base_url(self) -> str:
        return str(self.config.get("login_url") or DEFAULT_LOGIN_URL).rstrip("/")

    def oauth_endpoints(self, callback: Mapping[str, str] | None = None) -> dict[str, str]:
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

    # --- what this integration syncs -------------------------------------------------------------

    def lead_mode(self) -> str:
        return str(self.config.get("lead_mode") or "contact")

    def note_object(self) -> str:
        return str(self.config.get("note_object") or "ContentNote")

    def entity_spec(self, entity: str) -> EntitySpec:
        """The objects pulled and created for ``entity`` under this config: Leads (before Contacts, so a
        conversion's successor comes after it) by ``lead_mode``, the note object by ``note_object``."""
        spec = super().entity_spec(entity)
        if entity == "contact":
            types = {"contact": ("Contact",), "lead": ("Lead",), "both": ("Lead", "Contact")}
            return replace(spec, remote_types=types.get(self.lead_mode(), ("Contact",)))
        if entity == "activity":
            return replace(spec, remote_types=("Task", "Event", self.note_object()))
        return spec

    def describe(self, remote_type: str) -> dict[str, dict[str, Any]]:
        """``GET /sobjects/{type}/describe`` fields by name, fetched once per connector instance."""
        if remote_type not in self._describes:
            body = self.client().get_json(f"/sobjects/{remote_type}/describe")
            self._describes[remote_type] = {
                str(f["name"]): f for f in body.get("fields") or [] if isinstance(f, dict) and f.get("name")
            }
        return self._describes[remote_type]

    def _select(self, entity: str, remote_type: str) -> tuple[str, ...]:
        """The fields a query reads: ours, plus the wanted (mapped custom) fields this object has. Checked
        against describe so a field one object lacks (Lead vs Contact) never fails the query."""
        stamp = MODIFIED_FIELD.get(remote_type, "SystemModstamp")
        base = tuple(dict.fromkeys(("Id", "CreatedDate", "LastModifiedDate", stamp, *FIELDS[remote_type])))
        wanted = sorted(set(self.wanted_fields.get(entity, ())) - set(base))
        if not wanted:
            return base
        known = self.describe(remote_type)
        return base + tuple(name for name in wanted if name in known)

    # --- reads --------------------------------------------------------------------------------

    def pull(self, entity: str, *, cursor: str | None) -> Iterator[Page]:
        """Changed records per object type (by its change stamp, ascending), then that type's deletions.

        The cursor is JSON: per type ``{"since": <SOQL datetime>, "seen": [ids at that instant]}`` for
        changes and the same under ``"<Type>:deleted"`` for the Recycle Bin.
        """
        spec = self.entity_spec(entity)
        marks = _load_cursor(cursor, spec.remote_types)
        client = self.client()
        for remote_type in spec.remote_types:
            previous = marks.get(remote_type)
            stamp = MODIFIED_FIELD.get(remote_type, "SystemModstamp")
            fields = ", ".join(self._select(entity, remote_type))
            for records in self._scan(client, remote_type, fields, marks, remote_type, deleted=False):
                if previous is None:
                    # A full pull: deletions before now concern records we never saw, so the Recycle Bin
                    # is read from where this pull got to.
                    marks[f"{remote_type}:deleted"] = marks[remote_type]
                yield Page(self._records(entity, remote_type, records), encode_cursor(marks))
            if previous is None:
                continue
            marks.setdefault(f"{remote_type}:deleted", previous)
            for records in self._scan(
                client, remote_type, f"Id, {stamp}", marks, f"{remote_type}:deleted", deleted=True
            ):
                deleted = [
                    RemoteRecord(
                        id=raw["Id"],
                        modified_at=parse_datetime(raw.get(stamp)),
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
        stamp = MODIFIED_FIELD.get(remote_type, "SystemModstamp")
        mark = marks.get(key)
        conditions = ["IsDeleted = true"] if deleted else []
        if mark and (since := parse_datetime(mark["since"])) is not None:
            conditions.append(f"{stamp} > {soql_datetime(since - OVERLAP)}")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        # SOQL built from constants and a formatted datetime: nothing user-supplied reaches it.
        soql = f"SELECT {fields} FROM {remote_type}{where} ORDER BY {stamp} ASC"  # noqa: S608 (constants only)
        snapshot: datetime | None = None
        for page in client.query_pages(soql, include_deleted=deleted):
            raw = [r for r in page.body.get("records") or [] if isinstance(r, dict) and r.get("Id")]
            if snapshot is None:
                snapshot = page.server_time
            fresh = [r for r in raw if not _seen(r, mark, stamp)]
            mark = _advance(mark, raw, snapshot, stamp)
            if mark is not None:
                marks[key] = mark
            if fresh:
                yield fresh

    def get(self, entity: str, remote_ids: list[str]) -> list[RemoteRecord]:
        known = self._known(entity)
        wanted: dict[str, list[str]] = {}
        for value in remote_ids:
            remote_id = normalize_id(value)
            remote_type = type_of_id(remote_id) if remote_id else None
            if remote_id and remote_type in known:
                wanted.setdefault(remote_type, []).append(remote_id)
        found: dict[str, RemoteRecord] = {}
        for remote_type, ids in wanted.items():
            for record in self._fetch(entity, remote_type, sorted(set(ids))):
                found[record.id] = record
        return [found[remote_id] for value in remote_ids if (remote_id := normalize_id(value)) in found]

    def _fetch(self, entity: str, remote_type: str, ids: list[str]) -> list[RemoteRecord]:
        fields = ", ".join(self._select(entity, remote_type))
        records: list[RemoteRecord] = []
        for _, chunk in self.chunks(ids, GET_CHUNK):
            # normalize_id admits only [A-Za-z0-9]{18}: quoting cannot be broken out of.
            soql = f"SELECT {fields} FROM {remote_type} WHERE Id IN ({_quoted(chunk)})"  # noqa: S608 (validated ids)
            raw = [r for page in self.client().query_pages(soql) for r in page.body.get("records") or []]
            records += self._records(entity, remote_type, raw)
        return records

    def _records(self, entity: str, remote_type: str, raws: list[dict[str, Any]]) -> list[RemoteRecord]:
        """RemoteRecords for a page of one type: fields as read, relations (junction rows read in one query
        per page), a converted lead as ``replaced_by`` its contact (followed by that contact when Contacts
        are not pulled under this config)."""
        linked = self._linked(remote_type, [str(raw["Id"]) for raw in raws])
        records: list[RemoteRecord] = []
        successors: list[str] = []
        for raw in raws:
            record = self._record(entity, remote_type, raw, linked)
            records.append(record)
            if record.replaced_by:
                successors.append(record.replaced_by)
        if successors and "Contact" not in self.entity_spec(entity).remote_types:
            records += self._fetch(entity, "Contact", successors)
        return records

    def _linked(self, remote_type: str, ids: list[str]) -> dict[str, list[str]]:
        """Record id → the ids its junction rows point at (an opportunity's contacts, a note's records)."""
        junction = sf_relations.junction_of(remote_type)
        if junction is None or not ids or remote_type not in self._related_types():
            return {}
        sobject, own, other = junction
        linked: dict[str, list[str]] = {remote_id: [] for remote_id in ids}
        for _, chunk in self.chunks(ids, GET_CHUNK):
            soql = f"SELECT {own}, {other} FROM {sobject} WHERE {own} IN ({_quoted(chunk)})"  # noqa: S608 (validated ids)
            for page in self.client().query_pages(soql):
                for row in page.body.get("records") or []:
                    owner, target = normalize_id(row.get(own)), normalize_id(row.get(other))
                    if owner in linked and target and target not in linked[owner]:
                        linked[owner].append(target)
        return linked

    def _related_types(self) -> set[str]:
        return {t for entity in self.relations for t in KNOWN_TYPES[entity]}

    def _record(
        self, entity: str, remote_type: str, raw: Mapping[str, Any], linked: Mapping[str, list[str]]
    ) -> RemoteRecord:
        fields = {name: value for name, value in raw.items() if name != "attributes"}
        remote_id = str(raw["Id"])
        if entity == "activity":
            fields = activity_fields(remote_type, fields)
        if remote_type in NOTE_OBJECTS:
            fields |= notes.read(self.client(), remote_type, fields)
        found: dict[str, tuple[str, ...]] = sf_relations.lookup_relations(remote_type, fields)
        if remote_type == "Opportunity":
            found["contact_ids"] = tuple(linked.get(remote_id, ()))
        elif remote_type == "ContentNote":
            found = sf_relations.linked_relations(linked.get(remote_id, ()))
        replaced_by = ""
        if remote_type == "Lead":
            fields[LIFECYCLE] = "lead"
            if fields.get("IsConverted"):
                replaced_by = normalize_id(fields.get("ConvertedContactId")) or ""
        return RemoteRecord(
            id=remote_id,
            modified_at=parse_datetime(raw.get(MODIFIED_FIELD.get(remote_type, "SystemModstamp"))),
            fields=fields,
            remote_type=remote_type,
            relations={name: ids for name, ids in found.items() if name in self.relations.get(entity, ())},
            replaced_by=replaced_by,
        )

    # --- field discovery ----------------------------------------------------------------------

    def discover_fields(self, entity: str) -> list[RemoteField]:
        """Every field of the entity's objects from describe, custom fields (``__c``) included. The contact
        entity always lists Lead's fields too (named by object): its default mappings name one
        (``Company``), and a mapping made now keeps working when ``lead_mode`` changes."""
        remote_types = tuple(
            dict.fromkeys((*self.entity_spec(entity).remote_types, *ALSO_DESCRIBED.get(entity, ())))
        )
        found: list[RemoteField] = []
        for remote_type in remote_types:
            for name, raw in self.describe(remote_type).items():
                found.append(remote_field(name, raw, remote_type if len(remote_types) > 1 else ""))
        return found

    creates_fields = True

    @classmethod
    def custom_field_name(cls, name: str) -> str:
        return name if name.endswith(CUSTOM_SUFFIX) else name + CUSTOM_SUFFIX

    def create_fields(self, entity: str, specs: list[FieldSpec]) -> list[RemoteField]:
        """Create ``<name>__c`` on each object the entity's records are written as (Contact, and Lead
        when ``lead_mode`` syncs leads), through the Tooling API; a field that exists already
        (``DUPLICATE_DEVELOPER_NAME``) counts as made. Answers the fields as describe now lists
        them. Fields Salesforce refuses are named in one PermanentError raised after the others
        were created; an auth failure stops at once."""
        made: list[RemoteField] = []
        refused: list[str] = []
        remote_types = [t for t in self.entity_spec(entity).remote_types if t not in NOTE_OBJECTS]
        for remote_type in remote_types:
            names = []
            for spec in specs:
                name = self.custom_field_name(spec.name)
                body = {"FullName": f"{remote_type}.{name}", "Metadata": custom_field_metadata(spec)}
                try:
                    # Resending is safe: a field made by a lost first attempt answers DUPLICATE_DEVELOPER_NAME.
                    self.client().post_json("/tooling/sobjects/CustomField/", body, idempotent=True)
                except AuthError:
                    raise
                except PermanentError as exc:
                    if exc.code != "DUPLICATE_DEVELOPER_NAME":
                        refused.append(f"{remote_type}.{name}: {exc}")
                        continue
                names.append(name)
            self._describes.pop(remote_type, None)  # describe again: the new fields are in it now
            described = self.describe(remote_type)
            tag = remote_type if len(remote_types) > 1 else ""
            made += [remote_field(name, described[name], tag) for name in names if name in described]
        if refused:
            raise PermanentError(f"Salesforce did not create {'; '.join(refused)}")
        return made

    # --- writes -------------------------------------------------------------------------------

    def create(self, entity: str, records: list[Mapping[str, Any]]) -> list[WriteResult]:
        spec = self.entity_spec(entity)
        results: list[WriteResult | None] = [None] * len(records)
        groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        plans: dict[int, tuple[str, sf_relations.RelationPlan]] = {}
        for index, record in enumerate(records):
            fields = dict(record)
            changes = fields.pop(RELATIONS_KEY, None) or {}
            kind = str(fields.pop("_kind", "") or "")
            remote_type = self._create_type(entity, spec, kind, fields)
            if not remote_type:
                results[index] = WriteResult(
                    index, False, error=f"Salesforce has no activity of kind {kind!r}", code="INVALID_TYPE"
                )
                continue
            if remote_type == "Task":
                fields |= _task_marks(kind.lower(), fields)
            if remote_type in NOTE_OBJECTS and not str(fields.get("Subject") or fields.get("Title") or ""):
                fields["Subject"] = notes.UNTITLED  # Title is required
            if remote_type == "Lead" and not str(fields.get("Company") or "").strip():
                fields["Company"] = LEAD_PLACEHOLDER_COMPANY  # Lead.Company is required
            fields.pop("Id", None)
            plan = (
                sf_relations.plan(remote_type, changes, creating=True)
                if changes
                else sf_relations.RelationPlan()
            )
            plans[index] = (remote_type, plan)
            payload = {**self._fit(remote_type, fields), **plan.fields}
            groups.setdefault(remote_type, []).append(
                (index, {"attributes": {"type": remote_type}, **payload})
            )
        self._write(groups, self.client().composite_create, results, created=True)
        return self._apply_relations(results, plans)

    def _create_type(self, entity: str, spec: EntitySpec, kind: str, fields: dict[str, Any]) -> str:
        """The object a create makes: the kind's for activities, Lead or Contact for contacts by mode."""
        lifecycle = str(fields.pop(LIFECYCLE, "") or "").lower()
        if entity == "activity":
            return remote_type_for_kind(kind, note_object=self.note_object()) or ""
        if entity == "contact":
            mode = self.lead_mode()
            return "Lead" if mode == "lead" or (mode == "both" and lifecycle == "lead") else "Contact"
        return spec.remote_types[0]

    def find_created(
        self, entity: str, records: list[Mapping[str, Any]], *, since: datetime
    ) -> list[list[str]]:
        """A SOQL query per payload: its identifying text fields and the lookups its relations set (a
        Case's ContactId, a Task's WhoId), created at or after ``since``."""
        spec = self.entity_spec(entity)
        found: list[list[str]] = []
        for record in records:
            fields = {k: v for k, v in record.items() if k != RELATIONS_KEY}
            remote_type = self._create_type(entity, spec, str(fields.pop("_kind", "") or ""), fields)
            fields = self._fit(remote_type, fields) if remote_type else {}
            terms = [f"{name} = {soql_string(fields[name])}" for name in _identifying(fields)]
            if terms:
                changes = record.get(RELATIONS_KEY) or {}
                lookups = sf_relations.plan(remote_type, changes, creating=True).fields if changes else {}
                # Plans hold normalised ids or None: quoting cannot be broken out of.
                terms += [f"{name} = '{value}'" for name, value in lookups.items() if value]
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
        known = self._known(entity)
        results: list[WriteResult | None] = [None] * len(records)
        groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        plans: dict[int, tuple[str, sf_relations.RelationPlan]] = {}
        messages = self._message_tasks([value for value, changes in records if "Status" in changes])
        for index, (value, changes) in enumerate(records):
            remote_id = normalize_id(value)
            remote_type = type_of_id(remote_id) if remote_id else None
            if remote_id is None or remote_type not in known:
                results[index] = _malformed_id(index, value, known)
                continue
            fields = {k: v for k, v in changes.items() if k not in {"_kind", "Id", "TaskSubtype", LIFECYCLE}}
            if remote_id in messages:
                fields.pop("Status", None)  # a message's status is no Task status (MESSAGE_TASK_STATUS)
            relation_changes = fields.pop(RELATIONS_KEY, None) or {}
            plan = sf_relations.plan(remote_type, relation_changes, creating=False)
            plans[index] = (remote_type, plan)
            groups.setdefault(remote_type, []).append(
                (
                    index,
                    {
                        "attributes": {"type": remote_type},
                        "Id": remote_id,
                        **self._fit(remote_type, fields),
                        **plan.fields,
                    },
                )
            )
        self._write(groups, self.client().composite_update, results, created=False)
        return self._apply_relations(results, plans)

    def _message_tasks(self, values: list[Any]) -> set[str]:
        """Which of these ids are message Tasks (``MESSAGE_TYPE``): one query, only for Task ids."""
        ids = sorted({i for v in values if (i := normalize_id(v)) and type_of_id(i) == "Task"})
        found: set[str] = set()
        for _, chunk in self.chunks(ids, GET_CHUNK):
            soql = (
                f"SELECT Id FROM Task WHERE Id IN ({_quoted(chunk)}) "  # noqa: S608 (validated ids, a constant)
                f"AND Type = {soql_string(MESSAGE_TYPE)}"
            )
            found |= {
                row["Id"]
                for page in self.client().query_pages(soql)
                for row in page.body.get("records") or []
            }
        return found

    def delete(self, entity: str, remote_ids: list[str]) -> list[WriteResult]:
        known = self._known(entity)
        results: list[WriteResult | None] = [None] * len(remote_ids)
        batch: list[tuple[int, str]] = []
        for index, value in enumerate(remote_ids):
            remote_id = normalize_id(value)
            if remote_id is None or type_of_id(remote_id) not in known:
                results[index] = _malformed_id(index, value, known)
            else:
                batch.append((index, remote_id))
        self._write({"*": batch}, self.client().composite_delete, results, created=None)
        return collect_results(results, provider="Salesforce")

    def _known(self, entity: str) -> tuple[str, ...]:
        """Every object ``entity``'s records may be (ids of any of them are accepted by writes and get)."""
        self.entity_spec(entity)  # unknown entity: ConfigError
        return KNOWN_TYPES[entity]

    def _fit(self, remote_type: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The payload this object takes: notes get their title and body, other objects lose the shared
        mapping's fields they lack, and custom fields they lack (by describe)."""
        if remote_type in NOTE_OBJECTS:
            return notes.payload(remote_type, fields)
        fitted = {name: value for name, value in fields.items() if name not in NOT_ON.get(remote_type, ())}
        custom = [name for name in fitted if name.endswith("__c")]
        if custom:
            known = self.describe(remote_type)
            fitted = {name: value for name, value in fitted.items() if name in known or name not in custom}
        return fitted

    def _apply_relations(
        self, results: list[WriteResult | None], plans: Mapping[int, tuple[str, sf_relations.RelationPlan]]
    ) -> list[WriteResult]:
        """Write junction rows (contact roles, note links) for the records that were written, and report
        relation changes that could not be written on their results; the records stay written."""
        done = collect_results(results, provider="Salesforce")
        failed: dict[int, dict[str, str]] = {}
        adds: list[tuple[int, str, dict[str, Any]]] = []
        removals: list[tuple[int, str, str, str]] = []  # (index, relation, type, record id, target)
        for index, (remote_type, plan) in plans.items():
            result = done[index]
            if plan.refused:
                failed.setdefault(index, {}).update(plan.refused)
            if not result.ok or not result.remote_id:
                continue
            adds += [
                (index, name, sf_relations.junction_row(remote_type, result.remote_id, t))
                for name, t in plan.add
            ]
            removals += [(index, name, remote_type, result.remote_id, t) for name, t in plan.remove]
        for index, name, error in self._add_junctions(adds) + self._remove_junctions(removals):
            failed.setdefault(index, {})[name] = error
        for index, problems in failed.items():
            if done[index].ok:
                done[index] = replace(
                    done[index],
                    relations_failed=tuple(sorted(problems)),
                    relations_error="; ".join(dict.fromkeys(problems.values())),
                )
        return done

    def _add_junctions(self, adds: list[tuple[int, str, dict[str, Any]]]) -> list[tuple[int, str, str]]:
        """Create junction rows; (index, relation, error) for each that failed."""
        failures: list[tuple[int, str, str]] = []
        for _, chunk in self.chunks(adds, COMPOSITE_LIMIT):
            try:
                answers = self.client().composite_create([row for _, _, row in chunk])
            except ConnectorError as exc:
                failures += [(index, name, str(exc)) for index, name, _ in chunk]
                continue
            for (index, name, _), answer in zip(chunk, answers, strict=True):
                if not answer.get("success"):
                    failures.append((index, name, _write_result(index, answer, True).error))
        return failures

    def _remove_junctions(self, removals: list[tuple[int, str, str, str, str]]) -> list[tuple[int, str, str]]:
        """Delete the junction rows between each record and target; (index, relation, error) on failure."""
        failures: list[tuple[int, str, str]] = []
        for index, name, remote_type, record_id, target in removals:
            sobject, own, other = sf_relations.junction_of(remote_type) or ("", "", "")
            soql = f"SELECT Id FROM {sobject} WHERE {own} = '{record_id}' AND {other} = '{target}'"  # noqa: S608 (validated ids)
            try:
                ids = [
                    row["Id"]
                    for page in self.client().query_pages(soql)
                    for row in page.body.get("records", [])
                ]
                answers = self.client().composite_delete(ids) if ids else []
            except ConnectorError as exc:
                failures.append((index, name, str(exc)))
                continue
            refused = [a for a in answers if not a.get("success")]
            if refused:
                failures.append((index, name, _write_result(index, refused[0], None).error))
        return failures

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


def _task_marks(kind: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """What a new Task of this kind carries besides its mapped fields: a call's or an e-mail's TaskSubtype,
    a message's Type mark and fixed status (``MESSAGE_TYPE``, ``MESSAGE_TASK_STATUS``)."""
    if kind in TASK_SUBTYPES:
        return {"TaskSubtype": fields.get("TaskSubtype") or TASK_SUBTYPES[kind]}
    if kind == "message":
        return {"Type": MESSAGE_TYPE, "Status": MESSAGE_TASK_STATUS}
    return {}


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


def _seen(raw: Mapping[str, Any], mark: Mapping[str, Any] | None, stamp: str) -> bool:
    """True when the record was delivered at exactly this change stamp already (the overlap re-read)."""
    if not mark or raw.get("Id") not in mark.get("seen", ()):
        return False
    return parse_datetime(raw.get(stamp)) == parse_datetime(mark["since"])


def _advance(
    mark: dict[str, Any] | None, raw: list[dict[str, Any]], snapshot: datetime | None, stamp: str
) -> dict | None:
    """The watermark after a page: its newest SystemModstamp, never past the query's snapshot time.

    Salesforce pages a query's result as of when it ran but shows each record's current values; a record
    changed meanwhile carries a newer stamp than records still to come. Capping at the server's clock when
    the query began keeps those records ahead of the watermark instead of skipping the rest.
    """
    stamps = [(r["Id"], parse_datetime(r.get(stamp))) for r in raw]
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


def _quoted(ids: list[str]) -> str:
    """Validated 18-char ids as a SOQL IN list (normalize_id admits only [A-Za-z0-9]: nothing to escape)."""
    return ", ".join(f"'{remote_id}'" for remote_id in ids)


# describe's field types → RemoteField types (FIELD_TYPES) and the wire format of dates.
_FIELD_TYPES = {
    "string": "string",
    "textarea": "text",
    "base64": "text",
    "email": "email",
    "phone": "phone",
    "url": "url",
    "picklist": "enumeration",
    "multipicklist": "multi_enumeration",
    "combobox": "enumeration",
    "double": "number",
    "currency": "number",
    "percent": "number",
    "int": "number",
    "long": "number",
    "date": "date",
    "datetime": "datetime",
    "boolean": "boolean",
    "reference": "reference",
    "id": "id",
}
_FORMATS = {"date": "date", "datetime": "iso"}


def remote_field(name: str, raw: Mapping[str, Any], remote_type: str) -> RemoteField:
    """One describe field as a RemoteField: type, options (active picklist values), custom, read-only."""
    kind = str(raw.get("type") or "string")
    options = tuple(
        (str(p.get("value")), str(p.get("label") or p.get("value")))
        for p in raw.get("picklistValues") or []
        if isinstance(p, dict) and p.get("active", True)
    )
    return RemoteField(
        name=name,
        label=str(raw.get("label") or name),
        type=_FIELD_TYPES.get(kind, "string"),
        options=options,
        custom=name.endswith("__c"),
        read_only=not (raw.get("createable") or raw.get("updateable")),
        remote_type=remote_type,
        format=_FORMATS.get(kind, ""),
    )


def _is_network(entry: Any) -> bool:
    try:
        ipaddress.ip_network(str(entry).strip(), strict=False)
    except ValueError:
        return False
    return True
