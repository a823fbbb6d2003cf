"""Opportunities, pipelines and the location's custom fields in the emulator (providers.md §6):
``GET /opportunities/search`` (snake_case query, ``limit`` ≤ 100, ``startAfter``/``startAfterId``
paging, oldest first), ``POST /opportunities/``, ``GET|PUT|DELETE /opportunities/{id}``,
``GET /opportunities/pipelines`` and ``GET /locations/{locationId}/customFields``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from connectors.gohighlevel.emulator.contacts import GoHighLevelContacts, _sort_value
from connectors.gohighlevel.emulator.store import CUSTOM_FIELDS, PIPELINES

OPPORTUNITY_LIST_MAX = 100


def _snake(name: str) -> str:
    """``locationId`` → ``location_id`` (names already snake_case stay as they are)."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


class GoHighLevelOpportunities(GoHighLevelContacts):
    def opportunities_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return self.error(404, f"Cannot {request.method} {request.path}")
        body = self.body_or_400(request)
        if isinstance(body, HttpResponse):
            return body
        if body.get("locationId") != self.token_location(request.sandbox_token):  # type: ignore[attr-defined]
            return self.error(422, ["locationId is invalid"], error="Unprocessable Entity")
        problems = self.opportunity_problems(body, creating=True)
        if problems:
            return self.error(422, problems, error="Unprocessable Entity")
        fields = {k: v for k, v in body.items() if k != "locationId"}
        row = self.save_new("opportunities", {"status": "open", "monetaryValue": 0, **fields})
        self.event("OpportunityCreate", row.data)
        return JsonResponse({"opportunity": row.data}, status=201)

    def opportunity_view(self, request: HttpRequest, opportunity_id: str) -> HttpResponse:
        row = self.record("opportunities", opportunity_id)
        if row is None:
            return self.error(404, "Opportunity not found", error="Not Found")
        if request.method == "GET":
            return JsonResponse({"opportunity": row.data})
        if request.method == "DELETE":
            data = row.data
            row.delete()
            self.event("OpportunityDelete", data)
            return JsonResponse({"succeded": True})
        if request.method == "PUT":
            body = self.body_or_400(request)
            if isinstance(body, HttpResponse):
                return body
            problems = self.opportunity_problems(
                body, creating=False, pipeline_of=str(row.data.get("pipelineId") or "")
            )
            if problems:
                return self.error(422, problems, error="Unprocessable Entity")
            status_changed = "status" in body and body["status"] != row.data.get("status")
            stage_changed = "pipelineStageId" in body and body["pipelineStageId"] != row.data.get(
                "pipelineStageId"
            )
            row = self.save_changes(row, body)
            self.event("OpportunityUpdate", row.data)
            if status_changed:
                self.event("OpportunityStatusUpdate", row.data)
            if stage_changed:
                self.event("OpportunityStageUpdate", row.data)
            return JsonResponse({"opportunity": row.data})
        return self.error(404, f"Cannot {request.method} {request.path}")

    def opportunity_search_view(self, request: HttpRequest) -> HttpResponse:
        """The documented snake_case query (``location_id``, ``contact_id``, ``pipeline_id``) and the
        camelCase one the official SDK 3.0 sends (``locationId``, ``contactId``, ``pipelineId``)."""
        query = {_snake(k): v for k, v in request.GET.items()}
        if not query.get("location_id"):
            return self.error(422, ["location_id should not be empty"], error="Unprocessable Entity")
        try:
            limit = int(query.get("limit", 20))
        except ValueError:
            limit = 0
        if not 1 <= limit <= OPPORTUNITY_LIST_MAX:
            return self.error(422, ["limit must not be greater than 100"], error="Unprocessable Entity")
        rows = sorted(
            (r.data for r in self.records("opportunities")),
            key=lambda d: (_sort_value(d, "dateAdded"), d["id"]),
        )
        for param, field in (
            ("contact_id", "contactId"),
            ("pipeline_id", "pipelineId"),
            ("status", "status"),
        ):
            if query.get(param) and query[param] != "all":
                rows = [d for d in rows if d.get(field) == query[param]]
        start_id, start_at = query.get("start_after_id"), query.get("start_after")
        if start_id and start_at:
            mark = (float(start_at), start_id)
            rows = [d for d in rows if (_sort_value(d, "dateAdded"), d["id"]) > mark]
        page = rows[:limit]
        meta: dict[str, Any] = {
            "total": len(rows),
            "startAfterId": None,
            "startAfter": None,
            "nextPageUrl": None,
        }
        if len(rows) > limit:
            meta.update(startAfterId=page[-1]["id"], startAfter=int(_sort_value(page[-1], "dateAdded")))
            meta["nextPageUrl"] = request.build_absolute_uri(
                f"{request.path}?location_id={query['location_id']}&limit={limit}"
                f"&startAfterId={meta['startAfterId']}&startAfter={meta['startAfter']}"
            )
        return JsonResponse({"opportunities": page, "meta": meta})

    def pipelines_view(self, request: HttpRequest) -> HttpResponse:
        if not request.GET.get("locationId"):
            return self.error(422, ["locationId should not be empty"], error="Unprocessable Entity")
        pipelines = [
            {
                "id": pipeline_id,
                "name": name,
                "stages": [
                    {"id": stage, "name": label, "position": n} for n, (stage, label) in enumerate(stages)
                ],
                "locationId": self.location_id(),
            }
            for pipeline_id, (name, stages) in PIPELINES.items()
        ]
        return JsonResponse({"pipelines": pipelines})

    def custom_fields_view(self, request: HttpRequest, location_id: str) -> HttpResponse:
        if location_id != self.token_location(request.sandbox_token):  # type: ignore[attr-defined]
            return self.error(403, "The token does not have access to this location")
        fields = [
            {
                "id": fid,
                "name": name,
                "fieldKey": f"contact.{name.lower().replace(' ', '_')}",
                "dataType": kind,
                "model": "contact",
                "locationId": location_id,
            }
            for fid, name, kind in CUSTOM_FIELDS
        ]
        return JsonResponse({"customFields": fields})
