"""The admin index as the operations dashboard: reads the filters from the query string and hands
``webhooks.dashboard.overview.dashboard_get``'s answer to ``templates/admin/index.html``.

Pause and resume post to the integration page's own transition view (``admin:integrations_transition``,
scoped, POST only) with ``next`` back here; "Sync now" posts to ``admin:sync_request``."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest

from integrations.admin_scope import subaccount_chosen
from webhooks.dashboard.filters import PROBLEMS, DashboardFilters, provider_choices
from webhooks.dashboard.overview import dashboard_get


class DashboardFilterForm(forms.Form):
    """The filter bar; its choices are only what the user may see."""

    subaccount = forms.ChoiceField(required=False, label="Sub-account")
    provider = forms.ChoiceField(required=False, label="Provider")
    problem = forms.ChoiceField(required=False, label="Problem")

    def __init__(self, *args, subaccounts, providers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["subaccount"].choices = [("", "All sub-accounts")] + [
            (str(sub.pk), str(sub)) for sub in subaccounts
        ]
        self.fields["provider"].choices = [("", "All providers"), *providers]
        self.fields["problem"].choices = [("", "Any state"), *PROBLEMS.items()]


def dashboard_filters(request: HttpRequest) -> tuple[DashboardFilterForm, DashboardFilters]:
    """The form as the user filled it and what it means. A sub-account the user may not see is a
    404 (``subaccount_chosen``); an unknown provider or problem is ignored."""
    subaccounts, chosen = subaccount_chosen(request)
    providers = provider_choices(user=request.user)
    form = DashboardFilterForm(request.GET or None, subaccounts=subaccounts, providers=providers)
    cleaned = form.cleaned_data if form.is_valid() else {}
    return form, DashboardFilters(
        subaccount=chosen,
        provider=cleaned.get("provider", ""),
        problem=cleaned.get("problem", ""),
    )


def dashboard_context(request: HttpRequest) -> dict:
    form, filters = dashboard_filters(request)
    return {
        "dashboard": dashboard_get(user=request.user, filters=filters),
        "filter_form": form,
        "filters": filters,
    }
