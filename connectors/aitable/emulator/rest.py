"""The Fusion API views: spaces, nodes, datasheet fields/views, records, field and datasheet creation.

Paths and bodies are AITable's (providers.md §4) and what the official ``apitable`` SDK sends:
``fields`` and ``recordIds`` come repeated (``fields=a&fields=b``), bracketed (``fields[]=a``) or
comma-separated; ``sort`` as the SDK's JSON objects (``sort={"field":"x","order":"desc"}``) or the
documented ``sort[0][field]=x&sort[0][order]=desc`` / ``sort[][field]`` forms.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict

from connectors.aitable.emulator.automation import AITableAutomation
from connectors.aitable.emulator.cells import epoch_ms
from connectors.aitable.emulator.limits import envelope, fail
from connectors.aitable.emulator.records import DEFAULT_PAGE_SIZE, Query, RequestError
from connectors.aitable.emulator.schema import FieldSpecError
from connectors.sandbox.emulator import json_body
from connectors.sandbox.models import SandboxRecord

_SORT_INDEXED = re.compile(r"^sort\[(\d*)\]\[(field|order)\]$")


def multi(params: QueryDict, name: str) -> list[str] | None:
    """A list parameter in any of its encodings; None when absent."""
    values = params.getlist(name) + params.getlist(f"{name}[]")
    values += [v for key in params if re.fullmatch(rf"{name}\[\d+\]", key) for v in params.getlist(key)]
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def sort_params(params: QueryDict) -> list[tuple[str, str]]:
    sorts: list[tuple[str, str]] = []
    for raw in params.getlist("sort"):
        try:
            item = json.loads(raw)
        except ValueError as exc:
            raise RequestError(400, "sort must be objects with field and order") from exc
        if not isinstance(item, dict) or "field" not in item:
            raise RequestError(400, "sort must be objects with field and order")
        sorts.append((str(item["field"]), str(item.get("order", "asc"))))
    indexed: dict[str, dict[str, str]] = {}
    unnamed: dict[str, list[str]] = {"field": [], "order": []}
    for key in params:
        match = _SORT_INDEXED.match(key)
        if match and match.group(1):
            indexed.setdefault(match.group(1), {})[match.group(2)] = params.get(key, "")
        elif match:
            unnamed[match.group(2)] += params.getlist(key)
    for _, item in sorted(indexed.items(), key=lambda kv: int(kv[0])):
        sorts.append((item.get("field", ""), item.get("order", "asc")))
    for i, field in enumerate(unnamed["field"]):
        sorts.append((field, unnamed["order"][i] if i < len(unnamed["order"]) else "asc"))
    for field, order in sorts:
        if not field or order not in {"asc", "desc"}:
            raise RequestError(400, "sort order must be asc or desc, with a field")
    return sorts


def _int(params: QueryDict, name: str, default: int | None, low: int, high: int | None) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise RequestError(400, f"{name} must be an integer") from exc
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise RequestError(400, f"{name} must be {bound}")
    return value


def guarded(view: Any) -> Any:
    """A view whose RequestError becomes AITable's HTTP-200 error envelope."""

    @functools.wraps(view)
    def run(self: Any, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(self, request, *args, **kwargs)
        except RequestError as exc:
            return fail(exc.code, str(exc))

    return run


class AITableRest(AITableAutomation):
    """One view per Fusion resource; a RequestError becomes its HTTP-200 error envelope."""

    def _sheet(self, dst_id: str, request: HttpRequest) -> SandboxRecord:
        sheet = self.datasheet(dst_id)
        if sheet is None:
            raise RequestError(301, f"The datasheet [{dst_id}] does not exist or you have no access to it")
        if dst_id in (self.setting("forbidden_nodes", []) or []):
            raise RequestError(602, f"You have no permission to operate the node [{dst_id}]")
        return sheet

    def _space(self, space_id: str) -> SandboxRecord:
        space = self.space(space_id)
        if space is None or space_id in (self.setting("forbidden_nodes", []) or []):
            raise RequestError(602, f"You have no permission to access the space [{space_id}]")
        return space

    # --- spaces and nodes -----------------------------------------------------------------------

    def spaces_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "GET":
            return fail(405, "Method not allowed", status=405)
        return envelope(
            {"spaces": [{"id": s.remote_id, "name": s.data["name"], "isAdmin": True} for s in self.spaces()]}
        )

    @staticmethod
    def _node(sheet: SandboxRecord) -> dict[str, Any]:
        return {
            "id": sheet.remote_id,
            "name": sheet.data["name"],
            "type": "Datasheet",
            "icon": "",
            "isFav": False,
        }

    def nodes_view(self, request: HttpRequest, space_id: str) -> HttpResponse:
        """The space's root nodes (its datasheets: the emulator has no folders)."""
        try:
            self._space(space_id)
        except RequestError as exc:
            return fail(exc.code, str(exc))
        return envelope({"nodes": [self._node(s) for s in self.datasheets(space_id)]})

    def nodes_search_view(self, request: HttpRequest, space_id: str) -> HttpResponse:
        """v2 node search: ``type`` (e.g. Datasheet), ``query`` (name contains), ``permissions``."""
        try:
            self._space(space_id)
        except RequestError as exc:
            return fail(exc.code, str(exc))
        kind, text = request.GET.get("type", ""), request.GET.get("query", "").lower()
        nodes = [
            {**self._node(s), "permission": 0, "parentId": None}
            for s in self.datasheets(space_id)
            if kind in ("", "Datasheet") and text in s.data["name"].lower()
        ]
        return envelope({"nodes": nodes})

    def node_view(self, request: HttpRequest, node_id: str) -> HttpResponse:
        sheet = self.datasheet(node_id)
        if sheet is None:
            return fail(404, f"The node [{node_id}] does not exist")
        return envelope({**self._node(sheet), "children": None})

    # --- datasheet meta -------------------------------------------------------------------------

    @guarded
    def fields_view(self, request: HttpRequest, dst_id: str) -> HttpResponse:
        sheet = self._sheet(dst_id, request)
        view_id = request.GET.get("viewId")
        if view_id and not any(v["id"] == view_id for v in sheet.data["views"]):
            raise RequestError(400, f"The view [{view_id}] does not exist")
        return envelope({"fields": sheet.data["fields"]})

    @guarded
    def views_view(self, request: HttpRequest, dst_id: str) -> HttpResponse:
        return envelope({"views": self._sheet(dst_id, request).data["views"]})

    @guarded
    def field_create_view(self, request: HttpRequest, space_id: str, dst_id: str) -> HttpResponse:
        self._space(space_id)
        sheet = self._sheet(dst_id, request)
        if sheet.data.get("space_id") != space_id:
            raise RequestError(301, f"The datasheet [{dst_id}] is not in the space [{space_id}]")
        try:
            field = self.field_build(sheet, json_body(request))
        except FieldSpecError as exc:
            raise RequestError(400, str(exc)) from exc
        self.field_add(sheet, field)
        return envelope({"id": field["id"], "name": field["name"]})

    @guarded
    def field_delete_view(
        self, request: HttpRequest, space_id: str, dst_id: str, field_id: str
    ) -> HttpResponse:
        self._space(space_id)
        sheet = self._sheet(dst_id, request)
        if request.method != "DELETE":
            return fail(405, "Method not allowed", status=405)
        if not self.field_remove(sheet, field_id):
            raise RequestError(400, f"The field [{field_id}] does not exist or is the primary field")
        return envelope({})

    @guarded
    def datasheet_create_view(self, request: HttpRequest, space_id: str) -> HttpResponse:
        self._space(space_id)
        body = json_body(request)
        if request.method != "POST" or not isinstance(body, dict):
            raise RequestError(400, "The request body must be a JSON object")
        try:
            sheet = self.datasheet_create(space_id, body)
        except FieldSpecError as exc:
            raise RequestError(400, str(exc)) from exc
        return envelope(
            {
                "id": sheet.remote_id,
                "createdAt": epoch_ms(sheet.created_at),
                "fields": [{"id": f["id"], "name": f["name"]} for f in sheet.data["fields"]],
            }
        )

    # --- records --------------------------------------------------------------------------------

    @guarded
    def records_view(self, request: HttpRequest, dst_id: str) -> HttpResponse:
        sheet = self._sheet(dst_id, request)
        if request.method == "GET":
            return envelope(self.query_run(sheet, self._query(request.GET, sheet)))
        if request.method == "DELETE":
            ids = multi(request.GET, "recordIds") or []
            deleted = self.records_delete(sheet, ids)
            return envelope({"records": [{"recordId": i} for i in deleted]})
        body = json_body(request)
        if not isinstance(body, dict):
            raise RequestError(400, "The request body must be a JSON object")
        field_key = body.get("fieldKey", "name")
        if field_key not in {"name", "id"}:
            raise RequestError(400, "fieldKey must be name or id")
        if request.method == "POST":
            rows = self.records_create(sheet, body.get("records"), field_key)
            event = "record.created"
        elif request.method in {"PATCH", "PUT"}:
            rows = self.records_update(sheet, body.get("records"), field_key)
            event = "record.updated"
        else:
            return fail(405, "Method not allowed", status=405)
        self.automation_fire(sheet, rows, event)
        return envelope({"records": [self.record_body(sheet, r, field_key=field_key) for r in rows]})

    def _query(self, params: QueryDict, sheet: SandboxRecord) -> Query:
        field_key = params.get("fieldKey", "name")
        cell_format = params.get("cellFormat", "json")
        if field_key not in {"name", "id"}:
            raise RequestError(400, "fieldKey must be name or id")
        if cell_format not in {"json", "string"}:
            raise RequestError(400, "cellFormat must be json or string")
        view_id = params.get("viewId")
        if view_id and not any(v["id"] == view_id for v in sheet.data["views"]):
            raise RequestError(400, f"The view [{view_id}] does not exist")
        record_ids = multi(params, "recordIds")
        if record_ids is not None and len(record_ids) > self.max_page_size():
            raise RequestError(400, f"recordIds cannot hold more than {self.max_page_size()} ids")
        return Query(
            page_size=_int(params, "pageSize", DEFAULT_PAGE_SIZE, 1, self.max_page_size())
            or DEFAULT_PAGE_SIZE,
            page_num=_int(params, "pageNum", 1, 1, None) or 1,
            max_records=_int(params, "maxRecords", None, 1, None),
            fields=multi(params, "fields"),
            record_ids=record_ids,
            formula=params.get("filterByFormula", ""),
            sort=sort_params(params),
            as_string=cell_format == "string",
            field_key=field_key,
        )
