"""The connector interface, the records it speaks in, and the errors it raises.

A provider package declares (entities, limits, OAuth endpoints) and translates (raw dict ↔
``RemoteRecord``); timeouts, retries, rate limits and error mapping live in ``http.py``, the
OAuth dance and token refresh in ``oauth.py``. Connectors never touch the ORM: tokens come and go
through a ``TokenStore``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar

import requests

from connectors.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    PermanentError,
    RateLimited,
    ReauthorizationNeeded,
    SignatureInvalid,
    TransientError,
)
from connectors.http import ERROR_EXCERPT, StaticAuth, bearer
from connectors.netguard import check_url
from connectors.oauth import OAuthAuth, OAuthClient
from connectors.ratelimit import RateLimiter
from connectors.types import (
    CANONICAL_ENTITIES,
    CANONICAL_FIELDS,
    CANONICAL_RELATIONS,
    FIELD_TYPES,
    RELATIONS_KEY,
    EnrichmentRecord,
    EnrichmentResult,
    EntitySpec,
    FieldSpec,
    MemoryTokenStore,
    OAuthSpec,
    Page,
    RelationSpec,
    RemoteField,
    RemoteRecord,
    TestResult,
    Tokens,
    TokenStore,
    WebhookEvent,
    WebhookRequest,
    WriteResult,
    collect_results,
    decode_cursor,
    encode_cursor,
)

# A provider package imports everything it needs from here: the interface below, and the errors and
# records it speaks in (their homes are connectors.errors and connectors.types).
__all__ = [
    "Connector",
    "NoRecordsConnector",
    "ConnectorError",
    "TransientError",
    "RateLimited",
    "PermanentError",
    "AuthError",
    "ReauthorizationNeeded",
    "ConfigError",
    "SignatureInvalid",
    "RemoteRecord",
    "Page",
    "WriteResult",
    "FieldSpec",
    "EnrichmentRecord",
    "EnrichmentResult",
    "collect_results",
    "encode_cursor",
    "decode_cursor",
    "TestResult",
    "EntitySpec",
    "OAuthSpec",
    "WebhookRequest",
    "WebhookEvent",
    "Tokens",
    "TokenStore",
    "MemoryTokenStore",
    "CANONICAL_ENTITIES",
    "CANONICAL_FIELDS",
    "CANONICAL_RELATIONS",
    "FIELD_TYPES",
    "RELATIONS_KEY",
    "RelationSpec",
    "RemoteField",
]


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
    # Entity → the canonical relations (CANONICAL_RELATIONS) this connector reads and writes.
    relations: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    # Relations set once on create that the provider cannot change afterwards (a GoHighLevel note
    # lives under its contact): an update that changes one reports it in ``relations_failed``.
    fixed_relations: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    # The remote field that carries our own record id on every create and update (À La Carte
    # Chat's ``external_id``, which its upsert matches first): the engine fills it in; "" = none.
    local_id_field: ClassVar[str] = ""
    # Entity → seconds: pull it this often while the integration receives no webhooks (À La Carte
    # Chat's messages every 30 s); the integration's own schedule pulls it otherwise.
    poll_seconds: ClassVar[Mapping[str, int]] = {}
    # Non-record entities this connector's webhooks carry, handled by flows (sync.onboarding), not by the merge.
    event_entities: ClassVar[tuple[str, ...]] = ()

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
        # Entity → remote field names the integration's mappings read, beyond the connector's own
        # defaults (custom fields): set by the engine through ``want_fields`` before pulling.
        self.wanted_fields: dict[str, frozenset[str]] = {}

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

    # field discovery and custom fields
    def discover_fields(self, entity: str) -> list[RemoteField]:
        """Every field the provider has for ``entity`` (standard and custom), with labels, types
        and enumeration options: HubSpot's properties API, Salesforce's describe, a provider's
        field list. The platform caches the answer per integration. Default: none known."""
        return []

    # Whether ``create_fields`` can create custom fields at this provider.
    creates_fields: ClassVar[bool] = False

    def create_fields(self, entity: str, specs: list[FieldSpec]) -> list[RemoteField]:
        """Create these custom fields for ``entity`` (HubSpot's properties API, Salesforce's
        Tooling API, ...) and return them as the provider now reports them. Fields that already
        exist are not created again (the caller asks only for missing ones, but a retry may race).
        A provider whose API cannot create fields keeps the default, ``creates_fields`` False, and
        refuses (a PermanentError the callers report like any provider refusal)."""
        raise PermanentError(
            f"{self.display_name} cannot create custom fields through its API", code="unsupported"
        )

    @classmethod
    def custom_field_name(cls, name: str) -> str:
        """The API name ``create_fields`` gives a custom field the platform calls ``name``
        (Salesforce appends ``__c``), so the platform can tell whether it already exists."""
        return name

    # enrichment providers (enrichment_http): the platform asks, the provider answers per record
    enriches: ClassVar[bool] = False

    def enrich(self, records: list[EnrichmentRecord]) -> list[EnrichmentResult]:
        """One result per record, in any order, matched by ``id``; a record's own failure is its
        result's ``error`` (the others still count). Batches are at most ``batch_size`` records.
        Raises TransientError / RateLimited when the provider as a whole could not answer. A
        connector that is no enrichment provider (``enriches`` False) refuses."""
        raise PermanentError(f"{self.display_name} is not an enrichment provider", code="unsupported")

    def want_fields(self, entity: str, names: Iterable[str]) -> None:
        """Read these remote fields too when pulling ``entity`` (mapped custom fields): a connector
        whose provider returns only the fields a request names adds them to its requests."""
        self.wanted_fields[entity] = frozenset(name for name in names if not name.startswith("_"))

    @classmethod
    def relations_for(cls, entity: str) -> dict[str, RelationSpec]:
        """The canonical relations of ``entity`` this connector syncs."""
        known = CANONICAL_RELATIONS.get(entity, {})
        return {name: known[name] for name in cls.relations.get(entity, ()) if name in known}

    # provider-side webhook subscriptions (Pipedrive, Zoho, Facebook, GoHighLevel register one)
    def subscribe_webhooks(self, *, target_url: str, secret: str) -> dict[str, Any]:
        """Register the provider's webhook subscription pointing at ``target_url``; called when the
        integration is activated or its webhook secret changes. Returns what ``unsubscribe_webhooks``
        needs later (stored with the integration). Providers configured by hand return {}."""
        return {}

    def renew_webhooks(
        self, *, subscription: Mapping[str, Any], target_url: str, secret: str
    ) -> dict[str, Any] | None:
        """Extend a subscription that expires (Zoho's watch channels last at most a week): the
        subscription to store from now on, or None while it needs nothing. Asked daily for every
        active integration holding one. Default: subscriptions that never expire."""
        return None

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
    def parse_webhook(
        cls, request: WebhookRequest, *, config: Mapping[str, Any] | None = None
    ) -> list[WebhookEvent]:
        """The verified request's events. ``config`` (the integration's) tells a provider whose
        payloads name its own containers which entity they hold (AITable's datasheet ids)."""
        if cls.webhook_module is None:
            raise SignatureInvalid(f"{cls.__name__} does not accept webhooks")
        return cls.webhook_module.parse(request, config=config or {})

    @classmethod
    def receives_webhooks(cls, config: Mapping[str, Any]) -> bool:
        """Whether this integration's provider can deliver webhooks to us (a provider whose secret
        lives in the config has none without it): while not, ``poll_seconds`` entities are polled."""
        return cls.webhook_module is not None

    @classmethod
    def webhook_ack(cls) -> tuple[bytes, str]:
        """The body and content type a verified delivery is answered with (Salesforce wants a SOAP Ack)."""
        ack = getattr(cls.webhook_module, "ack_response", None)
        return ack() if ack is not None else (b"", "text/plain")

    @classmethod
    def webhook_refusal(cls) -> tuple[bytes, str]:
        """The body and content type an unverifiable delivery's 401 carries (À La Carte Chat's
        ``{"error": "Invalid signature"}``); default: an empty body."""
        refusal = getattr(cls.webhook_module, "refusal_response", None)
        return refusal() if refusal is not None else (b"", "text/plain")

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
        # A config "rate_limit" (requests/seconds) sizes the limiter for the account's own plan.
        return RateLimiter(
            key=f"{self.key}:{self.account_key()}", rate=str(self.config.get("rate_limit") or self.rate_limit)
        )

    def uses_oauth(self) -> bool:
        """Whether this integration connects through OAuth (some providers also take a token)."""
        return self.oauth is not None and self.config.get("auth_mode", "oauth") == "oauth"

    # The OAuthClient class this provider's token calls go through (Zoho's reads its errors its way).
    oauth_client_class: ClassVar[type[OAuthClient]] = OAuthClient

    def oauth_endpoints(self, callback: Mapping[str, str] | None = None) -> dict[str, str]:
        """Override to point authorize/token URLs elsewhere (the sandbox, an account's data centre
        named by the authorization ``callback``'s parameters)."""
        return {}

    def oauth_client(self, *, callback: Mapping[str, str] | None = None):
        """The OAuthClient for this integration's app, or None when the provider is not OAuth.

        ``callback``: the authorization callback's query parameters, when the client is for that
        callback's code exchange (Zoho names the accounts server to exchange at there)."""
        if self.oauth is None or not self.config.get("client_id"):
            return None
        return self.oauth_client_class(
            self.oauth,
            client_id=str(self.config["client_id"]),
            client_secret=str(self.config.get("client_secret", "")),
            **self.oauth_endpoints(callback),
        )

    def auth(self):
        """Request auth: OAuth tokens from the token store. Override for static tokens."""
        client = self.oauth_client()
        if client is None or self.token_store is None:
            raise ConfigError("no credentials configured: connect with OAuth or enter a token")
        return OAuthAuth(self.token_store, client)

    def config_bearer(self, field: str, what: str) -> StaticAuth:
        """Bearer auth with the static token the config holds under ``field`` (an API key or
        token); a ConfigError asking for ``what`` when it is blank."""
        token = str(self.config.get(field) or "")
        if not token:
            raise ConfigError(f"enter {what}", field=field)
        return bearer(token)

    # Config fields holding credentials: scrubbed from any provider message we pass on (a key that
    # an error body echoes back).
    secret_fields: ClassVar[tuple[str, ...]] = ("api_key", "api_token", "access_token", "client_secret")

    def redacted(self, exc: Exception | str, *secrets: str) -> str:
        """``exc``'s message without the integration's credentials (nor ``secrets``, e.g. an SSO
        token), cut to ``ERROR_EXCERPT``."""
        message = str(exc)
        for secret in (*(str(self.config.get(name) or "") for name in self.secret_fields), *secrets):
            if secret:
                message = message.replace(secret, "[redacted]")
        return message[:ERROR_EXCERPT]

    def probe(
        self,
        call: Callable[[Any], Any],
        *,
        attempts: int,
        unreachable: str,
        connected: str,
        refused: Callable[[PermanentError, str], str] = lambda exc, message: message,
        details: Mapping[str, Any] | None = None,
    ) -> TestResult:
        """A connection test of one cheap ``call(self.client)``, tried at most ``attempts`` times so
        the wizard answers within seconds. Every failure is a message with its reason (config, auth,
        refused, unreachable; credentials redacted), never an exception."""
        try:
            client = self.client  # type: ignore[attr-defined]
        except ConfigError as exc:
            return TestResult(ok=False, message=str(exc), details={"reason": "config"})
        saved, client.max_attempts = client.max_attempts, attempts
        try:
            call(client)
        except AuthError as exc:
            return TestResult(
                ok=False, message=f"{self.redacted(exc)}. Check the API key.", details={"reason": "auth"}
            )
        except PermanentError as exc:
            return TestResult(
                ok=False, message=refused(exc, self.redacted(exc)), details={"reason": "refused"}
            )
        except TransientError as exc:
            return TestResult(
                ok=False, message=f"{unreachable}: {self.redacted(exc)}", details={"reason": "unreachable"}
            )
        finally:
            client.max_attempts = saved
        return TestResult(
            ok=True, message=connected, details={"base_url": self.base_url(), **(details or {})}
        )

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


class NoRecordsConnector(Connector):
    """A connector that syncs no canonical records (an enrichment service, a client-portal
    service): every record method refuses clearly, saying what it ``does`` instead."""

    does: ClassVar[str] = "does something else"  # e.g. "enriches records"

    def _syncs_nothing(self, entity: str) -> ConfigError:
        return ConfigError(f"{self.display_name} {self.does}; it does not sync {entity!r} records")

    def pull(self, entity: str, *, cursor: str | None) -> Iterator[Page]:
        raise self._syncs_nothing(entity)

    def get(self, entity: str, remote_ids: list[str]) -> list[RemoteRecord]:
        raise self._syncs_nothing(entity)

    def create(self, entity: str, records: list[Mapping[str, Any]]) -> list[WriteResult]:
        raise self._syncs_nothing(entity)

    def update(self, entity: str, records: list[tuple[str, Mapping[str, Any]]]) -> list[WriteResult]:
        raise self._syncs_nothing(entity)

    def delete(self, entity: str, remote_ids: list[str]) -> list[WriteResult]:
        raise self._syncs_nothing(entity)

    def find_created(
        self, entity: str, records: list[Mapping[str, Any]], *, since: datetime
    ) -> list[list[str]]:
        raise self._syncs_nothing(entity)
