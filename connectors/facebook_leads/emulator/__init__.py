"""A local Graph API for Lead Ads (providers.md §9) under ``/sandbox/facebook_leads/``.

Paths are Graph's own under ``/{version}/`` (``/v23.0/me/accounts``, ``/v23.0/{form-id}/leads``...),
and Facebook Login's dialog under ``/{version}/dialog/oauth``, so the official ``facebook-business``
SDK works with ``FacebookSession.GRAPH`` set to the mount. Modules: ``graph`` (errors, tokens,
throttling), ``store`` (Pages, forms, leads, filtering, cursors), ``insights`` (campaign spend, impressions and leads per day), ``hooks`` (subscriptions, the
``hub.challenge`` handshake, signed leadgen POSTs), ``api`` (the endpoints), ``control`` (connect,
seeds, ``_control/lead`` and ``_control/revoke``).
Settings (``_control/settings``): ``calls_per_hour``, ``throttle_code``, ``throttle_minutes``,
``webhook_attempts``, ``client_id``/``client_secret`` (the app).
"""

from __future__ import annotations

from django.urls import URLPattern, re_path

from connectors.facebook_leads.emulator.control import GraphControl

VERSION = r"^(?P<version>v\d+\.\d+)/"
NODE_ID = r"(?P<{}>[0-9]+)"


class FacebookLeadsEmulator(GraphControl):
    demo_seed = {"lead": 25}

    def api_urls(self) -> list[URLPattern]:
        public = self.endpoint(auth=False, limited=False)
        return [
            re_path(r"^(?:(?P<version>v\d+\.\d+)/?)?$", self.graph(self.batch_view)),
            re_path(VERSION + r"dialog/oauth/?$", public(self.authorize_view)),
            re_path(VERSION + r"oauth/access_token/?$", public(self.access_token_view)),
            re_path(VERSION + r"me/accounts/?$", self.graph(self.accounts_view)),
            re_path(VERSION + r"me/?$", self.graph(self.me_view)),
            re_path(
                VERSION + NODE_ID.format("page_id") + r"/leadgen_forms/?$",
                self.graph(self.leadgen_forms_view),
            ),
            re_path(
                VERSION + NODE_ID.format("page_id") + r"/subscribed_apps/?$",
                self.graph(self.subscribed_apps_view),
            ),
            re_path(
                VERSION + NODE_ID.format("app_id") + r"/subscriptions/?$", self.graph(self.subscriptions_view)
            ),
            re_path(VERSION + NODE_ID.format("form_id") + r"/leads/?$", self.graph(self.leads_view)),
            re_path(VERSION + r"act_(?P<account_id>[0-9]+)/insights/?$", self.graph(self.insights_view)),
            re_path(VERSION + r"act_(?P<account_id>[0-9]+)/?$", self.graph(self.account_view)),
            re_path(VERSION + NODE_ID.format("object_id") + r"/?$", self.graph(self.node_view)),
        ]


emulator = FacebookLeadsEmulator()
