"""MissionX client portals (providers.md §5): a ``PortalProvider``, syncing no CRM records.

The onboarding flow (not the merge) creates a portal per new lead, activates it with uploads when
the deal is won and downloads what the client uploads; MissionX's webhooks (``portal.created``,
``portal.activated``, ``file.uploaded``) name portals, hence ``event_entities``. ``entities`` is
empty, so every record method refuses clearly instead of guessing.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from connectors.base import (
    ConfigError,
    EntitySpec,
    NoRecordsConnector,
    PermanentError,
    TestResult,
)
from connectors.capabilities import FileTooLarge, Portal, PortalFile, PortalProvider
from connectors.missionx import webhooks
from connectors.missionx.client import CHUNK_BYTES, MAX_PAGE, MissionXClient

PORTAL_STATUSES = ("pending", "active", "disabled")
MIN_KEY_LENGTH = 16
TEST_ATTEMPTS = 2  # a connection test answers the wizard within seconds


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _iso(value: datetime) -> str:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def read_portal(raw: Mapping[str, Any]) -> Portal:
    return Portal(
        id=str(raw["id"]),
        url=str(raw.get("url") or ""),
        status=str(raw.get("status") or ""),
        uploads_enabled=bool(raw.get("uploads_enabled")),
        external_id=str(raw.get("external_id") or ""),
        client_name=str(raw.get("client_name") or ""),
        email=str(raw.get("email") or ""),
        created_at=_when(raw.get("created_at")),
        updated_at=_when(raw.get("updated_at")),
    )


def read_file(portal_id: str, raw: Mapping[str, Any]) -> PortalFile:
    return PortalFile(
        id=str(raw.get("id") or ""),
        portal_id=portal_id,
        filename=str(raw.get("filename") or ""),
        size=int(raw.get("size") or 0),
        content_type=str(raw.get("content_type") or ""),
        uploaded_at=_when(raw.get("uploaded_at")),
        download_url=str(raw.get("download_url") or ""),
    )


class MissionXConnector(NoRecordsConnector, PortalProvider):
    key = "missionx"
    does = "manages client portals"
    display_name = "MissionX"
    entities: ClassVar[Mapping[str, EntitySpec]] = {}
    event_entities: ClassVar[tuple[str, ...]] = ("portal",)
    rate_limit = "10/1"  # MissionX's 10 requests per second per key
    page_size = MAX_PAGE
    webhook_module = webhooks

    # --- configuration and auth ---------------------------------------------------------------

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> None:
        """MissionX has no public host: the base URL is required, as is a key."""
        if not config.get("base_url"):
            raise ConfigError("enter your MissionX API base URL (without /v1)", field="base_url")
        super().validate_config(config)
        if len(str(config.get("api_key") or "")) < MIN_KEY_LENGTH:
            raise ConfigError(
                f"enter the MissionX API key (at least {MIN_KEY_LENGTH} characters)", field="api_key"
            )

    def auth(self):
        return self.config_bearer("api_key", "the MissionX API key")

    @functools.cached_property
    def client(self) -> MissionXClient:
        if not self.config.get("base_url"):
            raise ConfigError("enter your MissionX API base URL (without /v1)", field="base_url")
        return MissionXClient(base_url=self.base_url(), auth=self.auth(), limiter=self.limiter())

    def test_connection(self) -> TestResult:
        """``GET /v1/portals?limit=1``: proves the address and the key, reads one portal at most."""
        return self.probe(
            lambda client: client.get_json("/v1/portals", params={"limit": 1}),
            attempts=TEST_ATTEMPTS,
            unreachable="Could not reach MissionX",
            connected=f"Connected to MissionX at {self.base_url()}",
            refused=lambda exc, message: (
                message + (" (the base URL is the address without /v1)" if exc.status == 404 else "")
            ),
        )

    # --- portals (PortalProvider) --------------------------------------------------------------

    def portal_create(self, *, client_name: str, email: str, external_id: str) -> Portal:
        body = {"client_name": client_name, "email": email, "external_id": external_id}
        return read_portal(self.client.portal_create(body))

    def portal_get(self, portal_id: str) -> Portal:
        return read_portal(self.client.portal_get(portal_id))

    def portal_update(
        self, portal_id: str, *, status: str | None = None, uploads_enabled: bool | None = None
    ) -> Portal:
        changes: dict[str, Any] = {}
        if status is not None:
            if status not in PORTAL_STATUSES:
                raise PermanentError(
                    f"portal status must be one of {', '.join(PORTAL_STATUSES)}, not {status!r}",
                    code="invalid_request",
                )
            changes["status"] = status
        if uploads_enabled is not None:
            changes["uploads_enabled"] = bool(uploads_enabled)
        if not changes:
            return self.portal_get(portal_id)
        return read_portal(self.client.portal_update(portal_id, changes))

    def portals_changed(self, *, since: datetime | None) -> Iterator[Portal]:
        for page in self.client.portals_pages(updated_since=_iso(since) if since else None):
            for raw in page:
                if raw.get("id"):
                    yield read_portal(raw)

    def portal_files(self, portal_id: str) -> list[PortalFile]:
        return [read_file(portal_id, raw) for raw in self.client.portal_files(portal_id) if raw.get("id")]

    def file_download(self, file_id: str, *, max_bytes: int) -> bytes:
        """Refused from ``Content-Length`` before any byte is read; a body without one is read in
        chunks and dropped as soon as it passes ``max_bytes``."""
        resp = self.client.file_stream(file_id)
        try:
            declared = resp.headers.get("Content-Length", "")
            if declared.isdecimal() and int(declared) > max_bytes:
                raise FileTooLarge(
                    f"MissionX file {file_id} is {declared} bytes; at most {max_bytes} accepted"
                )
            received = bytearray()
            for chunk in resp.iter_content(chunk_size=CHUNK_BYTES):
                received.extend(chunk)
                if len(received) > max_bytes:
                    raise FileTooLarge(f"MissionX file {file_id} is over {max_bytes} bytes")
            return bytes(received)
        finally:
            resp.close()
