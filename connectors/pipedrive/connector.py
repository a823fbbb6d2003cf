"""Pipedrive: v2 records through the connector interface (providers.md §3).

Pull: ``GET /api/v2/{obj}?sort_by=update_time&sort_direction=asc&updated_since=<watermark − overlap>``
with cursor paging at 500 rows; notes (activities of kind ``note``) through v1 ``/notes``. A delta
also reads ``/v1/recents`` for the same window, where deleted records show (``active_flag`` false,
``deleted`` true), and yields them as deleted records; a merged record (``merged_to_id``) names its
successor in ``replaced_by``. The cursor is ``{"persons": {"updated": "<RFC 3339>"}, ...}``.

Writes: no batch endpoint exists, so one request per record. A person create first searches the
exact email (else phone) and an organization create the exact name: a record already there is
linked (``created=False``) instead of made twice, so a retried push never duplicates. Relations are
the records' own id fields (``records.py``); a write refused because of a relation is sent again
without it and reported in ``relations_failed``. Custom fields read and write as
``custom_fields.<40-hex key>``, labelled with their names by ``discover_fields``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

import requests

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
    Tokens,
    TransientError,
    WriteResult,
    decode_cursor,
    encode_cursor,
)
from connectors.http import ERROR_EXCERPT, StaticAuth
from connectors.netguard import check_url
from connectors.pipedrive import records, webhooks
from connectors.pipedrive.client import LIST_LIMIT, PipedriveClient
from connectors.pipedrive.fields import create_body, remote_field, same_name
from connectors.pipedrive.records import parse_time, rfc3339, split_id, to_body, to_record, tombstone, v1_time
from connectors.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

# Step back this far when resuming: update_time has whole-second precision, and a page can end among
# records sharing one second. Re-reading a record is harmless.
OVERLAP = timedelta(seconds=5)
TEST_ATTEMPTS = 3  # a connection test answers the wizard within seconds, whatever the provider does
FIELD_ENDPOINTS = {
    "persons": "personFields",
    "organizations": "organizationFields",
    "deals": "dealFields",
    "activities": "activityFields",
    "notes": "noteFields",
}
SINGULAR = {
    "persons": "person",
    "organizations": "organization",
    "deals": "deal",
    "activities": "activity",
    "notes": "note",
}
# Objects whose fields can be created (activities and notes have no custom fields in v2).
CUSTOMIZABLE = ("persons", "organizations", "deals")
# What a create is first looked for by (v2 search field), in order of preference.
DEDUPE_FIELDS = {"persons": ("email", "phone"), "organizations": ("name",)}


class PipedriveConnector(Connector):
    key = "pipedrive"
    display_name = "Pipedrive"
    entities: ClassVar[Mapping[str, EntitySpec]] = {
        "contact": EntitySpec(remote_types=("persons",), modified_field="update_time"),
        "company": EntitySpec(remote_types=("organizations",), modified_field="update_time"),
        "deal": EntitySpec(remote_types=("deals",), modified_field="update_time"),
        "activity": EntitySpec(remote_types=("activities", "notes"), modified_field="update_time"),
    }
    batch_size = 100  # records per engine batch; each is still its own request
    page_size = LIST_LIMIT
    oauth = OAuthSpec(
        authorize_url="https://oauth.pipedrive.com/oauth/authorize",
        token_url="https://oauth.pipedrive.com/oauth/token",  # noqa: S106 (a URL, not a password)
        revoke_url="https://oauth.pipedrive.com/oauth/revoke",
        pkce=False,
        client_auth="basic",
    )
    rate_limit = "40/2"  # API-token burst window (Advanced plan); the headers correct us either way
    search_rate_limit = "10/2"
    relations: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "contact": ("company_id",),
        "deal": ("company_id", "contact_ids"),
        "activity": ("contact_id", "company_id", "deal_id"),
    }
    webhook_module = webhooks

    # --- configuration and auth ---------------------------------------------------------------

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> None:
        super().validate_config(config)
        mode = config.get("auth_mode", "api_token")
        if mode not in {"api_token", "oauth"}:
            raise ConfigError("auth_mode must be api_token or oauth", field="auth_mode")
        if mode == "api_token" and not config.get("base_url") and not config.get("company_domain"):
            raise ConfigError(
                "enter the company domain (acme for acme.pipedrive.com)", field="company_domain"
            )

    def uses_oauth(self) -> bool:
        return self.config.get("auth_mode", "api_token") == "oauth"

    def base_url(self) -> str:
        """The sandbox's (or a configured) base; else OAuth's ``api_domain``; else the company domain."""
        if self.config.get("base_url"):
            return str(self.config["base_url"]).rstrip("/")
        if self.uses_oauth() and self.token_store is not None:
            tokens = self.token_store.load()
            if tokens is not None and tokens.extra.get("api_domain"):
                return str(tokens.extra["api_domain"]).rstrip("/")
        domain = str(self.config.get("company_domain") or "")
        if not domain:
            raise ConfigError(
                "enter the company domain (acme for acme.pipedrive.com)", field="company_domain"
            )
        return f"https://{domain}.pipedrive.com"

    def oauth_endpoints(self, callback: Mapping[str, str] | None = None) -> dict[str, str]:
        """With a ``base_url`` (the sandbox), the OAuth endpoints live under it."""
        if not self.config.get("base_url"):
            return {}
        base = str(self.config["base_url"]).rstrip("/")
        return {
            "authorize_url": f"{base}/oauth/authorize",
            "token_url": f"{base}/oauth/token",
            "revoke_url": f"{base}/oauth/revoke",
        }

    def auth(self):
        if not self.uses_oauth():
            token = str(self.config.get("api_token") or "")
            if not token:
                raise ConfigError("enter the personal API token", field="api_token")
            return StaticAuth({"x-api-token": token})
        return super().auth()

    def accept_tokens(self, tokens: Tokens) -> None:
        """The token's ``api_domain`` becomes the API base: it must be a public https URL."""
        domain = str(tokens.extra.get("api_domain") or "")
        if domain and not self.config.get("base_url"):
            try:
                check_url(domain, resolve=False)  # names are checked again at connect time
            except ConfigError as exc:
                raise ConfigError(f"Pipedrive's api_domain {exc}", field="base_url") from None

    def revoke(self) -> bool:
        """Revoke the refresh token (Pipedrive wants the app's Basic credentials on revoke too)."""
        client = self.oauth_client()
        tokens = self.token_store.load() if self.token_store is not None else None
        if client is None or tokens is None or not client.revoke_endpoint:
            return False
        try:
            resp = requests.post(
                client.revoke_endpoint,
                data={
                    "token": tokens.refresh_token or tokens.access_token,
                    "token_type_hint": "refresh_token",
                },
                auth=(client.client_id, client.client_secret),
                timeout=10,
            )
        except requests.RequestException:
            raise TransientError("could not reach Pipedrive to revoke the token") from None
        return resp.status_code < 400

    @functools.cached_property
    def client(self) -> PipedriveClient:
        search_limiter = RateLimiter(
            key=f"{self.key}:{self.account_key()}:search",
            rate=str(self.config.get("search_rate_limit") or self.search_rate_limit),
        )
        return PipedriveClient(
            base_url=self.base_url(), auth=self.auth(), limiter=self.limiter(), search_limiter=search_limiter
        )

    def test_connection(self) -> TestResult:
        """One cheap authenticated call, tried a few times at most; a refused token or an unknown
        company domain reads as a clear message, never as an error page."""
        attempts, self.client.max_attempts = self.client.max_attempts, TEST_ATTEMPTS
        try:
            self.client.list_page("persons", limit=1)
        except AuthError as exc:
            return TestResult(
                ok=False,
                message=f"Pipedrive refused the API token or OAuth grant: {_without_secrets(str(exc), self.config)}",
            )
        except PermanentError as exc:
            return TestResult(ok=False, message=_without_secrets(str(exc), self.config))
        except TransientError as exc:
            if self.config.get("base_url") or self.uses_oauth():
                raise
            return TestResult(
                ok=False,
                message=f"Could not reach {self.base_url()}: check the company domain "
                f"({self.config.get('company_domain')!r}). {exc}",
                details={"reason": "unreachable"},
            )
        finally:
            self.client.max_attempts = attempts
        return TestResult(ok=True, message="Connected to Pipedrive", details={"base_url": self.base_url()})

    # --- reads ----------------------------------------------------------------------------------

    def pull(self, entity: str, *, cursor: str | None) -> Iterator[Page]:
        spec = self.entity_spec(entity)
        state = self._decode_cursor(cursor)
        for remote_type in spec.remote_types:
            position = state.setdefault(remote_type, {})
            since = parse_time(position.get("updated"))
            floor = since - OVERLAP if since else None
            wanted = self.wanted_fields.get(entity, frozenset())
            pages = (
                self._changed_notes(floor) if remote_type == "notes" else self._changed(remote_type, floor)
            )
            for raws in pages:
                found = [to_record(remote_type, raw, wanted) for raw in raws]
                self._advance(position, found)
                if found:
                    yield Page(records=found, cursor=encode_cursor(state))
            if floor is not None:
                yield from self._deleted(remote_type, floor, position, state)

    def _changed(self, remote_type: str, floor: datetime | None) -> Iterator[list[dict[str, Any]]]:
        yield from self.client.iter_list(
            remote_type,
            limit=self.page_size,
            sort_by="update_time",
            sort_direction="asc",
            updated_since=rfc3339(floor) if floor else None,
        )

    def _changed_notes(self, floor: datetime | None) -> Iterator[list[dict[str, Any]]]:
        yield from self.client.iter_v1(
            "/api/v1/notes", sort="update_time ASC", updated_since=v1_time(floor) if floor else None
        )

    def _deleted(
        self, remote_type: str, floor: datetime, position: dict[str, Any], state: dict[str, Any]
    ) -> Iterator[Page]:
        """Deleted records of the window, from ``/v1/recents`` (v2 lists show live records only)."""
        for items in self.client.recents(v1_time(floor), SINGULAR[remote_type]):
            gone = []
            for item in items:
                data = item.get("data") or {}
                if data.get("active_flag", True) and not data.get("deleted") and not data.get("is_deleted"):
                    continue
                gone.append(
                    tombstone(
                        remote_type,
                        item.get("id") or data.get("id"),
                        parse_time(data.get("update_time")),
                        data.get("merged_to_id"),
                    )
                )
            self._advance(position, gone)
            if gone:
                yield Page(records=gone, cursor=encode_cursor(state))

    @staticmethod
    def _advance(position: dict[str, Any], found: list[RemoteRecord]) -> None:
        stamps = [r.modified_at for r in found if r.modified_at is not None]
        current = parse_time(position.get("updated"))
        if stamps and (current is None or max(stamps) > current):
            position["updated"] = rfc3339(max(stamps))

    def get(self, entity: str, remote_ids: list[str]) -> list[RemoteRecord]:
        default = self.entity_spec(entity).remote_types[0]
        groups: dict[str, list[str]] = {}
        for remote_id in remote_ids:
            try:
                remote_type, bare = split_id(entity, remote_id, default)
            except ValueError:
                continue  # not an id this entity can have: simply absent
            groups.setdefault(remote_type, []).append(bare)
        wanted = self.wanted_fields.get(entity, frozenset())
        found: list[RemoteRecord] = []
        for remote_type, ids in groups.items():
            if remote_type == "notes":
                raws = [
                    raw for raw in (self.client.note(i) for i in ids) if raw and raw.get("active_flag", True)
                ]
            else:
                raws = self.client.by_ids(remote_type, ids)
            found += [to_record(remote_type, raw, wanted) for raw in raws]
        return found

    # --- field discovery ------------------------------------------------------------------------

    def discover_fields(self, entity: str) -> list[RemoteField]:
        """Pipedrive's field lists, flattened as records are: ``email``/``phone`` stand for the
        primary entries, the id fields that hold relations are left out, activities add ``_kind``."""
        found: list[RemoteField] = []
        types = self.entity_spec(entity).remote_types
        for remote_type in types:
            relation_fields = set(records.RELATION_FIELDS.get(remote_type, {}).values())
            tag = remote_type if len(types) > 1 else ""
            found += [
                remote_field(raw, tag)
                for raw in self.client.fields(FIELD_ENDPOINTS[remote_type])
                if raw.get("key") and raw["key"] not in relation_fields
            ]
        if entity == "activity":
            found.append(
                RemoteField(
                    name="_kind",
                    label="Kind",
                    type="enumeration",
                    options=tuple((k, k.capitalize()) for k in ("note", "task", "call", "meeting", "email")),
                )
            )
        return found

    creates_fields = True

    def create_fields(self, entity: str, specs: list[FieldSpec]) -> list[RemoteField]:
        """Add the custom fields through ``POST /v1/{object}Fields``, named by their labels.
        Pipedrive accepts a second field with an existing name (under a new hash), so the field list
        is read first and a field of that name is returned as it is instead of made again. Returned
        under the name discovery lists (``custom_fields.<hash>``), so pushes write them. Fields
        Pipedrive refuses are named in one PermanentError raised after the others were made."""
        remote_type = self.entity_spec(entity).remote_types[0]
        if remote_type not in CUSTOMIZABLE:
            raise PermanentError(f"Pipedrive has no custom fields on {entity} records")
        endpoint = FIELD_ENDPOINTS[remote_type]
        existing = self.client.fields(endpoint)
        made: list[RemoteField] = []
        refused: list[str] = []
        for spec in specs:
            raw = next((f for f in existing if same_name(f, spec)), None)
            if raw is None:
                try:
                    raw = self.client.add_field(endpoint, create_body(spec))
                except AuthError:
                    raise
                except PermanentError as exc:
                    refused.append(f'"{spec.label}": {exc}')
                    continue
                existing.append(raw)
            made.append(remote_field(raw))
        self.__dict__.get("_kinds", {}).pop(remote_type, None)  # writes must see the new fields' types
        if refused:
            raise PermanentError(f"Pipedrive did not create {'; '.join(refused)}")
        return made

    # --- writes ---------------------------------------------------------------------------------

    def create(self, entity: str, records_in: list[Mapping[str, Any]]) -> list[WriteResult]:
        results: list[WriteResult] = []
        for index, fields in enumerate(records_in):
            try:
                remote_type = self._type_for_create(entity, fields)
            except ValueError as exc:
                results.append(WriteResult(index=index, ok=False, error=str(exc), code="INVALID"))
                continue
            existing = self._existing(remote_type, fields)
            if existing is not None:
                results.append(
                    WriteResult(
                        index=index,
                        ok=True,
                        remote_id=records.record_id(remote_type, existing),
                        created=False,
                    )
                )
                continue
            results.append(self._write(index, remote_type, None, fields, creating=True))
        return results

    def update(self, entity: str, records_in: list[tuple[str, Mapping[str, Any]]]) -> list[WriteResult]:
        default = self.entity_spec(entity).remote_types[0]
        results: list[WriteResult] = []
        for index, (remote_id, fields) in enumerate(records_in):
            try:
                remote_type, bare = split_id(entity, remote_id, default)
            except ValueError as exc:
                results.append(WriteResult(index=index, ok=False, error=str(exc), code="INVALID_ID"))
                continue
            results.append(self._write(index, remote_type, bare, fields, creating=False))
        return results

    def delete(self, entity: str, remote_ids: list[str]) -> list[WriteResult]:
        default = self.entity_spec(entity).remote_types[0]
        results: list[WriteResult] = []
        for index, remote_id in enumerate(remote_ids):
            try:
                remote_type, bare = split_id(entity, remote_id, default)
                if remote_type == "notes":
                    self.client.delete_note(bare)
                else:
                    self.client.delete(remote_type, bare)  # already gone counts as deleted
            except ValueError as exc:
                results.append(WriteResult(index=index, ok=False, error=str(exc), code="INVALID_ID"))
                continue
            except AuthError:
                raise
            except PermanentError as exc:
                results.append(
                    WriteResult(index=index, ok=False, error=str(exc)[:ERROR_EXCERPT], code=exc.code)
                )
                continue
            results.append(WriteResult(index=index, ok=True, remote_id=remote_id))
        return results

    def _write(
        self, index: int, remote_type: str, bare_id: str | None, fields: Mapping[str, Any], *, creating: bool
    ) -> WriteResult:
        """One create or update; a refusal caused by a relation is retried without the relations."""
        body, unwritable = to_body(remote_type, fields)
        if body.get("custom_fields"):
            body["custom_fields"] = records.coerce_custom(
                self._field_kinds(remote_type), body["custom_fields"]
            )
        try:
            raw = self._send(remote_type, bare_id, body)
        except AuthError:
            raise
        except PermanentError as exc:
            relation_keys = set(records.RELATION_FIELDS.get(remote_type, {}).values()) & set(body)
            if not relation_keys:
                return WriteResult(index=index, ok=False, error=str(exc)[:ERROR_EXCERPT], code=exc.code)
            bare_body = {k: v for k, v in body.items() if k not in relation_keys}
            unwritable.update({name: str(exc)[:ERROR_EXCERPT] for name in (fields.get(RELATIONS_KEY) or {})})
            try:
                raw = (
                    self._send(remote_type, bare_id, bare_body)
                    if (bare_body or creating)
                    else {"id": bare_id}
                )
            except AuthError:
                raise
            except PermanentError as again:
                return WriteResult(index=index, ok=False, error=str(again)[:ERROR_EXCERPT], code=again.code)
        except TransientError as exc:
            if not (creating and exc.ambiguous):
                raise
            # The answer was lost, not necessarily the create: look for it now (persons and
            # organizations), else leave it uncertain for the engine's find_created; never resend.
            try:
                existing = self._existing(remote_type, fields)
            except TransientError:
                existing = None  # still unreachable: find_created settles it on the next attempt
            if existing is not None:
                return WriteResult(
                    index=index, ok=True, remote_id=records.record_id(remote_type, existing), created=True
                )
            return WriteResult(
                index=index, ok=False, error=str(exc)[:ERROR_EXCERPT], code="UNCERTAIN", uncertain=True
            )
        result = WriteResult(
            index=index,
            ok=True,
            remote_id=records.record_id(remote_type, raw.get("id") or bare_id),
            created=True if creating else None,
        )
        if unwritable:
            result = dataclasses.replace(
                result,
                relations_failed=tuple(sorted(unwritable)),
                relations_error="; ".join(dict.fromkeys(unwritable.values())),
            )
        return result

    def _field_kinds(self, remote_type: str) -> dict[str, str]:
        """Field key → Pipedrive ``field_type``, read once per connector (a run) when a write
        carries custom fields."""
        cache = self.__dict__.setdefault("_kinds", {})
        if remote_type not in cache:
            cache[remote_type] = {
                str(raw.get("key")): str(raw.get("field_type") or "")
                for raw in self.client.fields(FIELD_ENDPOINTS[remote_type])
            }
        return cache[remote_type]

    def _send(self, remote_type: str, bare_id: str | None, body: dict[str, Any]) -> dict[str, Any]:
        if remote_type == "notes":
            return (
                self.client.create_note(body) if bare_id is None else self.client.update_note(bare_id, body)
            )
        return (
            self.client.create(remote_type, body)
            if bare_id is None
            else self.client.update(remote_type, bare_id, body)
        )

    def _existing(self, remote_type: str, fields: Mapping[str, Any]) -> str | None:
        """The id of a live record already holding this create's exact email / phone / name."""
        for name in DEDUPE_FIELDS.get(remote_type, ()):
            value = str(fields.get(name) or "").strip()
            if len(value) < 2:
                continue
            for item in self.client.search(remote_type, value, name):
                if _holds(item, name, value):
                    return str(item["id"])
            return None  # searched by the most distinctive value: nothing there
        return None

    def _type_for_create(self, entity: str, fields: Mapping[str, Any]) -> str:
        if entity != "activity":
            return self.entity_spec(entity).remote_types[0]
        kind = str(fields.get("_kind") or "task")
        if kind == "note":
            return "notes"
        if kind not in records.KIND_TYPES:
            raise ValueError(
                f"activity _kind must be note or one of {', '.join(records.KIND_TYPES)}, not {kind!r}"
            )
        return "activities"

    def find_created(
        self, entity: str, records_in: list[Mapping[str, Any]], *, since: datetime
    ) -> list[list[str]]:
        """Records created at or after ``since`` holding each payload's values: persons and
        organizations by exact search, then their ``add_time``; deals, activities and notes among
        the records updated since then (no search covers them all)."""
        found: list[list[str]] = [[] for _ in records_in]
        recent: dict[str, list[dict[str, Any]]] = {}
        for index, fields in enumerate(records_in):
            try:
                remote_type = self._type_for_create(entity, fields)
            except ValueError:
                continue
            body, _ = to_body(remote_type, {k: v for k, v in fields.items() if k != RELATIONS_KEY})
            if remote_type in ("persons", "organizations"):
                candidates = self._searched(remote_type, fields)
            else:
                if remote_type not in recent:
                    recent[remote_type] = self._created_since(remote_type, since)
                candidates = recent[remote_type]
            for raw in candidates:
                created = parse_time(raw.get("add_time"))
                if created is not None and created >= since.replace(microsecond=0) and _same(raw, body):
                    found[index].append(records.record_id(remote_type, raw["id"]))
        return found

    def _searched(self, remote_type: str, fields: Mapping[str, Any]) -> list[dict[str, Any]]:
        for name in (*DEDUPE_FIELDS[remote_type], "name"):
            value = str(fields.get(name) or "").strip()
            if len(value) >= 2:
                ids = [
                    str(i["id"])
                    for i in self.client.search(remote_type, value, name)
                    if _holds(i, name, value)
                ]
                return self.client.by_ids(remote_type, ids) if ids else []
        return []

    def _created_since(self, remote_type: str, since: datetime) -> list[dict[str, Any]]:
        floor = since - OVERLAP
        pages = self._changed_notes(floor) if remote_type == "notes" else self._changed(remote_type, floor)
        return [raw for page in pages for raw in page]

    # --- webhooks -----------------------------------------------------------------------------

    def subscribe_webhooks(self, *, target_url: str, secret: str) -> dict[str, Any]:
        """One v2 webhook for every event of every object, with Basic credentials derived from the
        integration's webhook secret (the receiver derives the same pair to check them)."""
        user, password = webhooks.credentials(secret)
        hook = self.client.create_webhook(
            {
                "subscription_url": target_url,
                "event_action": "*",
                "event_object": "*",
                "name": "CRM sync",
                "version": "2.0",
                "http_auth_user": user,
                "http_auth_password": password,
            }
        )
        return {"webhook_id": hook.get("id"), "subscription_url": target_url}

    def unsubscribe_webhooks(self, *, subscription: Mapping[str, Any]) -> None:
        if subscription.get("webhook_id"):
            self.client.delete_webhook(str(subscription["webhook_id"]))  # a 404 means already gone

    # --- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _decode_cursor(cursor: str | None) -> dict[str, Any]:
        state = decode_cursor(cursor)
        if state is None:
            logger.warning("pipedrive cursor unreadable: pulling everything")
            return {}
        return {t: dict(p) for t, p in state.items() if isinstance(p, dict)}


def _holds(item: Mapping[str, Any], name: str, value: str) -> bool:
    """Whether a search item really holds ``value`` (search is case-insensitive, emails are not
    case-sensitive, names are compared as given)."""
    if name in ("email", "phone"):
        have = item.get(f"{name}s") or []
        return any(
            str(v.get("value") if isinstance(v, dict) else v).strip().lower() == value.lower() for v in have
        )
    return str(item.get(name) or "").strip() == value


def _same(raw: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    """Whether a record carries the values a create payload sent (identifying ones only)."""
    for name, sent in body.items():
        if name in ("emails", "phones"):
            if sent and primary_value(raw.get(name)) != str(sent[0]["value"]).lower():
                return False
        elif name in ("name", "title", "subject", "content", "type") and sent not in (None, ""):
            if str(raw.get(name) or "") != str(sent):
                return False
    return True


def primary_value(points: Any) -> str:
    return str(records.primary(points) or "").lower()


def _without_secrets(message: str, config: Mapping[str, Any]) -> str:
    for name in ("api_token", "client_secret"):
        if config.get(name):
            message = message.replace(str(config[name]), "[redacted]")
    return message
