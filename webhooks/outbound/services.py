"""Services for outbound endpoints: create, change, rotate, disable, test, replay and redeliver.

The API, the admin and the delivery code all call these; none of them sends anything in the
caller's request: sending is queued after commit (``webhooks.outbound.tasks``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from integrations.models import SubAccount
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


def endpoint_create(*, subaccount: SubAccount, url: str, **settings: Any) -> Endpoint:
    """A new enabled endpoint with a fresh secret; raises EndpointInvalid (e.g. a private URL)."""
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise TypeError(f"unknown endpoint settings: {sorted(unknown)}")
    _validate({"url": url, **settings})
    endpoint = Endpoint.objects.create(subaccount=subaccount, url=url, secret=secret_generate(), **settings)
    logger.info(
        "webhook endpoint created", extra={"endpoint_id": endpoint.pk, "subaccount_id": subaccount.pk}
    )
    return endpoint


def endpoint_update(
    *, endpoint: Endpoint, url: str | None = None, enabled: bool | None = None, **settings: Any
) -> Endpoint:
    """Change settings; ``enabled`` False disables (pending deliveries skipped), True re-enables."""
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise TypeError(f"unknown endpoint settings: {sorted(unknown)}")
    _validate({**({"url": url} if url is not None else {}), **settings})
    with transaction.atomic():
        for name, value in settings.items():
            setattr(endpoint, name, value)
        if url is not None:
            endpoint.url = url
        endpoint.save()
        if enabled is False and endpoint.enabled:
            endpoint_disable(endpoint=endpoint, reason="Disabled by the sub-account", notify=False)
        elif enabled is True and not endpoint.enabled:
            endpoint_enable(endpoint=endpoint)
    endpoint.refresh_from_db()
    return endpoint


def endpoint_rotate_secret(*, endpoint: Endpoint) -> Endpoint:
    """A new secret; the old one keeps signing (a second signature) for ROTATION_GRACE."""
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + ROTATION_GRACE
    endpoint.secret = secret_generate()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    logger.info("webhook secret rotated", extra={"endpoint_id": endpoint.pk})
    return endpoint


def endpoint_disable(*, endpoint: Endpoint, reason: str, notify: bool = True) -> bool:
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


def endpoint_enable(*, endpoint: Endpoint) -> Endpoint:
    """Enable with a clean health record (skipped deliveries stay skipped: replay them if wanted)."""
    Endpoint.objects.filter(pk=endpoint.pk).update(
        enabled=True,
        disabled_reason="",
        disabled_at=None,
        consecutive_failures=0,
        failing_since=None,
        updated_at=timezone.now(),
    )
    endpoint.refresh_from_db()
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


def endpoint_delete(*, endpoint: Endpoint) -> None:
    """Delete the endpoint with its deliveries and attempts (its messages stay in the log)."""
    logger.info("webhook endpoint deleted", extra={"endpoint_id": endpoint.pk})
    endpoint.delete()
