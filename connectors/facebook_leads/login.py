"""From Facebook Login to the tokens the connector keeps (providers.md §9 Auth).

The login (or a token the user pastes) gives a short-lived user token; it is exchanged for a
long-lived one (``grant_type=fb_exchange_token``, about 60 days), whose ``/me/accounts`` lists the
user's Pages with Page tokens that do not expire. The integration's Page (``pageId``) token is what
reads its forms and leads and subscribes the app to its ``leadgen`` field; both tokens are stored
together, encrypted with the integration (``Tokens.extra``). There is no refresh token: when Graph
answers 190 the user logs in again.
"""

from __future__ import annotations

import time
from typing import Any

from connectors.errors import ConfigError, ReauthorizationNeeded
from connectors.facebook_leads.client import GraphClient
from connectors.types import Tokens

PAGE_TOKEN, PAGE_ID = "page_access_token", "page_id"  # noqa: S105 (keys of Tokens.extra)


def long_lived_token(app: GraphClient, *, app_id: str, app_secret: str, short_token: str) -> Tokens:
    """Exchange a short-lived user token for a long-lived one."""
    body = app.get_json(
        "oauth/access_token",
        auth=False,
        params={
            "grant_type": "fb_exchange_token",
            "client_id": app_id,
            "client_secret": app_secret,
            "fb_exchange_token": short_token,
        },
    )
    if not isinstance(body, dict) or not body.get("access_token"):
        raise ReauthorizationNeeded("Facebook did not exchange the token for a long-lived one: log in again")
    expires_in = body.get("expires_in")
    return Tokens(
        access_token=str(body["access_token"]),
        token_type=str(body.get("token_type") or "bearer"),
        expires_at=time.time() + float(expires_in) if expires_in else None,
    )


def page_token(user: GraphClient, page_id: str) -> str:
    """The Page's own token from ``/me/accounts`` (every page of it); ConfigError when the user
    does not manage that Page."""
    for pages in user.paged("me/accounts", {"fields": "id,name,access_token,tasks", "limit": 100}):
        for page in pages:
            if str(page.get("id")) == page_id and page.get("access_token"):
                return str(page["access_token"])
    raise ConfigError(
        f"the Facebook user who connected does not manage Page {page_id}: log in as one of its admins",
        field="pageId",
    )


def connected_tokens(
    *, app: GraphClient, user_client: Any, app_id: str, app_secret: str, short_token: str, page_id: str
) -> Tokens:
    """The tokens to store for ``short_token``: the long-lived user token, the Page's token in ``extra``.

    ``user_client``: makes a GraphClient for a user token (the connector's, so it shares base URL,
    limiter and timeouts)."""
    tokens = long_lived_token(app, app_id=app_id, app_secret=app_secret, short_token=short_token)
    tokens.extra = {PAGE_ID: page_id, PAGE_TOKEN: page_token(user_client(tokens.access_token), page_id)}
    return tokens
