"""GoHighLevel webhooks from the emulator: flat JSON events (one per POST) with a unique
``webhookId`` and ISO ``timestamp``, signed over the raw body with Ed25519 (``x-ghl-signature``)
and, while the legacy scheme lasts, RSA PKCS#1 v1.5 + SHA-256 (``x-wh-signature``), both base64
(providers.md §6 "Webhooks").

GoHighLevel's private keys are not public, so the emulator makes its own key pairs (kept in its
state until a reset) and publishes the public halves (``public_keys``, and the ``connect`` config)
for the integration to verify with. Delivery, retries and the attempt log are the shared
``SignedWebhooks``; only the headers differ. ``_control/settings {"webhook_rsa": false}`` stops
sending the legacy header.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, path
from django.utils import timezone

from connectors.gohighlevel.emulator.limits import GoHighLevelLimits
from connectors.sandbox.emulator import iso_ms

APP_ID = "6578278e879ad2646715ba9c"
# The SignedWebhooks targets need a non-empty signing secret; GoHighLevel signs with its key pair.
KEY_PAIR_SECRET = "ghl-key-pair"  # noqa: S105 (a marker, not a secret)


def _pem_private(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _pem_public(key: Any) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


class GoHighLevelHooks(GoHighLevelLimits):
    """Key pairs, signed headers and the events the API's writes emit."""

    webhook_user_agent = "GoHighLevel-Webhooks/1.0"

    def _private_keys(self) -> tuple[ed25519.Ed25519PrivateKey, rsa.RSAPrivateKey]:
        state = self.state()
        keys = state.settings.get("webhook_keys")
        if not keys:
            keys = {
                "ed25519": _pem_private(ed25519.Ed25519PrivateKey.generate()),
                "rsa": _pem_private(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
            }
            state.settings = {**state.settings, "webhook_keys": keys}
            state.save(update_fields=["settings"])
        ed = serialization.load_pem_private_key(keys["ed25519"].encode(), password=None)
        rs = serialization.load_pem_private_key(keys["rsa"].encode(), password=None)
        if not isinstance(ed, ed25519.Ed25519PrivateKey) or not isinstance(rs, rsa.RSAPrivateKey):
            raise TypeError("the emulator's stored webhook keys are of the wrong kind")
        return ed, rs

    def public_keys(self) -> dict[str, str]:
        """The PEM public keys an integration verifies this emulator's webhooks with."""
        ed, rs = self._private_keys()
        return {"webhook_public_key": _pem_public(ed), "webhook_rsa_public_key": _pem_public(rs)}

    def control_urls(self) -> list[URLPattern]:
        return [*super().control_urls(), path("_control/keys", self._control(self._keys_view))]

    def _keys_view(self, request: HttpRequest) -> HttpResponse:
        """The public keys to paste into an integration's webhook key fields."""
        return JsonResponse(self.public_keys())

    def account_secret(self, account: str) -> str:
        return KEY_PAIR_SECRET

    def signed_headers(self, secret: str, raw: bytes, *, at: int | None = None) -> dict[str, str]:
        ed, rs = self._private_keys()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self.webhook_user_agent,
            "x-ghl-signature": base64.b64encode(ed.sign(raw)).decode(),
        }
        if self.setting("webhook_rsa", True):
            signature = rs.sign(raw, padding.PKCS1v15(), hashes.SHA256())
            headers["x-wh-signature"] = base64.b64encode(signature).decode()
        return headers

    def webhooks_connect(self, target_url: str, *, config: dict[str, Any], secret: str) -> None:
        """The Marketplace app's webhook URL pointed at our receiver for the config's location."""
        self.target_add(target_url, account=str(config.get("locationId") or self.location_id()))

    def event(self, event_type: str, data: dict[str, Any], *, nested: str = "") -> None:
        """Emit ``event_type`` for a record: its API body flattened into the event as GoHighLevel
        sends contacts, opportunities, notes and tasks, or under ``nested`` (appointments [3P])."""
        webhook_id = str(uuid.uuid4())
        body = {
            "type": event_type,
            **({nested: data} if nested else data),
            "locationId": data.get("locationId") or self.location_id(),
            "timestamp": iso_ms(timezone.now()),
            "webhookId": webhook_id,
            "appId": APP_ID,
        }
        self.dispatch(body["locationId"], event_type, body, event_id=webhook_id)
