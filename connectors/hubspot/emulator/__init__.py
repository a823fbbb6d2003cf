"""A faithful local HubSpot: CRM v3 objects, search, batch, OAuth, rate limits, signed webhooks.

Served under ``/sandbox/hubspot/`` with HubSpot's real paths and bodies (providers.md §1), so a
client written for ``https://api.hubapi.com`` works unchanged given the base URL. Records are
``SandboxRecord`` rows: ``data`` holds the properties (all strings), ``updated_at`` the modified
time at millisecond precision (HubSpot's), mirrored into ``lastmodifieddate`` (contacts) or
``hs_lastmodifieddate`` (everything else) as an ISO string. Limits are settings, changeable via
``POST _control/settings``: ``rate_max`` (100), ``rate_interval_ms`` (10000), ``search_rate`` (5/s),
``daily_limit`` (250000), ``list_limit_max`` (100), ``search_limit_max`` (200), ``search_ceiling``
(10000), ``batch_max`` (100, also for association batches), ``association_page_max`` (500 associated
records per record in a batch read), ``custom_properties`` ({type: [names]}: plain text custom
properties), ``retry_after_header`` (false: HubSpot documents no Retry-After on 429s).

One mixin per concern, composed here: ``schema`` (object types, properties, records, seed data),
``errors`` (error bodies), ``limits`` (settings, rate limits, their headers), ``rest`` (objects and
batch), ``search``, ``associations`` (v4 associations with HubSpot's type ids, labels, v3
``associations``; ``SandboxAssociation`` rows), ``properties`` (the properties API, property
groups and custom properties: ``property_definitions`` and ``property_groups`` settings), ``oauth``
(consent, tokens) and ``webhooks`` (signed event delivery, including ``associationChange`` events).
"""

from __future__ import annotations

from datetime import timedelta

from django.urls import URLPattern, path

from connectors.hubspot.emulator.associations import HubSpotAssociations
from connectors.hubspot.emulator.errors import HubSpotErrors
from connectors.hubspot.emulator.limits import HubSpotLimits
from connectors.hubspot.emulator.oauth import HubSpotOAuth
from connectors.hubspot.emulator.properties import HubSpotProperties
from connectors.hubspot.emulator.rest import HubSpotRest
from connectors.hubspot.emulator.schema import HubSpotSchema
from connectors.hubspot.emulator.search import HubSpotSearch
from connectors.hubspot.emulator.webhooks import HubSpotWebhooks


class HubSpotEmulator(
    HubSpotRest,
    HubSpotSearch,
    HubSpotAssociations,
    HubSpotProperties,
    HubSpotOAuth,
    HubSpotWebhooks,
    HubSpotLimits,
    HubSpotSchema,
    HubSpotErrors,
):
    provider = "hubspot"
    token_lifetime = timedelta(minutes=30)
    demo_seed = {"contacts": 200, "companies": 40, "deals": 40, "notes": 30, "tasks": 20, "calls": 10}
    token_prefix = "CKn"  # noqa: S105 (a prefix for generated OAuth tokens, not a secret)

    def api_urls(self) -> list[URLPattern]:
        objects = "crm/v3/objects/<str:object_type>"
        record_links = "crm/v4/objects/<str:from_type>/<str:from_id>/associations"
        pair = "crm/v4/associations/<str:from_type>/<str:to_type>"
        return [
            path(f"{objects}/search", self.endpoint(self.search_view), name="hubspot-search"),
            path(f"{objects}/batch/<str:action>", self.endpoint(self.batch_view), name="hubspot-batch"),
            path(f"{objects}/<str:object_id>", self.endpoint(self.object_view), name="hubspot-object"),
            path(objects, self.endpoint(self.collection_view), name="hubspot-objects"),
            path(
                "crm/v4/objects/<str:object_type>/<str:object_id>/associations/<str:to_type>",
                self.endpoint(self.record_associations_view),
                name="hubspot-record-associations",
            ),
            path(
                f"{record_links}/default/<str:to_type>/<str:to_id>",
                self.endpoint(self.default_association_view),
                name="hubspot-default-association",
            ),
            path(
                f"{record_links}/<str:to_type>/<str:to_id>",
                self.endpoint(self.labelled_association_view),
                name="hubspot-association",
            ),
            path(f"{pair}/batch/associate/default", self.endpoint(self.association_default_batch_view)),
            path(f"{pair}/batch/<str:action>", self.endpoint(self.association_batch_view)),
            path(f"{pair}/labels", self.endpoint(self.association_labels_view)),
            path("crm/v3/properties/<str:object_type>", self.endpoint(self.properties_view)),
            path("crm/v3/properties/<str:object_type>/groups", self.endpoint(self.groups_view)),
            path("crm/v3/properties/<str:object_type>/groups/<str:name>", self.endpoint(self.group_view)),
            path("crm/v3/properties/<str:object_type>/<str:name>", self.endpoint(self.property_view)),
            path("oauth/authorize", self.endpoint(self.authorize_view, auth=False, limited=False)),
            path("oauth/v1/token", self.endpoint(self.token_view, auth=False, limited=False)),
            path("oauth/v3/token", self.endpoint(self.token_view, auth=False, limited=False)),
            path("oauth/v3/token/revoke", self.endpoint(self.revoke_view, auth=False, limited=False)),
            path("oauth/v3/token/introspect", self.endpoint(self.introspect_view, auth=False, limited=False)),
        ]


emulator = HubSpotEmulator()
