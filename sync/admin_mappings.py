"""The field-mapping editor's pages: one integration's mappings per entity, with inline checks,
a preview against sample records, save, reset to the defaults and "Refresh fields".

Views only: what a row is, how it is checked, previewed, saved and reset is ``sync.mapping_editor``.
Every page goes through ``integration_for`` (another tenant's integration is a 404); viewing needs
the FieldMapping view (or change) permission, every POST its change permission.
"""

from __future__ import annotations

from functools import partial

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from integrations.admin_scope import integration_for
from integrations.models import Integration
from sync.fields import fields_cached, fields_for, fields_refresh
from sync.mapping_editor import (
    EditorRow,
    arg_fields,
    editor_check,
    editor_entities,
    editor_preview,
    editor_reset,
    editor_save,
    local_choices,
    remote_choices,
    rows_labelled,
    rows_posted,
    rows_saved,
    transform_choices,
)
from sync.models import FieldMapping

CHANGE = "sync.change_fieldmapping"
VIEW = "sync.view_fieldmapping"


def mapping_editor_urls(model_admin) -> list:
    """The editor's URLs, under the integration admin's (``<pk>/mappings/``)."""
    wrap = model_admin.admin_site.admin_view
    return [
        path("<int:pk>/mappings/", wrap(partial(editor_view, model_admin)), name="sync_mapping_editor"),
        path("<int:pk>/mappings/check/", wrap(require_POST(check_view)), name="sync_mapping_check"),
        path("<int:pk>/mappings/reset/", wrap(require_POST(reset_view)), name="sync_mapping_reset"),
        path(
            "<int:pk>/mappings/refresh/",
            wrap(require_POST(refresh_view)),
            name="sync_mapping_fields_refresh",
        ),
    ]


def _editable(request, pk: int) -> Integration:
    """The integration, scoped to the user; 403 without the permission this request needs."""
    integration = integration_for(request.user, pk)
    needed = (CHANGE,) if request.method == "POST" else (VIEW, CHANGE)
    if not any(request.user.has_perm(perm) for perm in needed):
        raise PermissionDenied
    return integration


def _entity(request, integration: Integration) -> str:
    entities = editor_entities(integration)
    wanted = request.POST.get("entity") or request.GET.get("entity") or ""
    return wanted if wanted in entities else (entities[0] if entities else "")


def _back(integration: Integration, entity: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(
        f"{reverse('admin:sync_mapping_editor', args=[integration.pk])}?entity={entity}"
    )


def _actor(request) -> str:
    return f"user:{request.user.get_username()}"


def editor_view(model_admin, request, pk: int):
    integration = _editable(request, pk)
    entity = _entity(request, integration)
    preview = None
    if not entity:
        rows: list[EditorRow] = []
    elif request.method == "POST":
        rows = rows_posted(request.POST, fields_for(integration, entity))
        maps = editor_check(integration, entity, rows)
        action = request.POST.get("action")
        if maps is None:
            messages.error(request, "Not saved: correct the rows marked below.")
        elif action == "save":
            editor_save(integration=integration, entity=entity, rows=rows, actor=_actor(request))
            messages.success(request, f"{integration.name}: {entity} mappings saved ({len(rows)} rows).")
            return _back(integration, entity)
        else:
            preview = editor_preview(
                integration=integration,
                entity=entity,
                maps=maps,
                local_id=request.POST.get("local_id", ""),
                remote_id=request.POST.get("remote_id", ""),
            )
    else:
        rows = rows_saved(integration, entity)
    return render(
        request,
        "admin/sync/mapping_editor.html",
        _context(model_admin, request, integration, entity, rows, preview),
    )


def _context(model_admin, request, integration, entity, rows, preview) -> dict:
    fields = remote_choices(integration, entity) if entity else []
    cached = fields_cached(integration, [entity]).get(entity) if entity else None
    entity_labels = dict(FieldMapping._meta.get_field("entity").choices)
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "original": integration,
        "title": f"Field mappings · {integration.name}",
        "integration": integration,
        "entity": entity,
        "entities": [(name, entity_labels.get(name, name)) for name in editor_entities(integration)],
        "rows": rows_labelled(rows, fields),
        "new_row": EditorRow(key="__prefix__"),
        "transforms": transform_choices(),
        "arg_templates": [(name, arg_fields(name)) for name, _, _ in transform_choices()],
        "directions": FieldMapping.Direction.choices,
        "local_fields": local_choices(integration, entity) if entity else [],
        "remote_fields": fields,
        "fields_row": cached,
        "preview": preview,
        "local_id": request.POST.get("local_id", ""),
        "remote_id": request.POST.get("remote_id", ""),
        "can_change": request.user.has_perm(CHANGE),
    }


def check_view(request, pk: int):
    """The posted rows' problems as JSON, per row key and argument (the page checks as you type)."""
    integration = _editable(request, pk)
    entity = _entity(request, integration)
    rows = rows_posted(request.POST, fields_for(integration, entity))
    ok = editor_check(integration, entity, rows) is not None
    return JsonResponse(
        {
            "ok": ok,
            "rows": {
                row.key: {"errors": row.errors, "args": {a.name: a.errors for a in row.args if a.errors}}
                for row in rows
                if row.has_errors
            },
        }
    )


def reset_view(request, pk: int):
    integration = _editable(request, pk)
    entity = _entity(request, integration)
    count = editor_reset(integration=integration, entity=entity, actor=_actor(request))
    messages.success(request, f"{integration.name}: {entity} mappings reset to the defaults ({count} rows).")
    return _back(integration, entity)


def refresh_view(request, pk: int):
    integration = _editable(request, pk)
    entity = _entity(request, integration)
    outcome = fields_refresh(integration, [entity])
    if outcome.ok:
        found = sum(e.count for e in outcome.entities)
        messages.success(request, f"{integration.name}: {found} {entity} fields found at the provider.")
    else:
        failed = "; ".join(str(e.error) for e in outcome.failed)
        messages.error(request, f"{integration.name}: fields could not be refreshed ({failed}).")
    return _back(integration, entity)
