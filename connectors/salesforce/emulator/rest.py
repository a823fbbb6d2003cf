"""Salesforce's REST resources: versions and describes, single records (by id or external id),
the ``updated/`` and ``deleted/`` replication windows, and sObject Collections."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from typing import Any

from django.db import transaction
from django.db.models import CharField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from connectors.salesforce.client import COMPOSITE_LIMIT, format_datetime, normalize_id, parse_datetime
from connectors.salesforce.emulator.errors import RecordError, RequestError
from connectors.salesforce.emulator.query import QUERY_LOCATOR
from connectors.salesforce.emulator.schema import PREFIX, FieldSpec, ObjectSpec, blob_text
from connectors.sandbox.emulator import Emulator, json_body
from connectors.sandbox.models import SandboxRecord

SUPPORTED_VERSIONS = range(31, 66)
RECYCLE_BIN_RETENTION = timedelta(days=15)
UPDATED_WINDOW = timedelta(days=30)
MAX_REPLICATION_IDS = 600_000
MAX_CHUNKS = 10


def field_label(name: str) -> str:
    """The label Salesforce shows for a standard field or object: its words, "Id" as "ID"."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z][a-z0-9]*|[a-z0-9]+", name)
    return " ".join("ID" if word == "Id" else word for word in words) or name


def _describe_field(name: str, f: FieldSpec) -> dict[str, Any]:
    """One entry of describe's ``fields``, with the properties integrations read."""
    labels = f.picklist_labels or f.picklist
    sizes = {"length": f.length} if f.length else {}
    if f.precision:
        sizes |= {"precision": f.precision, "scale": f.scale}
    return {
        **sizes,
        "name": name,
        "label": f.label or field_label(name.removesuffix("__c")),
        "type": f.type,
        "custom": f.custom or name.endswith("__c"),
        "createable": f.createable,
        "updateable": f.updateable,
        "nillable": not f.required and f.type != "boolean",
        "externalId": f.external_id,
        "defaultedOnCreate": f.default is not None,
        "referenceTo": list(f.references),
        "restrictedPicklist": f.restricted,
        "picklistValues": [
            {
                "value": value,
                "label": label,
                "active": True,
                "defaultValue": value == f.default,
                "validFor": None,
            }
            for value, label in zip(f.picklist, labels, strict=True)
        ],
    }


def _failure(error: dict[str, Any], record_id: str | None = None) -> dict[str, Any]:
    return {"id": record_id, "success": False, "errors": [error]}


def _label(version: int) -> str:
    season = ("Winter", "Spring", "Summer")[(version - 62) % 3]
    return f"{season} '{25 + (version - 62) // 3}"


class SalesforceRest(Emulator):
    """The REST views, and how a URL names a version and an sObject."""

    def versions_view(self, request: HttpRequest) -> HttpResponse:
        return JsonResponse(
            [
                {"label": _label(n), "url": f"{PREFIX}/services/data/v{n}.0", "version": f"{n}.0"}
                for n in SUPPORTED_VERSIONS
            ],
            safe=False,
        )

    def resources_view(self, request: HttpRequest, version: str) -> HttpResponse:
        if (bad := self._check_version(version)) is not None:
            return bad
        base = f"{PREFIX}/services/data/{version}"
        return JsonResponse(
            {name: f"{base}/{name}" for name in ("limits", "query", "queryAll", "sobjects", "composite")}
        )

    def describe_global_view(self, request: HttpRequest, version: str) -> HttpResponse:
        if (bad := self._check_version(version)) is not None:
            return bad
        return JsonResponse(
            {
                "encoding": "UTF-8",
                "maxBatchSize": COMPOSITE_LIMIT,
                "sobjects": [
                    {
                        "name": spec.name,
                        "label": spec.name,
                        "keyPrefix": spec.prefix,
                        "queryable": True,
                        "createable": True,
                        "updateable": True,
                        "deletable": True,
                        "urls": {"sobject": f"{PREFIX}/services/data/{version}/sobjects/{spec.name}"},
                    }
                    for spec in self.object_specs()
                ],
            }
        )

    def describe_view(self, request: HttpRequest, version: str, sobject: str) -> HttpResponse:
        spec = self._resolve(version, sobject)
        if isinstance(spec, HttpResponse):
            return spec
        return JsonResponse(
            {
                "name": spec.name,
                "label": field_label(spec.name),
                "custom": False,
                "keyPrefix": spec.prefix,
                "queryable": True,
                "createable": True,
                "updateable": True,
                "deletable": True,
                "fields": [_describe_field(name, f) for name, f in spec.fields.items()],
            }
        )

    def sobject_view(self, request: HttpRequest, version: str, sobject: str) -> HttpResponse:
        spec = self._resolve(version, sobject)
        if isinstance(spec, HttpResponse):
            return spec
        if request.method == "GET":
            recent = self.records(spec.name).filter(archived=False).order_by("-updated_at")[:10]
            return JsonResponse(
                {
                    "objectDescribe": {"name": spec.name, "keyPrefix": spec.prefix},
                    "recentItems": [
                        self._attributes(spec, r.remote_id, version) | {"Id": r.remote_id} for r in recent
                    ],
                }
            )
        if request.method != "POST":
            return self.error(405, f"HTTP Method '{request.method}' not allowed. Allowed are GET,HEAD,POST")
        body = json_body(request)
        if not isinstance(body, dict):
            return self.error(
                400, "Unexpected character: the body must be a JSON object", code="JSON_PARSER_ERROR"
            )
        try:
            values = self._clean(spec, body, creating=True)
            remote_id = self._insert(spec, [values])[0]
        except (RequestError, RecordError) as exc:
            return self._refusal(exc)
        return JsonResponse({"id": remote_id, "success": True, "errors": []}, status=201)

    def record_view(self, request: HttpRequest, version: str, sobject: str, record_id: str) -> HttpResponse:
        spec = self._resolve(version, sobject)
        if isinstance(spec, HttpResponse):
            return spec
        row = self._find(spec, record_id)
        if row is None or (row.archived and request.method == "GET"):
            return self.error(404, "The requested resource does not exist", code="NOT_FOUND")
        if row.archived:
            return self.error(404, "entity is deleted", code="ENTITY_IS_DELETED")
        if request.method == "GET":
            full = self._wire(spec, row, version)
            wanted = [name for name in request.GET.get("fields", "").split(",") if name.strip()]
            if wanted:
                names = [spec.lookup(name.strip()) for name in wanted]
                if None in names:
                    missing = wanted[names.index(None)]
                    return self.error(
                        400,
                        f"No such column '{missing}' on sobject of type {spec.name}",
                        code="INVALID_FIELD",
                    )
                full = {name: full.get(name) for name in names if name}
            return JsonResponse({"attributes": self._attributes(spec, row.remote_id, version), **full})
        if request.method == "PATCH":
            body = json_body(request)
            if not isinstance(body, dict):
                return self.error(400, "the body must be a JSON object", code="JSON_PARSER_ERROR")
            try:
                values = self._clean(spec, body, creating=False, current=row.data)
            except (RequestError, RecordError) as exc:
                return self._refusal(exc)
            self._save(row, values)
            return HttpResponse(status=204)
        if request.method == "DELETE":
            self._recycle([row])
            return HttpResponse(status=204)
        return self.error(
            405, f"HTTP Method '{request.method}' not allowed. Allowed are GET,HEAD,PATCH,DELETE"
        )

    def external_id_view(
        self, request: HttpRequest, version: str, sobject: str, ext_field: str, ext_value: str
    ) -> HttpResponse:
        """Upsert (PATCH) or read (GET) by an external-id field: 201 created, 204 updated, 300 ambiguous."""
        spec = self._resolve(version, sobject)
        if isinstance(spec, HttpResponse):
            return spec
        blob = spec.lookup(ext_value)
        if blob is not None and spec.fields[blob].type == "base64" and request.method == "GET":
            return self._blob(spec, ext_field, blob)
        field_name = spec.lookup(ext_field)
        if field_name is None or not (spec.fields[field_name].external_id or field_name == "Id"):
            return self.error(
                404,
                f"Provided external ID field does not exist or is not accessible: {ext_field}",
                code="NOT_FOUND",
            )
        if field_name == "Id":
            found = [row] if (row := self._find(spec, ext_value)) is not None and not row.archived else []
        else:
            found = list(
                self.records(spec.name)
                .filter(archived=False)
                .alias(ext=Cast(KeyTextTransform(field_name, "data"), CharField()))  # Cast: compare as text
                .filter(ext=ext_value)[:50]
            )
        if len(found) > 1:
            return JsonResponse(
                [f"{PREFIX}/services/data/{version}/sobjects/{spec.name}/{row.remote_id}" for row in found],
                status=300,
                safe=False,
            )
        if request.method == "GET":
            if not found:
                return self.error(404, "The requested resource does not exist", code="NOT_FOUND")
            return JsonResponse(
                {
                    "attributes": self._attributes(spec, found[0].remote_id, version),
                    **self._wire(spec, found[0], version),
                }
            )
        if request.method != "PATCH":
            return self.error(405, f"HTTP Method '{request.method}' not allowed. Allowed are GET,HEAD,PATCH")
        body = json_body(request)
        if not isinstance(body, dict):
            return self.error(400, "the body must be a JSON object", code="JSON_PARSER_ERROR")
        if any(spec.lookup(name) in {"Id", field_name} for name in body if name != "attributes"):
            return self.error(
                400,
                f"The field {field_name} must not be in the body of an upsert by {field_name}",
                code="INVALID_FIELD",
                fields=[field_name],
            )
        try:
            if found:
                self._save(found[0], self._clean(spec, body, creating=False, current=found[0].data))
                return HttpResponse(status=204)
            if request.GET.get("updateOnly") == "true":
                return self.error(404, "The requested resource does not exist", code="NOT_FOUND")
            values = self._clean(spec, body, creating=True)
            if field_name != "Id":
                values[field_name] = ext_value
            remote_id = self._insert(spec, [values])[0]
        except (RequestError, RecordError) as exc:
            return self._refusal(exc)
        return JsonResponse({"id": remote_id, "success": True, "errors": [], "created": True}, status=201)

    def _blob(self, spec: ObjectSpec, record_id: str, field_name: str) -> HttpResponse:
        """sObject Blob Get: the field's content as binary, not JSON."""
        row = self._find(spec, record_id)
        if row is None or row.archived or not row.data.get(field_name):
            return self.error(404, "The requested resource does not exist", code="NOT_FOUND")
        return HttpResponse(blob_text(row.data[field_name]).encode(), content_type="application/octetstream")

    def replication_view(self, request: HttpRequest, version: str, sobject: str, window: str) -> HttpResponse:
        """``updated/`` and ``deleted/``: ids in a [start, end] window; seconds are ignored, as Salesforce does."""
        spec = self._resolve(version, sobject)
        if isinstance(spec, HttpResponse):
            return spec
        # A '+' in an unencoded offset arrives as a space.
        start = parse_datetime(request.GET.get("start", "").replace(" ", "+"))
        end = parse_datetime(request.GET.get("end", "").replace(" ", "+"))
        if start is None or end is None:
            return self.error(400, "start and end must be ISO 8601 date-times", code="MISSING_ARGUMENT")
        start, end = start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0)
        moment = timezone.now().astimezone(UTC)
        earliest = (moment - (RECYCLE_BIN_RETENTION if window == "deleted" else UPDATED_WINDOW)).replace(
            second=0, microsecond=0
        )
        if end <= start:
            return self.error(400, "end date must be after start date", code="INVALID_REPLICATION_DATE")
        if start < earliest:
            return self.error(
                400,
                f"startDate cannot be before {format_datetime(earliest)}",
                code="INVALID_REPLICATION_DATE",
            )
        covered = min(end, moment.replace(second=0, microsecond=0))
        rows = self.records(spec.name)
        if window == "deleted":
            rows = rows.filter(archived=True, archived_at__gte=start, archived_at__lte=covered)
            found = list(
                rows.order_by("archived_at").values_list("remote_id", "archived_at")[
                    : MAX_REPLICATION_IDS + 1
                ]
            )
            if len(found) > MAX_REPLICATION_IDS:
                return self.error(400, "too many ids: narrow the window", code="EXCEEDED_ID_LIMIT")
            return JsonResponse(
                {
                    "deletedRecords": [
                        {"id": rid, "deletedDate": format_datetime(when)} for rid, when in found
                    ],
                    "earliestDateAvailable": format_datetime(earliest),
                    "latestDateCovered": format_datetime(covered),
                }
            )
        rows = rows.filter(archived=False, updated_at__gte=start, updated_at__lte=covered)
        ids = list(rows.order_by("updated_at").values_list("remote_id", flat=True)[: MAX_REPLICATION_IDS + 1])
        if len(ids) > MAX_REPLICATION_IDS:
            return self.error(400, "too many ids: narrow the window", code="EXCEEDED_ID_LIMIT")
        return JsonResponse({"ids": ids, "latestDateCovered": format_datetime(covered)})

    # --- sObject Collections ----------------------------------------------------------------------

    def collections_view(self, request: HttpRequest, version: str) -> HttpResponse:
        if (bad := self._check_version(version)) is not None:
            return bad
        if request.method == "DELETE":
            ids = [value for value in request.GET.get("ids", "").split(",") if value]
            all_or_none = request.GET.get("allOrNone", "false").lower() == "true"
            if not ids:
                return self.error(400, "ids is required", code="MISSING_ARGUMENT")
            if len(ids) > COMPOSITE_LIMIT:
                return self._too_many()
            return JsonResponse(self._collection_delete(ids, all_or_none), safe=False)
        if request.method not in {"POST", "PATCH"}:
            return self.error(
                405, f"HTTP Method '{request.method}' not allowed. Allowed are POST,PATCH,DELETE"
            )
        body = json_body(request)
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("records"), list)
            or not all(isinstance(record, dict) for record in body["records"])
        ):
            return self.error(400, "records must be a list of sObjects", code="JSON_PARSER_ERROR")
        records, all_or_none = body["records"], bool(body.get("allOrNone", False))
        if len(records) > COMPOSITE_LIMIT:
            return self._too_many()
        types = [str((record.get("attributes") or {}).get("type") or "") for record in records]
        if sum(1 for i, name in enumerate(types) if i == 0 or name != types[i - 1]) > MAX_CHUNKS:
            return self.error(
                400,
                "Cannot have more than 10 chunks in a single operation. Please rearrange the "
                "data to reduce chunking.",
                code="INVALID_BATCH_REQUEST",
            )
        try:
            if request.method == "POST":
                return JsonResponse(self._collection_create(records, all_or_none), safe=False)
            return JsonResponse(self._collection_update(records, all_or_none), safe=False)
        except RequestError as exc:
            return self._refusal(exc)

    def _too_many(self) -> HttpResponse:
        return self.error(
            400,
            "record limit reached. cannot submit more than 200 records into this call",
            code="EXCEEDED_ID_LIMIT",
        )

    def _collection_create(self, records: list[dict[str, Any]], all_or_none: bool) -> list[dict[str, Any]]:
        results: list[dict[str, Any] | None] = []
        prepared: list[tuple[int, ObjectSpec, dict[str, Any]]] = []
        for index, record in enumerate(records):
            spec = self._spec(str((record.get("attributes") or {}).get("type") or ""))
            if spec is None:
                results.append(
                    _failure(
                        {
                            "statusCode": "INVALID_TYPE",
                            "message": "Must send a concrete entity type.",
                            "fields": [],
                        }
                    )
                )
                continue
            if "Id" in record:
                results.append(
                    _failure(
                        {
                            "statusCode": "INVALID_FIELD",
                            "message": "Id must not be set on insert",
                            "fields": ["Id"],
                        }
                    )
                )
                continue
            try:
                prepared.append((index, spec, self._clean(spec, record, creating=True)))
                results.append(None)
            except RecordError as exc:
                results.append(_failure(exc.as_item()))
        if self._rolled_back(results, all_or_none):
            return self._rollback(results)
        with transaction.atomic():
            for spec in {spec.name: spec for _, spec, _ in prepared}.values():
                batch = [(index, values) for index, s, values in prepared if s.name == spec.name]
                for (index, _), remote_id in zip(
                    batch, self._insert(spec, [v for _, v in batch]), strict=True
                ):
                    results[index] = {"id": remote_id, "success": True, "errors": []}
        return [result for result in results if result is not None]

    def _collection_update(self, records: list[dict[str, Any]], all_or_none: bool) -> list[dict[str, Any]]:
        ids = [normalize_id(record.get("Id")) for record in records]
        rows = {
            row.remote_id: row
            for row in SandboxRecord.objects.filter(
                provider=self.provider, remote_id__in=[i for i in ids if i]
            ).exclude(object_type=QUERY_LOCATOR)
        }
        results: list[dict[str, Any] | None] = []
        prepared: list[tuple[int, SandboxRecord, dict[str, Any]]] = []
        seen: set[str] = set()
        for index, (record, remote_id) in enumerate(zip(records, ids, strict=True)):
            row = rows.get(remote_id or "")
            given_type = (record.get("attributes") or {}).get("type")
            problem = _target_problem(record.get("Id"), remote_id, row, seen, given_type)
            if problem is not None or row is None:
                results.append(_failure(problem or {}, remote_id))
                continue
            try:
                spec = self._spec(row.object_type)
                assert spec is not None  # noqa: S101 (rows are stored only for known objects)
                values = self._clean(spec, record, creating=False, current=row.data)
                prepared.append((index, row, values))
                results.append(None)
            except RecordError as exc:
                results.append(_failure(exc.as_item(), remote_id))
        if self._rolled_back(results, all_or_none):
            return self._rollback(results)
        with transaction.atomic():
            for index, row, values in prepared:
                self._save(row, values)
                results[index] = {"id": row.remote_id, "success": True, "errors": []}
        return [result for result in results if result is not None]

    def _collection_delete(self, raw_ids: list[str], all_or_none: bool) -> list[dict[str, Any]]:
        ids = [normalize_id(value) for value in raw_ids]
        rows = {
            row.remote_id: row
            for row in SandboxRecord.objects.filter(
                provider=self.provider, remote_id__in=[i for i in ids if i]
            ).exclude(object_type=QUERY_LOCATOR)
        }
        results: list[dict[str, Any] | None] = []
        doomed: list[tuple[int, SandboxRecord]] = []
        seen: set[str] = set()
        for index, (raw, remote_id) in enumerate(zip(raw_ids, ids, strict=True)):
            row = rows.get(remote_id or "")
            problem = _target_problem(raw, remote_id, row, seen)
            if problem is not None or row is None:
                results.append(_failure(problem or {}, remote_id))
            else:
                doomed.append((index, row))
                results.append(None)
        if self._rolled_back(results, all_or_none):
            return self._rollback(results)
        self._recycle([row for _, row in doomed])
        for index, row in doomed:
            results[index] = {"id": row.remote_id, "success": True, "errors": []}
        return [result for result in results if result is not None]

    @staticmethod
    def _rolled_back(results: list[dict[str, Any] | None], all_or_none: bool) -> bool:
        return all_or_none and any(result is not None for result in results)

    @staticmethod
    def _rollback(results: list[dict[str, Any] | None]) -> list[dict[str, Any]]:
        rolled = {
            "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
            "fields": [],
            "message": "Record rolled back because not all records were valid and the request was using "
            "AllOrNone header",
        }
        return [result if result is not None else _failure(rolled) for result in results]

    def _check_version(self, version: str) -> HttpResponse | None:
        number = version[1:].split(".")[0]
        if not number.isdigit() or int(number) not in SUPPORTED_VERSIONS:
            return self.error(404, "The requested resource does not exist", code="NOT_FOUND")
        return None

    def _resolve(self, version: str, sobject: str) -> ObjectSpec | HttpResponse:
        """The object named in the URL, or the 404 to answer."""
        bad = self._check_version(version)
        if bad is not None:
            return bad
        spec = self._spec(sobject)
        if spec is None:
            return self.error(
                404,
                f"The requested resource does not exist: sObject type '{sobject}' is not supported.",
                code="NOT_FOUND",
            )
        return spec


def _target_problem(
    raw: Any, remote_id: str | None, row: SandboxRecord | None, seen: set[str], given_type: str | None = None
) -> dict[str, Any] | None:
    """The per-item error for a record an update or delete names, or None when it may be changed."""
    if not raw:
        code, message = "MISSING_ARGUMENT", "Id not specified in an update call"
    elif remote_id is None:
        code, message = "MALFORMED_ID", f"malformed id {raw}"
    elif remote_id in seen:
        code, message = "DUPLICATE_VALUE", "duplicate id in list"
    elif row is None or (given_type and given_type != row.object_type):
        code, message = "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id"
    elif row.archived:
        code, message = "ENTITY_IS_DELETED", "entity is deleted"
    else:
        seen.add(remote_id)
        return None
    return {"statusCode": code, "message": message, "fields": []}
