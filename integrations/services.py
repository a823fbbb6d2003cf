"""Integration lifecycle: create, configure, test, activate, pause, disconnect, OAuth.

Admin, wizard, API and commands all call these functions; each one writes its AuditLog row.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connectors.base import (
    AuthError,
    ConfigError,
    Connector,
    ConnectorError,
    PermanentError,
    TestResult,
    TransientError,
)
from connectors.oauth import OAuthClient, new_code_verifier, new_state
from connectors.registry import connector_class
from integrations.audit import audit_record
from integrations.config_schema import ConfigInvalid, audit_diff, merge_config, validate_config
from integrations.models import (
    AuditLog,
    Integration,
    IntegrationTemplate,
    OAuthState,
    SubAccount,
    full_sync_slot_default,
)
from integrations.oauth_apps import config_schema_for, connector_config
from integrations.status import (  # noqa: F401 (integration_mark_error: sync.runs imports it from here)
    integration_mark_error,
    integration_set_status,
)
from integrations.tokens import IntegrationTokenStore

logger = logging.getLogger(__name__)

# What integration_create and integration_update accept besides the config.
SETTINGS_FIELDS = ("name", "description", *Integration.SYNC_SETTINGS)


class TemplateUnavailable(ValueError):
    pass


class OAuthFlowError(ValueError):
    """A callback we cannot accept: unknown, used or expired state, provider error."""


class InvalidTransition(ValueError):
    pass


# --- helpers ------------------------------------------------------------------------------------


def connector_for(integration: Integration) -> Connector:
    """The integration's connector, with its decrypted config (the operator's OAuth app filled in when
    it names none, oauth_apps.py) and a token store."""
    cls = connector_class(integration.template.connector)
    return cls(
        connector_config(provider=integration.template.connector, config=integration.config),
        token_store=IntegrationTokenStore(integration.pk),
        integration_id=integration.pk,
    )


def oauth_client_for(integration: Integration, *, callback: Mapping[str, str] | None = None) -> OAuthClient:
    connector = connector_for(integration)
    client = connector.oauth_client(callback=callback)
    if client is None:
        raise ConfigError(f"{integration.template.display_name} does not use OAuth")
    return client


def _connector_checks(connector_key: str, config: dict[str, Any]) -> None:
    try:
        connector_class(connector_key).validate_config(config)
    except ConfigError as exc:
        raise ConfigInvalid({exc.field: [str(exc)]}) from None


def _hash_state(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


# --- lifecycle ----------------------------------------------------------------------------------


def integration_create(
    *,
    subaccount: SubAccount,
    template: IntegrationTemplate,
    name: str,
    config: dict[str, Any],
    actor: str,
    created_by=None,
    **options: Any,
) -> Integration:
    """Validate the config against the template's schema and store it encrypted (status pending)."""
    if not template.is_available:
        raise TemplateUnavailable(f"{template.display_name} is coming soon and cannot be chosen yet")
    cleaned = validate_config(config_schema_for(template), config)
    _connector_checks(template.connector, cleaned)
    unknown = set(options) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValueError(f"unknown integration settings: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        integration = Integration.objects.create(
            subaccount=subaccount,
            template=template,
            name=name or template.display_name,
            config=cleaned,
            webhook_secret=secrets.token_urlsafe(32),
            created_by=created_by,
            **options,
        )
        # A quiet weekly full-sync slot of its own unless one was chosen: the id spreads them out.
        weekday, hour = full_sync_slot_default(integration.pk)
        slot = {
            name: value
            for name, value in (("full_sync_weekday", weekday), ("full_sync_hour", hour))
            if name not in options
        }
        if slot:
            Integration.objects.filter(pk=integration.pk).update(**slot)
            for name, value in slot.items():
                setattr(integration, name, value)
        audit_record(
            integration=integration,
            subaccount=subaccount,
            actor=actor,
            action="integration.created",
            changes={"template": template.key, "config": audit_diff(template.config_schema, {}, cleaned)},
        )
    return integration


def integration_update(
    *, integration: Integration, actor: str, config: dict[str, Any] | None = None, **fields: Any
) -> Integration:
    """Change settings and/or config; blank secrets keep their stored values."""
    unknown = set(fields) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValueError(f"unknown integration settings: {', '.join(sorted(unknown))}")
    schema = integration.template.config_schema
    changes: dict[str, Any] = {}
    if config is not None:
        merged = merge_config(schema, integration.config or {}, config)
        cleaned = validate_config(config_schema_for(integration.template), merged)
        _connector_checks(integration.template.connector, cleaned)
        diff = audit_diff(schema, integration.config or {}, cleaned)
        if diff:
            changes["config"] = diff
            integration.config = cleaned
    for name, value in fields.items():
        if getattr(integration, name) != value:
            changes[name] = {"from": getattr(integration, name), "to": value}
            setattr(integration, name, value)
    if changes:
        with transaction.atomic():
            integration.save()
            audit_record(
                integration=integration,
                subaccount=integration.subaccount,
                actor=actor,
                action="integration.updated",
                changes=changes,
            )
    return integration


def integration_test(*, integration: Integration, actor: str) -> TestResult:
    """Call the provider now and record the outcome (the only request-time provider call)."""
    try:
        connector = connector_for(integration)
        result = connector.test_connection()
    except AuthError as exc:
        result = TestResult(ok=False, message=f"Credentials rejected: {exc}", details={"reason": "auth"})
    except (PermanentError, ConfigError) as exc:
        result = TestResult(ok=False, message=str(exc), details={"reason": "refused"})
    except TransientError as exc:
        result = TestResult(
            ok=False, message=f"Provider unreachable: {exc}", details={"reason": "unreachable"}
        )
    except ConnectorError as exc:
        result = TestResult(ok=False, message=str(exc), details={"reason": "error"})
    integration.last_tested_at = timezone.now()
    integration.last_test_ok = result.ok
    integration.last_test_message = result.message[:500]
    integration.last_test_details = dict(result.details)
    update = ["last_tested_at", "last_test_ok", "last_test_message", "last_test_details", "updated_at"]
    if result.ok:
        integration.health = Integration.Health.HEALTHY
        update.append("health")
        if integration.status == Integration.Status.ERROR:
            integration.last_error = ""
            update.append("last_error")
    else:
        integration.health = Integration.Health.FAILING
        integration.last_error = result.message[:2000]
        integration.last_error_at = timezone.now()
        update += ["health", "last_error", "last_error_at"]
    integration.save(update_fields=update)
    if not result.ok and integration.status == Integration.Status.ACTIVE:
        integration_set_status(
            integration=integration, status=Integration.Status.ERROR, actor=actor, reason=result.message[:200]
        )
    elif result.ok and integration.status == Integration.Status.ERROR:
        integration_set_status(
            integration=integration,
            status=Integration.Status.ACTIVE,
            actor=actor,
            reason="connection test passed",
        )
    audit_record(
        integration=integration,
        subaccount=integration.subaccount,
        actor=actor,
        action="integration.tested",
        changes={"ok": result.ok},
    )
    return result


def integration_activate(*, integration: Integration, actor: str) -> Integration:
    """Go live: register the provider-side webhook subscription, then turn active.

    Refuses until a connection test has passed (and OAuth is connected), and when the provider
    refuses the subscription (the message says why).
    """
    if integration.status == Integration.Status.DISCONNECTED:
        raise InvalidTransition("a disconnected integration must be reconnected first")
    if not integration.last_test_ok:
        raise InvalidTransition("test the connection successfully before activating")
    try:
        integration_webhooks_subscribe(integration=integration)
    except ConnectorError as exc:
        raise InvalidTransition(f"the provider refused the webhook subscription: {exc}") from None
    return integration_set_status(integration=integration, status=Integration.Status.ACTIVE, actor=actor)


def inbound_webhook_url(integration: Integration) -> str:
    """Where the provider posts this integration's webhooks (PUBLIC_BASE_URL + the receiver's path)."""
    return f"{settings.PUBLIC_BASE_URL}/webhooks/in/{integration.template.connector}/{integration.pk}/"


def integration_webhooks_subscribe(*, integration: Integration) -> dict[str, Any]:
    """(Re)register the provider's webhook subscription for this integration; an older one is removed
    first. Providers configured by hand (HubSpot, Salesforce) register nothing."""
    integration_webhooks_unsubscribe(integration=integration)
    subscription = connector_for(integration).subscribe_webhooks(
        target_url=inbound_webhook_url(integration), secret=str(integration.webhook_secret or "")
    )
    integration.webhook_subscription = subscription or {}
    Integration.objects.filter(pk=integration.pk).update(
        webhook_subscription=integration.webhook_subscription
    )
    return integration.webhook_subscription


def integration_webhooks_renew(*, integration: Integration) -> bool:
    """Let the connector extend an expiring provider subscription; whether it stored a new one.
    A provider error propagates (the daily job logs it and tries again the next day)."""
    if not integration.webhook_subscription:
        return False
    renewed = connector_for(integration).renew_webhooks(
        subscription=integration.webhook_subscription,
        target_url=inbound_webhook_url(integration),
        secret=str(integration.webhook_secret or ""),
    )
    if renewed is None:
        return False
    integration.webhook_subscription = renewed
    Integration.objects.filter(pk=integration.pk).update(webhook_subscription=renewed)
    return True


def integration_webhooks_unsubscribe(*, integration: Integration) -> None:
    """Remove the provider-side subscription, best effort: a provider that cannot be reached keeps a
    subscription pointing at a receiver that now answers 404 or 401, which it will stop retrying."""
    if not integration.webhook_subscription:
        return
    try:
        connector_for(integration).unsubscribe_webhooks(subscription=integration.webhook_subscription)
    except ConnectorError as exc:
        logger.warning(
            "webhook unsubscribe failed",
            extra={"integration_id": integration.pk, "error": type(exc).__name__},
        )
    integration.webhook_subscription = {}
    Integration.objects.filter(pk=integration.pk).update(webhook_subscription={})


def integration_webhook_secret_rotate(*, integration: Integration, actor: str) -> Integration:
    """A new inbound webhook secret; an active integration's subscription is registered again with it."""
    integration.webhook_secret = secrets.token_urlsafe(32)
    integration.save(update_fields=["webhook_secret", "updated_at"])
    if integration.status == Integration.Status.ACTIVE:
        integration_webhooks_subscribe(integration=integration)
    audit_record(
        integration=integration,
        subaccount=integration.subaccount,
        actor=actor,
        action="integration.webhook_secret_rotated",
        changes={"webhook_secret": "[changed]"},
    )
    return integration


def integration_delete(*, integration: Integration, actor: str) -> None:
    """Remove the provider-side subscription (best effort), record who deleted it, delete it."""
    integration_webhooks_unsubscribe(integration=integration)
    audit_record(
        integration=None,
        subaccount=integration.subaccount,
        actor=actor,
        action="integration.deleted",
        changes={"id": integration.pk, "name": integration.name},
        object_type=AuditLog.ObjectType.INTEGRATION,
        object_id=integration.pk,
        object_repr=integration.name,
    )
    integration.delete()


def integration_pause(*, integration: Integration, actor: str) -> Integration:
    if integration.status != Integration.Status.ACTIVE:
        raise InvalidTransition(
            f"only an active integration can be paused (this one is {integration.status})"
        )
    return integration_set_status(integration=integration, status=Integration.Status.PAUSED, actor=actor)


def integration_resume(*, integration: Integration, actor: str) -> Integration:
    if integration.status != Integration.Status.PAUSED:
        raise InvalidTransition(
            f"only a paused integration can be resumed (this one is {integration.status})"
        )
    return integration_set_status(integration=integration, status=Integration.Status.ACTIVE, actor=actor)


def integration_disconnect(*, integration: Integration, actor: str) -> Integration:
    """Revoke tokens at the provider (best effort), forget them, keep config and history."""
    integration_webhooks_unsubscribe(integration=integration)  # while the tokens still work
    connector = connector_for(integration)
    revoked = False
    if integration.tokens:
        try:
            revoked = connector.revoke()
        except ConnectorError as exc:
            logger.warning(
                "token revocation failed",
                extra={"integration_id": integration.pk, "error": type(exc).__name__},
            )
    integration.tokens = None
    integration.save(update_fields=["tokens", "updated_at"])
    integration_set_status(integration=integration, status=Integration.Status.DISCONNECTED, actor=actor)
    audit_record(
        integration=integration,
        subaccount=integration.subaccount,
        actor=actor,
        action="integration.disconnected",
        changes={"tokens_revoked_at_provider": revoked},
    )
    return integration


# --- OAuth ----------------------------------------------------------------------------------------


def oauth_redirect_uri(provider: str, *, request_base: str = "") -> str:
    base = settings.PUBLIC_BASE_URL or request_base.rstrip("/")
    return f"{base}/oauth/callback/{provider}/"


def oauth_start(*, integration: Integration, redirect_uri: str, return_to: str = "", user=None) -> str:
    """Create a single-use state (with a PKCE verifier) and return the provider's authorize URL."""
    client = oauth_client_for(integration)
    state, verifier = new_state(), new_code_verifier()
    OAuthState.objects.create(
        state_hash=_hash_state(state),
        integration=integration,
        code_verifier=verifier,
        redirect_uri=redirect_uri,
        return_to=return_to,
        created_by=user,
        expires_at=timezone.now() + timedelta(seconds=settings.OAUTH_STATE_TTL_SECONDS),
    )
    return client.authorize_url(state=state, redirect_uri=redirect_uri, verifier=verifier)


@dataclass(frozen=True)
class OAuthOutcome:
    integration: Integration
    return_to: str


def oauth_complete(
    *, provider: str, state: str, code: str, error: str = "", callback: Mapping[str, str] | None = None
) -> OAuthOutcome:
    """Exchange the code for tokens. Bad, reused or expired state → OAuthFlowError, nothing saved."""
    if not state:
        raise OAuthFlowError("The authorization response carried no state.")
    with transaction.atomic():
        row = (
            OAuthState.objects.select_for_update()
            .select_related("integration__template")
            .filter(state_hash=_hash_state(state))
            .first()
        )
        if row is None or row.integration.template.connector != provider:
            raise OAuthFlowError("This authorization link is not valid. Start the connection again.")
        if row.used_at is not None:
            raise OAuthFlowError("This authorization link was already used. Start the connection again.")
        if row.is_expired:
            raise OAuthFlowError("This authorization link has expired. Start the connection again.")
        # Claim the state before calling the provider, so a replayed callback cannot race us.
        claimed = OAuthState.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=timezone.now())
        if not claimed:
            raise OAuthFlowError("This authorization link was already used. Start the connection again.")
    if error:
        raise OAuthFlowError(f"The provider did not grant access ({error[:100]}).")
    if not code:
        raise OAuthFlowError("The authorization response carried no code.")
    integration = row.integration
    try:
        tokens = oauth_client_for(integration, callback=callback).exchange_code(
            code=code, redirect_uri=row.redirect_uri, verifier=row.code_verifier
        )
        connector_for(integration).accept_tokens(tokens)
    except ConnectorError as exc:
        raise OAuthFlowError(f"The provider refused the authorization: {exc}") from None
    IntegrationTokenStore(integration.pk).save(tokens)
    integration.refresh_from_db()
    if integration.status in (Integration.Status.DISCONNECTED, Integration.Status.ERROR):
        integration_set_status(
            integration=integration, status=Integration.Status.PENDING, actor="system", reason="reauthorized"
        )
    audit_record(
        integration=integration,
        subaccount=integration.subaccount,
        actor=f"user:{row.created_by.get_username()}" if row.created_by else "system",
        action="integration.oauth_connected",
        changes={"scope": tokens.scope},
    )
    return OAuthOutcome(integration=integration, return_to=row.return_to)
