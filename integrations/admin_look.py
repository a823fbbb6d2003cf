"""The admin's shared look: status badges (one tone per kind of state, styled in
static/integrations/admin.css so dark mode can restyle them) and the empty states every changelist
shows when it has nothing yet, saying what to do next.

Badges are ``<span class="badge badge-<state> badge-<tone>">``; the colour passed to ``badge`` is a
fallback for states no tone names.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import slugify

STATUS_COLOURS = {
    "pending": "#8a5a00",
    "active": "#2e7d32",
    "paused": "#5f6b73",
    "error": "#c62828",
    "disconnected": "#455a64",
}
HEALTH_COLOURS = {"unknown": "#5f6b73", "healthy": "#2e7d32", "degraded": "#b45309", "failing": "#c62828"}

# Every state a badge shows, by tone: ok (green), warn (amber), error (red), muted (grey).
TONES = {
    **dict.fromkeys(
        ["active", "healthy", "succeeded", "processed", "parsed", "accepted", "sent", "done"], "ok"
    ),
    **dict.fromkeys(
        ["pending", "processing", "queued", "running", "degraded", "partial", "throttled"], "warn"
    ),
    **dict.fromkeys(["error", "failing", "failed", "dead", "rejected", "forbidden", "malformed"], "error"),
    **dict.fromkeys(
        ["paused", "disconnected", "unknown", "ignored", "skipped", "cancelled", "not-configured"], "muted"
    ),
}


def badge(text: str, colour: str, kind: str = "") -> SafeString:
    """A status pill. ``kind`` (default: the text, slugified) picks its CSS class and tone."""
    kind = slugify(kind or text)
    tone = TONES.get(kind, "")
    return format_html(
        '<span class="badge badge-{}{}" style="--badge-fallback:{}">{}</span>',
        kind,
        f" badge-{tone}" if tone else "",
        colour,
        text,
    )


def status_badge(value: str, label: str = "") -> SafeString:
    """A badge for any state value (a run's, an event's, a delivery's): its tone from ``TONES``."""
    return badge(label or value.replace("_", " ").capitalize(), "#5f6b73", kind=value)


@dataclass(frozen=True)
class EmptyState:
    message: str
    action_url: str = ""  # a URL name, reversed without arguments
    action_label: str = ""


# What an empty changelist says, by model label; one table for every app's pages (the admin's
# change_list.html reads it through the ``empty_state`` tag). Unlisted models get a generic line.
EMPTY_STATES: dict[str, EmptyState] = {
    "integrations.integration": EmptyState(
        "No integrations yet — open the catalog and set one up.",
        "admin:integrations_catalog",
        "Open the catalog",
    ),
    "integrations.apikey": EmptyState("No API keys yet — add one to let an app call the API."),
    "integrations.auditlog": EmptyState("Nothing changed yet: integration changes are logged here."),
    "sync.conflict": EmptyState("No conflicts waiting — both sides agree."),
    "sync.syncrun": EmptyState(
        "No sync has run yet — start one from an integration's page.",
        "admin:integrations_integration_changelist",
        "Open the integrations",
    ),
    **{
        f"sync.{entity}": EmptyState(
            f"No {plural} yet — connect a CRM or import them through the API.",
            "admin:integrations_catalog",
            "Connect a CRM",
        )
        for entity, plural in [
            ("contact", "contacts"),
            ("company", "companies"),
            ("deal", "deals"),
            ("activity", "activities"),
            ("conversation", "conversations"),
        ]
    },
    "sync.change": EmptyState("No record has changed yet."),
    "webhooks.inboundevent": EmptyState(
        "No webhook events yet — they arrive once an integration with webhooks is active."
    ),
    "webhooks.inbounddelivery": EmptyState("No webhook deliveries received yet."),
    "webhooks.endpoint": EmptyState("No outbound webhook endpoints yet — add one through the API."),
    "webhooks.message": EmptyState("No outbound webhook messages yet."),
}


def empty_state_for(opts) -> dict[str, str]:
    """The empty state of a model's changelist (``opts`` is its ``_meta``), its action resolved."""
    state = EMPTY_STATES.get(opts.label_lower) or EmptyState(f"No {opts.verbose_name_plural} yet.")
    url = ""
    if state.action_url:
        try:
            url = reverse(state.action_url)
        except NoReverseMatch:
            url = ""
    return {"message": state.message, "url": url, "label": state.action_label if url else ""}
