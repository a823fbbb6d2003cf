"""A faithful local Salesforce (REST API, OAuth web-server flow, Outbound Messaging) under /sandbox/salesforce/.

Wire facts follow providers.md §2: 18-char ids with real key prefixes, ``...000+0000`` datetimes, JSON-array
error bodies, SOQL subset with 2,000-row pages and host-relative ``nextRecordsUrl`` (carrying the
``/sandbox/salesforce`` prefix), sObject Collections capped at 200 with per-item results, external-id
upsert (201 / 204 / 300), ``/updated/`` and ``/deleted/`` windows, a Recycle Bin, session timeout → 401
``INVALID_SESSION_ID``, ``Sforce-Limit-Info`` on every API response and a daily budget → 403
``REQUEST_LIMIT_EXCEEDED`` (Salesforce never answers 429). Records live in SandboxRecord: ``updated_at`` is
SystemModstamp (= LastModifiedDate), ``created_at`` CreatedDate, ``archived`` IsDeleted.

Knobs (``POST _control/settings``): ``session_seconds`` (default 7200), ``daily_limit`` (15000),
``outbound_attempts`` (3), ``client_id`` / ``client_secret``, and ``custom_fields`` (the org's custom fields:
``{"Contact": {"Favourite_Colour__c": {"type": "picklist", "label": ..., "picklist": [...]}}}``; described,
queryable and writable like standard fields; the Tooling API's CustomField resource adds to them).

One mixin per concern, composed here: ``schema`` (the sObjects, records, seed data), ``errors`` (error
bodies), ``limits`` (the daily budget), ``oauth`` (consent, tokens, sessions), ``rest`` (records,
describes, replication, collections), ``query`` (SOQL, over ``soql``), ``actions`` (the
convertLead invocable action), ``tooling`` (custom fields created through the Tooling API) and
``webhooks`` (Outbound Messaging).
"""

from __future__ import annotations

from django.urls import URLPattern, re_path
from django.views.decorators.csrf import csrf_exempt

from connectors.salesforce.emulator.actions import SalesforceActions
from connectors.salesforce.emulator.errors import SalesforceErrors
from connectors.salesforce.emulator.limits import SalesforceLimits
from connectors.salesforce.emulator.oauth import SalesforceOAuth
from connectors.salesforce.emulator.query import SalesforceQuery
from connectors.salesforce.emulator.rest import SalesforceRest
from connectors.salesforce.emulator.schema import ORG_ID, SalesforceSchema
from connectors.salesforce.emulator.tooling import SalesforceTooling
from connectors.salesforce.emulator.webhooks import SalesforceWebhooks


class SalesforceEmulator(
    SalesforceActions,
    SalesforceTooling,
    SalesforceRest,
    SalesforceQuery,
    SalesforceOAuth,
    SalesforceWebhooks,
    SalesforceLimits,
    SalesforceSchema,
    SalesforceErrors,
):
    provider = "salesforce"
    token_lifetime = None  # Salesforce sends no expires_in: sessions die after session_seconds instead
    token_prefix = ORG_ID[:15] + "!AQ"
    rate_limit = None  # no per-second limit: the budget is daily
    demo_seed = {"Contact": 200, "Account": 40, "Opportunity": 40, "Case": 10, "Task": 30, "Event": 10}

    # --- urls ---------------------------------------------------------------------------------

    def api_urls(self) -> list[URLPattern]:
        api = self.endpoint
        v = r"^services/data/(?P<version>v\d+\.\d)"
        t = r"/sobjects/(?P<sobject>\w+)"
        return [
            re_path(r"^services/oauth2/authorize/?$", csrf_exempt(self.authorize_view)),
            re_path(r"^services/oauth2/token/?$", csrf_exempt(self.oauth_token_view)),
            re_path(r"^services/oauth2/revoke/?$", csrf_exempt(self.revoke_view)),
            re_path(r"^id/(?P<org_id>\w+)/(?P<user_id>\w+)/?$", api(self.identity_view, limited=False)),
            re_path(r"^services/data/?$", api(self.versions_view, auth=False, limited=False)),
            re_path(v + r"/?$", api(self.resources_view)),
            re_path(v + r"/limits/?$", api(self.limits_view)),
            re_path(v + r"/(?P<kind>query|queryAll)/?$", api(self.query_view)),
            re_path(
                v + r"/(?P<kind>query|queryAll)/(?P<locator>[0-9A-Za-z]{15,18})-(?P<offset>\d+)/?$",
                api(self.query_more_view),
            ),
            re_path(v + r"/composite/sobjects/?$", api(self.collections_view)),
            re_path(v + r"/actions/standard/(?P<action>\w+)/?$", api(self.standard_action_view)),
            re_path(v + r"/tooling/sobjects/CustomField/?$", api(self.tooling_custom_fields_view)),
            re_path(
                v + r"/tooling/sobjects/CustomField/(?P<field_id>\w+)/?$", api(self.tooling_custom_field_view)
            ),
            re_path(v + r"/sobjects/?$", api(self.describe_global_view)),
            re_path(v + t + r"/?$", api(self.sobject_view)),
            re_path(v + t + r"/describe/?$", api(self.describe_view)),
            re_path(v + t + r"/(?P<window>updated|deleted)/?$", api(self.replication_view)),
            re_path(v + t + r"/(?P<record_id>\w+)/?$", api(self.record_view)),
            re_path(v + t + r"/(?P<ext_field>\w+)/(?P<ext_value>[^/]+)/?$", api(self.external_id_view)),
        ]


emulator = SalesforceEmulator()
