"""Zoho CRM's HTTP calls (``{api_domain}/crm/{version}``) and its OAuth specifics.

Zoho answers some things differently from everyone else, and they are handled here: the
``Zoho-oauthtoken`` header (``ZohoAuth``); a bad code or refresh token as HTTP 200 ``invalid_code`` and
a token endpoint that refuses more than 10 access tokens per refresh token in 10 minutes
(``ZohoOAuthClient``); 204 (and 304 under ``If-Modified-Since``) for "no rows"; batch writes that answer
400 with per-item results when every record failed (returned, not raised, so each record fails alone);
429 ``TOO_MANY_REQUESTS`` with no Retry-After (backed off exponentially by ``connectors.http``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import requests

from connectors.base import AuthError, PermanentError, RateLimited, ReauthorizationNeeded, Tokens
from connectors.http import ProviderClient, json_or_empty
from connectors.oauth import OAuthAuth, OAuthClient

PER_PAGE = 200  # Zoho's page size cap
DISCRETE_LIMIT = 2000  # rows reachable with ``page``; past them only ``page_token`` pages
BATCH_LIMIT = 100  # records per insert/update/upsert/delete call
REFRESH_CAP = 10  # access tokens per refresh token per REFRESH_WINDOW
REFRESH_WINDOW = 600.0
ATTEMPTS = 6  # 429s carry no Retry-After: a few more jittered tries ride out a burst of them
HEADER_PREFIX = "Zoho-oauthtoken "


def zoho_datetime(value: datetime) -> str:
    """A datetime as Zoho writes it (``2024-01-01T00:00:00+00:00``), for If-Modified-Since."""
    return value.replace(microsecond=0).isoformat()


class ZohoAuth(OAuthAuth):
    """OAuth tokens sent as ``Authorization: Zoho-oauthtoken …`` (Zoho refuses ``Bearer``)."""

    def headers(self) -> dict[str, str]:
        return {"Authorization": HEADER_PREFIX + self.current().access_token}

    def on_unauthorized(self, sent_headers: Mapping[str, str]) -> bool:
        sent = sent_headers.get("Authorization", "").removeprefix(HEADER_PREFIX)
        self._refresh(stale_access_token=sent)
        return True


class ZohoOAuthClient(OAuthClient):
    """Zoho Accounts: comma-separated scopes, refresh errors in HTTP 200 bodies, the refresh cap.

    The cap is kept on our side too: the times of recent refreshes travel in ``Tokens.extra`` (saved
    under the token store's lock with the tokens), and an eleventh refresh within ten minutes waits
    (RateLimited, retried later) instead of being refused by Zoho.
    """

    def authorize_url(self, *, state: str, redirect_uri: str, verifier: str | None) -> str:
        params = {
            "scope": ",".join(self.spec.scopes),
            "client_id": self.client_id,
            "response_type": "code",
            "access_type": "offline",
            "prompt": "consent",
            "redirect_uri": redirect_uri,
            "state": state,
        }
        return f"{self.authorize_endpoint}?{urlencode(params)}"

    def exchange_code(self, *, code: str, redirect_uri: str, verifier: str | None) -> Tokens:
        """The grant, stamped with the accounts server that issued it (refreshes go back there)."""
        tokens = super().exchange_code(code=code, redirect_uri=redirect_uri, verifier=verifier)
        accounts = self.token_endpoint.removesuffix("/oauth/v2/token")
        tokens.extra = {**tokens.extra, "accounts_server": accounts}
        return tokens

    def refresh(self, tokens: Tokens) -> Tokens:
        now = time.time()
        recent = [t for t in tokens.extra.get("refreshed_at", []) if now - float(t) < REFRESH_WINDOW]
        if len(recent) >= REFRESH_CAP:
            wait = min(recent) + REFRESH_WINDOW - now
            raise RateLimited(
                f"Zoho allows {REFRESH_CAP} token refreshes in 10 minutes: waiting", retry_after=wait
            )
        try:
            fresh = super().refresh(tokens)
        except PermanentError as exc:
            message = str(exc)
            if "invalid_code" in message:
                raise ReauthorizationNeeded(
                    "Zoho refused the refresh token (revoked or evicted): reconnect"
                ) from None
            if "invalid_client" in message:
                raise AuthError(
                    "Zoho refused the client ID or secret: check them in Zoho's API console"
                ) from None
            if "too many requests" in message.lower():
                raise RateLimited(
                    "Zoho refused more token refreshes for now", retry_after=REFRESH_WINDOW
                ) from None
            raise
        fresh.extra = {**fresh.extra, "refreshed_at": [*recent, now]}
        return fresh


@dataclass(frozen=True)
class ListPage:
    rows: list[dict[str, Any]]
    info: dict[str, Any]


class ZohoClient(ProviderClient):
    provider = "Zoho CRM"
    ok_statuses = (*range(200, 300), 304)

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("max_attempts", ATTEMPTS)
        super().__init__(**kwargs)
        self.credits: dict[str, int] = {}  # Zoho's X-RATELIMIT-* figures when it sends them

    # --- error mapping ------------------------------------------------------------------------

    def error_code(self, resp: requests.Response) -> str:
        body = json_or_empty(resp)
        return str(body.get("code") or "") if isinstance(body, dict) else ""

    def raise_for_response(self, resp: requests.Response) -> None:
        self._note_credits(resp)
        body = json_or_empty(resp) if resp.status_code == 400 else None
        if isinstance(body, dict) and any(isinstance(body.get(k), list) for k in ("data", "watch", "fields")):
            return  # every item of a batch refused: the per-item results say why, one by one
        super().raise_for_response(resp)

    def _note_credits(self, resp: requests.Response) -> None:
        for header, key in (("X-RATELIMIT-LIMIT", "limit"), ("X-RATELIMIT-REMAINING", "remaining")):
            value = resp.headers.get(header, "")
            if value.isdigit():
                self.credits[key] = int(value)

    # --- reads ----------------------------------------------------------------------------------

    def list_page(
        self,
        module: str,
        *,
        fields: list[str],
        page: int = 1,
        page_token: str | None = None,
        since: datetime | None = None,
        ids: list[str] | None = None,
        sort_by: str = "Modified_Time",
    ) -> ListPage:
        """One page of ``GET /{Module}`` (``fields`` always sent); no rows → empty."""
        params: dict[str, Any] = {"fields": ",".join(fields), "per_page": PER_PAGE}
        if ids:
            params["ids"] = ",".join(ids)
        else:
            params |= {"sort_by": sort_by, "sort_order": "asc"}
        if page_token:
            params["page_token"] = page_token
        else:
            params["page"] = page
        return self._page(f"/{module}", params, since)

    def deleted_page(
        self, module: str, *, page: int = 1, page_token: str | None = None, since: datetime | None = None
    ) -> ListPage:
        params: dict[str, Any] = {"type": "all", "per_page": PER_PAGE}
        params |= {"page_token": page_token} if page_token else {"page": page}
        return self._page(f"/{module}/deleted", params, since)

    def _page(self, path: str, params: dict[str, Any], since: datetime | None) -> ListPage:
        headers = {"If-Modified-Since": zoho_datetime(since)} if since is not None else {}
        resp = self.request("GET", path, params=params, headers=headers)
        if resp.status_code in (204, 304):
            return ListPage([], {"more_records": False})
        body = json_or_empty(resp)
        rows = (
            [r for r in body.get("data") or [] if isinstance(r, dict) and r.get("id")]
            if isinstance(body, dict)
            else []
        )
        info = body.get("info") or {} if isinstance(body, dict) else {}
        return ListPage(rows, info)

    def pages(self, fetch, **kwargs: Any):
        """Every page of a list: ``page`` while within 2,000 rows, then ``info.next_page_token``."""
        page, token = 1, None
        while True:
            current = fetch(page=page, page_token=token, **kwargs)
            yield current
            if not current.info.get("more_records"):
                return
            page += 1
            if page * PER_PAGE > DISCRETE_LIMIT or token:
                token = current.info.get("next_page_token")
                if not token:
                    raise PermanentError("Zoho said more records follow but gave no page_token")

    def fields(self, module: str) -> list[dict[str, Any]]:
        body = self.get_json("/settings/fields", params={"module": module})
        return [f for f in body.get("fields") or [] if isinstance(f, dict)] if isinstance(body, dict) else []

    def create_fields(self, module: str, fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``POST /settings/fields?module=``: one answer per field, in order (``SUCCESS`` with its
        id, or its error such as ``DUPLICATE_DATA``)."""
        resp = self.request("POST", "/settings/fields", params={"module": module}, json={"fields": fields})
        body = json_or_empty(resp)
        items = body.get("fields") if isinstance(body, dict) else None
        return [a if isinstance(a, dict) else {} for a in items] if isinstance(items, list) else []

    def org(self) -> dict[str, Any]:
        body = self.get_json("/org")
        orgs = body.get("org") if isinstance(body, dict) else None
        return orgs[0] if orgs else {}

    # --- writes ---------------------------------------------------------------------------------

    def write(
        self, method: str, path: str, body: dict[str, Any], *, idempotent: bool
    ) -> list[dict[str, Any]]:
        """A batch write; the per-item answers in input order (the same length as ``body["data"]``)."""
        resp = self.request(method, path, json=body, idempotent=idempotent)
        answers = json_or_empty(resp)
        items = answers.get("data") if isinstance(answers, dict) else None
        return [a if isinstance(a, dict) else {} for a in items] if isinstance(items, list) else []

    def delete(self, module: str, ids: list[str]) -> list[dict[str, Any]]:
        resp = self.request("DELETE", f"/{module}", params={"ids": ",".join(ids)})
        body = json_or_empty(resp)
        items = body.get("data") if isinstance(body, dict) else None
        return [a if isinstance(a, dict) else {} for a in items] if isinstance(items, list) else []

    def watch(self, method: str, channels: list[dict[str, Any]]) -> list[dict[str, Any]]:
        resp = self.request(method, "/actions/watch", json={"watch": channels}, idempotent=True)
        body = json_or_empty(resp)
        return list(body.get("watch") or []) if isinstance(body, dict) else []

    def unwatch(self, channel_ids: list[str]) -> list[dict[str, Any]]:
        resp = self.request("DELETE", "/actions/watch", params={"channel_ids": ",".join(channel_ids)})
        body = json_or_empty(resp)
        return list(body.get("watch") or []) if isinstance(body, dict) else []
