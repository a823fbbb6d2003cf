"""Reads for outbound webhooks, always scoped by sub-account: another tenant's id is not found."""

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from integrations.models import SubAccount
from webhooks.models import Attempt, Delivery, Endpoint, Message


def endpoint_list(*, subaccount: SubAccount) -> QuerySet[Endpoint]:
    return Endpoint.objects.filter(subaccount=subaccount)


def endpoint_get(*, subaccount: SubAccount, pk: int) -> Endpoint:
    return get_object_or_404(endpoint_list(subaccount=subaccount), pk=pk)


def message_list(*, subaccount: SubAccount) -> QuerySet[Message]:
    deliveries = Delivery.objects.order_by("id")
    return Message.objects.filter(subaccount=subaccount).prefetch_related(
        Prefetch("deliveries", queryset=deliveries)
    )


def message_get(*, subaccount: SubAccount, pk: int) -> Message:
    return get_object_or_404(message_list(subaccount=subaccount), pk=pk)


def attempt_list(*, message: Message) -> QuerySet[Attempt]:
    """Every attempt at every delivery of ``message``, newest first."""
    return Attempt.objects.filter(delivery__message=message).select_related("delivery").order_by("-id")
