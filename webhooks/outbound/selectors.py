"""Reads for outbound webhooks, always scoped by sub-account: another tenant's id is not found."""

from django.db.models import Prefetch, QuerySet

from integrations.models import SubAccount
from webhooks.models import Attempt, Delivery, Endpoint, Message


def endpoint_list(*, subaccount: SubAccount) -> QuerySet[Endpoint]:
    return Endpoint.objects.filter(subaccount=subaccount)


def message_list(*, subaccount: SubAccount) -> QuerySet[Message]:
    deliveries = Delivery.objects.order_by("id")
    return Message.objects.filter(subaccount=subaccount).prefetch_related(
        Prefetch("deliveries", queryset=deliveries)
    )


def attempt_list(*, message: Message) -> QuerySet[Attempt]:
    """Every attempt at every delivery of ``message``, newest first."""
    return Attempt.objects.filter(delivery__message=message).select_related("delivery").order_by("-id")
