"""HubSpot's CRM v3 object API: list (with ``after`` paging), create, read, update, archive, and the
batch read/create/update/upsert/archive endpoints."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from connectors.hubspot.emulator.errors import BadRequest
from connectors.hubspot.emulator.schema import epoch_ms, iso
from connectors.sandbox.emulator import Emulator, json_body, now_ms
from connectors.sandbox.models import SandboxRecord


def encode_after(record: SandboxRecord) -> str:
    return base64.urlsafe_b64encode(f"{epoch_ms(record.updated_at)}:{record.pk}".encode()).decode()


def decode_after(value: str) -> tuple[datetime, int]:
    try:
        stamp, _, pk = base64.urlsafe_b64decode(value.encode()).decode().partition(":")
        return datetime.fromtimestamp(int(stamp) / 1000, tz=UTC), int(pk)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(f"Invalid after value: {value!r}") from None


class HubSpotRest(Emulator):
    """The object and batch views."""

    def collection_view(self, request: HttpRequest, object_type: str) -> HttpResponse:
        if request.method == "GET":
            return self._guard(request, object_type, self._list)
        if request.method == "POST":
            return self._guard(request, object_type, self._create_one)
        return self.error(405, f"Method {request.method} is not supported on this path")

    def object_view(self, request: HttpRequest, object_type: str, object_id: str) -> HttpResponse:
        handler = {"GET": self._get_one, "PATCH": self._update_one, "DELETE": self._archive_one}.get(
            request.method or ""
        )
        if handler is None:
            return self.error(405, f"Method {request.method} is not supported on this path")
        return self._guard(request, object_type, handler, object_id)

    def _properties_param(self, request: HttpRequest, name: str = "properties") -> list[str]:
        raw = ",".join(request.GET.getlist(name))
        return [p.strip() for p in raw.split(",") if p.strip()]

    def _associations_param(self, request: HttpRequest) -> list[str]:
        return self._properties_param(request, "associations")

    def _list(self, request: HttpRequest, object_type: str) -> HttpResponse:
        limits = self.limits()
        try:
            limit = int(request.GET.get("limit", 10))
        except ValueError:
            raise BadRequest("limit must be a number") from None
        limit = max(1, min(limit, int(limits["list_limit_max"])))
        archived = request.GET.get("archived", "false").lower() == "true"  # true: ONLY archived records
        qs = self.records(object_type).filter(archived=archived)
        if request.GET.get("after"):
            stamp, pk = decode_after(request.GET["after"])
            qs = qs.filter(Q(updated_at__gt=stamp) | Q(updated_at=stamp, id__gt=pk))
        rows = list(qs.order_by("updated_at", "id")[: limit + 1])
        properties = self._properties_param(request)
        body: dict[str, Any] = {"results": [self.serialize(r, properties) for r in rows[:limit]]}
        self.attach_associations(object_type, body["results"], self._associations_param(request))
        if len(rows) > limit:
            after = encode_after(rows[limit - 1])
            params = request.GET.copy()
            params["after"] = after
            body["paging"] = {
                "next": {
                    "after": after,
                    "link": request.build_absolute_uri(f"{request.path}?{params.urlencode()}"),
                }
            }
        return JsonResponse(body)

    def _create_one(self, request: HttpRequest, object_type: str) -> HttpResponse:
        body = json_body(request)
        if not isinstance(body, dict):
            raise BadRequest("Invalid input JSON on line 1")
        props = self.clean_properties(object_type, body.get("properties", {}), creating=True)
        links = self.clean_associations(object_type, body.get("associations"))
        outcome = self.create_many(object_type, [props])[0]
        if isinstance(outcome, BadRequest):
            raise outcome
        self.apply_associations(object_type, outcome.remote_id, links)
        return JsonResponse(self.serialize(outcome, list(props)), status=201)

    def _one(self, request: HttpRequest, object_type: str, object_id: str, *, archived: bool = False):
        id_property = request.GET.get("idProperty", "")
        found = self.find(object_type, [object_id], id_property=id_property, archived=archived)
        record = found.get(object_id.strip().lower() if id_property == "email" else object_id)
        if record is None:
            raise BadRequest("resource not found", category="OBJECT_NOT_FOUND", status=404)
        return record

    def _get_one(self, request: HttpRequest, object_type: str, object_id: str) -> HttpResponse:
        archived = request.GET.get("archived", "false").lower() == "true"
        record = self._one(request, object_type, object_id, archived=archived)
        body = self.serialize(record, self._properties_param(request))
        self.attach_associations(object_type, [body], self._associations_param(request))
        return JsonResponse(body)

    def _update_one(self, request: HttpRequest, object_type: str, object_id: str) -> HttpResponse:
        body = json_body(request)
        if not isinstance(body, dict):
            raise BadRequest("Invalid input JSON on line 1")
        props = self.clean_properties(object_type, body.get("properties", {}), creating=False)
        record = self._one(request, object_type, object_id)
        if props.get("email"):
            taken = self.existing_emails([props["email"]], exclude={record.remote_id})
            if taken:
                raise self.contact_exists(taken[props["email"]])
        self.apply_update(record, props, now_ms())
        record.save(update_fields=["data", "updated_at"])
        return JsonResponse(self.serialize(record, list(props)))

    def _archive_one(self, request: HttpRequest, object_type: str, object_id: str) -> HttpResponse:
        found = self.find(object_type, [object_id])
        if object_id in found:
            self._archive([found[object_id]])
        return HttpResponse(status=204)  # HubSpot answers 204 whether or not the id existed

    def _archive(self, records: list[SandboxRecord]) -> None:
        when = now_ms()
        for record in records:
            record.archived, record.archived_at, record.updated_at = True, when, when
        SandboxRecord.objects.bulk_update(records, ["archived", "archived_at", "updated_at"])

    # --- views: batch -----------------------------------------------------------------------------

    def batch_view(self, request: HttpRequest, object_type: str, action: str) -> HttpResponse:
        handler = {
            "read": self._batch_read,
            "create": self._batch_create,
            "update": self._batch_update,
            "upsert": self._batch_upsert,
            "archive": self._batch_archive,
        }.get(action)
        if handler is None:
            return self.error(404, f"Unknown batch action {action!r}", code="OBJECT_NOT_FOUND")
        if request.method != "POST":
            return self.error(405, f"Method {request.method} is not supported on this path")
        return self._guard(request, object_type, self._batch, handler)

    def _batch(self, request: HttpRequest, object_type: str, handler: Any) -> HttpResponse:
        body = json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            raise BadRequest("Invalid input JSON: expected an object with an 'inputs' list")
        inputs = body["inputs"]
        cap = int(self.limits()["batch_max"])
        if len(inputs) > cap:
            raise BadRequest(f"Batch input limit exceeded: {len(inputs)} inputs, at most {cap} are allowed.")
        if not all(isinstance(item, dict) for item in inputs):
            raise BadRequest("Invalid input JSON: every input must be an object")
        started = iso(timezone.now())
        outcome = handler(object_type, inputs, body)
        if outcome is None:
            return HttpResponse(status=204)
        results, errors, ok_status = outcome
        payload: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "requestedAt": started,
            "startedAt": started,
            "completedAt": iso(timezone.now()),
        }
        if errors:
            payload["numErrors"] = len(errors)
            payload["errors"] = errors
        return JsonResponse(payload, status=207 if errors else ok_status)

    @staticmethod
    def _batch_error(
        exc: BadRequest, *, ids: list[str] | None = None, trace: str | None = None
    ) -> dict[str, Any]:
        context: dict[str, list[str]] = {}
        if ids:
            context["ids"] = ids
        if trace is not None:
            context["objectWriteTraceId"] = [trace]
        error = {"status": "error", "category": exc.category, "message": exc.message, "context": context}
        if "error" in exc.extra:
            error["subCategory"] = exc.extra["error"]
            error["error"] = exc.extra["error"]
        return error

    def _with_trace(self, body: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
        if item.get("objectWriteTraceId") is not None:
            body["objectWriteTraceId"] = str(item["objectWriteTraceId"])
        return body

    def _batch_read(self, object_type: str, inputs: list[dict[str, Any]], body: dict[str, Any]):
        ids = [str(item.get("id", "")) for item in inputs]
        id_property = str(body.get("idProperty") or "")
        found = self.find(object_type, ids, id_property=id_property, archived=bool(body.get("archived")))
        key = (lambda i: i.strip().lower()) if id_property == "email" else (lambda i: i)
        results = [self.serialize(found[key(i)], body.get("properties")) for i in ids if key(i) in found]
        missing = [i for i in ids if key(i) not in found]
        errors = []
        if missing:
            errors.append(
                self._batch_error(
                    BadRequest(
                        f"Could not get some {object_type} objects, they may be deleted or not exist.",
                        category="OBJECT_NOT_FOUND",
                    ),
                    ids=missing,
                )
            )
        return results, errors, 200

    def _batch_create(self, object_type: str, inputs: list[dict[str, Any]], body: dict[str, Any]):
        results, errors = [], []
        clean: list[tuple[dict[str, Any], dict[str, str], list[tuple[str, str, list[int]]]]] = []
        for item in inputs:
            try:
                props = self.clean_properties(object_type, item.get("properties", {}), creating=True)
                clean.append((item, props, self.clean_associations(object_type, item.get("associations"))))
            except BadRequest as exc:
                errors.append(self._batch_error(exc, trace=self._trace(item)))
        outcomes = self.create_many(object_type, [props for _, props, _ in clean])
        for (item, props, links), outcome in zip(clean, outcomes, strict=True):
            if isinstance(outcome, BadRequest):
                errors.append(self._batch_error(outcome, trace=self._trace(item)))
            else:
                self.apply_associations(object_type, outcome.remote_id, links)
                results.append(self._with_trace(self.serialize(outcome, list(props)), item))
        return results, errors, 201

    @staticmethod
    def _trace(item: dict[str, Any]) -> str | None:
        trace = item.get("objectWriteTraceId")
        return None if trace is None else str(trace)

    def _batch_update(self, object_type: str, inputs: list[dict[str, Any]], body: dict[str, Any]):
        results, errors, changed = [], [], []
        ids = [str(item.get("id", "")) for item in inputs]
        id_property = str(inputs[0].get("idProperty") or "") if inputs else ""
        found = self.find(object_type, ids, id_property=id_property)
        emails = [str(item.get("properties", {}).get("email", "")).strip().lower() for item in inputs]
        taken = self.existing_emails(emails) if object_type == "contacts" else {}
        when = now_ms()
        for item, remote_key in zip(inputs, ids, strict=True):
            try:
                props = self.clean_properties(object_type, item.get("properties", {}), creating=False)
                record = found.get(remote_key.strip().lower() if id_property == "email" else remote_key)
                if record is None:
                    raise BadRequest(f"Object not found: {remote_key}", category="OBJECT_NOT_FOUND")
                owner = taken.get(props.get("email", ""))
                if owner and owner != record.remote_id:
                    raise self.contact_exists(owner)
            except BadRequest as exc:
                errors.append(self._batch_error(exc, ids=[remote_key], trace=self._trace(item)))
                continue
            self.apply_update(record, props, when)
            if props.get("email"):
                taken[props["email"]] = record.remote_id
            changed.append(record)
            results.append(self._with_trace(self.serialize(record, list(props)), item))
        SandboxRecord.objects.bulk_update(changed, ["data", "updated_at"])
        return results, errors, 200

    def _batch_upsert(self, object_type: str, inputs: list[dict[str, Any]], body: dict[str, Any]):
        results, errors = [], []
        for item in inputs:
            id_property = str(item.get("idProperty") or "hs_object_id")
            remote_key = str(item.get("id", ""))
            try:
                props = self.clean_properties(object_type, item.get("properties", {}), creating=False)
                found = self.find(object_type, [remote_key], id_property=id_property)
                key = remote_key.strip().lower() if id_property == "email" else remote_key
                record, new = found.get(key), False
                if record is None:
                    if id_property != "email":
                        raise BadRequest(f"Object not found: {remote_key}", category="OBJECT_NOT_FOUND")
                    props = {**props, "email": key}
                    self.clean_properties(object_type, props, creating=True)
                    outcome = self.create_many(object_type, [props])[0]
                    if isinstance(outcome, BadRequest):
                        raise outcome
                    record, new = outcome, True
                else:
                    self.apply_update(record, props, now_ms())
                    record.save(update_fields=["data", "updated_at"])
            except BadRequest as exc:
                errors.append(self._batch_error(exc, ids=[remote_key], trace=self._trace(item)))
                continue
            shown = [*props, *([id_property] if id_property != "hs_object_id" else [])]
            results.append(self._with_trace({**self.serialize(record, shown), "new": new}, item))
        return results, errors, 200

    def _batch_archive(self, object_type: str, inputs: list[dict[str, Any]], body: dict[str, Any]) -> None:
        found = self.find(object_type, [str(item.get("id", "")) for item in inputs])
        self._archive(list(found.values()))
        return None  # 204: HubSpot reports nothing per input, and unknown ids are not an error
