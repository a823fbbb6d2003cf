"""A faithful local Zoho CRM under /sandbox/zoho/: Accounts OAuth per data centre, the CRM REST API (v2–v8
paths, v7 and v8 as the connector and Zoho's SDK use them), field metadata, credits and concurrency
limits, and Notification API watch channels (providers.md §7).

Knobs (``POST _control/settings``): ``credit_limit`` (50,000 credits per rolling 24 h), ``concurrency_limit``
(10), ``refresh_cap`` (10 access tokens per refresh token per 10 min), ``custom_fields`` ({module: {api
name: {data_type, field_label, pick_list_values: [value or {actual_value, display_value}]}}}), ``unique_fields`` ({module: [api names]} →
``DUPLICATE_DATA``), ``notify_attempts`` (1), ``rate_headers`` (true), ``client_id``/``client_secret``.

One mixin per concern: ``schema`` (modules, fields, records, samples), ``credits`` (errors, credits,
concurrency), ``oauth`` (accounts, data centres, tokens), ``records`` (list/get/search/deleted/writes), ``coql`` (the COQL subset),
``meta`` (settings/fields, custom fields created through it, modules, users, org), ``notifications`` (watch channels and callbacks).
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, re_path
from django.views.decorators.csrf import csrf_exempt

from connectors.zoho.emulator.coql import ZohoCoql
from connectors.zoho.emulator.credits import ZohoLimits
from connectors.zoho.emulator.meta import ZohoMeta
from connectors.zoho.emulator.notifications import ZohoNotifications
from connectors.zoho.emulator.oauth import DATA_CENTRES, ZohoOAuth


class ZohoEmulator(ZohoNotifications, ZohoCoql, ZohoMeta, ZohoOAuth, ZohoLimits):
    provider = "zoho"
    token_prefix = "1000"  # noqa: S105 (Zoho access tokens start "1000.")
    demo_seed = {"Contacts": 200, "Accounts": 40, "Deals": 40, "Tasks": 30}

    def dc_urls(self) -> list[URLPattern]:
        api = self.endpoint
        v = r"^crm/(?P<version>v[2-8])"
        m = r"/(?P<module>\w+)"
        return [
            re_path(r"^oauth/v2/auth/?$", csrf_exempt(self.authorize_view)),
            re_path(r"^oauth/v2/token/?$", csrf_exempt(self.oauth_token_view)),
            re_path(r"^oauth/v2/token/revoke/?$", csrf_exempt(self.revoke_view)),
            re_path(v + r"/settings/fields/?$", api(self.fields_view)),
            re_path(v + r"/settings/modules/?$", api(self.modules_view)),
            re_path(v + r"/users/?$", api(self.users_view)),
            re_path(v + r"/org/?$", api(self.org_view)),
            re_path(v + r"/actions/watch/?$", api(self.watch_view)),
            re_path(v + r"/coql/?$", api(self.coql_view)),
            re_path(v + m + r"/upsert/?$", api(self.upsert_view)),
            re_path(v + m + r"/deleted/?$", api(self.deleted_view)),
            re_path(v + m + r"/search/?$", api(self.search_view)),
            re_path(v + m + r"/(?P<record_id>\d+)/?$", api(self.record_view)),
            re_path(v + m + r"/?$", api(self.module_view)),
        ]

    def api_urls(self) -> list[URLPattern | URLResolver]:
        """The US data centre at the root; every other one under ``dc/<dc>/`` (same paths)."""
        others = "|".join(dc.replace(".", r"\.") for dc in DATA_CENTRES if dc != "com")
        patterns = self.dc_urls()
        return [*patterns, re_path(rf"^dc/(?:{others})/", include(patterns))]


emulator = ZohoEmulator()
