"""A local Google Analytics 4 (providers.md §10) under ``/sandbox/google_analytics/`` (also
``/sandbox/ga4/``): one address for the three hosts Google splits them over.

- ``POST /token``: the OAuth token endpoint (JWT-bearer grant, RS256 assertions verified against
  registered service-account keys) → one-hour tokens, ``invalid_grant`` on a bad signature.
- ``POST /mp/collect`` (204 whatever the body; valid events of known streams kept) and
  ``POST /debug/mp/collect`` (``validationMessages``).
- ``POST /v1beta/properties/{id}:runReport``: the Data API over the traffic table and kept events,
  with quotas → 429 ``RESOURCE_EXHAUSTED`` and non-users → 403 ``PERMISSION_DENIED``.

Google's official ``google-analytics-data`` client works against it with ``transport="rest"``,
``api_endpoint`` set to the mount and credentials from an issued key file. Modules: ``keys``
(key files, RS256), ``auth`` (errors, tokens), ``collect`` (MP), ``reports`` (runReport, quotas),
``control`` (service accounts, properties, traffic seed, connect). Settings
(``_control/settings``): ``tokens_per_report``, ``tokens_per_hour``, ``tokens_per_day``,
``concurrent_requests``, ``report_delay_ms``, ``key_events``.
"""

from __future__ import annotations

from django.urls import URLPattern, path, re_path

from connectors.google_analytics.emulator.control import GoogleAnalyticsControl


class GoogleAnalyticsEmulator(GoogleAnalyticsControl):
    demo_seed = {"traffic": 30}

    def api_urls(self) -> list[URLPattern]:
        public = self.endpoint(auth=False, limited=False)
        return [
            path("token", public(self.token_view)),
            path("mp/collect", public(self.collect_view)),
            path("debug/mp/collect", public(self.debug_view)),
            re_path(
                r"^v1beta/properties/(?P<property_id>[0-9]+):runReport$", self.endpoint(self.run_report_view)
            ),
        ]


emulator = GoogleAnalyticsEmulator()
