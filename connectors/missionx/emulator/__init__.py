"""A local MissionX (providers.md §5): our [project] contract for client portals, served under
``/sandbox/missionx/``.

Bearer API keys (one account each, ``connect`` or ``_control/token``), 10 requests per second per
key (429 with ``Retry-After``), ``{"error": {"code", "message"}}`` bodies. ``store`` keeps accounts,
portals and files; ``api`` serves the ``/v1`` endpoints, the upload hook and the portal page;
``delivery`` builds MissionX's events for the shared signed delivery (``connectors.sandbox.delivery``:
retries, the attempt log).
Control additions: ``_control/upload`` (a client's upload), ``_control/deliveries`` (the log), and
``_control/webhooks`` registering targets instead of firing events.
"""

from __future__ import annotations

from django.urls import URLPattern, path

from connectors.missionx.emulator.api import MissionXApi


class MissionXEmulator(MissionXApi):
    def control_urls(self) -> list[URLPattern]:
        return super().control_urls() + [
            path("_control/upload", self._control(self._upload_view)),
        ]

    def api_urls(self) -> list[URLPattern]:
        return [
            path("v1/portals", self.endpoint(self.portals_view), name="missionx-portals"),
            path("v1/portals/<str:portal_id>", self.endpoint(self.portal_view), name="missionx-portal"),
            path(
                "v1/portals/<str:portal_id>/files",
                self.endpoint(self.portal_files_view),
                name="missionx-portal-files",
            ),
            path(
                "v1/files/<str:file_id>/download",
                self.endpoint(self.file_download_view),
                name="missionx-file-download",
            ),
            path("p/<str:portal_id>", self.endpoint(self.portal_page, auth=False, limited=False)),
        ]


emulator = MissionXEmulator()
