"""Admin pages beyond the ModelAdmins: the catalog grid, configure form, and integration actions.

Each action is a POST that calls one service and redirects back; nothing long runs in a request
(a connection test is one provider call with a short timeout).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from connectors.base import ConnectorError
from integrations import services
from integrations.admin_look import STATUS_COLOURS, badge
from integrations.admin_scope import integration_to_operate, integrations_for, subaccount_chosen
from integrations.config_schema import ConfigInvalid, redact_config
from integrations.models import Integration, IntegrationTemplate
from integrations.oauth_apps import config_schema_for
from integrations.schema_forms import config_form_class, render_help_markdown
from integrations.selectors import template_status_counts
from integrations.wizard_setup import SetupStepForm, choices_save, uses_setup_choices


def _actor(request: HttpRequest) -> str:
    return f"user:{request.user.get_username()}"


def _back(request: HttpRequest, default: str) -> HttpResponseRedirect:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return HttpResponseRedirect(target)
    return HttpResponseRedirect(default)


# Statuses in the order a card lists them: what needs attention first.
STATUS_ORDER = ["error", "pending", "active", "paused", "disconnected"]


def catalog_scope(request: HttpRequest) -> dict:
    """Whose integrations the catalog's cards count: the ``?subaccount=`` chosen, the user's only
    sub-account, or (none chosen among several) every sub-account the user may see, said so."""
    choices, chosen = subaccount_chosen(request)
    if chosen is None and len(choices) == 1:
        chosen = choices[0]
    integrations = integrations_for(request.user)
    if chosen is not None:
        integrations = integrations.filter(subaccount=chosen)
    return {
        "choices": choices,
        "chosen": chosen,
        "scope_label": chosen.name if chosen is not None else f"all {len(choices)} sub-accounts you manage",
        "counts": template_status_counts(integrations=integrations),
    }


def template_state(counts: dict[str, int]) -> list:
    """A card's badges: "Not configured"; one integration's status ("Active"); or a count per
    status when there are several ("2 active", "1 error")."""
    if not counts:
        return [badge("Not configured", "#5f6b73", kind="not-configured")]
    labels = dict(Integration.Status.choices)
    ordered = sorted(counts, key=lambda s: STATUS_ORDER.index(s) if s in STATUS_ORDER else len(STATUS_ORDER))
    if sum(counts.values()) == 1:
        status = ordered[0]
        return [badge(labels.get(status, status), STATUS_COLOURS.get(status, "#5f6b73"), kind=status)]
    return [
        badge(f"{counts[s]} {labels.get(s, s).lower()}", STATUS_COLOURS.get(s, "#5f6b73"), kind=s)
        for s in ordered
    ]


def catalog_view(request: HttpRequest) -> HttpResponse:
    templates = IntegrationTemplate.objects.filter(is_active=True)
    category = request.GET.get("category", "")
    query = request.GET.get("q", "").strip()
    if category:
        templates = templates.filter(category=category)
    if query:
        templates = templates.filter(
            Q(display_name__icontains=query) | Q(description__icontains=query) | Q(key__icontains=query)
        )
    categories = (
        IntegrationTemplate.objects.filter(is_active=True)
        .order_by("category")
        .values_list("category", flat=True)
        .distinct()
    )
    scope = catalog_scope(request)
    cards = [
        (template, template_state(scope["counts"].get(template.pk, {})))
        for template in templates.order_by("category", "display_name")
    ]
    context = {
        **admin.site.each_context(request),
        "title": "Integration catalog",
        "cards": cards,
        "categories": categories,
        "category": category,
        "query": query,
        **scope,
    }
    return render(request, "admin/integrations/catalog.html", context)


def catalog_detail_view(request: HttpRequest, key: str) -> HttpResponse:
    """ "Learn more" on a card: the template's setup instructions (Markdown, sanitised), what it
    syncs, how it authenticates, where the chosen sub-account stands, and "Set up"."""
    template = get_object_or_404(IntegrationTemplate, key=key, is_active=True)
    scope = catalog_scope(request)
    context = {
        **admin.site.each_context(request),
        "title": template.display_name,
        "template": template,
        "state": template_state(scope["counts"].get(template.pk, {})),
        "setup_help": render_help_markdown(template.setup_instructions),
        **scope,
    }
    return render(request, "admin/integrations/catalog_detail.html", context)


def configure_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit an existing integration's config with the schema form; secrets stay write-only."""
    integration = integration_to_operate(request.user, pk)
    schema = config_schema_for(integration.template)
    form_class = config_form_class(schema, stored=integration.config or {})
    if request.method == "POST":
        form = form_class(data=request.POST)
        if form.is_valid():
            try:
                services.integration_update(
                    integration=integration, actor=_actor(request), config=form.config
                )
            except ConfigInvalid as exc:
                for field, errors in exc.errors.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            else:
                messages.success(request, "Configuration saved. Test the connection to check it.")
                return HttpResponseRedirect(reverse("admin:integrations_integration_change", args=[pk]))
    else:
        form = form_class(initial=redact_config(schema, integration.config or {}))
    context = {
        **admin.site.each_context(request),
        "title": f"Configure {integration.name}",
        "integration": integration,
        "form": form,
        "setup_help": render_help_markdown(integration.template.setup_instructions),
        "opts": integration._meta,
    }
    return render(request, "admin/integrations/configure.html", context)


def choices_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The wizard's Choices step again, for an integration that offers it (GoHighLevel's pipeline
    and stages, Facebook's question → field mapping), read live from the provider."""
    integration = integration_to_operate(request.user, pk)
    if not uses_setup_choices(integration.template):
        raise Http404("This integration has no setup choices")
    form = SetupStepForm(data=request.POST if request.method == "POST" else None, integration=integration)
    if request.method == "POST" and form.is_valid():
        choices_save(integration=integration, applied=form.applied, actor=_actor(request))
        messages.success(request, "Choices saved.")
        return HttpResponseRedirect(reverse("admin:integrations_integration_change", args=[pk]))
    context = {
        **admin.site.each_context(request),
        "title": f"{form.title} · {integration.name}",
        "integration": integration,
        "form": form,
        "opts": integration._meta,
    }
    return render(request, "admin/integrations/choices.html", context)


@require_POST
def test_view(request: HttpRequest, pk: int) -> HttpResponse:
    integration = integration_to_operate(request.user, pk)
    result = services.integration_test(integration=integration, actor=_actor(request))
    if result.ok:
        messages.success(request, f"Connection test passed: {result.message}")
    else:
        messages.error(request, f"Connection test failed: {result.message}")
    return _back(request, reverse("admin:integrations_integration_change", args=[pk]))


@require_POST
def oauth_connect_view(request: HttpRequest, pk: int) -> HttpResponse:
    integration = integration_to_operate(request.user, pk)
    back = request.POST.get("next") or reverse("admin:integrations_integration_change", args=[pk])
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("admin:integrations_integration_change", args=[pk])
    redirect_uri = services.oauth_redirect_uri(
        integration.template.connector, request_base=request.build_absolute_uri("/")
    )
    try:
        url = services.oauth_start(
            integration=integration, redirect_uri=redirect_uri, return_to=back, user=request.user
        )
    except ConnectorError as exc:
        messages.error(request, f"Cannot start the connection: {exc}")
        return HttpResponseRedirect(back)
    return HttpResponseRedirect(url)


TRANSITIONS = {
    "activate": services.integration_activate,
    "pause": services.integration_pause,
    "resume": services.integration_resume,
    "disconnect": services.integration_disconnect,
    "rotate_webhook_secret": services.integration_webhook_secret_rotate,
}


@require_POST
def transition_view(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    integration = integration_to_operate(request.user, pk)
    change_url = reverse("admin:integrations_integration_change", args=[pk])
    transition = TRANSITIONS.get(action)
    if transition is None:
        messages.error(request, f"Unknown action {action!r}")
        return HttpResponseRedirect(change_url)
    try:
        transition(integration=integration, actor=_actor(request))
    except services.InvalidTransition as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{integration.name}: {action} done.")
    return _back(request, change_url)
