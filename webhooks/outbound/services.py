"""Services for outbound endpoints: create, change, rotate, disable, test, replay and redeliver.

The API, the admin and the delivery code all call these; none of them sends anything in the
caller's request: sending is queued after commit (``webhooks.outbound.tasks``). Every change to an
endpoint (create, settings, enable/disable, secret rotation, delete) writes an audit row in the
same transaction, naming ``actor`` (the API key or admin user; "system" for automatic disabling);
secrets appear there only as "[set]"/"[changed]", URLs without their query string.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from integrations.audit import SECRET_CHANGED, SECRET_SET, audit_record
from integrations.models import AuditLog, SubAccount
from webhooks.models import Delivery, Endpoint, Message
from webhooks.outbound.events import (
    deliveries_enqueue_on_commit,
    endpoint_disabled_data,
    event_emit,
    filter_errors,
    message_create,
    subscribed,
)
from webhooks.outbound.http import TargetRefused, target_check
from webhooks.outbound.signing import ROTATION_GRACE, secret_generate

logger = logging.getLogger(__name__)

SETTINGS = (
    "description",
    "event_types",
    "rate_limit_per_second",
    "retry_schedule",
    "disable_after_failures",
    "disable_after_days",
)
MAX_RETRIES = 20
MAX_RETRY_DELAY = 24 * 3600  # seconds
MAX_REPLAY = 10_000  # messages per replay call: bigger windows are refused, not silently cut


class EndpointInvalid(ValueError):
    """Field → reasons, in the API's details shape."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors


class EndpointDisabled(Exception):
    """The endpoint is disabled: enable it first (it receives nothing while disabled)."""


class ReplayTooLarge(ValueError):
    pass


def _validate(fields: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    if "url" in fields:
        try:
            target_check(fields["url"])
        except TargetRefused as exc:
            errors["url"] = [str(exc)]
    if "event_types" in fields:
        if not isinstance(fields["event_types"], list):
            errors["event_types"] = ["must be a list of event types"]
        elif bad := filter_errors(fields["event_types"]):
            errors["event_types"] = bad
    schedule = fields.get("retry_schedule")
    if schedule is not None and (
        not isinstance(schedule, list)
        or len(schedule) > MAX_RETRIES
        or not all(
            isinstance(s, int) and not isinstance(s, bool) and 0 < s <= MAX_RETRY_DELAY for s in schedule
        )
    ):
        errors["retry_schedule"] = [
            f"a list of at most {MAX_RETRIES} delays in whole seconds, each 1 to {MAX_RETRY_DELAY}"
        ]
    if errors:
        raise EndpointInvalid(errors)


def redacted_url(url: str) -> str:
    """A target URL fit to show or record: its query string (which may carry a token) cut off."""
    base, sep, _ = url.partition("?")
    return f"{base}?…" if sep else base


def _audit(endpoint: Endpoint, *, actor: str, action: str, changes: dict[str, Any]) -> None:
    audit_record(
        integration=None,
        subaccount=endpoint.subaccount,
        actor=actor,
        action=action,
        changes=changes,
        object_type=AuditLog.ObjectType.ENDPOINT,
        object_id=endpoint.pk,
        object_repr=redacted_url(endpoint.url),
    )


def _url_change(before: str, after: str) -> dict[str, Any] | str:
    shown = redacted_url(before), redacted_url(after)
    return SECRET_CHANGED if shown[0] == shown[1] else {"from": shown[0], "to": shown[1]}


def endpoint_create(*, subaccount: SubAccount, url: str, actor: str = "system", **settings: Any) -> Endpoint:
    """A new enabled endpoint with a fresh secret; raises EndpointInvalid (e.g. a private URL)."""
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise TypeError(f"unknown endpoint settings: {sorted(unknown)}")
    _validate({"url": url, **settings})
    with transaction.atomic():
        endpoint = Endpoint.objects.create(
            subaccount=subaccount, url=url, secret=secret_generate(), **settings
        )
        _audit(
            endpoint,
            actor=actor,
            action="endpoint.created",
            changes={"url": redacted_url(url), **settings, "secret": SECRET_SET},
        )
    logger.info(
        "webhook endpoint created", extra={"endpoint_id": endpoint.pk, "subaccount_id": subaccount.pk}
    )
    return endpoint


def endpoint_update(
    *,
    endpoint: Endpoint,
    url: str | None = None,
    enabled: bool | None = None,
    actor: str = "system",
    **settings: Any,
) -> Endpoint:
    """Change settings; ``enabled`` False disables (pending deliveries skipped), True re-enables."""
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise TypeError(f"unknown endpoint settings: {sorted(unknown)}")
    _validate({**({"url": url} if url is not None else {}), **settings})
    changes: dict[str, Any] = {}
    with transaction.atomic():
        for name, value in settings.items():
            if getattr(endpoint, name) != value:
                changes[name] = {"from": getattr(endpoint, name), "to": value}
            setattr(endpoint, name, value)
        if url is not None and url != endpoint.url:
            changes["url"] = _url_change(endpoint.url, url)
            endpoint.url = url
        endpoint.save()
        if changes:
            _audit(endpoint, actor=actor, action="endpoint.updated", changes=changes)
        if enabled is False and endpoint.enabled:
            endpoint_disable(
                endpoint=endpoint, reason="Disabled by the sub-account", notify=False, actor=actor
            )
        elif enabled is True and not endpoint.enabled:
            endpoint_enable(endpoint=endpoint, actor=actor)
    endpoint.refresh_from_db()
    return endpoint


def endpoint_rotate_secret(*, endpoint: Endpoint, actor: str = "system") -> Endpoint:
    """A new secret; the old one keeps signing (a second signature) for ROTATION_GRACE."""
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + ROTATION_GRACE
    endpoint.secret = secret_generate()
    with transaction.atomic():
        endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
        _audit(
            endpoint,
            actor=actor,
            action="endpoint.secret_rotated",
            changes={
                "secret": SECRET_CHANGED,
                "previous_secret_expires_at": endpoint.previous_secret_expires_at.isoformat(),
            },
        )
    logger.info("webhook secret rotated", extra={"endpoint_id": endpoint.pk})
    return endpoint


def endpoint_disable(*, endpoint: Endpoint, reason: str, notify: bool = True, actor: str = "system") -> bool:
    """Disable once (a conditional UPDATE); skip its pending deliveries; tell the other endpoints.

    Returns False when it was already disabled (then nothing else happens, so the
    ``endpoint.disabled`` event is emitted once however many workers see the last failure).
    """
    now = timezone.now()
    with transaction.atomic():
        changed = Endpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
            enabled=False, disabled_reason=reason[:300], disabled_at=now, updated_at=now
        )
        if not changed:
            return False
        Delivery.objects.filter(endpoint_id=endpoint.pk, status=Delivery.Status.PENDING).update(
            status=Delivery.Status.SKIPPED, locked_until=None, next_attempt_at=None, updated_at=now
        )
        endpoint.refresh_from_db()
        _audit(
            endpoint,
            actor=actor,
            action="endpoint.disabled",
            changes={"enabled": {"from": True, "to": False}, "reason": reason[:300]},
        )
        if notify:
            # The endpoint is disabled by now, so only the sub-account's other endpoints hear of it.
            event_emit(
                subaccount=endpoint.subaccount,
                event_type="endpoint.disabled",
                data=endpoint_disabled_data(endpoint),
                ordering_key=f"endpoint:{endpoint.pk}",
            )
    logger.warning("webhook endpoint disabled", extra={"endpoint_id": endpoint.pk, "notified": notify})
    return True


def endpoint_enable(*, endpoint: Endpoint, actor: str = "system") -> Endpoint:
    """Enable with a clean health record (skipped deliveries stay skipped: replay them if wanted)."""
    with transaction.atomic():
        changed = Endpoint.objects.filter(pk=endpoint.pk, enabled=False).update(
            enabled=True,
            disabled_reason="",
            disabled_at=None,
            consecutive_failures=0,
            failing_since=None,
            updated_at=timezone.now(),
        )
        endpoint.refresh_from_db()
        if changed:
            _audit(
                endpoint,
                actor=actor,
                action="endpoint.enabled",
                changes={"enabled": {"from": False, "to": True}},
            )
    return endpoint


def endpoint_send_test(*, endpoint: Endpoint) -> Message:
    """Queue an ``endpoint.test`` event to this endpoint only (whatever its filter)."""
    if not endpoint.enabled:
        raise EndpointDisabled("the endpoint is disabled: enable it first")
    return message_create(
        subaccount=endpoint.subaccount,
        event_type="endpoint.test",
        data={"endpoint": {"id": endpoint.pk}, "message": "A test event: your endpoint is reachable."},
        endpoints=[endpoint],
    )


def endpoint_replay(*, endpoint: Endpoint, since: datetime) -> int:
    """Send again every message since ``since`` that the endpoint's filter takes; the count.

    Each becomes a new attempt cycle (pending, attempts 0). Raises EndpointDisabled, ReplayTooLarge.
    """
    if not endpoint.enabled:
        raise EndpointDisabled("the endpoint is disabled: enable it first")
    candidates = (
        Message.objects.filter(subaccount_id=endpoint.subaccount_id, created_at__gte=since)
        .exclude(event_type="endpoint.test")
        .order_by("id")
        .values_list("pk", "event_type")
    )
    ids = [
        pk for pk, event_type in candidates[: MAX_REPLAY + 1] if subscribed(endpoint.event_types, event_type)
    ]
    if len(ids) > MAX_REPLAY:
        raise ReplayTooLarge(f"more than {MAX_REPLAY} messages since then: choose a later time")
    return _restart(endpoint_ids=[endpoint.pk], message_ids=ids)


def message_redeliver(*, message: Message, endpoint: Endpoint | None = None) -> int:
    """A new attempt cycle for the message's deliveries (or to ``endpoint`` only); the count.

    Disabled endpoints are left out. Raises EndpointDisabled when ``endpoint`` is disabled.
    """
    if endpoint is not None:
        if not endpoint.enabled:
            raise EndpointDisabled("the endpoint is disabled: enable it first")
        endpoint_ids = [endpoint.pk]
    else:
        endpoint_ids = list(
            message.deliveries.filter(endpoint__enabled=True).values_list("endpoint_id", flat=True)
        )
    return _restart(endpoint_ids=endpoint_ids, message_ids=[message.pk])


def _restart(*, endpoint_ids: Iterable[int], message_ids: list[int]) -> int:
    """Reset existing (message, endpoint) deliveries to pending and create missing ones."""
    endpoint_ids = list(endpoint_ids)
    if not endpoint_ids or not message_ids:
        return 0
    now = timezone.now()
    with transaction.atomic():
        existing = Delivery.objects.filter(endpoint_id__in=endpoint_ids, message_id__in=message_ids)
        have = set(existing.values_list("message_id", "endpoint_id"))
        existing.update(
            status=Delivery.Status.PENDING, attempts=0, next_attempt_at=now, locked_until=None, updated_at=now
        )
        Delivery.objects.bulk_create(
            [
                Delivery(message_id=m, endpoint_id=e, next_attempt_at=now)
                for m in message_ids
                for e in endpoint_ids
                if (m, e) not in have
            ]
        )
        ids = list(
            Delivery.objects.filter(endpoint_id__in=endpoint_ids, message_id__in=message_ids)
            .order_by("id")
            .values_list("pk", flat=True)
        )
        deliveries_enqueue_on_commit(ids)
    return len(ids)


def endpoint_delete(*, endpoint: Endpoint, actor: str = "system") -> None:
    """Delete the endpoint with its deliveries and attempts (its messages stay in the log)."""
    logger.info("webhook endpoint deleted", extra={"endpoint_id": endpoint.pk})
    with transaction.atomic():
        _audit(
            endpoint,
            actor=actor,
            action="endpoint.deleted",
            changes={"url": redacted_url(endpoint.url), "description": endpoint.description},
        )
        endpoint.delete()
