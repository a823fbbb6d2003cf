"""Which integration a provider delivery is for: one lean query, remembered by the process briefly.

The receiver is the hottest path we have, and the integration row barely changes, so each web
process keeps what it read for TARGET_TTL seconds. Saving or deleting an integration forgets it at
once in the process that did it; other processes see the change within TARGET_TTL. That is safe:
events accepted in that second for an integration that was just paused are stored and then ignored
by processing (which reads the live status), and a just-deleted integration's delivery fails its
foreign key and is answered 404. The connector config built from it (the operator's OAuth app
filled in, ``receiving_config``) is remembered with it, for the same time.
"""

# ruff: noqa: S608 -- SQL here is built from model metadata only; every value is a parameter.
from __future__ import annotations

import functools
import time
from typing import Any

from django.db import connection
from django.db.models.signals import post_delete, post_save

from integrations.models import Integration, IntegrationTemplate
from integrations.oauth_apps import connector_config

TARGET_TTL = 1.0
_FIELDS = ("id", "subaccount", "status", "config", "webhook_secret")

_remembered: dict[tuple[str, int], tuple[float, Integration]] = {}


def receiving_integration(provider: str, integration_id: int) -> Integration | None:
    """The integration ``integration_id`` if its connector is ``provider``, with just the columns the
    receiver reads (others load on access, as with ``only()``); None if there is none."""
    key = (provider, integration_id)
    now = time.monotonic()
    hit = _remembered.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    integration = _read(provider, integration_id)
    if integration is None:
        _remembered.pop(key, None)
    else:
        _remembered[key] = (now + TARGET_TTL, integration)
    return integration


def receiving_config(provider: str, integration: Integration) -> dict[str, Any]:
    """The config ``provider``'s connector is given for ``integration``, built once per remembered read."""
    built = integration.__dict__.get("_receiving_config")
    if built is None:
        built = integration.__dict__["_receiving_config"] = connector_config(
            provider=provider, config=integration.config
        )
    return built


def forget(integration_id: int | None = None) -> None:
    """Drop what this process remembers about one integration (or all of them)."""
    for key in list(_remembered):
        if integration_id is None or key[1] == integration_id:
            _remembered.pop(key, None)


def _read(provider: str, integration_id: int) -> Integration | None:
    return next(iter(Integration.objects.raw(_select_sql(), [integration_id, provider])), None)


@functools.cache
def _select_sql() -> str:
    """Hand-written, and built once: compiling the ORM's query would cost more than the rest of the request."""
    qn = connection.ops.quote_name
    integration, template = Integration._meta, IntegrationTemplate._meta
    columns = ", ".join(f"i.{qn(integration.get_field(name).column)}" for name in _FIELDS)
    return (
        f"SELECT {columns} FROM {qn(integration.db_table)} i "
        f"JOIN {qn(template.db_table)} t ON t.{qn(template.pk.column)} = i.{qn('template_id')} "
        f"WHERE i.{qn(integration.pk.column)} = %s AND t.{qn('connector')} = %s"
    )


def _on_change(sender, instance: Integration, **kwargs) -> None:
    forget(instance.pk)


post_save.connect(_on_change, sender=Integration, dispatch_uid="webhooks.inbound.targets.save")
post_delete.connect(_on_change, sender=Integration, dispatch_uid="webhooks.inbound.targets.delete")
