"""Admin for conflicts: the list, a conflict's page and resolving it."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse

from integrations.admin_scope import ScopedAdmin
from sync.conflicts import ConflictClosed, conflict_resolve
from sync.models import Conflict


class ResolveForm(forms.Form):
    choice = forms.ChoiceField(choices=Conflict.Choice.choices, widget=forms.RadioSelect)
    value = forms.CharField(required=False, help_text="Only for a custom value")


@admin.register(Conflict)
class ConflictAdmin(ScopedAdmin):
    list_display = [
        "id",
        "integration",
        "entity",
        "local_id",
        "field",
        "local_value",
        "remote_value",
        "status",
        "resolved_by",
        "created_at",
    ]
    # resolved_by: "strategy:<name>" marks the ones the integration's strategy settled on its own.
    list_filter = ["status", "resolution", "entity", "integration"]
    search_fields = ["resolved_by", "field", "remote_id"]
    readonly_fields = [
        "integration",
        "entity",
        "local_id",
        "remote_id",
        "field",
        "base_value",
        "local_value",
        "remote_value",
        "status",
        "resolution",
        "resolved_value",
        "resolved_by",
        "resolved_at",
    ]
    fields = readonly_fields
    actions = ["keep_local", "take_remote"]
    change_form_template = "admin/sync/conflict_change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("integration")

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/resolve/", wrap(self.resolve_view), name="sync_conflict_resolve"),
            *super().get_urls(),
        ]

    def resolve_view(self, request, pk: int):
        conflict = get_object_or_404(self.get_queryset(request), pk=pk)
        form = ResolveForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                conflict_resolve(
                    conflict=conflict,
                    choice=form.cleaned_data["choice"],
                    value=form.cleaned_data["value"],
                    actor=f"user:{request.user.get_username()}",
                )
            except (ConflictClosed, ValueError) as exc:
                messages.warning(request, str(exc))
            else:
                messages.success(request, "Resolved: the value reaches the other side on the next sync.")
            return HttpResponseRedirect(reverse("admin:sync_conflict_changelist"))
        return render(
            request,
            "admin/sync/conflict_resolve.html",
            {
                **self.admin_site.each_context(request),
                "conflict": conflict,
                "form": form,
                "title": f"Resolve {conflict.entity} {conflict.local_id}.{conflict.field}",
                "opts": self.model._meta,
            },
        )

    def _bulk(self, request, queryset, choice: str) -> None:
        done = 0
        for conflict in queryset.filter(status=Conflict.Status.OPEN):
            conflict_resolve(conflict=conflict, choice=choice, actor=f"user:{request.user.get_username()}")
            done += 1
        self.message_user(request, f"{done} conflict(s) resolved ({choice})")

    @admin.action(description="Resolve: keep the local value")
    def keep_local(self, request, queryset):
        self._bulk(request, queryset, "local")

    @admin.action(description="Resolve: take the remote value")
    def take_remote(self, request, queryset):
        self._bulk(request, queryset, "remote")
