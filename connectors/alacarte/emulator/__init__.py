"""A local À La Carte Chat (providers.md §8, /work/wt/ALACARTE_WIRE.md) under ``/sandbox/alacarte/``.

``x-api-key`` keys of one sandbox business (``connect`` or ``_control/token``); ``{"error": …}``
bodies; 10 requests per second per key (429 ``rate_limited``, ``Retry-After: 1``). Modules:
``store`` (business, keys, shapes), ``phones`` (E.164), ``events`` (webhook bodies on the shared
signed delivery of ``connectors.sandbox.delivery``), ``customers`` (validation, match, upsert),
``inbox`` (conversations, messages, attachments, SSO tokens), ``api`` (the endpoints), ``control``
(``_control/inbound|assign|status``, seeding, the embed page and files).
Settings (``_control/settings``): ``rate_per_second``, ``webhook_retry_delays``,
``webhook_delay_scale``, ``webhook_timeout``, ``default_country``, ``max_upload_bytes``.
"""

from __future__ import annotations

from django.urls import URLPattern, path
from django.views.decorators.clickjacking import xframe_options_exempt

from connectors.alacarte.emulator.control import AlaCarteControl


class AlaCarteEmulator(AlaCarteControl):
    def control_urls(self) -> list[URLPattern]:
        return super().control_urls() + [
            path("_control/inbound", self._control(self._inbound_view)),
            path("_control/assign", self._control(self._assign_view)),
            path("_control/status", self._control(self._status_view)),
        ]

    def api_urls(self) -> list[URLPattern]:
        public = self.endpoint(auth=False, limited=False)
        return [
            path("api-customers", self.endpoint(self.customers_view), name="alacarte-customers"),
            path("api-customers-batch-lookup", self.endpoint(self.batch_lookup_view)),
            path("api-customers-bulk-create", self.endpoint(self.bulk_create_view)),
            path("api-customers-sync", self.endpoint(self.sync_view)),
            path("api-conversations-by-customer", self.endpoint(self.conversations_view)),
            path("api-messages-since", self.endpoint(self.messages_since_view)),
            path("api-send-message", self.endpoint(self.send_message_view)),
            path("api-upload-attachment", self.endpoint(self.upload_view)),
            path("api-sso-generate-token", self.endpoint(self.sso_view)),
            # The provider's inbox is made to be embedded in a CRM page: no X-Frame-Options DENY.
            path("embed/inbox", xframe_options_exempt(public(self.embed_page))),
            path("files/<str:attachment_id>/<str:filename>", public(self.file_view)),
            path("api/download-media", public(self.download_view)),
        ]


emulator = AlaCarteEmulator()
