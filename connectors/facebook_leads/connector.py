"""Facebook Lead Ads (providers.md §9): leads flow in as contacts with a "lead form submitted"
activity; nothing is written back.

Pull lists the Page's forms (``/{page-id}/leadgen_forms``, or the config's ``form_ids``) and each
form's leads created since the cursor (``/{form-id}/leads`` filtered on ``time_created``, a small
overlap kept), so a backfill on connect and a catch-up after downtime import whatever a webhook
missed; the engine links each lead once, however often it is read. Webhooks carry ids only:
``get`` fetches each lead. Tokens: Facebook Login's short-lived user token becomes a long-lived one
and the Page's token (``login``); a token Graph refuses (190) marks the integration for
reconnection, throttling (4/17/32/613) waits ``estimated_time_to_regain_access``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Any, ClassVar

from connectors.base import (
    ConfigError,
    Connector,
    EntitySpec,
    OAuthSpec,
    Page,
    ReauthorizationNeeded,
    RemoteField,
    RemoteRecord,
    TestResult,
    Tokens,
    WriteResult,
    decode_cursor,
    encode_cursor,
)
from connectors.capabilities import ReportRow, ReportSource, SetupAnswers, SetupChoices, SetupQuestion
from connectors.facebook_leads import webhooks
from connectors.facebook_leads.client import BATCH_LIMIT, GraphClient
from connectors.facebook_leads.insights import (
    INSIGHT_FIELDS,
    AdInsight,
    ad_account_path,
    insight,
    report_row,
)
from connectors.facebook_leads.login import PAGE_ID, PAGE_TOKEN, connected_tokens
from connectors.facebook_leads.records import (
    ACTIVITY_FIELDS,
    LEAD_FIELDS,
    activity_record,
    contact_fields,
    contact_record,
)
from connectors.facebook_leads.setup import answers_mappings, form_questions, setup_question

GRAPH_VERSION = "v23.0"
# Leads become readable a little after their time_created: each pull re-reads this many seconds.
OVERLAP_SECONDS = 300
SCOPES = (
    "leads_retrieval",
    "pages_manage_metadata",
    "pages_show_list",
    "pages_read_engagement",
    "ads_management",
)


class FacebookLeadsConnector(Connector, ReportSource, SetupChoices):
    key = "facebook_leads"
    display_name = "Facebook Lead Ads"
    entities: ClassVar[Mapping[str, EntitySpec]] = {
        "contact": EntitySpec(("lead",), modified_field="created_time", writable=False, deletable=False),
        "activity": EntitySpec(("lead",), modified_field="created_time", writable=False, deletable=False),
    }
    relations: ClassVar[Mapping[str, tuple[str, ...]]] = {"activity": ("contact_id",)}
    page_size = 100
    batch_size = 50  # Graph batch requests take at most 50
    # 200 calls per user per rolling hour (app level); the BUC limit is larger for lead-rich Pages.
    rate_limit = "200/3600"
    default_base_url = "https://graph.facebook.com"
    oauth = OAuthSpec(
        authorize_url=f"https://www.facebook.com/{GRAPH_VERSION}/dialog/oauth",
        token_url=f"https://graph.facebook.com/{GRAPH_VERSION}/oauth/access_token",
        scopes=SCOPES,
        pkce=False,
    )
    webhook_module = webhooks
    setup_title = "Lead form questions"

    def __init__(self, config: Mapping[str, Any], **kwargs: Any):
        super().__init__(config, **kwargs)
        self._page_client: GraphClient | None = None
        self._forms: list[dict[str, Any]] | None = None

    # --- addresses and tokens -------------------------------------------------------------------

    def version(self) -> str:
        return str(self.config.get("graph_api_version") or GRAPH_VERSION)

    def graph_url(self) -> str:
        return f"{self.base_url()}/{self.version()}"

    def page_id(self) -> str:
        page_id = str(self.config.get("pageId") or "")
        if not page_id:
            raise ConfigError("enter the Facebook Page ID", field="pageId")
        return page_id

    def app_credentials(self) -> tuple[str, str]:
        """Meta's App ID and App secret; the operator's OAuth app (``client_id``/``client_secret``,
        filled in by the platform) when the integration names none."""
        if self.config.get("app_id"):
            return str(self.config["app_id"]), str(self.config.get("app_secret") or "")
        return str(self.config.get("client_id") or ""), str(self.config.get("client_secret") or "")

    def uses_oauth(self) -> bool:
        """Facebook Login, unless the user pasted a token (``accessToken``) to connect with."""
        return not self.config.get("accessToken")

    def oauth_client(self, *, callback: Mapping[str, str] | None = None):
        app_id, app_secret = self.app_credentials()
        if not app_id:
            return None
        return self.oauth_client_class(
            self.oauth, client_id=app_id, client_secret=app_secret, **self.oauth_endpoints(callback)
        )

    def oauth_endpoints(self, callback: Mapping[str, str] | None = None) -> dict[str, str]:
        if not self.config.get("base_url"):
            return {}
        return {
            "authorize_url": f"{self.graph_url()}/dialog/oauth",
            "token_url": f"{self.graph_url()}/oauth/access_token",
        }

    def client(self, access_token: str) -> GraphClient:
        return GraphClient(
            base_url=self.graph_url(),
            access_token=access_token,
            app_secret=self.app_credentials()[1],
            on_token_refused=self._token_refused,
            limiter=self.limiter(),
        )

    def _token_refused(self, reason: str) -> None:
        if self.token_store is not None:
            self.token_store.mark_reauthorization_needed(reason)

    def connect_tokens(self, short_token: str) -> Tokens:
        """The tokens to keep for a user token from Facebook Login (or pasted into ``accessToken``):
        exchanged for a long-lived one, with the Page's token from ``/me/accounts``."""
        app_id, app_secret = self.app_credentials()
        if not (app_id and app_secret):
            raise ConfigError("enter the App ID and App secret", field="app_id")
        return connected_tokens(
            app=self.client(""),
            user_client=self.client,
            app_id=app_id,
            app_secret=app_secret,
            short_token=short_token,
            page_id=self.page_id(),
        )

    def accept_tokens(self, tokens: Tokens) -> None:
        """After Facebook Login: keep the long-lived user token and the Page's token instead."""
        connected = self.connect_tokens(tokens.access_token)
        tokens.access_token, tokens.expires_at, tokens.token_type = (
            connected.access_token,
            connected.expires_at,
            connected.token_type,
        )
        tokens.extra = {**tokens.extra, **connected.extra}

    def stored_tokens(self) -> Tokens:
        """The stored tokens for this Page; a pasted ``accessToken`` is connected (and stored) once."""
        tokens = self.token_store.load() if self.token_store is not None else None
        if (
            tokens is not None
            and tokens.extra.get(PAGE_TOKEN)
            and str(tokens.extra.get(PAGE_ID)) == self.page_id()
        ):
            return tokens
        pasted = str(self.config.get("accessToken") or "")
        if not pasted:
            raise ReauthorizationNeeded("not connected yet: log in with Facebook")
        tokens = self.connect_tokens(pasted)
        if self.token_store is not None:
            self.token_store.save(tokens)
        return tokens

    def page_client(self) -> GraphClient:
        if self._page_client is None:
            self._page_client = self.client(str(self.stored_tokens().extra[PAGE_TOKEN]))
        return self._page_client

    # --- lifecycle --------------------------------------------------------------------------------

    def test_connection(self) -> TestResult:
        tokens = self.stored_tokens()
        user = self.client(tokens.access_token).get_json("me", params={"fields": "id,name"})
        page = self.page_client().get_json(self.page_id(), params={"fields": "id,name"})
        return TestResult(
            ok=True,
            message=f"Connected as {user.get('name', 'the user')} to the Page {page.get('name', self.page_id())}",
            details={
                "page_id": str(page.get("id", "")),
                "ad_account_id": str(self.config.get("adAccountId") or ""),
            },
        )

    def subscribe_webhooks(self, *, target_url: str, secret: str) -> dict[str, Any]:
        """Subscribe the app to the Page's ``leadgen`` field (the app's own callback subscription is
        set in the Meta app's Webhooks product, where Meta runs the handshake against us)."""
        self.page_client().post_json(
            f"{self.page_id()}/subscribed_apps",
            None,
            idempotent=True,
            params={"subscribed_fields": "leadgen"},
        )
        return {
            "page_id": self.page_id(),
            "subscribed_fields": ["leadgen"],
            "ad_account_id": self.config.get("adAccountId", ""),
        }

    def unsubscribe_webhooks(self, *, subscription: Mapping[str, Any]) -> None:
        page_id = str(subscription.get("page_id") or "")
        if page_id:
            self.page_client().request("DELETE", f"{page_id}/subscribed_apps", idempotent=True)

    # --- reads ------------------------------------------------------------------------------------

    def forms(self) -> list[dict[str, Any]]:
        """The Page's lead forms (only ``form_ids`` when the config names some)."""
        if self._forms is None:
            found: list[dict[str, Any]] = []
            for page in self.page_client().paged(
                f"{self.page_id()}/leadgen_forms", {"fields": "id,name,status,questions", "limit": 100}
            ):
                found.extend(page)
            chosen = {str(i) for i in self.config.get("form_ids") or []}
            self._forms = [f for f in found if not chosen or str(f.get("id")) in chosen]
        return self._forms

    def form_name(self, form_id: str) -> str:
        return next((str(f.get("name", "")) for f in self.forms() if str(f.get("id")) == form_id), "")

    def leads_since(self, form_id: str, since: int | None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"fields": LEAD_FIELDS, "limit": self.page_size}
        if since is not None:
            params["filtering"] = (
                f'[{{"field":"time_created","operator":"GREATER_THAN","value":{int(since)}}}]'
            )
        leads = [lead for page in self.page_client().paged(f"{form_id}/leads", params) for lead in page]
        return sorted(leads, key=lambda lead: (str(lead.get("created_time", "")), str(lead.get("id"))))

    def record(self, entity: str, lead: Mapping[str, Any]) -> RemoteRecord:
        if entity == "activity":
            return activity_record(lead, form_name=self.form_name(str(lead.get("form_id", ""))))
        return contact_record(lead)

    def pull(self, entity: str, *, cursor: str | None) -> Iterator[Page]:
        """Each form's leads since the cursor's ``since``, oldest first; the cursor after a form
        names the forms done (a resumed pull skips them), the last one the next ``since``."""
        self.entity_spec(entity)
        state = decode_cursor(cursor)
        if state is None:
            raise ConfigError("unreadable Facebook cursor: run a full sync")
        since = state.get("since")
        done = set(state.get("done", []))
        newest = int(state.get("newest") or since or 0)
        for form in self.forms():
            form_id = str(form["id"])
            if form_id in done:
                continue
            leads = self.leads_since(form_id, since)
            for lead in leads:
                created = contact_record(lead).modified_at
                newest = max(newest, int(created.timestamp()) if created else 0)
            done.add(form_id)
            after = encode_cursor({"since": since, "done": sorted(done), "newest": newest})
            chunks = list(self.chunks(leads, self.page_size)) or [(0, [])]
            for index, (_, chunk) in enumerate(chunks):
                last = index == len(chunks) - 1
                yield Page([self.record(entity, lead) for lead in chunk], cursor=after if last else None)
        floor = newest or int(time.time())
        yield Page([], cursor=encode_cursor({"since": max(floor - OVERLAP_SECONDS, int(since or 0))}))

    def get(self, entity: str, remote_ids: list[str]) -> list[RemoteRecord]:
        """Leads by id, up to 50 per Graph batch request; ids Graph cannot load are left out."""
        self.entity_spec(entity)
        found = []
        for _, chunk in self.chunks([str(i) for i in remote_ids], BATCH_LIMIT):
            urls = [f"{lead_id}?fields={LEAD_FIELDS}" for lead_id in chunk]
            found += [
                self.record(entity, lead) for lead in self.page_client().batch_get(urls) if lead is not None
            ]
        return found

    def discover_fields(self, entity: str) -> list[RemoteField]:
        if entity == "activity":
            return list(ACTIVITY_FIELDS)
        questions = {
            str(q.get("key")): str(q.get("label") or q.get("key"))
            for form in self.forms()
            for q in form.get("questions") or []
            if isinstance(q, dict) and q.get("key")
        }
        return contact_fields(questions)

    # --- the wizard's choices -----------------------------------------------------------------------

    def setup_questions(self) -> list[SetupQuestion]:
        """Which contact field each question of the Page's forms fills (``setup``)."""
        return [setup_question(question) for question in form_questions(self.forms())]

    def setup_apply(self, answers: Mapping[str, str]) -> SetupAnswers:
        return answers_mappings(form_questions(self.forms()), answers)

    # --- ad insights --------------------------------------------------------------------------------

    def ad_account(self) -> str:
        account = str(self.config.get("adAccountId") or "")
        if not account:
            raise ConfigError("enter the Ad Account ID", field="adAccountId")
        return account

    def ad_account_currency(self) -> str:
        """The currency the ad account's spend is in (``act_{id}?fields=currency``), blank when
        Graph does not say."""
        account = self.client(self.stored_tokens().access_token).get_json(
            ad_account_path(self.ad_account()), params={"fields": "currency"}
        )
        return str(account.get("currency") or "") if isinstance(account, dict) else ""

    def report_rows(self, since: date, until: date) -> Iterator[ReportRow]:
        """Each campaign's spend, impressions and leads per day (``ad_insights``), in the ad
        account's currency."""
        rows = self.ad_insights(since, until)
        currency = self.ad_account_currency() if rows else ""
        for row in rows:
            yield report_row(row, currency)

    def ad_insights(self, since: date, until: date) -> list[AdInsight]:
        """Spend, impressions and leads per campaign per day of the ad account (``adAccountId``)."""
        account = self.ad_account()
        params = {
            "level": "campaign",
            "time_increment": 1,
            "fields": INSIGHT_FIELDS,
            "time_range": json.dumps({"since": since.isoformat(), "until": until.isoformat()}),
            "limit": self.page_size,
        }
        user = self.client(self.stored_tokens().access_token)
        return [
            insight(row)
            for page in user.paged(f"{ad_account_path(account)}/insights", params)
            for row in page
        ]

    # --- writes: leads are the provider's --------------------------------------------------------

    def _read_only(self, entity: str, count: int) -> list[WriteResult]:
        message = f"{self.display_name} leads are read-only: {entity} records cannot be written there"
        return [WriteResult(index=i, ok=False, error=message, code="unsupported") for i in range(count)]

    def create(self, entity: str, records: list[Mapping[str, Any]]) -> list[WriteResult]:
        return self._read_only(entity, len(records))

    def update(self, entity: str, records: list[tuple[str, Mapping[str, Any]]]) -> list[WriteResult]:
        return self._read_only(entity, len(records))

    def delete(self, entity: str, remote_ids: list[str]) -> list[WriteResult]:
        return self._read_only(entity, len(remote_ids))

    def find_created(
        self, entity: str, records: list[Mapping[str, Any]], *, since: datetime
    ) -> list[list[str]]:
        return [[] for _ in records]  # nothing is ever created here
