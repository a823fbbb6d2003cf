"""The provider webhook receiver: ``/webhooks/in/<provider>/<integration id>/``.

The order of checks is fixed here; providers supply only their connector's webhook classmethods
(verify, parse and, where needed, ``webhook_ack`` and ``webhook_challenge``). Known live integration
(404/410) → size (413) → rate limit (429) → sender address (403) → signature (401) → store → 2xx at
once. The store is one INSERT of a narrow receipt of the verified delivery as received, so an
acknowledged delivery is durable in PostgreSQL. Everything else is a worker's, after the row
commits: filing it as a delivery, parsing that into events, de-duplicating and applying them
(``inbound.parsing``, ``inbound.processing``). A verified delivery whose body the connector cannot
read is therefore acknowledged, then marked failed with the reason (shown in the admin, logged,
and re-readable after a connector fix) rather than refused: nothing a provider signed is lost, and
the provider's clock never waits on our parsing.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from connectors.base import Connector, SignatureInvalid, WebhookRequest
from connectors.netguard import ip_allowed
from connectors.registry import UnknownConnector, connector_class
from integrations.models import Integration
from integrations.request_address import client_address
from webhooks.inbound import throttle
from webhooks.inbound.services import (
    inbound_challenge_record,
    inbound_delivery_accept,
    inbound_delivery_reject,
)
from webhooks.inbound.targets import forget, receiving_config, receiving_integration
from webhooks.models import InboundDelivery

MAX_BODY_BYTES = 1024 * 1024
# Per integration, as "<requests>/<seconds>"; settings.WEBHOOK_INBOUND_RATE_LIMIT overrides it.
DEFAULT_RATE_LIMIT = "50/1"
GONE = (Integration.Status.PAUSED, Integration.Status.DISCONNECTED)
Outcome = InboundDelivery.Outcome


@csrf_exempt
def receive(request: HttpRequest, provider: str, integration_id: int) -> HttpResponse:
    """Verify, store and acknowledge one provider delivery; never process anything unverified."""
    integration = receiving_integration(provider, integration_id)
    try:
        connector = connector_class(provider) if integration is not None else None
    except UnknownConnector:
        connector = None
    if integration is None or connector is None:
        return HttpResponse(status=404)
    if integration.status in GONE:
        return HttpResponse(status=410)
    if request.method not in ("POST", "GET"):
        return _not_allowed(connector)
    try:
        return _handle(request, connector, integration, provider)
    except IntegrityError:
        if Integration.objects.filter(pk=integration.pk).exists():
            raise
        forget(integration.pk)  # deleted since this process last read it: its rows cannot be stored
        return HttpResponse(status=404)


def _handle(
    request: HttpRequest, connector: type[Connector], integration: Integration, provider: str
) -> HttpResponse:
    body = _read_body(request)
    if body is None:
        return HttpResponse(status=413)
    webhook = _webhook_request(request, body)
    for check in (_throttled, _forbidden):
        refused = check(integration, provider, webhook)
        if refused is not None:
            return refused
    if request.method == "GET":
        return _challenge(connector, integration, provider, webhook)
    return _deliver(connector, integration, provider, webhook)


def _deliver(
    connector: type[Connector], integration: Integration, provider: str, webhook: WebhookRequest
) -> HttpResponse:
    config = receiving_config(provider, integration)
    try:
        connector.verify_webhook(
            webhook, config=config, secret=str(integration.webhook_secret or ""), now=time.time()
        )
    except SignatureInvalid as exc:
        _reject(integration, provider, webhook, Outcome.REJECTED, str(exc))
        body, content_type = connector.webhook_refusal()  # À La Carte Chat: {"error": ...}
        return HttpResponse(body, content_type=content_type, status=401)
    inbound_delivery_accept(integration=integration, request=webhook)
    body, content_type = connector.webhook_ack()  # Salesforce: the SOAP Ack it retries without
    return HttpResponse(body, content_type=content_type, status=200)


def _challenge(
    connector: type[Connector], integration: Integration, provider: str, webhook: WebhookRequest
) -> HttpResponse:
    if not handles_challenge(connector):
        return _not_allowed(connector)
    answer = connector.webhook_challenge(
        webhook, config=receiving_config(provider, integration), secret=str(integration.webhook_secret or "")
    )
    inbound_challenge_record(
        integration=integration, provider=provider, request=webhook, accepted=answer is not None
    )
    if answer is None:
        return HttpResponse(status=403)
    return HttpResponse(answer, content_type="text/plain; charset=utf-8", status=200)


def _throttled(integration: Integration, provider: str, webhook: WebhookRequest) -> HttpResponse | None:
    wait = throttle.admit(throttle_key(integration.pk), inbound_rate())
    if wait is None:
        return None
    _reject(integration, provider, webhook, Outcome.THROTTLED, "rate limit reached")
    response = HttpResponse(status=429)
    response["Retry-After"] = throttle.retry_after_header(wait)
    return response


def inbound_rate() -> str:
    return str(getattr(settings, "WEBHOOK_INBOUND_RATE_LIMIT", "") or DEFAULT_RATE_LIMIT)


def throttle_key(integration_id: int) -> str:
    return f"webhook-in:{integration_id}"


def _forbidden(integration: Integration, provider: str, webhook: WebhookRequest) -> HttpResponse | None:
    allowed = (integration.config or {}).get("allowed_ips") or []
    if isinstance(allowed, str):
        allowed = allowed.replace(",", "\n").split()
    if allowed and not ip_allowed(webhook.remote_addr, allowed):
        _reject(integration, provider, webhook, Outcome.FORBIDDEN, "sender address not in allowed_ips")
        return HttpResponse(status=403)
    return None


def _reject(
    integration: Integration,
    provider: str,
    webhook: WebhookRequest,
    outcome: str,
    reason: str,
    *,
    verified: bool = False,
) -> None:
    inbound_delivery_reject(
        integration=integration,
        provider=provider,
        request=webhook,
        outcome=outcome,
        reason=reason,
        verified=verified,
    )


def _read_body(request: HttpRequest) -> bytes | None:
    """The raw body, or None when it is over MAX_BODY_BYTES (declared or actual: chunked bodies declare nothing)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        return None
    body = request.read(MAX_BODY_BYTES + 1)
    return None if len(body) > MAX_BODY_BYTES else body


def _webhook_request(request: HttpRequest, body: bytes) -> WebhookRequest:
    # Providers sign the URL they called: behind a proxy that is the public origin, not our Host.
    public = settings.PUBLIC_BASE_URL
    url = f"{public}{request.get_full_path()}" if public else request.build_absolute_uri()
    return WebhookRequest(
        method=request.method or "POST",
        url=url,
        headers=request.headers,  # Django's own case-insensitive mapping: no copy
        body=body,
        remote_addr=client_address(request),
        query={key: request.GET.get(key, "") for key in request.GET},
    )


def _not_allowed(connector: type[Connector]) -> HttpResponse:
    response = HttpResponse(status=405)
    # GET is only for providers that verify subscriptions by challenge.
    response["Allow"] = "GET, POST" if handles_challenge(connector) else "POST"
    return response


def handles_challenge(connector: type[Connector]) -> bool:
    """Whether the provider verifies subscriptions by a GET handshake: its webhooks module declares
    ``challenge``, or the connector overrides ``webhook_challenge`` itself."""
    if callable(getattr(connector.webhook_module, "challenge", None)):
        return True
    own = getattr(connector, "webhook_challenge", None)
    return own is not None and own.__func__ is not Connector.webhook_challenge.__func__


urlpatterns = [
    path("<slug:provider>/<int:integration_id>/", receive, name="webhooks-inbound"),
]
