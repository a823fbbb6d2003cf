"""The audit log in the admin: who changed which integration or webhook endpoint, when, and how.

Read-only and scoped like every tenant page (a staff user sees the rows of the sub-accounts they
manage; another tenant's row by URL is a 404). ``changes`` is shown as a table of field → from → to;
secrets were masked before the row was written ("[set]", "[changed]"), so nothing here can show one.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join

from integrations.admin_scope import ScopedReadOnlyAdmin
from integrations.models import AuditLog

# The admin page of each kind of object a row names (by URL name: the webhooks layer is above this).
CHANGE_URLS = {
    AuditLog.ObjectType.INTEGRATION: "admin:integrations_integration_change",
    AuditLog.ObjectType.ENDPOINT: "admin:webhooks_endpoint_change",
}
SUMMARY_LENGTH = 120


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def change_lines(changes: Any, prefix: str = "") -> list[tuple[str, str, str]]:
    """(field, from, to) per change; a value recorded without a before shows in "to" alone.

    ``{"config": {"base_url": {"from": a, "to": b}}}`` gives ``("config.base_url", a, b)``.
    """
    if not isinstance(changes, dict):
        return [(prefix.rstrip(".") or "value", "", _shown(changes))]
    lines: list[tuple[str, str, str]] = []
    for key, value in changes.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and set(value) == {"from", "to"}:
            lines.append((name, _shown(value["from"]), _shown(value["to"])))
        elif isinstance(value, dict) and value:
            lines += change_lines(value, f"{name}.")
        else:
            lines.append((name, "", _shown(value)))
    return lines


class AuditLogAdmin(ScopedReadOnlyAdmin):
    list_display = ["created_at", "subaccount", "subject", "actor", "action", "summary"]
    list_select_related = ["subaccount", "integration"]
    list_filter = ["subaccount", "object_type", "action", "integration"]  # scoped (TenantAdminMixin)
    search_fields = ["actor", "action", "object_repr"]
    date_hierarchy = "created_at"
    fields = ["created_at", "subaccount", "subject", "actor", "action", "changes_table"]
    readonly_fields = fields

    @admin.display(description="Changed")
    def subject(self, obj: AuditLog) -> str:
        label = obj.get_object_type_display() if obj.object_type else "Sub-account"
        name = obj.object_repr or (str(obj.integration) if obj.integration_id else "")
        text = f"{label} #{obj.object_id}: {name}" if obj.object_id else f"{label}: {name}".rstrip(": ")
        url = self._object_url(obj)
        return format_html('<a href="{}">{}</a>', url, text) if url else text

    def _object_url(self, obj: AuditLog) -> str:
        name = CHANGE_URLS.get(obj.object_type)
        if name is None or obj.object_id is None or obj.action.endswith(".deleted"):
            return ""
        if obj.object_type == AuditLog.ObjectType.INTEGRATION and not obj.integration_id:
            return ""  # deleted since
        try:
            return reverse(name, args=[obj.object_id])
        except NoReverseMatch:
            return ""

    @admin.display(description="What changed")
    def summary(self, obj: AuditLog) -> str:
        text = "; ".join(
            f"{name}: {before} → {after}" if before else f"{name}: {after}"
            for name, before, after in change_lines(obj.changes)
        )
        return text if len(text) <= SUMMARY_LENGTH else text[: SUMMARY_LENGTH - 1] + "…"

    @admin.display(description="Changes")
    def changes_table(self, obj: AuditLog) -> str:
        lines = change_lines(obj.changes)
        if not lines:
            return "—"
        return format_html(
            '<table class="audit-changes"><thead><tr><th>Field</th><th>From</th><th>To</th></tr></thead>'
            "<tbody>{}</tbody></table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", lines),
        )
