"""A faithful local GoHighLevel (LeadConnector API v2): contacts, opportunities, pipelines, notes,
tasks, custom fields, calendar appointments, OAuth with rotating refresh tokens, the ``Version`` header, per-location
limits and Ed25519/RSA-signed webhooks (providers.md §6).

Served under ``/sandbox/gohighlevel/`` with GoHighLevel's real paths and bodies, so a client written
for ``https://services.leadconnectorhq.com`` works unchanged given the base URL. One mixin per
concern: ``store`` (records, validation, samples, seeds), ``limits`` (Version, token scope, rate
limits, error bodies), ``hooks`` (key pairs and signed delivery), ``contacts`` (contacts, notes,
tasks), ``opportunities`` (opportunities, pipelines, custom fields), ``oauth`` and ``calendars``
(appointments).
"""

from __future__ import annotations

from datetime import timedelta

from django.urls import URLPattern, path

from connectors.gohighlevel.emulator.calendars import GoHighLevelCalendars


class GoHighLevelEmulator(GoHighLevelCalendars):
    provider = "gohighlevel"
    token_lifetime = timedelta(seconds=86399)
    demo_seed = {"contacts": 200, "opportunities": 40}

    def api_urls(self) -> list[URLPattern]:
        api = self.api
        patterns = [
            path("contacts/search/duplicate", api(self.duplicate_view)),
            path("contacts/search", api(self.search_view)),
            path("contacts/upsert", api(self.upsert_view)),
            path("contacts/<str:contact_id>/notes/<str:child_id>", api(self.child_view), {"kind": "notes"}),
            path("contacts/<str:contact_id>/notes", api(self.children_view), {"kind": "notes"}),
            path("contacts/<str:contact_id>/tasks/<str:child_id>", api(self.child_view), {"kind": "tasks"}),
            path("contacts/<str:contact_id>/tasks", api(self.children_view), {"kind": "tasks"}),
            path("contacts/<str:contact_id>", api(self.contact_view)),
            path("contacts/", api(self.contacts_view)),
            path("contacts", api(self.contacts_view)),
            path("opportunities/search", api(self.opportunity_search_view)),
            path("opportunities/pipelines", api(self.pipelines_view)),
            path("opportunities/<str:opportunity_id>", api(self.opportunity_view)),
            path("opportunities/", api(self.opportunities_view)),
            path("opportunities", api(self.opportunities_view)),
            path("locations/<str:location_id>/customFields", api(self.custom_fields_view)),
            path("calendars/events/appointments/<str:event_id>", api(self.appointment_view)),
            path("calendars/events/appointments", api(self.appointments_view)),
            path("calendars/events/<str:event_id>", api(self.event_delete_view)),
            path("calendars/events", api(self.events_view)),
            path("calendars/", api(self.calendars_view)),
            path("calendars/<str:calendar_id>/free-slots", api(self.free_slots_view)),
            path("calendars/<str:calendar_id>", api(self.calendar_view)),
            path("oauth/chooselocation", self.endpoint(self.authorize_view, auth=False, limited=False)),
            path("oauth/token", self.endpoint(self.token_view, auth=False, limited=False)),
        ]
        return patterns


emulator = GoHighLevelEmulator()
