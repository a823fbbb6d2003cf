"""Admin for canonical records and the Change log: read-mostly, scoped to the staff user's sub-accounts.

Records change only through ``sync.services`` (so every change is versioned and logged); the one
write here is the "soft-delete" action, which calls ``record_delete`` with ``origin="admin:<user>"``.
"""

from collections.abc import Iterable, Sequence

from django.contrib import admin, messages
from django.contrib.admin.utils import display_for_value
from django.db.models import F, QuerySet
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from integrations.admin_scope import ScopedReadOnlyAdmin, SubAccountScopeFilter
from sync import (
    admin_conflicts,  # noqa: F401 (registers conflicts and their per-record resolve page)
    admin_engine,  # noqa: F401 (registers the integration page's field mappings and discovered fields)
    admin_lead_events,  # noqa: F401 (registers the lead-event log sent to analytics services)
    admin_onboarding,  # noqa: F401 (registers the onboarding tracking, portals, orders, audits, report)
    admin_reports,  # noqa: F401 (registers the daily reports and the lead reporting page)
    admin_runs,  # noqa: F401 (registers sync runs with live progress and record errors)
)
from sync.admin_booking import BookingPanelMixin
from sync.admin_enrichment import EnrichmentPanelMixin  # and registers profiles, the enrichment log
from sync.admin_messaging import ChatPanelMixin
from sync.entities import ENTITIES, EntityDef, entity_for
from sync.models import Activity, CanonicalRecord, Change, Company, Contact, Conversation, Deal
from sync.relations import local_ids
from sync.selectors import record_links
from sync.services import record_delete
from sync.single import record_sync_everywhere

SYNC_NOW_LIMIT = 20  # records one admin request syncs (a few provider calls each, in the request)
PANEL_ROWS = 20  # rows a record page lists of its conversations or messages (a link opens the rest)
CELL_CHARS = 80  # a message's body and the like, cut in those lists


class RecordAdmin(ScopedReadOnlyAdmin):  # no hard deletes: they would bypass the Change log
    actions = ["soft_delete", "sync_now"]
    common_filters = [SubAccountScopeFilter, "is_deleted"]
    ordering = ["-updated_at", "-id"]

    # Read-only panels shown after "Related records" and "Links" (methods of the admin class); a
    # page adds its own by extending the tuple (ContactAdmin: its conversations).
    panels: tuple[str, ...] = ()

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [*(field.name for field in self.model._meta.fields), "related", "links", *self.panels]

    def get_list_filter(self, request):
        definition = entity_for(self.model)
        filters = (relation_filter(definition, name) for name in definition.relations)
        return [*super().get_list_filter(request), *filters]

    def lookup_allowed(self, lookup: str, value: str, request=None) -> bool:
        # "Records related to X" links filter on a relation's id (the queryset stays scoped).
        if lookup in RELATION_LOOKUPS.get(entity_for(self.model).name, ()):
            return True
        return super().lookup_allowed(lookup, value, request)

    @admin.display(description="Related records")
    def related(self, obj) -> str:
        """What the record points at, and the records pointing at it (as filtered lists)."""
        definition = entity_for(obj)
        rows = []
        for name, target in definition.relations.items():
            ids = local_ids(getattr(obj, name))
            targets = ENTITIES[target].model.objects.filter(subaccount_id=obj.subaccount_id, pk__in=ids)
            shown = format_html_join(
                ", ",
                "<a href='{}'>{}</a>",
                ((reverse(f"admin:sync_{target}_change", args=[t.pk]), str(t)) for t in targets),
            )
            rows.append((name.removesuffix("_ids").removesuffix("_id").replace("_", " "), shown or "—"))
        for source, lookup in REVERSE_LOOKUPS.get(definition.name, ()):
            url = reverse(f"admin:sync_{source}_changelist") + f"?{lookup}={obj.pk}"
            rows.append(
                (ENTITIES[source].model._meta.verbose_name_plural, format_html("<a href='{}'>list</a>", url))
            )
        return format_html("<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows))

    @admin.display(description="Links")
    def links(self, obj) -> str:
        """The record's twin in each integration, as the API's ``links`` shows them."""
        rows = record_links(entity=entity_for(obj).name, record_ids=[obj.pk]).get(obj.pk, [])
        if not rows:
            return "Not linked to any integration"
        body = format_html_join(
            "",
            "<tr><td><a href='{}'>{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    reverse("admin:integrations_integration_change", args=[row["integration"]["id"]]),
                    row["integration"]["name"],
                    row["provider"],
                    row["remote_id"],
                    row["matched_by"] or "—",
                    row["last_synced_at"],
                    row["last_error"] or "—",
                )
                for row in rows
            ),
        )
        return format_html(
            "<table><tr><th>Integration</th><th>Provider</th><th>Remote id</th><th>Linked by</th><th>Last synced</th>"
            "<th>Last error</th></tr>{}</table>",
            body,
        )

    def has_soft_delete_permission(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.delete_{self.opts.model_name}")

    @admin.action(description="Soft-delete selected records", permissions=["soft_delete"])
    def soft_delete(self, request, queryset: QuerySet) -> None:
        origin = f"admin:{request.user.get_username()}"
        deleted = 0
        for record in queryset.filter(is_deleted=False):
            record_delete(record=record, origin=origin)
            deleted += 1
        self.message_user(request, f"Soft-deleted {deleted} record(s).")

    @admin.action(description="Sync now with the sub-account's integrations", permissions=["operate"])
    def sync_now(self, request, queryset: QuerySet) -> None:
        if queryset.count() > SYNC_NOW_LIMIT:
            self.message_user(
                request,
                f"Select at most {SYNC_NOW_LIMIT} records to sync now; a sync of the integration "
                "brings the rest.",
                messages.ERROR,
            )
            return
        actor = f"user:{request.user.get_username()}"
        tried = 0
        for record in queryset:
            for integration, result in record_sync_everywhere(record=record, actor=actor):
                tried += 1
                if isinstance(result, str):
                    self.message_user(
                        request, f"{record} with {integration.name}: {result}", messages.WARNING
                    )
                    continue
                level = messages.WARNING if result.errors else messages.SUCCESS
                detail = "; ".join(e["message"] for e in result.errors)
                self.message_user(
                    request,
                    f"{record} with {integration.name}: pulled {result.pulled}, pushed {result.pushed}, "
                    f"{result.conflicts} conflict(s){': ' + detail if detail else ''}",
                    level,
                )
        if not tried:
            self.message_user(request, "No active integration of these records' sub-accounts syncs them.")


def relation_column(definition: EntityDef, name: str) -> str:
    """The model field behind a relation: ``contact_id`` → ``contact``; a deal's ``contact_ids`` → the
    many-to-many field to contacts (``contacts``)."""
    if name not in definition.many:
        return name.removesuffix("_id")
    target = ENTITIES[definition.relations[name]].model
    return next(f.name for f in definition.model._meta.many_to_many if f.related_model is target)


# URL lookups the relation links use, per entity (the admin refuses unlisted lookups).
RELATION_LOOKUPS: dict[str, tuple[str, ...]] = {
    entity: tuple(f"{relation_column(definition, name)}__id__exact" for name in definition.relations)
    for entity, definition in ENTITIES.items()
}
# Who points at an entity: (source entity, the lookup that lists those pointing at one record).
REVERSE_LOOKUPS: dict[str, tuple[tuple[str, str], ...]] = {
    target: tuple(
        (source, f"{relation_column(definition, name)}__id__exact")
        for source, definition in ENTITIES.items()
        for name, pointed in definition.relations.items()
        if pointed == target
    )
    for target in ENTITIES
}


def related_table(records: Iterable[CanonicalRecord], columns: Sequence[str], *, more: str = "") -> str:
    """Records as a small table whose first column links to each one's admin page (``columns`` are
    attribute names, shown as the admin shows values, cut to ``CELL_CHARS``); ``more`` (a link to
    the full list, say) goes under it. No records: "None"."""
    rows = [
        format_html(
            "<tr><td><a href='{}'>{}</a></td>{}</tr>",
            reverse(f"admin:sync_{entity_for(record).name}_change", args=[record.pk]),
            str(record),
            format_html_join(
                "",
                "<td>{}</td>",
                (
                    (Truncator(display_for_value(getattr(record, name), "—")).chars(CELL_CHARS),)
                    for name in columns
                ),
            ),
        )
        for record in records
    ]
    if not rows:
        return "None"
    return format_html("<table>{}</table>{}", format_html_join("", "{}", ((row,) for row in rows)), more)


def relation_filter(definition: EntityDef, name: str) -> type[admin.SimpleListFilter]:
    """A sidebar filter "has <relation>: yes / no" (listing targets would show other tenants' names)."""
    label = name.removesuffix("_ids").removesuffix("_id").replace("_", " ")
    column = relation_column(definition, name)

    class RelationFilter(admin.SimpleListFilter):
        title = f"has {label}"
        parameter_name = f"has_{name}"

        def lookups(self, request, model_admin):
            return [("yes", "Yes"), ("no", "No")]

        def queryset(self, request, queryset: QuerySet) -> QuerySet:
            if self.value() == "yes":
                return queryset.filter(**{f"{column}__isnull": False}).distinct()
            if self.value() == "no":
                return queryset.filter(**{f"{column}__isnull": True})
            return queryset

    return RelationFilter


class ScoredRecordAdmin(EnrichmentPanelMixin, RecordAdmin):
    """Contacts and companies: also their enrichment panel, score history and "Enrich and score now"."""

    actions = [*RecordAdmin.actions, "enrich_now"]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [*super().get_readonly_fields(request, obj), *self.enrichment_readonly]


@admin.register(Contact)
class ContactAdmin(BookingPanelMixin, ChatPanelMixin, ScoredRecordAdmin):
    panels = (*ScoredRecordAdmin.panels, "conversation_list")
    list_display = [
        "__str__",
        "email",
        "phone",
        "company_name",
        "lifecycle_stage",
        "score",
        "subaccount",
        "version",
        "is_deleted",
        "updated_at",
    ]
    list_filter = [*RecordAdmin.common_filters, "lifecycle_stage"]
    # Names, e-mail and phones are encrypted at rest: e-mail and phones are found by their blind
    # index, so only a whole address (any case) or a whole E.164 number matches; names not at all.
    search_fields = [
        "email__exact",
        "phone__exact",
        "mobile_phone__exact",
        "external_id",
        "company_name",
    ]
    search_help_text = (
        "A whole e-mail address or E.164 phone (+12025550123), an external id or a company name."
    )
    # Ordering by an encrypted column would order ciphertexts.
    sortable_by = [
        "company_name",
        "lifecycle_stage",
        "score",
        "subaccount",
        "version",
        "is_deleted",
        "updated_at",
    ]

    @admin.display(description="Conversations")
    def conversation_list(self, obj: Contact) -> str:
        """The contact's newest conversations, each a link to its page (and its messages)."""
        conversations = Conversation.objects.filter(
            subaccount_id=obj.subaccount_id, contact=obj, is_deleted=False
        ).order_by(F("last_message_at").desc(nulls_last=True), "-id")
        url = reverse("admin:sync_conversation_changelist") + f"?contact__id__exact={obj.pk}"
        return related_table(
            conversations[:PANEL_ROWS],
            ["status", "channel", "last_message_at"],
            more=format_html("<a href='{}'>All conversations</a>", url),
        )


@admin.register(Company)
class CompanyAdmin(ScoredRecordAdmin):
    list_display = [
        "__str__",
        "domain",
        "phone",
        "industry",
        "score",
        "subaccount",
        "version",
        "is_deleted",
        "updated_at",
    ]
    list_filter = [*RecordAdmin.common_filters, "industry"]
    search_fields = ["name", "domain", "phone", "external_id"]


@admin.register(Deal)
class DealAdmin(RecordAdmin):
    list_display = [
        "__str__",
        "amount",
        "currency",
        "stage",
        "pipeline",
        "close_date",
        "subaccount",
        "version",
        "is_deleted",
        "updated_at",
    ]
    list_filter = [*RecordAdmin.common_filters, "stage", "pipeline"]
    search_fields = ["name", "external_id", "stage"]


@admin.register(Activity)
class ActivityAdmin(RecordAdmin):
    list_display = [
        "__str__",
        "kind",
        "direction",
        "channel",
        "status",
        "occurred_at",
        "subaccount",
        "version",
        "is_deleted",
    ]
    list_filter = [*RecordAdmin.common_filters, "kind", "direction", "channel"]
    search_fields = ["external_id"]  # subject and body are encrypted at rest: not searchable
    search_help_text = "An external id (message subjects and bodies are encrypted, so not searchable)."


@admin.register(Conversation)
class ConversationAdmin(RecordAdmin):
    list_display = [
        "__str__",
        "contact",
        "status",
        "channel",
        "assignee",
        "last_message_at",
        "subaccount",
        "version",
        "is_deleted",
    ]
    list_select_related = ["subaccount", "contact"]
    list_filter = [*RecordAdmin.common_filters, "status", "channel"]
    search_fields = ["assignee", "external_id"]  # the subject is encrypted at rest: not searchable
    panels = (*RecordAdmin.panels, "message_list")

    @admin.display(description="Messages")
    def message_list(self, obj: Conversation) -> str:
        """The conversation's newest messages (activities), oldest first, each a link to its page."""
        messages_ = Activity.objects.filter(
            subaccount_id=obj.subaccount_id, conversation=obj, is_deleted=False
        )
        newest = list(messages_.order_by(F("occurred_at").desc(nulls_last=True), "-id")[:PANEL_ROWS])
        url = reverse("admin:sync_activity_changelist") + f"?conversation__id__exact={obj.pk}"
        return related_table(
            reversed(newest),
            ["occurred_at", "direction", "channel", "body"],
            more=format_html("<a href='{}'>All messages</a>", url),
        )


@admin.register(Change)
class ChangeAdmin(ScopedReadOnlyAdmin):
    list_display = ["seq", "created_at", "subaccount", "entity", "record_id", "op", "fields", "origin"]
    list_filter = [SubAccountScopeFilter, "entity", "op"]
    search_fields = ["origin", "record_id__exact"]  # __exact on an integer compares as text: no 500
    ordering = ["-seq"]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [field.name for field in Change._meta.fields]
