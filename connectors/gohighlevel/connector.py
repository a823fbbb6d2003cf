"""GoHighLevel (LeadConnector API v2): a location's contacts, opportunities, notes and tasks through
the connector interface (providers.md §6).

Auth: a location's API key (private integration token, the seed's ``apiKey`` + ``locationId``) as a
Bearer token, or a Marketplace app's OAuth grant (1-day access tokens, refresh tokens that rotate on
every use: the framework stores each new one under the refresh lock). Every request sends
``Version``.

Pull — contacts: the advanced search filtered on ``dateUpdated`` (> watermark − overlap), sorted by
it, paged with ``searchAfter``. GoHighLevel lists no deletions, so the cursor also keeps the live ids:
after the delta one ``pageLimit: 1`` search reads the location's total, and only when it differs
from the ids known (a contact went away) are the ids listed again and the missing ones yielded as
deleted records. Opportunities have no modification filter: every pull lists them all
(``startAfter``/``startAfterId``), yields those changed since the watermark and tombstones the ids
gone. Notes and tasks live under their contact and cannot be listed for a location: a full pull
reads every contact's, later pulls those of the contacts changed since; webhooks
(``NoteCreate``/``TaskCreate``…) bring the rest, read by id, and the engine's id diff
(``IdLister.remote_ids``) finds the deleted ones. The appointments of the configured
``calendarId`` (activities of kind ``meeting``) are pulled: the calendar's events starting within a
window around now, changed since the watermark, and ids gone from the window confirmed by a read
before they come back deleted.

Activities written: notes and tasks (the payload's ``_kind``) under the contact of their
``contact_id`` relation, which cannot change afterwards (``fixed_relations``). Appointments are
booked through ``Scheduler`` (``scheduling.py``); the wizard's pipeline and stage choices are
``SetupChoices`` (``setup.py``), applied to deals written and read.

Writes: one request per record (GoHighLevel has no batch writes). A contact is created through
``/contacts/upsert``, which matches an existing contact by email or phone as the location's
duplicate rule says: a retried push links the contact it made before instead of making a second.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.utils import timezone

from connectors.base import (
    RELATIONS_KEY,
    AuthError,
    ConfigError,
    Connector,
    EntitySpec,
    OAuthSpec,
    Page,
    PermanentError,
    RemoteField,
    RemoteRecord,
    TestResult,
    TransientError,
    WriteResult,
    decode_cursor,
    encode_cursor,
)
from connectors.capabilities import IdLister, Scheduler, SetupChoices
from connectors.gohighlevel import webhooks
from connectors.gohighlevel.client import DEFAULT_VERSION, GoHighLevelClient
from connectors.gohighlevel.fields import activity_fields, contact_fields, opportunity_fields
from connectors.gohighlevel.records import (
    ACTIVITY_FIELDS,
    ActivityRefused,
    activity_body,
    activity_contact,
    activity_id,
    activity_kind,
    activity_record,
    appointment_id,
    appointment_record,
    contact_body,
    contact_record,
    iso,
    opportunity_body,
    opportunity_record,
    pack_ids,
    parse_time,
    split_activity_id,
    unpack_ids,
)
from connectors.gohighlevel.scheduling import GoHighLevelScheduling
from connectors.gohighlevel.setup import GoHighLevelSetup, stage_to_canonical, stage_to_remote
from connectors.http import ERROR_EXCERPT
from connectors.types import USAGE_KEY

logger = logging.getLogger(__name__)

# Step back this far when resuming: records changed in the same millisecond as the last one read,
# or committed late, are read again rather than missed. Re-reading a record is harmless.
OVERLAP = timedelta(seconds=5)
TEST_ATTEMPTS = 3
SCOPES = (
    "contacts.readonly",
    "contacts.write",
    "opportunities.readonly",
    "opportunities.write",
    "locations.readonly",
    "locations/customFields.readonly",
    "calendars.readonly",
    "calendars/events.readonly",
    "calendars/events.write",
)
# The appointments a pull reads: those starting within this window around now (GoHighLevel lists
# calendar events by start time only).
APPOINTMENTS_BEHIND = timedelta(days=31)
APPOINTMENTS_AHEAD = timedelta(days=365)
ALL_APPOINTMENTS_YEARS = 10  # the id diff reads the calendar from the epoch to this many years ahead


class GoHighLevelConnector(
    GoHighLevelScheduling, GoHighLevelSetup, Connector, IdLister, Scheduler, SetupChoices
):
    key = "gohighlevel"
    display_name = "GoHighLevel"
    default_base_url = "https://services.leadconnectorhq.com"
    entities: ClassVar[Mapping[str, EntitySpec]] = {
        "contact": EntitySpec(remote_types=("contacts",), modified_field="dateUpdated"),
        "deal": EntitySpec(remote_types=("opportunities",), modified_field="dateUpdated"),
        "activity": EntitySpec(remote_types=("notes", "tasks", "appointments"), modified_field="dateUpdated"),
    }
    batch_size = 100  # records per engine batch; each is still its own request
    page_size = 100
    rate_limit = "100/10"  # per location; the X-RateLimit-* headers correct us either way
    oauth = OAuthSpec(
        authorize_url="https://marketplace.gohighlevel.com/v2/oauth/chooselocation",
        token_url="https://services.leadconnectorhq.com/oauth/token",  # noqa: S106 (a URL)
        scopes=SCOPES,
        pkce=False,
        client_auth="body",
    )
    relations: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "deal": ("contact_ids",),
        "activity": ("contact_id",),
    }
    fixed_relations: ClassVar[Mapping[str, tuple[str, ...]]] = {"activity": ("contact_id",)}
    webhook_module = webhooks

    # --- configuration and auth ---------------------------------------------------------------

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> None:
        super().validate_config(config)
        mode = config.get("auth_mode", "api_key")
        if mode not in {"api_key", "oauth"}:
            raise ConfigError("auth_mode must be api_key or oauth", field="auth_mode")
        if mode == "api_key" and not config.get("locationId"):
            raise ConfigError("enter the location ID", field="locationId")

    @classmethod
    def receives_webhooks(cls, config: Mapping[str, Any]) -> bool:
        """Only with a public key to verify them by."""
        return any(webhooks.keys(config))

    def uses_oauth(self) -> bool:
        return self.config.get("auth_mode", "api_key") == "oauth"

    def oauth_endpoints(self, callback: Mapping[str, str] | None = None) -> dict[str, str]:
        """With a ``base_url`` (the sandbox), the OAuth endpoints live under it."""
        if not self.config.get("base_url"):
            return {}
        base = self.base_url()
        return {"authorize_url": f"{base}/oauth/chooselocation", "token_url": f"{base}/oauth/token"}

    def auth(self):
        if not self.uses_oauth():
            return self.config_bearer("apiKey", "the API key (the location's private integration token)")
        return super().auth()

    def location_id(self) -> str:
        """The configured location, else (OAuth) the one the grant was made for."""
        location = str(self.config.get("locationId") or "")
        if not location and self.uses_oauth() and self.token_store is not None:
            tokens = self.token_store.load()
            location = str((tokens.extra if tokens else {}).get("locationId") or "")
        if not location:
            raise ConfigError("enter the location ID", field="locationId")
        return location

    @functools.cached_property
    def client(self) -> GoHighLevelClient:
        return GoHighLevelClient(
            base_url=self.base_url(),
            auth=self.auth(),
            limiter=self.limiter(),
            location_id=self.location_id(),
            version=str(self.config.get("api_version") or DEFAULT_VERSION),
        )

    def test_connection(self) -> TestResult:
        """One search of a single contact; a refused key reads as a clear message."""
        attempts, self.client.max_attempts = self.client.max_attempts, TEST_ATTEMPTS
        try:
            total = int(self.client.search_contacts(filters=[], limit=1).get("total") or 0)
        except AuthError as exc:
            return TestResult(
                ok=False, message=f"GoHighLevel refused the API key or OAuth grant: {self._clean(exc)}"
            )
        except PermanentError as exc:
            return TestResult(ok=False, message=self._clean(exc))
        finally:
            self.client.max_attempts = attempts
        details: dict[str, Any] = {"location_id": self.client.location_id, "contacts": total}
        usage = self.client.usage()
        if usage:
            details[USAGE_KEY] = usage
        return TestResult(ok=True, message="Connected to GoHighLevel", details=details)

    def _clean(self, exc: Exception) -> str:
        """An error's text without the configured credentials."""
        text = str(exc)
        for name in ("apiKey", "client_secret"):
            if self.config.get(name):
                text = text.replace(str(self.config[name]), "***")
        return text[:ERROR_EXCERPT]

    # --- reads ----------------------------------------------------------------------------------

    def pull(self, entity: str, *, cursor: str | None) -> Iterator[Page]:
        spec = self.entity_spec(entity)
        if not spec.listable:
            return
        state = decode_cursor(cursor)
        if state is None:
            logger.warning("gohighlevel cursor unreadable: pulling everything")
            state = {}
        if entity == "contact":
            yield from self._pull_contacts(state)
        elif entity == "deal":
            yield from self._pull_opportunities(state)
        else:
            yield from self._pull_children(state)
            yield from self._pull_appointments(state)

    def _pull_children(self, state: dict[str, Any]) -> Iterator[Page]:
        """Notes and tasks, read per contact: every contact's on a full pull, then those of the
        contacts changed since (GoHighLevel lists them per contact only; deletions are found by
        the id diff, ``remote_ids``). The contacts' watermark rides in ``state["contacts"]``."""
        since = parse_time(state.get("contacts"))
        filters = [] if since is None else [_updated_after(since - OVERLAP)]
        newest = since
        for raws, _ in self.client.iter_contacts(filters):
            newest = _latest(newest, [contact_record(raw) for raw in raws])
            found = [
                activity_record(kind, {**raw, "contactId": raw.get("contactId") or contact["id"]})
                for contact in raws
                for kind in ("notes", "tasks")
                for raw in self.client.children(str(contact["id"]), kind) or []
            ]
            if found:
                yield Page(records=found, cursor=None)
        state["contacts"] = iso(newest) if newest else None

    def _pull_contacts(self, state: dict[str, Any]) -> Iterator[Page]:
        since = parse_time(state.get("updated"))
        floor = since - OVERLAP if since else None
        known = unpack_ids(state.get("ids"))
        filters = [] if floor is None else [_updated_after(floor)]
        newest, seen = since, set()
        for raws, total in self.client.iter_contacts(filters):
            found = [contact_record(raw) for raw in raws]
            seen.update(r.id for r in found)
            newest = _latest(newest, found)
            if found:
                remaining = max(0, total - len(seen)) if floor is None else None
                yield Page(records=found, cursor=None, remaining=remaining)
        gone: list[RemoteRecord] = []
        if floor is None or known is None:
            live = seen if floor is None else self._contact_ids()
        else:
            live = known | seen
            total_now = int(self.client.search_contacts(filters=[], limit=1).get("total") or 0)
            if total_now != len(live):  # something went away (or came back): read the ids again
                live = self._contact_ids()
                gone = [_tombstone(rid) for rid in sorted(known - live)]
        yield Page(records=gone, cursor=_cursor(newest, live))

    def _contact_ids(self) -> set[str]:
        return {str(raw["id"]) for raws, _ in self.client.iter_contacts([]) for raw in raws}

    def _pull_opportunities(self, state: dict[str, Any]) -> Iterator[Page]:
        since = parse_time(state.get("updated"))
        floor = since - OVERLAP if since else None
        known = unpack_ids(state.get("ids"))
        newest, live = since, set()
        for raws in self.client.iter_opportunities():
            records = [self._opportunity(raw) for raw in raws]
            live.update(r.id for r in records)
            newest = _latest(newest, records)
            changed = [r for r in records if floor is None or r.modified_at is None or r.modified_at >= floor]
            if changed:
                yield Page(records=changed, cursor=None)
        gone = [_tombstone(rid) for rid in sorted((known or set()) - live)]
        yield Page(records=gone, cursor=_cursor(newest, live))

    def _pull_appointments(self, state: dict[str, Any]) -> Iterator[Page]:
        """The configured calendar's appointments (none without a ``calendarId``)."""
        calendar = str(self.config.get("calendarId") or "")
        if not calendar:
            yield Page(records=[], cursor=encode_cursor({**state, "contacts": state.get("contacts")}))
            return
        since = parse_time(state.get("updated"))
        floor = since - OVERLAP if since else None
        known = unpack_ids(state.get("ids")) or set()
        now = timezone.now()
        raws = self.client.calendar_events(
            calendar,
            start_ms=int((now - APPOINTMENTS_BEHIND).timestamp() * 1000),
            end_ms=int((now + APPOINTMENTS_AHEAD).timestamp() * 1000),
        )
        records = [appointment_record(raw) for raw in raws]
        live = {r.id for r in records}
        changed = [r for r in records if floor is None or r.modified_at is None or r.modified_at >= floor]
        gone = []
        for remote_id in sorted(known - live):  # deleted, or only out of the window: a read tells
            if self.client.appointment(remote_id.removeprefix("appointments/")) is None:
                gone.append(_tombstone(remote_id))
        cursor = {**decode_cursor(_cursor(_latest(since, records), live)), "contacts": state.get("contacts")}
        yield Page(records=changed + gone, cursor=encode_cursor(cursor))

    def get(self, entity: str, remote_ids: list[str]) -> list[RemoteRecord]:
        self.entity_spec(entity)
        found: list[RemoteRecord] = []
        for remote_id in remote_ids:
            if entity == "contact":
                raw = self.client.contact(remote_id)
                found += [contact_record(raw)] if raw else []
            elif entity == "deal":
                raw = self.client.opportunity(remote_id)
                found += [self._opportunity(raw)] if raw else []
            else:
                try:
                    kind, contact_id, child_id = split_activity_id(remote_id)
                except ValueError:
                    continue  # not an id this entity can have: simply absent
                if kind == "appointments":
                    raw = self.client.appointment(child_id)
                    found += [appointment_record(raw)] if raw else []
                else:
                    raw = self.client.child(contact_id, kind, child_id)
                    found += [activity_record(kind, raw)] if raw else []
        return found

    # --- deletions by id diff (sync.deletions) ---------------------------------------------------

    def remote_ids(self, entity: str) -> Iterator[str]:
        """Every live id: contacts and opportunities by listing them; notes and tasks by reading each
        contact's (GoHighLevel lists them per contact only, so a deleted note or task — which no
        webhook announces to the platform's pull — is found here); the calendar's appointments from
        its whole range."""
        self.entity_spec(entity)
        if entity == "contact":
            yield from sorted(self._contact_ids())
        elif entity == "deal":
            for raws in self.client.iter_opportunities():
                yield from (str(raw["id"]) for raw in raws)
        else:
            yield from self._activity_ids()

    def _activity_ids(self) -> Iterator[str]:
        for contact in sorted(self._contact_ids()):
            for kind in ("notes", "tasks"):
                for raw in self.client.children(contact, kind) or []:
                    yield activity_id(kind, contact, str(raw["id"]))
        calendar = str(self.config.get("calendarId") or "")
        if calendar:
            end = timezone.now() + APPOINTMENTS_AHEAD * ALL_APPOINTMENTS_YEARS
            for raw in self.client.calendar_events(calendar, start_ms=0, end_ms=int(end.timestamp() * 1000)):
                yield appointment_id(str(raw["id"]))

    # --- field discovery ------------------------------------------------------------------------

    def discover_fields(self, entity: str) -> list[RemoteField]:
        """Standard fields, plus the location's custom fields (contacts) and pipeline stages (deals)."""
        self.entity_spec(entity)
        if entity == "contact":
            return contact_fields(self.client.custom_fields())
        if entity == "deal":
            return opportunity_fields(self.client.pipelines())
        return activity_fields()

    # --- writes ---------------------------------------------------------------------------------

    def create(self, entity: str, records_in: list[Mapping[str, Any]]) -> list[WriteResult]:
        self.entity_spec(entity)
        results = []
        for index, fields in enumerate(records_in):
            if entity == "activity":
                results.append(self._create_activity(index, fields))
            elif entity == "contact":
                results.append(self._upsert_contact(index, fields))
            else:
                results.append(
                    self._write(
                        index,
                        lambda f=fields: self.client.create_opportunity(
                            self._with_pipeline(stage_to_remote(opportunity_body(f), self.config))
                        ),
                        creating=True,
                    )
                )
        return results

    def _with_pipeline(self, body: dict[str, Any]) -> dict[str, Any]:
        """GoHighLevel files every opportunity in a pipeline stage: one pushed without them goes into
        the location's first pipeline at its first stage, open."""
        body = {"status": "open", **body}
        if self.config.get("pipelineId"):
            body.setdefault("pipelineId", self.config["pipelineId"])  # the setup's choice
        if body.get("pipelineId") and body.get("pipelineStageId"):
            return body
        pipelines = self._pipelines
        pipeline = next((p for p in pipelines if p.get("id") == body.get("pipelineId")), None)
        pipeline = pipeline or (pipelines[0] if pipelines and not body.get("pipelineId") else None)
        if pipeline is None:
            return body  # GoHighLevel says what is missing
        stages = pipeline.get("stages") or []
        body.setdefault("pipelineId", pipeline["id"])
        if not body.get("pipelineStageId") and stages:
            body["pipelineStageId"] = stages[0]["id"]
        return body

    def _opportunity(self, raw: Mapping[str, Any]) -> RemoteRecord:
        """An opportunity with its stage read back as the canonical stage the setup mapped it to."""
        return stage_to_canonical(opportunity_record(raw), self.config)

    @functools.cached_property
    def _pipelines(self) -> list[dict[str, Any]]:
        return self.client.pipelines()

    def _upsert_contact(self, index: int, fields: Mapping[str, Any]) -> WriteResult:
        """``/contacts/upsert``: creates, or finds the contact by email/phone (then ``created=False``)."""
        body = contact_body(fields)
        keyed = bool(body.get("email") or body.get("phone"))
        try:
            data = self.client.upsert_contact(body, idempotent=keyed)
        except AuthError:
            raise
        except PermanentError as exc:
            return WriteResult(index=index, ok=False, error=str(exc)[:ERROR_EXCERPT], code=exc.code)
        except TransientError as exc:
            if not exc.ambiguous:
                raise
            return WriteResult(index=index, ok=False, error=str(exc)[:ERROR_EXCERPT], uncertain=True)
        contact = data.get("contact") or {}
        new = bool(data.get("new", True))
        matched = "" if new else ("email" if body.get("email") else "phone")
        return WriteResult(
            index=index, ok=True, remote_id=str(contact.get("id")), created=new, matched_by=matched
        )

    def _write(self, index: int, send, *, creating: bool) -> WriteResult:
        try:
            raw = send()
        except AuthError:
            raise
        except PermanentError as exc:
            return WriteResult(index=index, ok=False, error=str(exc)[:ERROR_EXCERPT], code=exc.code)
        except TransientError as exc:
            if not (creating and exc.ambiguous):
                raise
            return WriteResult(index=index, ok=False, error=str(exc)[:ERROR_EXCERPT], uncertain=True)
        return WriteResult(index=index, ok=True, remote_id=str(raw.get("id")), created=creating or None)

    def _create_activity(self, index: int, fields: Mapping[str, Any]) -> WriteResult:
        """A note or task (the payload's ``_kind``) under the contact of its ``contact_id`` relation."""
        try:
            kind = activity_kind(fields)
            contact = activity_contact(fields)
            body = activity_body(kind, fields, creating=True)
        except ActivityRefused as exc:
            return WriteResult(index=index, ok=False, error=str(exc), code="invalid")
        result = self._write(index, lambda: self.client.create_child(contact, kind, body), creating=True)
        if not result.ok:
            return result
        return WriteResult(
            index=index, ok=True, remote_id=activity_id(kind, contact, result.remote_id), created=True
        )

    def _update_activity(self, index: int, remote_id: str, fields: Mapping[str, Any]) -> WriteResult:
        """A note or task changed in place (its id names its contact); the kind cannot change."""
        try:
            kind, contact, child = split_activity_id(remote_id)
            if kind == "appointments":
                raise ActivityRefused("GoHighLevel appointments are booked through the calendar, not updated")
            wanted = activity_kind(fields) if fields.get("_kind") else kind
            if wanted != kind:
                raise ActivityRefused(f"a GoHighLevel {kind[:-1]} cannot become a {wanted[:-1]}")
            body = activity_body(kind, fields, creating=False)
        except ValueError as exc:
            return WriteResult(index=index, ok=False, error=str(exc), code="invalid")
        result = WriteResult(index=index, ok=True, remote_id=remote_id)
        if body:
            result = self._write(
                index, lambda: self.client.update_child(contact, kind, child, body), creating=False
            )
        change = (fields.get(RELATIONS_KEY) or {}).get("contact_id")
        moved = isinstance(change, Mapping) and (change.get("add") or change.get("remove"))
        if result.ok and moved and list(change.get("add") or []) != [contact]:
            return WriteResult(
                index=index,
                ok=True,
                remote_id=remote_id,
                relations_failed=("contact_id",),
                relations_error=f"a GoHighLevel {kind[:-1]} stays under the contact it was written for",
            )
        return result

    def update(self, entity: str, records_in: list[tuple[str, Mapping[str, Any]]]) -> list[WriteResult]:
        self.entity_spec(entity)
        results = []
        for index, (remote_id, fields) in enumerate(records_in):
            if entity == "activity":
                results.append(self._update_activity(index, remote_id, fields))
            elif entity == "contact":
                results.append(
                    self._write(
                        index,
                        lambda r=remote_id, f=fields: self.client.update_contact(r, contact_body(f)),
                        creating=False,
                    )
                )
            else:
                results.append(
                    self._write(
                        index,
                        lambda r=remote_id, f=fields: self.client.update_opportunity(
                            r, stage_to_remote(opportunity_body(f), self.config)
                        ),
                        creating=False,
                    )
                )
        return [
            r if not r.ok else dataclasses.replace(r, remote_id=records_in[r.index][0], created=None)
            for r in results
        ]

    def delete(self, entity: str, remote_ids: list[str]) -> list[WriteResult]:
        self.entity_spec(entity)
        results = []
        for index, remote_id in enumerate(remote_ids):
            try:
                path = _delete_path(entity, remote_id)
            except ValueError as exc:
                results.append(_unsupported(index, str(exc)))
                continue
            try:
                self.client.delete(path)  # already gone counts as deleted
            except AuthError:
                raise
            except PermanentError as exc:
                results.append(
                    WriteResult(index=index, ok=False, error=str(exc)[:ERROR_EXCERPT], code=exc.code)
                )
                continue
            results.append(WriteResult(index=index, ok=True, remote_id=remote_id))
        return results

    def find_created(
        self, entity: str, records: list[Mapping[str, Any]], *, since: datetime
    ) -> list[list[str]]:
        """Contacts: a search on the payload's email (else phone, else first and last name) among
        those added since ``since``. Opportunities: the location's opportunities of that name added
        since then."""
        self.entity_spec(entity)
        if entity == "contact":
            return [self._contacts_like(fields, since) for fields in records]
        if entity == "deal":
            added = [
                raw
                for raws in self.client.iter_opportunities()
                for raw in raws
                if (parse_time(raw.get("dateAdded")) or since) >= since
            ]
            return [
                [
                    str(raw["id"])
                    for raw in added
                    if fields.get("name") and raw.get("name") == fields.get("name")
                ]
                for fields in records
            ]
        return [self._children_like(fields, since) for fields in records]

    def _children_like(self, fields: Mapping[str, Any], since: datetime) -> list[str]:
        """The contact's notes or tasks added since ``since`` with the payload's body (and title)."""
        try:
            kind, contact = activity_kind(fields), activity_contact(fields)
        except ActivityRefused:
            return []
        keys = [k for k in ("title", "body") if k in ACTIVITY_FIELDS[kind] and fields.get(k)]
        return [
            activity_id(kind, contact, str(raw["id"]))
            for raw in self.client.children(contact, kind) or []
            if keys
            and all(raw.get(k) == fields.get(k) for k in keys)
            and (parse_time(raw.get("dateAdded")) or since) >= since
        ]

    def _contacts_like(self, fields: Mapping[str, Any], since: datetime) -> list[str]:
        for keys in (("email",), ("phone",), ("firstName", "lastName")):
            values = {k: fields.get(k) for k in keys if fields.get(k)}
            if len(values) == len(keys) or (keys[0] == "firstName" and values):
                filters = [{"field": k, "operator": "eq", "value": v} for k, v in values.items()]
                filters.append({"field": "dateAdded", "operator": "range", "value": {"gte": iso(since)}})
                data = self.client.search_contacts(filters=filters)
                return [str(raw["id"]) for raw in data.get("contacts") or []]
        return []


def _updated_after(floor: datetime) -> dict[str, Any]:
    return {"field": "dateUpdated", "operator": "range", "value": {"gt": iso(floor)}}


def _latest(current: datetime | None, records: list[RemoteRecord]) -> datetime | None:
    stamps = [r.modified_at for r in records if r.modified_at is not None]
    if stamps and (current is None or max(stamps) > current):
        return max(stamps)
    return current


def _cursor(newest: datetime | None, live: set[str]) -> str:
    return encode_cursor({"updated": iso(newest) if newest else None, "ids": pack_ids(live)})


def _tombstone(remote_id: str) -> RemoteRecord:
    return RemoteRecord(id=remote_id, modified_at=None, fields={}, deleted=True)


def _delete_path(entity: str, remote_id: str) -> str:
    """The DELETE path of a contact, opportunity, note or task (ValueError for an appointment)."""
    if entity == "contact":
        return f"/contacts/{remote_id}"
    if entity == "deal":
        return f"/opportunities/{remote_id}"
    kind, contact, child = split_activity_id(remote_id)
    if kind == "appointments":
        raise ValueError(
            "GoHighLevel appointments are cancelled in the calendar, not deleted by the platform"
        )
    return f"/contacts/{contact}/{kind}/{child}"


def _unsupported(index: int, message: str) -> WriteResult:
    return WriteResult(index=index, ok=False, error=message, code="unsupported")
