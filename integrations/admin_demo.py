"""Demo buttons on a sandbox integration's admin page: what its emulator can make the provider do
(``Emulator.demo_actions``: a lead form submitted, say), run in-process against the emulator's
state, so the result reaches the platform the way the provider's would (its webhook, its API).

A sandbox integration is one whose config points at the sandbox (``base_url`` under
``/sandbox/``) while the sandbox is served (``settings.SANDBOX``).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from connectors.registry import EMULATORS, emulator_module
from connectors.sandbox.emulator import Emulator
from integrations.admin_scope import integration_to_operate
from integrations.models import Integration


def demo_emulator(integration: Integration) -> Emulator | None:
    """The emulator behind a sandbox integration, when it offers demo actions."""
    key = integration.template.connector
    base_url = str((integration.config or {}).get("base_url") or "")
    if not settings.SANDBOX or key not in EMULATORS or "/sandbox/" not in base_url:
        return None
    emulator = emulator_module(key).emulator
    return emulator if emulator.demo_actions else None


def demo_buttons(integration: Integration) -> list[tuple[str, str]]:
    """(action, label) of each demo action the change page offers."""
    emulator = demo_emulator(integration)
    if emulator is None:
        return []
    return [(action, label) for action, (label, _) in emulator.demo_actions.items()]


@require_POST
def demo_action_view(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    integration = integration_to_operate(request.user, pk)
    emulator = demo_emulator(integration)
    if emulator is None or action not in emulator.demo_actions:
        raise Http404("no such demo action for this integration")
    try:
        result = emulator.demo_action(action)
    except ValueError as exc:
        messages.error(request, f"{emulator.demo_actions[action][0]}: {exc}")
    else:
        messages.success(request, str(result.get("message") or f"{action}: done"))
    return HttpResponseRedirect(reverse("admin:integrations_integration_change", args=[pk]))
