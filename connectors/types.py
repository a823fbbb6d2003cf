"""What connectors and the engine exchange: remote records, pages, write results, specs, tokens,
and the canonical entities and fields connectors map onto.

Kept apart from ``base`` (the Connector interface, which re-exports all of this) so the plumbing
below the interface (``oauth``) can use them without importing it.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class RemoteRecord:
    """One record as the provider has it, in the provider's own field names.

    ``fields`` holds the provider's field names and values, already decoded from the wire
    (e.g. HubSpot epoch-ms strings are still strings: decoding values is the mapping's job).
    ``id`` is unique within the entity for this integration (HubSpot activities: ``notes/123``).
    """

    id: str
    modified_at: datetime | None
    fields: Mapping[str, Any]
    deleted: bool = False
    remote_type: str = ""  # the provider's object type, when one entity spans several
    # Canonical relation name (``CANONICAL_RELATIONS``) → the target records' remote ids, as the
    # target entity's links know them. A key present with () means "related to nothing"; a key
    # absent means "not read" (the engine then leaves that relation alone).
    relations: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # This record now lives under another remote id of the same entity (a Salesforce lead converted
    # to a contact, records merged): the engine moves the link there instead of importing the
    # successor as a new record. Connectors yield such a record before its successor.
    replaced_by: str = ""


@dataclass(frozen=True)
class Page:
    """A page of changes and the cursor to store once the page has been committed.

    ``remaining``: how many records the provider says are still to come for this pull, when it
    says (HubSpot's search ``total``); it drives the run's progress bar.
    """

    records: list[RemoteRecord]
    cursor: str | None
    remaining: int | None = None


@dataclass(frozen=True)
class WriteResult:
    """The outcome of one record in a batch write; ``index`` is its position in the input.

    ``uncertain``: the provider may have applied the write, but we do not know (it returned no
    result for this record). A create in that state is looked for (``find_created``), never re-sent.
    """

    index: int
    ok: bool
    remote_id: str | None = None
    error: str = ""
    code: str = ""
    created: bool | None = None
    uncertain: bool = False
    # The record was written but some of its ``RELATIONS_KEY`` changes were not (an association
    # call refused): the engine keeps those relations out of the link's base, so they are sent again.
    relations_failed: tuple[str, ...] = ()
    relations_error: str = ""
    # How a provider whose create is an upsert found the record it wrote (À La Carte Chat:
    # "external_id" / "email" / "phone"); "" when it created a new one or does not say.
    matched_by: str = ""


def collect_results(results: list[WriteResult | None], *, provider: str) -> list[WriteResult]:
    """Every input's result, in input order. A record the provider said nothing about fails alone,
    marked ``uncertain`` (it may have been written): never silently dropped, never counted as done."""
    return [
        result
        or WriteResult(
            index=index,
            ok=False,
            error=f"{provider} returned no result for this record",
            code="NO_RESULT",
            uncertain=True,
        )
        for index, result in enumerate(results)
    ]


def encode_cursor(state: Mapping[str, Any]) -> str:
    """A connector's cursor state as the opaque string the engine stores (stable: sorted keys)."""
    return json.dumps(dict(state), sort_keys=True, separators=(",", ":"))


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    """The state ``encode_cursor`` wrote; {} for no cursor, None when it is not a JSON object."""
    if not cursor:
        return {}
    try:
        state = json.loads(cursor)
    except ValueError:
        return None
    return state if isinstance(state, dict) else None


# ``TestResult.details[USAGE_KEY]``: what a connector reports of its provider quota use, as rows
# ``{"label": "API credits used", "value": "120 of 50000 in the last 24 hours"}``. The outcome of the
# last connection test is stored with its details, and the admin shows these rows under Health for
# any provider, so a connector reports its quota without the admin knowing the provider.
USAGE_KEY = "usage"


@dataclass(frozen=True)
class TestResult:
    __test__ = False  # not a pytest test class
    ok: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EntitySpec:
    """How a canonical entity (``CANONICAL_ENTITIES``) maps onto provider objects, and what the
    provider lets us do with it."""

    remote_types: tuple[str, ...]
    modified_field: str = ""
    # Whether the platform may create and update these records at the provider. False: they are
    # only read (chat messages, which the provider sends; sending one is an explicit action).
    writable: bool = True
    # Whether ``pull`` can list the provider's records. False: the provider has no list or delta
    # endpoint; records arrive by webhook and lookups by id, and runs only push them.
    listable: bool = True
    # Whether ``delete`` can remove a record. False: the provider has no delete (the engine keeps
    # the remote record when a local one is deleted, whatever the delete policy says).
    deletable: bool = True
    # Remote fields of which a create needs at least one (À La Carte Chat: email or phone).
    requires_one_of: tuple[str, ...] = ()


@dataclass(frozen=True)
class RelationSpec:
    """A canonical relation: the entity it points at, and whether it holds several records."""

    target: str
    many: bool = False


@dataclass(frozen=True)
class RemoteField:
    """One field a provider has for an entity, as its field discovery reports it.

    ``type`` is one of ``FIELD_TYPES``; ``options`` are (value, label) pairs of an enumeration.
    ``remote_type`` names the provider object when an entity spans several (HubSpot ``notes``,
    Salesforce ``Lead``); "" when the entity has one.
    """

    name: str
    label: str
    type: str = "string"
    options: tuple[tuple[str, str], ...] = ()
    custom: bool = False
    read_only: bool = False
    remote_type: str = ""
    # How a date or datetime travels on the wire, as the ``date_format`` transform names it
    # ("epoch_ms", "iso", "date"); "" for other types.
    format: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["options"] = [list(pair) for pair in self.options]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RemoteField:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["options"] = tuple(tuple(pair) for pair in values.get("options") or ())
        return cls(**values)


@dataclass(frozen=True)
class FieldSpec:
    """A custom field the platform wants a provider to have (the enrichment fields it pushes).

    ``name`` is the platform's name for it (``platform_score``); the connector picks the provider's
    own API name (Salesforce appends ``__c``) and answers with the ``RemoteField`` it created.
    ``type`` is one of ``FIELD_TYPES`` ("number", "string", "text").
    """

    name: str
    label: str
    type: str = "string"


@dataclass(frozen=True)
class EnrichmentRecord:
    """One record sent to an enrichment provider (providers.md §11): ``type`` is contact or company,
    ``fields`` the canonical values (and earlier providers' findings) it may use."""

    id: str
    type: str
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class EnrichmentResult:
    """What a provider found for one record: ``fields`` it fills (e.g. industry, size, country,
    summary), its own ``score`` (0-100) and ``signals`` when it gives them, or the record's ``error``."""

    id: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    score: int | None = None
    signals: tuple[str, ...] = ()
    error: str = ""
    code: str = ""


@dataclass(frozen=True)
class OAuthSpec:
    """Where a provider's OAuth 2 endpoints are and how it wants to be called."""

    authorize_url: str  # default, e.g. https://app.hubspot.com/oauth/authorize
    token_url: str
    scopes: tuple[str, ...] = ()
    pkce: bool = True
    client_auth: str = "body"  # "body" (client_id/secret in the form) or "basic"
    revoke_url: str = ""
    extra_authorize_params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookRequest:
    """What a verifier sees: the raw bytes and the URL as the provider called it."""

    method: str
    url: str
    headers: Mapping[str, str]  # case-insensitive lookups: use .get on a CaseInsensitiveDict
    body: bytes
    remote_addr: str = ""
    query: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookEvent:
    """One change a provider told us about; ``record`` is set when the payload carries data."""

    event_id: str
    entity: str
    remote_id: str
    action: str  # created / updated / deleted / merged / restored
    occurred_at: datetime | None
    record: RemoteRecord | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Tokens:
    """OAuth (or issued) credentials. ``extra`` keeps provider fields such as ``instance_url``."""

    access_token: str
    refresh_token: str = ""
    expires_at: float | None = None  # epoch seconds; None when the provider gives no lifetime
    token_type: str = "Bearer"  # noqa: S105 (a token kind, not a secret)
    scope: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Tokens | None:
        if not data or not data.get("access_token"):
            return None
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class TokenStore(Protocol):
    """Where a connector reads and saves OAuth tokens (implemented on Integration)."""

    def load(self) -> Tokens | None: ...

    def save(self, tokens: Tokens) -> None: ...

    def lock(self) -> Any:
        """A context manager held while refreshing; yields once this process may refresh."""
        ...

    def mark_reauthorization_needed(self, reason: str) -> None: ...


class MemoryTokenStore:
    """A TokenStore for unit tests and one-off clients: no persistence, a process-local lock."""

    def __init__(self, tokens: Tokens | None = None):
        self.tokens = tokens
        self.reauth_reason = ""
        self._lock = threading.Lock()

    def load(self) -> Tokens | None:
        return self.tokens

    def save(self, tokens: Tokens) -> None:
        self.tokens = tokens

    def lock(self):
        return self._lock

    def mark_reauthorization_needed(self, reason: str) -> None:
        self.reauth_reason = reason


CANONICAL_ENTITIES = ("contact", "company", "deal", "activity", "conversation")

# What field discovery calls a field's type (``RemoteField.type``); the mapping layer picks a
# transform from it (numbers, dates, enumerations by label).
FIELD_TYPES = (
    "string",
    "text",
    "number",
    "boolean",
    "date",
    "datetime",
    "enumeration",
    "multi_enumeration",
    "email",
    "phone",
    "url",
    "reference",
    "id",
)

# Relations between canonical records: entity → relation name → what it points at. A connector
# reads them into ``RemoteRecord.relations`` and writes them from a payload's ``RELATIONS_KEY``.
CANONICAL_RELATIONS: dict[str, dict[str, RelationSpec]] = {
    "contact": {"company_id": RelationSpec("company")},
    "company": {},
    "deal": {"company_id": RelationSpec("company"), "contact_ids": RelationSpec("contact", many=True)},
    "activity": {
        "contact_id": RelationSpec("contact"),
        "company_id": RelationSpec("company"),
        "deal_id": RelationSpec("deal"),
        "conversation_id": RelationSpec("conversation"),
    },
    "conversation": {"contact_id": RelationSpec("contact")},
}

# In a create or update payload: relation name → {"add": [remote ids], "remove": [remote ids]}.
# A single relation set to X from Y reads {"add": ["X"], "remove": ["Y"]}; cleared, {"add": [],
# "remove": ["Y"]}. Connectors pop it before sending fields, and write it as their provider does
# (HubSpot associations, Salesforce lookup fields). ``find_created`` ignores it.
RELATIONS_KEY = "_relations"

# Canonical field names a connector's default mappings (mappings.py) map onto. Activities span
# several provider object types: connectors expose the kind as the synthetic remote field "_kind"
# (note / task / call / email / meeting / event / message) and read it back to pick the type.
CANONICAL_FIELDS: dict[str, tuple[str, ...]] = {
    "contact": (
        "external_id",
        "first_name",
        "last_name",
        "email",
        "phone",
        "mobile_phone",
        "job_title",
        "company_name",
        "owner_id",
        "lifecycle_stage",
    ),
    "company": ("external_id", "name", "domain", "phone", "industry", "owner_id"),
    "deal": ("external_id", "name", "amount", "currency", "stage", "pipeline", "close_date", "owner_id"),
    "activity": (
        "external_id",
        "kind",
        "subject",
        "body",
        "status",
        "direction",
        "occurred_at",
        "due_at",
        "channel",  # sms, whatsapp, email, facebook, instagram, chat, ...
        "attachments",  # metadata only: [{"name", "url", "size", "type"}]
    ),
    # A support or chat conversation (a Salesforce Case, an À La Carte Chat conversation).
    "conversation": (
        "external_id",
        "subject",
        "status",  # open / pending / closed
        "channel",
        "priority",
        "assignee",  # the agent's name or e-mail as the provider gives it
        "opened_at",
        "last_message_at",
        "closed_at",
    ),
}
