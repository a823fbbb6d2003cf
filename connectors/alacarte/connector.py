"""À La Carte Chat (providers.md §8, ALACARTE_WIRE.md): customers ↔ contacts, messages → activities,
conversations → conversations, and the ``Messenger`` capability.

- Customers have no list or delta endpoint and no delete: we push them through the smart upsert
  ``/api-customers-sync`` (≤ 1000 per call, matched external_id → email → phone, one ``details``
  entry per input) and read them back by id. Our record id rides in ``external_id``.
- Messages are the provider's (read only): polled from ``/api-messages-since`` (inclusive ``since``,
  so the cursor remembers the ids already seen at its timestamp) or received by webhook.
- Conversations arrive by webhook and with ``conversations()``: they cannot be listed or fetched.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote

from connectors.alacarte import webhooks
from connectors.alacarte.client import MAX_CUSTOMERS, MAX_MESSAGES, AlaCarteClient, api_key_auth
from connectors.alacarte.records import (
    CUSTOM_PREFIX,
    conversation_record,
    customer_body,
    customer_record,
    message_record,
    when,
)
from connectors.base import (
    ConfigError,
    Connector,
    EntitySpec,
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
from connectors.capabilities import AttachmentTooLarge, Conversations, Messenger
from connectors.http import ERROR_EXCERPT

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://jrtlrnfdqfkjlkpfirzr.supabase.co/functions/v1"
DEFAULT_APP_URL = "https://app.alacartechat.com"
EPOCH = "1970-01-01T00:00:00.000Z"
MAX_SSO_SECONDS = 3600
TEST_ATTEMPTS = 2  # a connection test answers the wizard within seconds

CUSTOMER_FIELDS: tuple[RemoteField, ...] = (
    RemoteField("name", "Name"),
    RemoteField("first_name", "First name"),
    RemoteField("last_name", "Last name"),
    RemoteField("email", "Email", "email"),
    RemoteField("phone", "Phone", "phone"),
    RemoteField("whatsapp_number", "WhatsApp number", "phone"),
    RemoteField("address", "Address", "text"),
    RemoteField("notes", "Notes", "text"),
    RemoteField("tags", "Tags", "multi_enumeration"),
    RemoteField("external_id", "External ID", "id"),
    RemoteField("external_system", "External system"),
    RemoteField(f"{CUSTOM_PREFIX}company_name", "Company name (custom field)", custom=True),
    RemoteField(f"{CUSTOM_PREFIX}job_title", "Job title (custom field)", custom=True),
    RemoteField("created_at", "Created at", "datetime", read_only=True, format="iso"),
    RemoteField("updated_at", "Updated at", "datetime", read_only=True, format="iso"),
)
MESSAGE_FIELDS: tuple[RemoteField, ...] = (
    RemoteField("subject", "Subject", read_only=True),
    RemoteField("content", "Content", "text", read_only=True),
    RemoteField("channel", "Channel", "enumeration", read_only=True),
    RemoteField("direction", "Direction", "enumeration", read_only=True),
    RemoteField("status", "Status", "enumeration", read_only=True),
    RemoteField("attachments", "Attachments", "text", read_only=True),
    RemoteField("created_at", "Sent at", "datetime", read_only=True, format="iso"),
)
CONVERSATION_FIELDS: tuple[RemoteField, ...] = (
    RemoteField("subject", "Subject", read_only=True),
    RemoteField("status", "Status", "enumeration", read_only=True),
    RemoteField("channel", "Channel", "enumeration", read_only=True),
    RemoteField("assignee", "Assignee", read_only=True),
    RemoteField("whatsapp_account_id", "WhatsApp account", "id", read_only=True),
    RemoteField("created_at", "Opened at", "datetime", read_only=True, format="iso"),
    RemoteField("last_message_at", "Last message at", "datetime", read_only=True, format="iso"),
)
FIELDS = {"contact": CUSTOMER_FIELDS, "activity": MESSAGE_FIELDS, "conversation": CONVERSATION_FIELDS}


class AlaCarteConnector(Connector, Messenger):
    key = "alacarte"
    display_name = "À La Carte Chat"
    entities: ClassVar[Mapping[str, EntitySpec]] = {
        "contact": EntitySpec(
            ("customer",),
            modified_field="updated_at",
            listable=False,
            deletable=False,
            requires_one_of=("email", "phone"),
        ),
        "activity": EntitySpec(("message",), modified_field="created_at", writable=False, deletable=False),
        "conversation": EntitySpec(("conversation",), writable=False, listable=False, deletable=False),
    }
    relations: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "activity": ("contact_id", "conversation_id"),
        "conversation": ("contact_id",),
    }
    local_id_field = "external_id"
    batch_size = MAX_CUSTOMERS
    page_size = MAX_MESSAGES
    poll_seconds: ClassVar[Mapping[str, int]] = {"activity": 30}
    rate_limit = "10/1"
    default_base_url = DEFAULT_BASE_URL
    webhook_module = webhooks
    channels = ("whatsapp", "email", "sms", "facebook", "instagram")
    max_attachment_bytes = 10 * 1024 * 1024

    # --- configuration and auth ---------------------------------------------------------------

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> None:
        if not str(config.get("api_key") or "").strip():
            raise ConfigError("enter the À La Carte Chat API key (Settings → API Access)", field="api_key")
        super().validate_config(config)
        app_url = str(config.get("app_url") or "")
        if app_url and not app_url.startswith(("https://", "http://")):
            raise ConfigError("the inbox app URL must start with https://", field="app_url")

    @classmethod
    def receives_webhooks(cls, config: Mapping[str, Any]) -> bool:
        """Deliveries are verified with the secret the dashboard generated: none without it."""
        return bool(config.get("webhook_secret"))

    def auth(self):
        key = str(self.config.get("api_key") or "")
        if not key:
            raise ConfigError("enter the À La Carte Chat API key (Settings → API Access)", field="api_key")
        return api_key_auth(key)

    @functools.cached_property
    def client(self) -> AlaCarteClient:
        return AlaCarteClient(base_url=self.base_url(), auth=self.auth(), limiter=self.limiter())

    def test_connection(self) -> TestResult:
        """One message page from now on (``limit=1``): proves the address and the key, reads at
        most one message."""
        return self.probe(
            lambda client: client.messages_since(_iso(datetime.now(UTC)), limit=1),
            attempts=TEST_ATTEMPTS,
            unreachable="Could not reach À La Carte Chat",
            connected=f"Connected to À La Carte Chat at {self.base_url()}",
        )

    def discover_fields(self, entity: str) -> list[RemoteField]:
        """The documented fields (customers' ``custom_fields`` are free JSON: the two the default
        mappings use are listed; a mapping may name any other ``custom_fields.<key>``)."""
        self.entity_spec(entity)
        return list(FIELDS[entity])

    # --- reads ----------------------------------------------------------------------------------

    def pull(self, entity: str, *, cursor: str | None) -> Iterator[Page]:
        if not self.entity_spec(entity).listable:
            raise ConfigError(
                f"À La Carte Chat cannot list {entity} records (no list endpoint): they arrive by "
                "webhook and are read by id"
            )
        return self._pull_messages(cursor)

    def _pull_messages(self, cursor: str | None) -> Iterator[Page]:
        """Messages created at or after the cursor's ``since``, oldest first, page by page.

        ``since`` is inclusive, so each page's cursor also keeps the ids already yielded at exactly
        that time (``seen``); the next request starts there and skips them. More than a page of
        messages sharing one millisecond could never be paged past: refused clearly, not looped on.
        """
        state = decode_cursor(cursor)
        if state is None:
            logger.warning("unreadable À La Carte Chat message cursor: reading from the beginning")
            state = {}
        since = str(state.get("since") or EPOCH)
        seen = {str(i) for i in state.get("seen") or ()}
        while True:
            messages, has_more = self.client.messages_since(since)
            fresh: list[RemoteRecord] = []
            before = (since, frozenset(seen))
            for raw in messages:
                if not raw.get("id"):
                    continue
                message_id = str(raw["id"])
                if message_id not in seen:
                    fresh.append(message_record(raw))
                since, seen = _advance(since, seen, message_id, raw.get("created_at"))
            yield Page(records=fresh, cursor=encode_cursor({"since": since, "seen": sorted(seen)}))
            if not has_more:
                return
            if (since, frozenset(seen)) == before:
                raise PermanentError(
                    f"more than {MAX_MESSAGES} À La Carte Chat messages share the time {since}: "
                    "/api-messages-since cannot page past them",
                    code="stuck_cursor",
                )

    def get(self, entity: str, remote_ids: list[str]) -> list[RemoteRecord]:
        self.entity_spec(entity)
        if entity != "contact":
            raise PermanentError(
                f"À La Carte Chat has no endpoint reading one {entity} by id: {entity} records "
                "arrive by webhook, polling and a customer's conversation list",
                code="unsupported",
            )
        ids = [str(i) for i in remote_ids if i]
        if not ids:
            return []
        return [customer_record(raw) for raw in self.client.customers_lookup(ids=ids)]

    # --- writes ---------------------------------------------------------------------------------

    def create(self, entity: str, records: list[Mapping[str, Any]]) -> list[WriteResult]:
        if refused := self._read_only(entity, len(records)):
            return refused
        system = str(self.config.get("external_system") or "")
        bodies = [customer_body(payload, external_system=system) for payload in records]
        return self._sync(bodies, expected=[None] * len(bodies))

    def update(self, entity: str, records: list[tuple[str, Mapping[str, Any]]]) -> list[WriteResult]:
        """Send each customer's changed fields through the upsert, made to match that customer.

        The upsert matches by external_id, email, phone, never by id: the customer's current values
        fill in the match keys (and ``name``) the changes lack, and a result naming another
        customer than the one updated fails as ``moved`` (its key now belongs to someone else).
        """
        if refused := self._read_only(entity, len(records)):
            return refused
        ids = [str(remote_id) for remote_id, _ in records]
        current = {str(raw["id"]): raw for raw in self.client.customers_lookup(ids=ids)}
        results: list[WriteResult | None] = [None] * len(records)
        bodies, expected, positions = [], [], []
        for index, (remote_id, changes) in enumerate(records):
            existing = current.get(str(remote_id))
            if existing is None:
                results[index] = WriteResult(
                    index=index,
                    ok=False,
                    error=f"À La Carte Chat has no customer {remote_id}",
                    code="not_found",
                )
                continue
            bodies.append(_matching(customer_body(changes, existing=existing), existing))
            expected.append(str(remote_id))
            positions.append(index)
        for position, result in zip(positions, self._sync(bodies, expected=expected), strict=True):
            results[position] = _reindexed(result, position)
        return collect_results(results, provider=self.display_name)

    def _sync(self, bodies: list[dict[str, Any]], *, expected: list[str | None]) -> list[WriteResult]:
        results: list[WriteResult | None] = [None] * len(bodies)
        for offset, chunk in self.chunks(bodies, MAX_CUSTOMERS):
            details = self.client.customers_sync(chunk)
            for position, entry in enumerate(details):
                index = offset + _index(entry, position)
                if offset <= index < offset + len(chunk) and results[index] is None:
                    results[index] = _result(index, entry, expected[index])
        return collect_results(results, provider=self.display_name)

    def _read_only(self, entity: str, count: int) -> list[WriteResult] | None:
        """Per-record refusals for an entity the platform may not write (nothing is sent)."""
        if self.entity_spec(entity).writable:
            return None
        message = (
            f"À La Carte Chat {entity} records are read only: they are the provider's own "
            "(send a message through the messenger instead)"
        )
        return [WriteResult(index=i, ok=False, error=message, code="unsupported") for i in range(count)]

    def delete(self, entity: str, remote_ids: list[str]) -> list[WriteResult]:
        self.entity_spec(entity)
        message = f"À La Carte Chat has no delete for {entity} records: the remote record is kept"
        return [
            WriteResult(index=i, ok=False, error=message, code="unsupported") for i in range(len(remote_ids))
        ]

    def find_created(
        self, entity: str, records: list[Mapping[str, Any]], *, since: datetime
    ) -> list[list[str]]:
        """Customers created at or after ``since`` that carry the payload's external_id (else its
        e-mail, else its phone): the key the upsert itself would have matched first."""
        if not self.entity_spec(entity).writable:
            return [[] for _ in records]
        keys = [_match_key(payload) for payload in records]
        wanted: dict[str, list[str]] = {"external_ids": [], "emails": [], "phones": []}
        for key in keys:
            if key is not None:
                wanted[key[0]].append(key[1])
        found = self.client.customers_lookup(**wanted) if any(wanted.values()) else []
        fresh = [raw for raw in found if (when(raw.get("created_at")) or since) >= since]
        return [[str(raw["id"]) for raw in fresh if key is not None and _holds(raw, key)] for key in keys]

    # --- Messenger --------------------------------------------------------------------------------

    def attachment_upload(self, *, filename: str, content_type: str, data: bytes) -> str:
        if len(data) > self.max_attachment_bytes:
            raise AttachmentTooLarge(
                f"{filename} is {len(data)} bytes; À La Carte Chat accepts at most "
                f"{self.max_attachment_bytes} bytes (10 MB) per attachment"
            )
        attachment = self.client.attachment_upload(filename=filename, content_type=content_type, data=data)
        url = attachment.get("file_url")
        if not url:
            raise PermanentError("À La Carte Chat answered the upload without a file_url")
        return str(url)

    def message_send(
        self, *, customer_id: str, channel: str, content: str, attachment_urls: list[str]
    ) -> RemoteRecord:
        if channel not in self.channels:
            raise PermanentError(
                f"À La Carte Chat sends on {', '.join(self.channels)}, not {channel!r}",
                code="invalid_request",
            )
        if not content.strip() and not attachment_urls:
            raise PermanentError("a message needs content or an attachment", code="invalid_request")
        body = {
            "customer_id": customer_id,
            "channel": channel,
            "content": content,
            "attachments": list(attachment_urls),
        }
        return message_record(self.client.message_send(body))

    def conversations(self, *, external_id: str) -> Conversations:
        answer = self.client.conversations_by_customer(external_id=external_id)
        found = [raw for raw in answer["conversations"] if isinstance(raw, dict) and raw.get("id")]
        customer_id = str((answer.get("customer") or {}).get("id") or "")
        return Conversations(
            conversations=[conversation_record({"customer_id": customer_id, **raw}) for raw in found],
            messages=[
                message_record({"conversation_id": raw["id"], "customer_id": customer_id, **message})
                for raw in found
                for message in raw.get("messages") or ()
                if isinstance(message, dict) and message.get("id")
            ],
        )

    def inbox_embed_url(self, *, customer_id: str, expires_in: int) -> str | None:
        """The inbox iframe's URL with a fresh token (``_embed_url`` says which address). The
        token is never logged and never in an error. ``app_url`` is the browser's to load, never
        ours to call, so it is not one of ``url_fields``."""
        if not self.config.get("sso_enabled"):
            return None
        if expires_in < 1:
            raise PermanentError("an SSO token must live at least one second", code="invalid_request")
        answer = self.client.sso_token(customer_id=customer_id, expires_in=min(expires_in, MAX_SSO_SECONDS))
        return _embed_url(self.config.get("app_url"), answer.get("embed_url"), answer["token"])


# --- helpers ---------------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _advance(since: str, seen: set[str], message_id: str, created_at: Any) -> tuple[str, set[str]]:
    """The cursor after a message: a later time starts a new ``seen`` set, the same time joins it."""
    moment, current = when(created_at), when(since)
    if moment is None or current is None or moment < current:
        return since, seen
    if moment == current:
        return since, seen | {message_id}
    return str(created_at), {message_id}


def _index(entry: Mapping[str, Any], position: int) -> int:
    value = entry.get("index")
    return value if isinstance(value, int) and not isinstance(value, bool) else position


def _result(index: int, entry: Mapping[str, Any], expected: str | None) -> WriteResult:
    action = entry.get("action")
    customer_id = str(entry.get("customer_id") or "")
    if action not in ("created", "updated") or not customer_id:
        error = str(entry.get("error") or f"À La Carte Chat did not sync this customer ({action})")
        return WriteResult(index=index, ok=False, error=error[:ERROR_EXCERPT], code="invalid")
    if expected is not None and customer_id != expected:
        return WriteResult(
            index=index,
            ok=False,
            remote_id=customer_id,
            code="moved",
            error=(
                f"À La Carte Chat applied this update to customer {customer_id} ({action}, matched by "
                f"{entry.get('matched_by') or 'nothing'}), not to {expected}: its match key belongs "
                "to another customer"
            ),
        )
    return WriteResult(
        index=index,
        ok=True,
        remote_id=customer_id,
        created=action == "created",
        matched_by=str(entry.get("matched_by") or ""),
    )


def _reindexed(result: WriteResult, index: int) -> WriteResult:
    return WriteResult(
        index=index,
        ok=result.ok,
        remote_id=result.remote_id,
        error=result.error,
        code=result.code,
        created=result.created,
        uncertain=result.uncertain,
    )


def _matching(body: dict[str, Any], existing: Mapping[str, Any]) -> dict[str, Any]:
    """An update's body with the customer's own match keys where the changes lack them, so the
    upsert (external_id → email → phone) finds this customer and its checks (a name, an e-mail
    or phone) pass; re-sending a current value changes nothing."""
    for name in ("external_id", "email", "phone", "name"):
        if name not in body and existing.get(name):
            body[name] = existing[name]
    return body


def _match_key(payload: Mapping[str, Any]) -> tuple[str, str] | None:
    for field, lookup in (("external_id", "external_ids"), ("email", "emails"), ("phone", "phones")):
        value = str(payload.get(field) or "").strip()
        if value:
            return lookup, value
    return None


def _digits(value: Any) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


def _holds(raw: Mapping[str, Any], key: tuple[str, str]) -> bool:
    """Whether a customer carries the match key (e-mails without case; phones by their digits,
    a national number matching the end of the stored E.164 one)."""
    lookup, value = key
    if lookup == "external_ids":
        return str(raw.get("external_id") or "") == value
    if lookup == "emails":
        return str(raw.get("email") or "").strip().lower() == value.lower()
    stored, given = _digits(raw.get("phone")), _digits(value).lstrip("0")
    return bool(given) and (stored == _digits(value) or stored.endswith(given))


def _embed_url(app_url: Any, answered: Any, token: str) -> str:
    """The iframe address: a configured app other than the default wins (a white-labelled
    domain); else the address the provider answered with, if any; else the default app."""
    app = str(app_url or "").rstrip("/")
    if app and app != DEFAULT_APP_URL:
        return f"{app}/embed/inbox?token={quote(token, safe='')}"
    if isinstance(answered, str) and answered.startswith(("https://", "http://")):
        return answered
    return f"{DEFAULT_APP_URL}/embed/inbox?token={quote(token, safe='')}"
