"""List filters for canonical records. Soft-deleted records are hidden unless ``?is_deleted=`` is given.

Filter values are normalised the way stored values are (an email filter is case-insensitive because
emails are stored lower-case), so a filter finds what an upsert would match. E-mail and phone are
encrypted at rest: ``email=``/``phone=`` compare their blind indexes (``integrations.pii``), exact
match only.
"""

from datetime import UTC

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django_filters.fields import IsoDateTimeField

from integrations.api.common import request_subaccount
from integrations.models import Integration
from sync.entities import entity_for
from sync.models import Activity, Company, Contact, Conversation, Deal, DealContact, EntityLink
from sync.normalize import normalise_domain, normalise_phone

ID_MAX = 2**63 - 1


class UtcIsoDateTimeField(IsoDateTimeField):
    """ISO 8601, converted to UTC. Python accepts offsets up to ±23:59 and PostgreSQL only up to
    ±15:59, so a value like ``…-22:36`` must never reach the query as written."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValidationError(
                "Enter a date and time within the supported range.", code="invalid"
            ) from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


def _your_integrations(request) -> QuerySet[Integration]:
    # Only the caller's integrations are choices: another sub-account's id is refused as unknown.
    return Integration.objects.filter(subaccount=request_subaccount(request))


class RecordFilterSet(django_filters.FilterSet):
    external_id = django_filters.CharFilter()
    linked_to = django_filters.ModelChoiceFilter(
        field_name="integrations",  # names the choices in the schema: "one of your integrations"
        queryset=_your_integrations,
        method="filter_linked_to",
        label="Id of one of your integrations: only records linked to it",
    )
    updated_since = UtcIsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", label="Changed at or after (ISO 8601)"
    )
    is_deleted = django_filters.BooleanFilter(label="Soft-deleted records (hidden unless given)")

    def filter_linked_to(self, queryset: QuerySet, name: str, value: Integration) -> QuerySet:
        links = EntityLink.objects.filter(integration=value, entity=entity_for(queryset.model).name)
        return queryset.filter(pk__in=links.values("local_id"))

    def is_valid(self) -> bool:
        """A filter given twice is a 400: only one of the values could apply, silently."""
        valid = super().is_valid()
        for name in self.filters:
            if hasattr(self.data, "getlist") and len(self.data.getlist(name)) > 1:
                self.form.add_error(name, "Give this filter once.")
                valid = False
        return valid

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = super().filter_queryset(queryset)
        if self.form.cleaned_data.get("is_deleted") is None:
            queryset = queryset.filter(is_deleted=False)
        return queryset


def _id_filter(field_name: str) -> django_filters.NumberFilter:
    # Bounded so a huge number is a 400, not a database overflow.
    return django_filters.NumberFilter(field_name=field_name, min_value=1, max_value=ID_MAX)


class ContactFilterSet(RecordFilterSet):
    email = django_filters.CharFilter(method="filter_email", label="Email (any case)")
    phone = django_filters.CharFilter(
        method="filter_phone", label="Phone (any format; local numbers in the region)"
    )
    company_id = _id_filter("company_id")

    class Meta:
        model = Contact
        fields = [
            "external_id",
            "linked_to",
            "email",
            "phone",
            "lifecycle_stage",
            "owner_id",
            "company_id",
            "is_deleted",
        ]

    def filter_email(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(email=value.strip().lower())

    def filter_phone(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        try:
            return queryset.filter(
                phone=normalise_phone(value, region=self.request.subaccount.default_region)
            )
        except ValueError:
            return queryset.none()  # not a phone number: nothing can have it


class CompanyFilterSet(RecordFilterSet):
    domain = django_filters.CharFilter(method="filter_domain", label="Domain (URLs and www. accepted)")

    class Meta:
        model = Company
        fields = ["external_id", "linked_to", "domain", "name", "industry", "owner_id", "is_deleted"]

    def filter_domain(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        try:
            return queryset.filter(domain=normalise_domain(value))
        except ValueError:
            return queryset.none()  # not a domain: nothing can have it


class DealFilterSet(RecordFilterSet):
    company_id = _id_filter("company_id")
    contact_id = django_filters.NumberFilter(
        method="filter_contact", min_value=1, max_value=ID_MAX, label="Has this contact among its contacts"
    )

    class Meta:
        model = Deal
        fields = [
            "external_id",
            "linked_to",
            "stage",
            "pipeline",
            "currency",
            "owner_id",
            "company_id",
            "contact_id",
            "is_deleted",
        ]

    def filter_contact(self, queryset: QuerySet, name: str, value: int) -> QuerySet:
        return queryset.filter(pk__in=DealContact.objects.filter(contact_id=value).values("deal_id"))


class ActivityFilterSet(RecordFilterSet):
    contact_id = _id_filter("contact_id")
    company_id = _id_filter("company_id")
    deal_id = _id_filter("deal_id")
    conversation_id = _id_filter("conversation_id")

    class Meta:
        model = Activity
        fields = [
            "external_id",
            "linked_to",
            "kind",
            "status",
            "direction",
            "channel",
            "contact_id",
            "company_id",
            "deal_id",
            "conversation_id",
            "is_deleted",
        ]


class ConversationFilterSet(RecordFilterSet):
    contact_id = _id_filter("contact_id")

    class Meta:
        model = Conversation
        fields = [
            "external_id",
            "linked_to",
            "status",
            "channel",
            "priority",
            "assignee",
            "contact_id",
            "is_deleted",
        ]


FILTERSETS: dict[str, type[RecordFilterSet]] = {
    "contact": ContactFilterSet,
    "company": CompanyFilterSet,
    "deal": DealFilterSet,
    "activity": ActivityFilterSet,
    "conversation": ConversationFilterSet,
}
