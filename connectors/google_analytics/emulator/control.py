"""The sandbox's own controls beyond the shared ones (reset, seed, faults, settings, token, state):

- ``_control/service-account``: ``{}`` (or ``{"client_email", "property_id", "grant"}``) issues a
  generated key file (``private_key``, ``private_key_id``, ``client_email``, ``token_uri`` pointing
  at this emulator) and registers its public key, granting it the property unless ``grant`` is
  false; ``{"public_key", "private_key_id", "client_email"}`` registers a key made elsewhere.
- ``_control/property``: create or change a property: ``{"property_id", "measurement_id",
  "api_secret", "users": [...], "revoke": [...]}``.
- ``_control/seed`` with ``{"object": "traffic", "count": <days>}``: a traffic table (sessions and
  conversions per day × source × medium) for the default property.
- ``connect``: the config a finished setup leaves (key file, property, stream, sandbox URLs).
"""

from __future__ import annotations

import json
import random
import secrets
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, path
from django.utils import timezone

from connectors.base import Tokens
from connectors.google_analytics.emulator.collect import EVENTS, MP_REQUESTS, PROPERTIES
from connectors.google_analytics.emulator.keys import PROJECT_ID, generate_key_file
from connectors.google_analytics.emulator.reports import TRAFFIC, DataApi
from connectors.sandbox.emulator import json_body, mount_url
from connectors.sandbox.models import SandboxRecord

DEFAULT_PROPERTY = "123456789"
DEFAULT_MEASUREMENT_ID = "G-SANDBOX123"
CHANNELS = (
    ("google", "organic"),
    ("google", "cpc"),
    ("(direct)", "(none)"),
    ("facebook.com", "referral"),
    ("newsletter", "email"),
)


class GoogleAnalyticsControl(DataApi):
    def control_urls(self) -> list[URLPattern]:
        return super().control_urls() + [
            path("_control/service-account", self._control(self._service_account_view)),
            path("_control/property", self._control(self._property_view)),
        ]

    # --- properties and service accounts ------------------------------------------------------------

    def property_ensure(
        self, property_id: str = DEFAULT_PROPERTY, *, measurement_id: str = "", api_secret: str = ""
    ) -> SandboxRecord:
        now = timezone.now()
        prop, _ = SandboxRecord.objects.get_or_create(
            provider=self.provider,
            object_type=PROPERTIES,
            remote_id=property_id,
            defaults={"data": {"users": [], "streams": {}}, "created_at": now, "updated_at": now},
        )
        if measurement_id:
            streams = dict(prop.data.get("streams") or {})
            streams[measurement_id] = api_secret or streams.get(measurement_id) or secrets.token_urlsafe(16)
            prop.data = {**prop.data, "streams": streams}
            prop.save(update_fields=["data"])
        return prop

    def property_users(self, prop: SandboxRecord, *, add: list[str] = (), remove: list[str] = ()) -> None:
        users = [u for u in prop.data.get("users", []) if u not in set(remove)]
        users += [u for u in add if u not in users]
        prop.data = {**prop.data, "users": users}
        prop.save(update_fields=["data"])

    def service_account_issue(
        self,
        token_uri: str,
        *,
        client_email: str = "",
        property_id: str = DEFAULT_PROPERTY,
        grant: bool = True,
    ) -> dict[str, Any]:
        """A new key file (its public key registered), granted ``property_id`` when ``grant``."""
        email = client_email or f"crm-sync-{secrets.token_hex(3)}@{PROJECT_ID}.iam.gserviceaccount.com"
        key_file, public_pem = generate_key_file(email, token_uri)
        self.key_register(
            private_key_id=key_file["private_key_id"], client_email=email, public_pem=public_pem
        )
        if grant:
            self.property_users(self.property_ensure(property_id), add=[email])
        return key_file

    def connect(self, sandbox_base: str) -> tuple[dict[str, Any], Tokens | None]:
        """A config for the default property and stream with a freshly issued key file; no tokens
        (the first request signs a JWT and stores the token it gets)."""
        base = f"{sandbox_base.rstrip('/')}/{self.mount_paths[0]}"
        prop = self.property_ensure(measurement_id=DEFAULT_MEASUREMENT_ID)
        key_file = self.service_account_issue(f"{base}/token", property_id=prop.remote_id)
        config = {
            "serviceAccountKey": json.dumps(key_file, indent=2),
            "propertyId": prop.remote_id,
            "measurementId": DEFAULT_MEASUREMENT_ID,
            "apiSecret": prop.data["streams"][DEFAULT_MEASUREMENT_ID],
            "base_url": base,
            "collect_url": base,
        }
        return config, None

    def _service_account_view(self, request: HttpRequest) -> HttpResponse:
        body = json_body(request) or {}
        property_id = str(body.get("property_id") or DEFAULT_PROPERTY)
        grant = bool(body.get("grant", True))
        if body.get("public_key"):
            email, key_id = str(body.get("client_email") or ""), str(body.get("private_key_id") or "")
            if not (email and key_id):
                return JsonResponse(
                    {"error": "client_email and private_key_id come with public_key"}, status=400
                )
            self.key_register(private_key_id=key_id, client_email=email, public_pem=str(body["public_key"]))
            if grant:
                self.property_users(self.property_ensure(property_id), add=[email])
            return JsonResponse({"client_email": email, "private_key_id": key_id})
        token_uri = f"{mount_url(request, ['/_control/'])}/token"
        key_file = self.service_account_issue(
            token_uri, client_email=str(body.get("client_email") or ""), property_id=property_id, grant=grant
        )
        return JsonResponse(
            {
                "key_file": key_file,
                "client_email": key_file["client_email"],
                "private_key_id": key_file["private_key_id"],
            }
        )

    def _property_view(self, request: HttpRequest) -> HttpResponse:
        body = json_body(request) or {}
        prop = self.property_ensure(
            str(body.get("property_id") or DEFAULT_PROPERTY),
            measurement_id=str(body.get("measurement_id") or ""),
            api_secret=str(body.get("api_secret") or ""),
        )
        self.property_users(prop, add=list(body.get("users") or []), remove=list(body.get("revoke") or []))
        return JsonResponse({"property_id": prop.remote_id, **prop.data})

    # --- seeding ------------------------------------------------------------------------------------

    def seed(self, object_type: str, count: int, request: HttpRequest | None) -> int:
        if object_type not in (TRAFFIC, "traffic_days"):
            raise ValueError("google_analytics emulator can seed 'traffic' (count = days)")
        if count < 0:
            raise ValueError("count must be positive")
        prop = self.property_ensure(measurement_id=DEFAULT_MEASUREMENT_ID)
        today = datetime.now(UTC).date()
        rng = random.Random(f"{prop.remote_id}-{count}")  # noqa: S311 (sample figures)
        now = timezone.now()
        rows = []
        for back in range(count):
            day = today - timedelta(days=back)
            for source, medium in CHANNELS:
                sessions = rng.randint(5, 400)
                rows.append(
                    SandboxRecord(
                        provider=self.provider,
                        object_type=TRAFFIC,
                        remote_id=uuid.uuid4().hex,
                        data={
                            "property_id": prop.remote_id,
                            "date": day.isoformat(),
                            "source": source,
                            "medium": medium,
                            "sessions": sessions,
                            "conversions": rng.randint(0, max(1, sessions // 20)),
                            "events": sessions * rng.randint(3, 9),
                        },
                        created_at=now,
                        updated_at=now,
                    )
                )
        SandboxRecord.objects.bulk_create(rows)
        return len(rows)

    # --- state --------------------------------------------------------------------------------------

    def _state_dict(self, state) -> dict[str, Any]:
        events = Counter(self.records(EVENTS).values_list("data__measurement_id", flat=True))
        requests_ = Counter(self.records(MP_REQUESTS).values_list("data__measurement_id", flat=True))
        properties = {
            p.remote_id: {"users": p.data.get("users", []), "streams": sorted(p.data.get("streams", {}))}
            for p in self.records(PROPERTIES)
        }
        return {
            **super()._state_dict(state),
            "events": dict(events),
            "mp_requests": dict(requests_),
            "properties": properties,
        }
