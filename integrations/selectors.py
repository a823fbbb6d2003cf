"""Reads, always scoped by sub-account: another tenant's id is simply not found."""

from collections import defaultdict

from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404

from connectors.registry import connector_offers
from integrations.models import Integration, IntegrationTemplate, SubAccount


def template_list(*, include_inactive: bool = False) -> QuerySet[IntegrationTemplate]:
    qs = IntegrationTemplate.objects.all()
    return qs if include_inactive else qs.filter(is_active=True)


def template_status_counts(*, integrations: QuerySet[Integration]) -> dict[int, dict[str, int]]:
    """How many of ``integrations`` (already scoped) use each template, per status:
    ``{template_id: {"active": 2, "error": 1}}``; a template none use is absent."""
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    rows = integrations.order_by().values("template_id", "status").annotate(n=Count("id"))
    for row in rows:
        counts[row["template_id"]][row["status"]] = row["n"]
    return dict(counts)


def integration_list(*, subaccount: SubAccount) -> QuerySet[Integration]:
    return Integration.objects.filter(subaccount=subaccount).select_related("template")


def integration_get(*, subaccount: SubAccount, pk: int) -> Integration:
    return get_object_or_404(integration_list(subaccount=subaccount), pk=pk)


def integrations_offering(subaccount_id: int, capability: type) -> list[Integration]:
    """The sub-account's active integrations whose connector offers ``capability`` (a class of
    ``connectors.capabilities``), oldest first: who sends messages, books, takes lead events."""
    return [
        integration
        for integration in Integration.objects.filter(
            subaccount_id=subaccount_id, status=Integration.Status.ACTIVE
        )
        .select_related("template", "subaccount")
        .order_by("pk")
        if connector_offers(integration.template.connector, capability)
    ]
