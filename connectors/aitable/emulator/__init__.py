"""A faithful local AITable.ai under ``/sandbox/aitable/``: the Fusion API (``/fusion/v1/…`` spaces,
nodes, datasheet fields and views, records, field and datasheet creation, the v2 node search) with
AITable's envelopes, HTTP-200 error codes, 10-record writes, 1,000-row pages and the 5-per-second
per-node limit, plus automations that POST webhooks with a static secret header (providers.md §4).

The official ``apitable`` SDK works against it given the base URL. One mixin per concern: ``schema``
(space, datasheets, fields, defaults), ``limits`` (envelope, auth, rate limit), ``records`` (row
shape, queries, validated writes, seeding, with ``cells`` and ``formula``), ``automation`` (webhook
delivery, UI-edit and state controls) and ``rest`` (the views).
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path

from connectors.aitable.emulator.records import ENTITY_DATASHEETS
from connectors.aitable.emulator.rest import AITableRest
from connectors.aitable.emulator.schema import AUDIT_ID, LEADS_ID, ORDERS_ID, SPACE_ID
from connectors.base import Tokens


class AITableEmulator(AITableRest):
    provider = "aitable"
    token_prefix = "usk"  # noqa: S105 (AITable API tokens start "usk")
    token_lifetime = None
    demo_seed = {LEADS_ID: 50}

    def connect(self, sandbox_base: str) -> tuple[dict[str, Any], Tokens | None]:
        """The integration config (integrations/catalog/aitable.json) for this emulator, with a
        fresh API token (AITable has no OAuth tokens): a datasheet for every entity, and the seed's
        Orders and Audit Results datasheets for the onboarding flow."""
        self.install_defaults()
        token = self.issue_token(kind="api_token", refresh=False)
        config = {
            "base_url": f"{sandbox_base.rstrip('/')}/aitable",
            "api_token": token.access_token,
            "space_id": SPACE_ID,
            "datasheets": dict(ENTITY_DATASHEETS),
            "onboarding": {"orders_datasheet": ORDERS_ID, "audit_results_datasheet": AUDIT_ID},
        }
        return config, None

    def api_urls(self) -> list[URLPattern]:
        api = self.api
        v1 = "fusion/v1"
        return [
            path(f"{v1}/spaces", api(self.spaces_view)),
            path(f"{v1}/spaces/<str:space_id>/nodes", api(self.nodes_view)),
            path(f"{v1}/spaces/<str:space_id>/datasheets", api(self.datasheet_create_view)),
            path(f"{v1}/spaces/<str:space_id>/datasheets/<str:dst_id>/fields", api(self.field_create_view)),
            path(
                f"{v1}/spaces/<str:space_id>/datasheets/<str:dst_id>/fields/<str:field_id>",
                api(self.field_delete_view),
            ),
            path(f"{v1}/nodes/<str:node_id>", api(self.node_view)),
            path("fusion/v2/spaces/<str:space_id>/nodes", api(self.nodes_search_view)),
            path(f"{v1}/datasheets/<str:dst_id>/records", api(self.records_view)),
            path(f"{v1}/datasheets/<str:dst_id>/fields", api(self.fields_view)),
            path(f"{v1}/datasheets/<str:dst_id>/views", api(self.views_view)),
            path("fusion/<path:rest>", self.endpoint(self.not_found_view, auth=False, limited=False)),
        ]


emulator = AITableEmulator()
