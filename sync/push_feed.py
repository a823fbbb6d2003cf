"""Local changes reach every other integration of the sub-account within seconds.

Every commit that wrote Change rows (``sync.hooks.changes_recorded``) kicks the sub-account's feed
(debounced: one task per window, ``integrations.kick``). The feed asks each active integration that
pushes, and has changes it has not sent yet (not its own: no echo), for a push-only run. A run that
is busy is asked again shortly: that run may have read the log before the new rows. The
integrations' own schedules still push whatever a lost kick left.

A contact edited in the API, pulled from HubSpot or written by enrichment thus reaches À La Carte
Chat, Salesforce and the rest without waiting for their next scheduled delta.
"""

from __future__ import annotations

from functools import partial

from celery import current_app
from django.conf import settings
from django.db import transaction

from connectors.registry import connector_class
from integrations.kick import kick
from integrations.models import Integration
from sync.engine import origin_of, push_cursor
from sync.models import Change

PUSH_TASK = "sync.push"  # sync/tasks.py
FEED_TASK = "sync.push_feed"  # sync/tasks.py
FEED_WINDOW = 0.5  # seconds: commits within it share one look at the sub-account's integrations
PUSH_WINDOW = 0.2  # seconds: pushes asked for within it share one run
PUSH_RETRY_EVERY = 2.0  # seconds between tries while the integration's run is busy


def on_changes_recorded(sender, *, subaccount_id: int, **kwargs) -> None:
    if settings.SYNC_PUSH_ON_CHANGE:
        transaction.on_commit(partial(feed_kick, subaccount_id))


def feed_kick(subaccount_id: int) -> None:
    kick(
        current_app.tasks[FEED_TASK],
        key=f"push-feed:{subaccount_id}",
        window=FEED_WINDOW,
        args=(subaccount_id,),
    )


def pushing_integrations(subaccount_id: int) -> list[Integration]:
    """The sub-account's active integrations that push records (not enrichment providers)."""
    pushing = (
        Integration.objects.filter(subaccount_id=subaccount_id, status=Integration.Status.ACTIVE)
        .exclude(direction=Integration.Direction.INBOUND)
        .select_related("template")
    )
    return [i for i in pushing if connector_class(i.template.connector).entities]


def has_unsent_changes(integration: Integration) -> bool:
    """Whether the Change log holds something this integration has not pushed: another origin's
    change past its push cursor, of an entity its provider lets us write."""
    entities = [
        e for e, spec in connector_class(integration.template.connector).entities.items() if spec.writable
    ]
    return (
        Change.objects.filter(
            subaccount_id=integration.subaccount_id, seq__gt=push_cursor(integration), entity__in=entities
        )
        .exclude(origin=origin_of(integration))
        .exists()
    )


def feed_run(subaccount_id: int) -> list[int]:
    """Kick a push of every integration with unsent changes; returns their ids. One that has never
    synced waits for its first run, which is full: it pulls, matching what the provider already
    has, before it exports; a push ahead of it could create what that run would have matched."""
    due = [
        i.pk
        for i in pushing_integrations(subaccount_id)
        if i.last_sync_at is not None and has_unsent_changes(i)
    ]
    for integration_id in due:
        push_kick(integration_id)
    return due


def push_soon(subaccount_id: int, *, requested_by: str = "changes") -> None:
    """Ask every pushing integration of the sub-account for a push-only run, after commit."""
    for integration in pushing_integrations(subaccount_id):
        transaction.on_commit(partial(push_kick, integration.pk, requested_by=requested_by))


def push_kick(integration_id: int, *, window: float = PUSH_WINDOW, requested_by: str = "changes") -> None:
    """At most one queued push per integration per window (``integrations.kick``, which never fails
    its caller). The task is looked up by name: its module builds on this one."""
    kick(
        current_app.tasks[PUSH_TASK],
        key=f"push:{integration_id}",
        window=window,
        args=(integration_id, requested_by),
    )
