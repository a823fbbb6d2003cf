"""Zoho CRM: Contacts (or Leads), Accounts, Deals, and Tasks/Notes as canonical contact, company, deal and
activity, with their lookups as relations (``relations.py``) and Notification API watch channels.

Reads list each module sorted by Modified_Time with ``fields`` always named, 200 rows a page, ``page``
up to 2,000 rows and ``page_token`` beyond; deltas send ``If-Modified-Since`` (and read ``/deleted``
the same way). Writes go 100 records a call: contacts by ``upsert`` with Email as the duplicate check
(so a resent create updates instead of duplicating), other modules by insert; per-item results map onto
per-record WriteResults. Auth is OAuth on the account's data centre; the API is called at the token's
``api_domain`` (``{api_domain}/crm/v7``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
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
from connectors.types import USAGE_KEY
from connectors.zoho import relations, webhooks
from connectors.zoho.client import BATCH_LIMIT, ZohoAuth, ZohoClient, ZohoOAuthClient
from connectors.zoho.datacentres import DATA_CENTRES, accounts_server, api_domain_allowed
from connectors.zoho.fields import create_body, labelled, remote_field

logger = logging.getLogger(__name__)

API_VERSION = "v7"
SCOPES = (
    "ZohoCRM.modules.ALL",
    "ZohoCRM.settings.READ",
    "ZohoCRM.settings.fields.CREATE",
    "ZohoCRM.coql.READ",
    "ZohoCRM.notifications.ALL",
)
# Step back OVERLAP from the watermark: Modified_Time has one-second resolution, so records stamped in the
# second we last saw may still be arriving, or change again within it. The records of that second are read
# again on the next delta (applying a record twice changes nothing): skipping ids already seen there would
# lose a second change made within the same second, which Zoho's stamps cannot tell apart.
OVERLAP = timedelta(seconds=1)
FIND_SCAN_CAP = 2000  # rows find_created reads per module (records created since the interrupted write)

FIELDS: dict[str, tuple[str, ...]] = {
    "Contacts": ("First_Name", "Last_Name", "Email", "Phone", "Mobile", "Title", "Account_Name", "Owner"),
    "Leads": (
        "First_Name",
        "Last_Name",
        "Email",
        "Phone",
        "Mobile",
        "Designation",
        "Company",
        "Lead_Status",
        "Owner",
    ),
    "Accounts": ("Account_Name", "Website", "Phone", "Industry", "Owner"),
    "Deals": (
        "Deal_Name",
        "Amount",
        "Stage",
        "Pipeline",
        "Closing_Date",
        "Account_Name",
        "Contact_Name",
        "Owner",
    ),
    "Tasks": (
        "Subject",
        "Description",
        "Status",
        "Priority",
        "Due_Date",
        "Who_Id",
        "What_Id",
        "$se_module",
        "Owner",
    ),
    "Notes": ("Note_Title", "Note_Content", "Parent_Id", "$se_module", "Owner"),
}
STAMPS = ("Modified_Time", "Created_Time")
KIND_MODULES = {"task": "Tasks", "note": "Notes"}
# Canonical names shared across modules, as each module calls them.
RENAMES: dict[str, dict[str, str]] = {
    "Leads": {"Title": "Designation"},
    "Notes": {"Subject": "Note_Title", "Description": "Note_Content"},
}
# The grant that lets create_fields add custom fields (older grants lack it: reconnect).
FIELDS_SCOPE = "ZohoCRM.settings.fields.CREATE"
# What identifies a created record when looking for it (find_created), most distinctive first.
IDENTIFYING = (
    "Email",
    "Phone",
    "Account_Name",
    "Deal_Name",
    "Subject",
    "Note_Title",
    "Note_Content",
    "Last_Name",
    "First_Name",
    "Website",
)
DUPLICATE_CHECK = {"Contacts": ["Email"], "Leads": ["Email"]}
WATCHED = ("Accounts", "Deals", "Tasks")
CHANNEL_LIFETIME = timedelta(days=7) - timedelta(minutes=5)  # Zoho's maximum is one week
RENEW_BEFORE = timedelta(days=2)


class ZohoConnector(Connector):
    key = "zoho"
    display_name = "Zoho CRM"
    entities: ClassVar[Mapping[str, EntitySpec]] = {
        "contact": EntitySpec(("Contacts",), "Modified_Time"),
        "company": EntitySpec(("Accounts",), "Modified_Time"),
        "deal": EntitySpec(("Deals",), "Modified_Time"),
        "activity": EntitySpec(("Tasks", "Notes"), "Modified_Time"),
    }
    batch_size = BATCH_LIMIT
    page_size = 200
    oauth = OAuthSpec(
        authorize_url="https://accounts.zoho.com/oauth/v2/auth",
        token_url="https://accounts.zoho.com/oauth/v2/token",  # noqa: S106 (a URL)
        revoke_url="https://accounts.zoho.com/oauth/v2/token/revoke",
        scopes=SCOPES,
        pkce=False,
    )
    # The concurrency cap (Standard edition: 10 at once) and the credit budget are Zoho's; this keeps bursts
    # polite. A config "rate_limit" sizes it for the org's edition.
    rate_limit = "10/1"
    default_base_url = ""
    relations: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "contact": ("company_id",),
        "deal": ("company_id", "contact_ids"),
        "activity": ("contact_id", "company_id", "deal_id"),
    }
    webhook_module = webhooks

    def __init__(self, config: Mapping[str, Any], **kwargs: Any):
        super().__init__(config, **kwargs)
        self._client: ZohoClient | None = None
        self._fields: dict[str, list[dict[str, Any]]] = {}

    # --- configuration and auth ---------------------------------------------------------------

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> None:
        super().validate_config(config)
        accounts_server(config.get("accounts_url"))
        if str(config.get("contact_module") or "Contacts") not in {"Contacts", "Leads"}:
            raise ConfigError("contact_module must be Contacts or Leads", field="contact_module")
        version = str(config.get("api_version") or API_VERSION)
        if version not in {f"v{n}" for n in range(2, 9)}:
            raise ConfigError("api_version must be v2 … v8", field="api_version")

    def sandbox(self) -> str:
        return str(self.config.get("base_url") or "").rstrip("/")

    def accounts(self, callback: Mapping[str, str] | None = None) -> str:
        """Where OAuth happens. The authorization callback names the account's own accounts server
        (``accounts-server``); once connected, the one the grant came from (kept with the tokens) is used
        for refreshes. Either must be a Zoho data centre (or lie under the sandbox base URL): our client
        secret is never sent anywhere else. Before any grant: the configured data centre."""
        named = str((callback or {}).get("accounts-server") or "")
        if not named and self.token_store is not None and (stored := self.token_store.load()) is not None:
            named = str(stored.extra.get("accounts_server") or "")
        if named:
            return self._known_accounts(named)
        return self.sandbox() or accounts_server(self.config.get("accounts_url"))

    def _known_accounts(self, url: str) -> str:
        url = url.strip().rstrip("/")
        sandbox = self.sandbox()
        if sandbox and (url == sandbox or url.startswith(sandbox + "/")):
            return url
        if not sandbox and url.lower() in DATA_CENTRES:
            return url.lower()
        raise ConfigError(
            f"Zoho named an accounts server that is not one of its data centres: {url!r}",
            field="accounts_url",
        )

    def base_url(self) -> str:
        return self.accounts()

    oauth_client_class = ZohoOAuthClient

    def oauth_endpoints(self, callback: Mapping[str, str] | None = None) -> dict[str, str]:
        accounts = self.accounts(callback)
        return {
            "authorize_url": f"{accounts}/oauth/v2/auth",
            "token_url": f"{accounts}/oauth/v2/token",
            "revoke_url": f"{accounts}/oauth/v2/token/revoke",
        }

    def auth(self):
        client = self.oauth_client()
        if client is None or self.token_store is None:
            raise ConfigError("no credentials configured: connect Zoho CRM with OAuth")
        return ZohoAuth(self.token_store, client)

    def accept_tokens(self, tokens: Tokens) -> None:
        """Keep the grant's data centre: the accounts server it came from (stamped by the OAuth client) and
        an api_domain of that same data centre."""
        accounts = self._known_accounts(str(tokens.extra.get("accounts_server") or self.accounts()))
        api_domain = str(tokens.extra.get("api_domain") or "").rstrip("/")
        sandbox = self.sandbox()
        if not api_domain:
            api_domain = sandbox or DATA_CENTRES[accounts]
        if not api_domain_allowed(api_domain, accounts, sandbox):
            raise ConfigError(
                f"Zoho answered with API domain {api_domain!r}, which is not the data centre of {accounts}",
                field="accounts_url",
            )
        if sandbox:  # a configured host, not one of Zoho's own: the usual address checks
            check_url(api_domain)
        tokens.extra["api_domain"] = api_domain
        tokens.extra["accounts_server"] = accounts

    def api_version(self) -> str:
        return str(self.config.get("api_version") or API_VERSION)

    def client(self) -> ZohoClient:
        if self._client is None:
            tokens = self.token_store.load() if self.token_store is not None else None
            if tokens is None:
                raise ReauthorizationNeeded("not connected to Zoho CRM yet: authorize the integration")
            accounts = self.accounts()
            api_domain = str(
                tokens.extra.get("api_domain") or self.sandbox() or DATA_CENTRES[accounts]
            ).rstrip("/")
            self._client = ZohoClient(
                base_url=f"{api_domain}/crm/{self.api_version()}", auth=self.auth(), limiter=self.limiter()
            )
        return self._client

    # --- lifecycle ----------------------------------------------------------------------------

    def test_connection(self) -> TestResult:
        try:
            self.validate_config(self.config)
            client = self.client()
            org = client.org()
        except ConnectorError as exc:
            return TestResult(False, str(exc))
        details: dict[str, Any] = {
            "org_id": str(org.get("id") or ""),
            "company": str(org.get("company_name") or ""),
        }
        message = f"Connected to Zoho CRM ({details['company'] or details['org_id']})."
        if client.credits:
            details["api_credits"] = dict(client.credits)
            if "limit" in client.credits and "remaining" in client.credits:
                used = client.credits["limit"] - client.credits["remaining"]
                details["api_credits"]["used"] = used
                message += f" {used} of {client.credits['limit']} API credits used in the last 24 hours."
                details[USAGE_KEY] = [
                    {
                        "label": "API credits used",
                        "value": f"{used:,} of {client.credits['limit']:,} in the last 24 hours",
                    }
                ]
        return TestResult(True, message, details=details)

    # --- what this integration syncs -----------------------------------------------------------

    def entity_spec(self, entity: str) -> EntitySpec:
        spec = super().entity_spec(entity)
        if entity == "contact":
            return replace(spec, remote_types=(self.contact_module(),))
        return spec

    def contact_module(self) -> str:
        return str(self.config.get("contact_module") or "Contacts")

    def _fields_param(self, entity: str, module: str) -> list[str]:
        wanted = sorted(set(self.wanted_fields.get(entity, ())) - set(FIELDS[module]))
        renamed = {RENAMES.get(module, {}).get(name, name) for name in wanted}
        return list(dict.fromkeys((*FIELDS[module], *sorted(renamed))))[:50]

    # --- reads --------------------------------------------------------------------------------

    def pull(self, entity: str, *, cursor: str | None) -> Iterator[Page]:
        """Per module: changed records (by Modified_Time, ascending), then — on a delta — its deletions.

        The cursor is JSON: per module ``{"since": <ISO>}`` (the newest Modified_Time read), and the same
        under ``"<Module>:deleted"`` for the recycle bin (the newest deleted_time).
        """
        marks = _load_cursor(cursor)
        client = self.client()
        for module in self.entity_spec(entity).remote_types:
            previous = marks.get(module)
            since = _parse(previous["since"]) - OVERLAP if previous else None
            fields = self._fields_param(entity, module)
            for page in client.pages(client.list_page, module=module, fields=fields, since=since):
                marks[module] = _advance(marks.get(module), page.rows)
                if previous is None and marks[module]:
                    # A full pull: deletions before it concern records never seen; read the bin from here on.
                    marks[f"{module}:deleted"] = dict(marks[module])
                if page.rows:
                    yield Page([self._record(entity, module, raw) for raw in page.rows], encode_cursor(marks))
            if previous is None:
                continue
            key = f"{module}:deleted"
            mark = marks.setdefault(key, dict(previous))
            since = _parse(mark["since"]) - OVERLAP
            for page in client.pages(client.deleted_page, module=module, since=since):
                mark = marks[key] = _advance(mark, page.rows, "deleted_time")
                yield Page(
                    [
                        RemoteRecord(
                            id=str(r["id"]),
                            modified_at=_parse(r.get("deleted_time")),
                            fields={},
                            deleted=True,
                            remote_type=module,
                        )
                        for r in page.rows
                    ],
                    encode_cursor(marks),
                )

    def get(self, entity: str, remote_ids: list[str]) -> list[RemoteRecord]:
        wanted = [i for i in dict.fromkeys(str(r) for r in remote_ids) if i.isdigit()]
        found: dict[str, RemoteRecord] = {}
        for module in self._modules(entity):
            missing = [i for i in wanted if i not in found]
            for _, chunk in self.chunks(missing, BATCH_LIMIT):
                page = self.client().list_page(module, fields=self._fields_param(entity, module), ids=chunk)
                for raw in page.rows:
                    found[str(raw["id"])] = self._record(entity, module, raw)
        return [found[i] for i in wanted if i in found]

    def _modules(self, entity: str) -> tuple[str, ...]:
        return self.entity_spec(entity).remote_types

    def _record(self, entity: str, module: str, raw: Mapping[str, Any]) -> RemoteRecord:
        fields = {name: value for name, value in raw.items() if name != "id"}
        owner = fields.get("Owner")
        if isinstance(owner, Mapping):
            fields["Owner"] = str(owner.get("id") or "")
        for canonical, own in RENAMES.get(module, {}).items():
            if own in fields:
                fields[canonical] = fields[own]
        if entity == "activity":
            fields["_kind"] = "note" if module == "Notes" else "task"
        found = relations.read(module, raw)
        return RemoteRecord(
            id=str(raw["id"]),
            modified_at=_parse(raw.get("Modified_Time")),
            fields=fields,
            remote_type=module,
            relations={name: ids for name, ids in found.items() if name in self.relations.get(entity, ())},
        )

    # --- field discovery ------------------------------------------------------------------------

    def module_fields(self, module: str) -> list[dict[str, Any]]:
        if module not in self._fields:
            self._fields[module] = self.client().fields(module)
        return self._fields[module]

    def discover_fields(self, entity: str) -> list[RemoteField]:
        """Every field of the entity's modules from ``settings/fields`` (custom fields flagged), named by
        module when the entity spans two (activities: Tasks and Notes)."""
        modules = self._modules(entity)
        return [
            remote_field(raw, module if len(modules) > 1 else "")
            for module in modules
            for raw in self.module_fields(module)
            if raw.get("api_name")
        ]

    creates_fields = True

    @classmethod
    def custom_field_name(cls, name: str) -> str:
        """Zoho generates API names from labels, which begin with a capital: ``Platform_score``."""
        return name[:1].upper() + name[1:]

    def create_fields(self, entity: str, specs: list[FieldSpec]) -> list[RemoteField]:
        """Create the fields in each of the entity's modules with one ``POST settings/fields``, named
        by label. A label the module already has (``DUPLICATE_DATA``) is that field, returned as it
        is. Returned as ``settings/fields`` lists them afterwards, so pushes name them by the API
        name Zoho generated. Fields Zoho refuses otherwise are named in one PermanentError raised
        after the others were made, as is a grant without the fields scope (older grants lack it)."""
        modules = self._modules(entity)
        made: list[RemoteField] = []
        refused: list[str] = []
        for module in modules:
            try:
                answers = self.client().create_fields(module, [create_body(spec) for spec in specs])
            except AuthError as exc:
                if exc.code != "OAUTH_SCOPE_MISMATCH":
                    raise
                # The grant still syncs: only field creation is refused, so the fields are reported
                # missing (made by hand, or after reconnecting with the scope), nothing more.
                raise PermanentError(
                    f"Zoho CRM's grant does not allow creating fields ({FIELDS_SCOPE}): reconnect the "
                    "integration to grant it, or create the fields in Zoho CRM",
                    status=exc.status,
                    code=exc.code,
                ) from None
            answers += [{}] * (len(specs) - len(answers))
            refused += [
                f'"{spec.label}" in {module}: {answer.get("code") or "no answer"} {answer.get("message") or ""}'.strip()
                for spec, answer in zip(specs, answers, strict=False)
                if answer.get("status") != "success" and answer.get("code") != "DUPLICATE_DATA"
            ]
            self._fields.pop(module, None)  # read the fields again, the new ones with them
            tag = module if len(modules) > 1 else ""
            for spec in specs:
                raw = next((f for f in self.module_fields(module) if labelled(f, spec.label)), None)
                if raw is not None:
                    made.append(remote_field(raw, tag))
        if refused:
            raise PermanentError(f"Zoho CRM did not create {'; '.join(refused)}")
        return made

    # --- writes -----------------------------------------------------------------------------------

    def create(self, entity: str, records: list[Mapping[str, Any]]) -> list[WriteResult]:
        results: list[WriteResult | None] = [None] * len(records)
        groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        plans: dict[int, relations.Plan] = {}
        for index, record in enumerate(records):
            module = self._create_module(entity, record)
            if not module:
                kind = record.get("_kind")
                results[index] = WriteResult(
                    index,
                    False,
                    error=f"Zoho CRM sync covers tasks and notes, not {kind!r}",
                    code="INVALID_TYPE",
                )
                continue
            payload, plans[index] = self._payload(module, record, creating=True)
            groups.setdefault(module, []).append((index, payload))
        for module, items in groups.items():
            checks = DUPLICATE_CHECK.get(module)
            if checks:
                self._send(
                    module,
                    items,
                    results,
                    plans,
                    "POST",
                    f"/{module}/upsert",
                    created=True,
                    extra={"duplicate_check_fields": checks},
                )
            else:
                self._send(module, items, results, plans, "POST", f"/{module}", created=True)
        return self._finish(results, plans)

    def _create_module(self, entity: str, record: Mapping[str, Any]) -> str:
        if entity != "activity":
            return self.entity_spec(entity).remote_types[0]
        return KIND_MODULES.get(str(record.get("_kind") or "task").lower(), "")

    def _payload(
        self, module: str, record: Mapping[str, Any], *, creating: bool
    ) -> tuple[dict[str, Any], relations.Plan]:
        skip = {RELATIONS_KEY, "_kind", "id", "Owner", *relations.lookup_fields(module)}
        fields = {k: v for k, v in record.items() if k not in skip}
        renames = RENAMES.get(module, {})
        fields = {renames.get(k, k): v for k, v in fields.items()}
        if module == "Notes":
            fields = {k: v for k, v in fields.items() if k in {"Note_Title", "Note_Content"}}
            if creating and not fields.get("Note_Content"):
                fields["Note_Content"] = fields.get("Note_Title") or "(no content)"  # Zoho requires content
        elif module == "Tasks":
            fields = {k: v for k, v in fields.items() if k not in {"Note_Title", "Note_Content"}}
        plan = relations.plan(module, record.get(RELATIONS_KEY) or {}, creating=creating)
        return {**fields, **plan.fields}, plan

    def _send(
        self,
        module: str,
        items: list[tuple[int, dict[str, Any]]],
        results: list[WriteResult | None],
        plans: dict[int, relations.Plan],
        method: str,
        path: str,
        *,
        created: bool | None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Send in chunks of 100 and fill ``results``; a record refused only for a relation lookup (a gone
        target) is sent again without its lookups, and keeps the relation as failed."""
        for _, chunk in self.chunks(items, BATCH_LIMIT):
            answers = self._call(method, path, chunk, results, extra, module=module)
            if answers is None:
                return
            owned = relations.lookup_fields(module)
            retry: list[tuple[int, dict[str, Any]]] = []
            for (index, payload), answer in zip(chunk, answers, strict=False):
                result = _result(index, answer, created)
                bad = str((answer.get("details") or {}).get("api_name") or "")
                if not result.ok and bad in owned and index in plans:
                    plans[index].refused.update({name: result.error for name in _relations_of(module, bad)})
                    retry.append((index, {k: v for k, v in payload.items() if k not in owned}))
                results[index] = result
            if retry:
                answers = self._call(method, path, retry, results, extra, module=module)
                for (index, _), answer in zip(retry, answers or [], strict=False):
                    results[index] = _result(index, answer, created)

    def _call(self, method, path, chunk, results, extra, *, module: str) -> list[dict[str, Any]] | None:
        """One batch call; its per-item answers, or None after failing what it could not send."""
        data = [payload for _, payload in chunk]
        idempotent = method != "POST" or (
            path.endswith("/upsert")
            and all(p.get(f) for p in data for f in DUPLICATE_CHECK.get(module, ["-"]))
        )
        wrote_before = any(r is not None and r.ok for r in results)
        try:
            answers = self.client().write(
                method, path, {"data": data, **(extra or {})}, idempotent=idempotent
            )
        except (TransientError, AuthError) as exc:
            if not wrote_before:
                raise
            _fail(results, [i for i, _ in chunk], exc)
            return None
        except PermanentError as exc:
            _fail(results, [i for i, _ in chunk], exc)
            return None
        return answers + [{}] * (len(chunk) - len(answers))

    def update(self, entity: str, records: list[tuple[str, Mapping[str, Any]]]) -> list[WriteResult]:
        results: list[WriteResult | None] = [None] * len(records)
        plans: dict[int, relations.Plan] = {}
        modules = self._modules(entity)
        pending = list(enumerate(records))
        for module in modules:
            items = []
            for index, (remote_id, changes) in pending:
                payload, plans[index] = self._payload(module, changes, creating=False)
                items.append((index, {"id": str(remote_id), **payload}))
            self._send(module, items, results, plans, "PUT", f"/{module}", created=False)
            # An activity id that is not a task may be a note: try the next module with those.
            pending = [(i, r) for i, r in pending if _unknown_id(results[i]) and module != modules[-1]]
            for index, _ in pending:
                results[index] = None
        return self._finish(results, plans)

    def delete(self, entity: str, remote_ids: list[str]) -> list[WriteResult]:
        """Move records to the recycle bin; an id Zoho does not know (already deleted) counts as done."""
        results: list[WriteResult | None] = [None] * len(remote_ids)
        pending = list(enumerate(str(r) for r in remote_ids))
        modules = self._modules(entity)
        for module in modules:
            unknown = []
            for _, chunk in self.chunks(pending, BATCH_LIMIT):
                answers = self.client().delete(module, [remote_id for _, remote_id in chunk])
                for (index, remote_id), answer in zip(chunk, answers + [{}] * len(chunk), strict=False):
                    result = _result(index, answer, None)
                    if _unknown_id(result) and module != modules[-1]:
                        unknown.append((index, remote_id))
                    elif _unknown_id(result):
                        results[index] = WriteResult(index, True, remote_id=remote_id)
                    else:
                        results[index] = replace(result, remote_id=result.remote_id or remote_id)
            pending = unknown
        return collect_results(results, provider="Zoho CRM")

    def _finish(
        self, results: list[WriteResult | None], plans: Mapping[int, relations.Plan]
    ) -> list[WriteResult]:
        done = collect_results(results, provider="Zoho CRM")
        for index, plan in plans.items():
            if plan.refused and done[index].ok:
                done[index] = replace(
                    done[index],
                    relations_failed=tuple(sorted(plan.refused)),
                    relations_error="; ".join(dict.fromkeys(plan.refused.values())),
                )
        return done

    def find_created(
        self, entity: str, records: list[Mapping[str, Any]], *, since: datetime
    ) -> list[list[str]]:
        """Records created since ``since`` (one If-Modified-Since listing per module) whose identifying
        values equal the payload's."""
        listed: dict[str, list[dict[str, Any]]] = {}
        found: list[list[str]] = []
        for record in records:
            module = self._create_module(entity, record)
            payload, _ = self._payload(module, record, creating=False) if module else ({}, None)
            keys = [k for k in IDENTIFYING if isinstance(payload.get(k), str) and payload[k]][:5]
            if not module or not keys:
                found.append([])
                continue
            if module not in listed:
                listed[module] = self._created_since(entity, module, since)
            found.append(
                [
                    str(raw["id"])
                    for raw in listed[module]
                    if all(str(raw.get(k) or "").lower() == str(payload[k]).lower() for k in keys)
                ]
            )
        return found

    def _created_since(self, entity: str, module: str, since: datetime) -> list[dict[str, Any]]:
        fields = list(dict.fromkeys((*self._fields_param(entity, module), "Created_Time")))
        rows: list[dict[str, Any]] = []
        client = self.client()
        for page in client.pages(client.list_page, module=module, fields=fields, since=since):
            rows += [
                r
                for r in page.rows
                if (_parse(r.get("Created_Time")) or since) >= since.replace(microsecond=0)
            ]
            if len(rows) >= FIND_SCAN_CAP:
                break
        return rows

    # --- notifications --------------------------------------------------------------------------

    def watched_modules(self) -> tuple[str, ...]:
        return (self.contact_module(), *WATCHED)

    def subscribe_webhooks(self, *, target_url: str, secret: str) -> dict[str, Any]:
        """Create a watch channel for every synced module (Notes have no notifications: deltas catch them),
        expiring in just under a week. Only the channel id is kept: its token is derived from the secret."""
        if not secret:
            raise ConfigError("a webhook secret is needed to create a Zoho watch channel")
        if not target_url.startswith(("https://", "http://")):
            # No public address to give Zoho (PUBLIC_BASE_URL unset): nothing to subscribe; deltas still run.
            logger.warning(
                "zoho watch channel not created: no absolute notify URL", extra={"target": target_url}
            )
            return {}
        channel_id = str(
            int(time.time() * 1000) * 1000 + int.from_bytes(secret.encode()[:2] or b"\0", "big") % 1000
        )
        expiry = _now() + CHANNEL_LIFETIME
        channel = self._channel(channel_id, target_url, secret, expiry)
        _check_watch(self.client().watch("POST", [channel]))
        return {
            "channel_id": channel_id,
            "events": channel["events"],
            "notify_url": target_url,
            "channel_expiry": channel["channel_expiry"],
        }

    def _channel(self, channel_id: str, target_url: str, secret: str, expiry: datetime) -> dict[str, Any]:
        return {
            "channel_id": channel_id,
            "events": [f"{module}.all" for module in self.watched_modules()],
            "notify_url": target_url,
            "token": webhooks.channel_token(secret, channel_id),
            "channel_expiry": expiry.replace(microsecond=0).isoformat(),
            "return_affected_field_values": False,
        }

    def renew_channel(
        self, *, subscription: Mapping[str, Any], target_url: str, secret: str
    ) -> dict[str, Any]:
        """Push the channel's expiry another week out (PATCH); a channel Zoho no longer has is created again."""
        channel_id = str(subscription.get("channel_id") or "")
        if not channel_id:
            return self.subscribe_webhooks(target_url=target_url, secret=secret)
        expiry = _now() + CHANNEL_LIFETIME
        channel = self._channel(channel_id, target_url, secret, expiry)
        try:
            _check_watch(self.client().watch("PATCH", [channel]))
        except PermanentError:
            return self.subscribe_webhooks(target_url=target_url, secret=secret)
        return {
            **subscription,
            "channel_expiry": channel["channel_expiry"],
            "events": channel["events"],
            "notify_url": target_url,
        }

    def renew_webhooks(
        self, *, subscription: Mapping[str, Any], target_url: str, secret: str, now: datetime | None = None
    ) -> dict[str, Any] | None:
        """The daily renewal job's question (``sync.webhook_subscriptions_renew``): the renewed
        subscription when the channel expires within ``RENEW_BEFORE``, else None (nothing to do)."""
        if not subscription or not needs_renewal(subscription, now=now):
            return None
        return self.renew_channel(subscription=subscription, target_url=target_url, secret=secret)

    def unsubscribe_webhooks(self, *, subscription: Mapping[str, Any]) -> None:
        """Delete the channel; one Zoho no longer knows (expired, deleted) is fine."""
        channel_id = str(subscription.get("channel_id") or "")
        if channel_id:
            self.client().unwatch([channel_id])


def needs_renewal(
    subscription: Mapping[str, Any], *, now: datetime | None = None, before: timedelta = RENEW_BEFORE
) -> bool:
    """Whether a watch channel expires within ``before`` (and should be renewed now)."""
    expiry = _parse(str(subscription.get("channel_expiry") or ""))
    return bool(subscription.get("channel_id")) and (expiry is None or expiry - (now or _now()) <= before)


# --- helpers ------------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _parse(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _advance(
    mark: dict[str, Any] | None, rows: list[dict[str, Any]], stamp: str = "Modified_Time"
) -> dict[str, Any]:
    """The watermark after a page: its newest stamp (never moving backwards)."""
    stamps = [t for r in rows if (t := _parse(r.get(stamp))) is not None]
    previous = _parse(mark["since"]) if mark else None
    if not stamps or (previous is not None and previous >= max(stamps)):
        return mark or {}
    return {"since": max(stamps).isoformat()}


def _load_cursor(cursor: str | None) -> dict[str, dict[str, Any]]:
    data = decode_cursor(cursor)
    if data is None:
        raise ConfigError("the Zoho sync cursor is unreadable: run a full sync")
    return {k: v for k, v in data.items() if isinstance(v, dict) and _parse(v.get("since"))}


def _result(index: int, answer: Mapping[str, Any], created: bool | None) -> WriteResult:
    details = answer.get("details") or {}
    if answer.get("status") == "success":
        was_created = created if answer.get("action") is None else answer.get("action") == "insert"
        return WriteResult(index, True, remote_id=str(details.get("id") or "") or None, created=was_created)
    if not answer:
        return WriteResult(
            index,
            False,
            error="Zoho CRM returned no result for this record",
            code="NO_RESULT",
            uncertain=True,
        )
    where = details.get("api_name") or details.get("param") or ""
    message = f"{answer.get('code', '')}: {answer.get('message', '')}" + (f" ({where})" if where else "")
    duplicate = (details.get("duplicate_record") or {}).get("id")
    return WriteResult(
        index,
        False,
        remote_id=str(duplicate) if duplicate else None,
        error=message.strip(": "),
        code=str(answer.get("code") or ""),
    )


def _unknown_id(result: WriteResult | None) -> bool:
    return (
        result is not None
        and not result.ok
        and result.code == "INVALID_DATA"
        and "id" in result.error.lower()
        and ("(id)" in result.error or "given id" in result.error or "id given" in result.error)
    )


def _relations_of(module: str, lookup: str) -> list[str]:
    return [
        name
        for name, (field, _) in relations.LOOKUPS.get(module, {}).items()
        if field == lookup or lookup == "$se_module"
    ]


def _fail(results: list[WriteResult | None], indexes: list[int], exc: ConnectorError) -> None:
    for index in indexes:
        results[index] = WriteResult(
            index,
            False,
            error=str(exc),
            code=getattr(exc, "code", "") or "TRANSIENT",
            uncertain=isinstance(exc, TransientError) and exc.ambiguous,
        )


def _check_watch(answers: list[dict[str, Any]]) -> None:
    refused = [a for a in answers if a.get("status") != "success"]
    if refused or not answers:
        first = refused[0] if refused else {}
        raise PermanentError(
            f"Zoho refused the watch channel: {first.get('code', 'no answer')} {first.get('details') or ''}".strip(),
            code=str(first.get("code") or ""),
        )
