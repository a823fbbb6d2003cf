"""A faithful local Pipedrive: API v2 records, v1 fields/notes/recents/webhooks, OAuth, limits and
webhooks v2 with HTTP Basic credentials.

Served under ``/sandbox/pipedrive/`` with Pipedrive's real paths and bodies (providers.md §3), so a
client written for ``https://acme.pipedrive.com`` works unchanged given the base URL (the OAuth
endpoints of ``oauth.pipedrive.com`` live under ``oauth/``). One mixin per concern: ``store``
(records, v2 bodies, validation, custom fields, samples, seeds), ``limits`` (auth, the 2-second burst
window, the daily token budget, ``x-ratelimit-*`` headers, 429s), ``rest`` (v2 list/get/add/patch/
delete/search), ``v1`` (fields, notes, recents, webhooks registry), ``hooks`` (v2 webhook delivery)
and ``oauth``.
"""

from __future__ import annotations

from datetime import timedelta

from django.urls import URLPattern, path

from connectors.pipedrive.emulator.oauth import PipedriveOAuth


class PipedriveEmulator(PipedriveOAuth):
    provider = "pipedrive"
    token_lifetime = timedelta(seconds=3599)
    demo_seed = {"persons": 200, "organizations": 40, "deals": 40, "activities": 30, "notes": 20}

    def api_urls(self) -> list[URLPattern]:
        v2 = "api/v2/<str:object_type>"
        patterns = [
            path(f"{v2}/search", self.api(self.search_view, search=True), name="pipedrive-search"),
            path(f"{v2}/<str:object_id>", self.api(self.item_view), name="pipedrive-item"),
            path(v2, self.api(self.collection_view), name="pipedrive-collection"),
            path("oauth/authorize", self.endpoint(self.authorize_view, auth=False, limited=False)),
            path("oauth/token", self.endpoint(self.token_view, auth=False, limited=False)),
            path("oauth/revoke", self.endpoint(self.revoke_view, auth=False, limited=False)),
        ]
        for prefix in ("v1", "api/v1"):
            patterns += [
                path(f"{prefix}/notes/<str:object_id>", self.api(self.note_view)),
                path(f"{prefix}/notes", self.api(self.notes_view)),
                path(f"{prefix}/recents", self.api(self.recents_view)),
                path(f"{prefix}/webhooks/<str:hook_id>", self.api(self.webhook_view)),
                path(f"{prefix}/webhooks", self.api(self.webhooks_view)),
                path(f"{prefix}/<str:endpoint>", self.api(self.fields_view)),
            ]
        return patterns


emulator = PipedriveEmulator()
