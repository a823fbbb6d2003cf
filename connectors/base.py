"""The connector interface, the records it speaks in, and the errors it raises.

A provider package declares (entities, limits, OAuth endpoints) and translates (raw dict ↔
``RemoteRecord``); timeouts, retries, rate limits and error mapping live in ``http.py``, the
OAuth dance and token refresh in ``oauth.py``. Connectors never touch the ORM: tokens come and go
through a ``TokenStore``.
"""

from __future__ import annotations

import abc
import dataclasses
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

# --- errors ---------------------------------------------------------------------------------


class ConnectorError(Exception):
    """Base of every error a connector raises. Messages never contain secrets."""


class TransientError(ConnectorError):
    """429, 5xx, timeouts: worth another try, after ``retry_after`` seconds if known.

    ``ambiguous``: the provider may have applied the request before failing (a 5xx, a timeout, a
    dropped connection), so a non-idempotent one (a create) must not simply be sent again.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        ambiguous: bool = True,
    ):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status
        self.ambiguous = ambiguous


class RateLimited(TransientError):
    """The provider (or our own limiter) says slow down: the request was not applied."""

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None):
        super().__init__(message, retry_after=retry_after, status=status, ambiguous=False)


class PermanentError(ConnectorError):
    """The provider refused the request and will refuse it again: never retried."""

    def __init__(self, message: str, *, status: int | None = None, code: str = ""):
        super().__init__(message)
        self.status = status
        self.code = code


class AuthError(PermanentError):
    """Credentials rejected (bad token, revoked app): the operator must reconnect."""


class ReauthorizationNeeded(AuthError):
    """An OAuth refresh failed: the integration needs the user to authorize again."""


class ConfigError(ConnectorError):
    """The integration's config cannot work (missing field, bad base URL)."""

    def __init__(self, message: str, *, field: str = ""):
        super().__init__(message)
        self.field = field


class SignatureInvalid(ConnectorError):
    """A webhook failed verification. Fail closed."""


# --- records --------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class TestResult:
    __test__ = False  # not a pytest test class
    ok: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EntitySpec:
    """How a canonical entity (contact, company, deal, activity) maps onto provider objects."""

    remote_types: tuple[str, ...]
    modified_field: str = ""
    writable: bool = True


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
        import threading

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


# --- the interface --------------------------------------------------------------------------

CANONICAL_ENTITIES = ("contact", "company", "deal", "activity")

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
    "activity": ("external_id", "kind", "subject", "body", "status", "direction", "occurred_at", "due_at"),
}


class Connector(abc.ABC):
    """One provider. Subclasses declare class attributes and implement the record methods.

    Constructed per integration: ``Connector(config, token_store=..., integration_id=...)``.
    ``config`` is the decrypted config dict, validated against the template's schema.
    """

    key: ClassVar[str]
    display_name: ClassVar[str]
    entities: ClassVar[Mapping[str, EntitySpec]] = {}
    batch_size: ClassVar[int] = 100
    page_size: ClassVar[int] = 100
    oauth: ClassVar[OAuthSpec | None] = None
    # "<n>/<seconds>" as the provider publishes it, e.g. "100/10" for 100 requests per 10 s.
    rate_limit: ClassVar[str] = "10/1"
    default_base_url: ClassVar[str] = ""

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        token_store: TokenStore | None = None,
        integration_id: int | str | None = None,
    ):
        self.config = dict(config)
        self.token_store = token_store
        self.integration_id = integration_id

    # lifecycle
    @abc.abstractmethod
    def test_connection(self) -> TestResult:
        """One cheap authenticated call; ``ok=False`` with the provider's message on refusal."""

    # reads
    @abc.abstractmethod
    def pull(self, entity: str, *, cursor: str | None) -> Iterator[Page]:
        """Yield pages of records changed since ``cursor`` (None: everything), oldest first.

        Each page carries the cursor to store after it is committed; deletions come as records
        with ``deleted=True``. The cursor format is the connector's own (opaque to the engine).
        """

    @abc.abstractmethod
    def get(self, entity: str, remote_ids: list[str]) -> list[RemoteRecord]:
        """Fetch records by id (missing ids are simply absent from the result)."""

    # writes: batched by the connector at its provider's cap; results in input order
    @abc.abstractmethod
    def create(self, entity: str, records: list[Mapping[str, Any]]) -> list[WriteResult]:
        """Create records (provider field names); one result per input, in input order."""

    @abc.abstractmethod
    def update(self, entity: str, records: list[tuple[str, Mapping[str, Any]]]) -> list[WriteResult]:
        """Update (remote id, changed fields) pairs; one result per input, in input order."""

    @abc.abstractmethod
    def delete(self, entity: str, remote_ids: list[str]) -> list[WriteResult]:
        """Delete (archive) records by id; one result per input, in input order."""

    @abc.abstractmethod
    def find_created(
        self, entity: str, records: list[Mapping[str, Any]], *, since: datetime
    ) -> list[list[str]]:
        """For each create payload, the ids of remote records created at or after ``since`` that
        carry its values: where an interrupted create may have left its record.

        The engine calls it only for creates whose outcome it never stored (a crash, a timeout),
        and links each local record to at most one of the candidates, never to one already linked.
        Search by the payload's identifying values (email, phone, domain, name) and the provider's
        creation time; an empty list means "not created", and the engine creates it again.
        """

    # provider-side webhook subscriptions (Pipedrive, Zoho, Facebook, GoHighLevel register one)
    def subscribe_webhooks(self, *, target_url: str, secret: str) -> dict[str, Any]:
        """Register the provider's webhook subscription pointing at ``target_url``; called when the
        integration is activated or its webhook secret changes. Returns what ``unsubscribe_webhooks``
        needs later (stored with the integration). Providers configured by hand return {}."""
        return {}

    def unsubscribe_webhooks(self, *, subscription: Mapping[str, Any]) -> None:  # noqa: B027 (optional hook)
        """Remove what ``subscribe_webhooks`` registered (integration deleted, re-keyed, disconnected).
        Must succeed quietly when it is already gone."""

    # webhooks: a provider declares its webhooks module (verify, parse, optionally ack_response and
    # challenge); the receiver only ever talks to these classmethods.
    webhook_module: ClassVar[Any] = None

    @classmethod
    def verify_webhook(
        cls, request: WebhookRequest, *, config: Mapping[str, Any], secret: str, now: float
    ) -> None:
        """Raise SignatureInvalid unless the request is authentic. Constant-time, fail closed."""
        if cls.webhook_module is None:
            raise SignatureInvalid(f"{cls.__name__} does not accept webhooks")
        cls.webhook_module.verify(request, secret=secret, now=now, config=config)

    @classmethod
    def parse_webhook(cls, request: WebhookRequest) -> list[WebhookEvent]:
        if cls.webhook_module is None:
            raise SignatureInvalid(f"{cls.__name__} does not accept webhooks")
        return cls.webhook_module.parse(request)

    @classmethod
    def webhook_ack(cls) -> tuple[bytes, str]:
        """The body and content type a verified delivery is answered with (Salesforce wants a SOAP Ack)."""
        ack = getattr(cls.webhook_module, "ack_response", None)
        return ack() if ack is not None else (b"", "text/plain")

    @classmethod
    def webhook_challenge(
        cls, request: WebhookRequest, *, config: Mapping[str, Any], secret: str
    ) -> str | None:
        """The answer to a subscription handshake (Facebook's hub.challenge), or None: not one."""
        challenge = getattr(cls.webhook_module, "challenge", None)
        return challenge(request, config=config, secret=secret) if challenge is not None else None

    # configuration, auth and plumbing shared by every connector ------------------------------

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> None:
        """Checks beyond the JSON Schema; raise ConfigError(field=...) on the first problem."""
        from connectors.netguard import check_url

        for name in cls.url_fields:
            if config.get(name):
                try:
                    check_url(str(config[name]))
                except ConfigError as exc:
                    raise ConfigError(f"{name} {exc}", field=name) from None

    # Config fields holding URLs we will call: checked against private/loopback ranges.
    url_fields: ClassVar[tuple[str, ...]] = ("base_url",)

    def base_url(self) -> str:
        return str(self.config.get("base_url") or self.default_base_url).rstrip("/")

    def account_key(self) -> str:
        """Whose rate limit a request counts against: one key per connected account."""
        return str(self.integration_id or self.base_url())

    def limiter(self):
        from connectors.ratelimit import RateLimiter

        # A config "rate_limit" (requests/seconds) sizes the limiter for the account's own plan.
        return RateLimiter(
            key=f"{self.key}:{self.account_key()}", rate=str(self.config.get("rate_limit") or self.rate_limit)
        )

    def uses_oauth(self) -> bool:
        """Whether this integration connects through OAuth (some providers also take a token)."""
        return self.oauth is not None and self.config.get("auth_mode", "oauth") == "oauth"

    def oauth_endpoints(self) -> dict[str, str]:
        """Override to point authorize/token URLs elsewhere (e.g. at the sandbox)."""
        return {}

    def oauth_client(self):
        """The OAuthClient for this integration's app, or None when the provider is not OAuth."""
        if self.oauth is None or not self.config.get("client_id"):
            return None
        from connectors.oauth import OAuthClient

        return OAuthClient(
            self.oauth,
            client_id=str(self.config["client_id"]),
            client_secret=str(self.config.get("client_secret", "")),
            **self.oauth_endpoints(),
        )

    def auth(self):
        """Request auth: OAuth tokens from the token store. Override for static tokens."""
        from connectors.oauth import OAuthAuth

        client = self.oauth_client()
        if client is None or self.token_store is None:
            raise ConfigError("no credentials configured: connect with OAuth or enter a token")
        return OAuthAuth(self.token_store, client)

    def accept_tokens(self, tokens: Tokens) -> None:  # noqa: B027 (optional hook, no-op by default)
        """Check freshly granted tokens (e.g. an instance URL) before they are stored."""

    def revoke(self) -> bool:
        """Revoke the stored tokens at the provider when it has a revoke endpoint."""
        client = self.oauth_client()
        if client is None or not client.revoke_endpoint or self.token_store is None:
            return False
        tokens = self.token_store.load()
        if tokens is None:
            return False
        import requests

        endpoint = client.revoke_endpoint
        try:
            resp = requests.post(
                endpoint, data={"token": tokens.refresh_token or tokens.access_token}, timeout=10
            )
        except requests.RequestException:
            raise TransientError("could not reach the provider to revoke the token") from None
        return resp.status_code < 400

    # helpers shared by every connector
    @classmethod
    def supports(cls, entity: str) -> bool:
        return entity in cls.entities

    def entity_spec(self, entity: str) -> EntitySpec:
        try:
            return self.entities[entity]
        except KeyError:
            raise ConfigError(f"{self.display_name} does not sync {entity!r} records") from None

    @staticmethod
    def chunks(items: list[Any], size: int) -> Iterator[tuple[int, list[Any]]]:
        """Yield (offset, chunk) slices of at most ``size`` items."""
        for start in range(0, len(items), size):
            yield start, items[start : start + size]
