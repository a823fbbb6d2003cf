"""Records: list (``fields`` required, 200 a page, ``page`` up to 2,000 rows then ``page_token`` up to
100,000, ``If-Modified-Since``, 204 when empty), get, ``ids``, search, the recycle bin (``/deleted``), and
batch writes of at most 100 records (insert, update, upsert with ``duplicate_check_fields``, delete) with
per-item results: 201/200 when all succeed, 207 when mixed, 400 when every record failed."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from connectors.sandbox.emulator import json_body
from connectors.sandbox.models import SandboxRecord
from connectors.zoho.emulator.schema import MODULES, USER, RecordError, ZohoSchema, zoho_time

MAX_PER_PAGE = 200
DISCRETE_LIMIT = 2000
TOKEN_LIMIT = 100_000
MAX_FIELDS = 50
BATCH_LIMIT = 100
PAGE_TOKEN_LIFETIME = 86400
SORTABLE = {"id": "remote_id", "Created_Time": "created_at", "Modified_Time": "updated_at"}
_CRITERION = re.compile(r"\((?P<field>[\w$]+):(?P<op>equals|starts_with):(?P<value>(?:\\.|[^()\\])*)\)")


class QueryError(Exception):
    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or {}


class ZohoRecords(ZohoSchema):
    """The record endpoints."""

    def _refuse(self, exc: QueryError) -> HttpResponse:
        return self.error(exc.status, exc.message, code=exc.code, details=exc.details)

    def _module(self, module: str) -> str:
        if module not in MODULES:
            raise QueryError(
                400, "INVALID_MODULE", "the module name given seems to be invalid", {"module": module}
            )
        return module

    # --- reads ---------------------------------------------------------------------------------

    def module_view(self, request: HttpRequest, version: str, module: str) -> HttpResponse:
        try:
            module = self._module(module)
            if request.method == "GET":
                return self._list(request, module)
            if request.method == "POST":
                return self._write(request, module, "insert")
            if request.method == "PUT":
                return self._write(request, module, "update")
            if request.method == "DELETE":
                return self._delete(request, module, (request.GET.get("ids") or "").split(","))
        except QueryError as exc:
            return self._refuse(exc)
        return self.error(
            405, "the http request method type is not a valid one", code="INVALID_REQUEST_METHOD"
        )

    def _since(self, request: HttpRequest) -> datetime | None:
        header = request.headers.get("If-Modified-Since")
        if not header:
            return None
        since = parse_datetime(header.strip().replace(" ", "+"))
        if since is None:
            raise QueryError(
                400, "INVALID_DATA", "invalid If-Modified-Since header", {"header": "If-Modified-Since"}
            )
        return since

    def _fields_param(self, request: HttpRequest, module: str) -> list[str]:
        raw = request.GET.get("fields", "")
        if not raw:
            raise QueryError(
                400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", {"param": "fields"}
            )
        names = [n for n in raw.split(",") if n]
        if len(names) > MAX_FIELDS:
            raise QueryError(
                400, "LIMIT_EXCEEDED", "fields limit exceeded", {"limit": MAX_FIELDS, "param": "fields"}
            )
        return names

    def _list(self, request: HttpRequest, module: str) -> HttpResponse:
        fields = self._fields_param(request, module)
        rows = self.records(module).filter(archived=False)
        if request.GET.get("ids"):
            ids = [i for i in request.GET["ids"].split(",") if i]
            if len(ids) > BATCH_LIMIT:
                raise QueryError(
                    400, "LIMIT_EXCEEDED", "ids limit exceeded", {"limit": BATCH_LIMIT, "param": "ids"}
                )
            rows = rows.filter(remote_id__in=ids)
        since = self._since(request)
        if since is not None:
            rows = rows.filter(updated_at__gte=since)
            if not rows.exists():
                return HttpResponse(status=304)
        sort_by = request.GET.get("sort_by", "id")
        if sort_by not in SORTABLE:
            raise QueryError(400, "INVALID_DATA", "invalid sort_by", {"param": "sort_by"})
        order = request.GET.get("sort_order", "desc")
        prefix = "-" if order == "desc" else ""
        # Ties broken by the row id: with (updated_at, id) the delta index serves the sort.
        rows = rows.order_by(f"{prefix}{SORTABLE[sort_by]}", f"{prefix}pk")
        return self._page(
            request,
            rows,
            {"module": module, "since": str(since), "sort": f"{sort_by}:{order}"},
            sort_by,
            order,
            lambda r: self.wire(r, fields),
        )

    def _page(
        self, request: HttpRequest, rows, query: dict[str, str], sort_by: str, order: str, shape
    ) -> HttpResponse:
        """One page: ``page``/``per_page`` within the first 2,000 rows, ``page_token`` beyond."""
        try:
            per_page = int(request.GET.get("per_page", MAX_PER_PAGE))
            page = int(request.GET.get("page", 1))
        except ValueError:
            raise QueryError(400, "INVALID_DATA", "invalid page or per_page", {"param": "page"}) from None
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise QueryError(
                400,
                "INVALID_DATA",
                "per_page must be between 1 and 200",
                {"param": "per_page", "maximum_length": MAX_PER_PAGE},
            )
        token = request.GET.get("page_token")
        if token:
            offset = self._read_token(token, query)
            page = offset // per_page + 1
        else:
            offset = (page - 1) * per_page
            if page < 1 or offset + per_page > DISCRETE_LIMIT:
                raise QueryError(
                    400,
                    "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                    "You cannot fetch more than 2000 records using page. Use page_token instead.",
                    {"limit": DISCRETE_LIMIT},
                )
        if offset + per_page > TOKEN_LIMIT:
            raise QueryError(
                400,
                "PAGINATION_LIMIT_EXCEEDED",
                "cannot fetch more than 100000 records",
                {"limit": TOKEN_LIMIT},
            )
        chunk = list(rows[offset : offset + per_page + 1])
        more = len(chunk) > per_page
        chunk = chunk[:per_page]
        if not chunk:
            return HttpResponse(status=204)
        expiry = int(time.time()) + PAGE_TOKEN_LIFETIME
        info: dict[str, Any] = {
            "per_page": per_page,
            "count": len(chunk),
            "page": page,
            "sort_by": sort_by,
            "sort_order": order,
            "more_records": more,
            "next_page_token": self._token(query, offset + per_page, expiry) if more else None,
            "previous_page_token": self._token(query, max(0, offset - per_page), expiry) if offset else None,
            "page_token_expiry": zoho_time(timezone.now() + timedelta(seconds=PAGE_TOKEN_LIFETIME))
            if more
            else None,
        }
        return JsonResponse({"data": [shape(r) for r in chunk], "info": info})

    @staticmethod
    def _token(query: dict[str, str], offset: int, expiry: int) -> str:
        raw = json.dumps({**query, "offset": offset, "exp": expiry}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def _read_token(token: str, query: dict[str, str]) -> int:
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            offset = int(data["offset"])
        except (ValueError, KeyError, TypeError):
            raise QueryError(400, "INVALID_DATA", "invalid page_token", {"param": "page_token"}) from None
        if data.get("exp", 0) < time.time():
            raise QueryError(400, "INVALID_DATA", "page_token expired", {"param": "page_token"})
        if any(data.get(k) != v for k, v in query.items()):
            raise QueryError(
                400, "INVALID_DATA", "page_token does not belong to this query", {"param": "page_token"}
            )
        return offset

    def record_view(self, request: HttpRequest, version: str, module: str, record_id: str) -> HttpResponse:
        try:
            module = self._module(module)
            if request.method == "GET":
                record = self.records(module).filter(remote_id=record_id, archived=False).first()
                if record is None:
                    return HttpResponse(status=204)
                fields = [n for n in request.GET.get("fields", "").split(",") if n] or None
                return JsonResponse({"data": [self.wire(record, fields)]})
            if request.method == "PUT":
                return self._write(request, module, "update", record_id=record_id)
            if request.method == "DELETE":
                return self._delete(request, module, [record_id])
        except QueryError as exc:
            return self._refuse(exc)
        return self.error(
            405, "the http request method type is not a valid one", code="INVALID_REQUEST_METHOD"
        )

    def deleted_view(self, request: HttpRequest, version: str, module: str) -> HttpResponse:
        """The recycle bin: ``{"id","display_name","type","deleted_by","deleted_time"}``, newest first."""
        try:
            module = self._module(module)
            kind = request.GET.get("type", "all")
            if kind not in {"all", "recycle", "permanent"}:
                raise QueryError(400, "INVALID_DATA", "invalid type", {"param": "type"})
            rows = self.records(module).filter(archived=True)
            since = self._since(request)
            if since is not None:
                rows = rows.filter(archived_at__gte=since)
                if not rows.exists():
                    return HttpResponse(status=304)
            if kind == "permanent":
                rows = rows.none()
            rows = rows.order_by("-archived_at", "-remote_id")
            return self._page(
                request,
                rows,
                {"module": module, "since": str(since), "deleted": kind},
                "deleted_time",
                "desc",
                self._deleted_entry,
            )
        except QueryError as exc:
            return self._refuse(exc)

    def _deleted_entry(self, record: SandboxRecord) -> dict[str, Any]:
        return {
            "id": record.remote_id,
            "display_name": self.display_name(record),
            "type": "recycle",
            "deleted_by": {"name": USER["name"], "id": USER["id"]},
            "created_by": {"name": USER["name"], "id": USER["id"]},
            "deleted_time": zoho_time(record.archived_at),
        }

    def search_view(self, request: HttpRequest, version: str, module: str) -> HttpResponse:
        """``criteria=((F:equals:v)and(G:starts_with:w))`` (or ``or``), ``email=``, ``phone=``, ``word=``."""
        try:
            module = self._module(module)
            tests = self._criteria(request)
            rows = [
                r
                for r in self.records(module).filter(archived=False).order_by("remote_id")
                if tests(self.wire(r))
            ]
            fields = [n for n in request.GET.get("fields", "").split(",") if n] or None
            return self._page(
                request,
                rows,
                {"module": module, "q": request.GET.urlencode()},
                "id",
                "asc",
                lambda r: self.wire(r, fields),
            )
        except QueryError as exc:
            return self._refuse(exc)

    def _criteria(self, request: HttpRequest):
        params = request.GET
        if params.get("criteria"):
            text = params["criteria"]
            terms = [
                (m["field"], m["op"], re.sub(r"\\(.)", r"\1", m["value"])) for m in _CRITERION.finditer(text)
            ]
            if not terms:
                raise QueryError(400, "INVALID_QUERY", "invalid query formed", {"param": "criteria"})
            joined = any if re.search(r"\)\s*or\s*\(", text) else all
            return lambda rec: joined(_matches(rec.get(f), op, v) for f, op, v in terms)
        for name, fields in (("email", ("Email",)), ("phone", ("Phone", "Mobile"))):
            if params.get(name):
                wanted = params[name].lower()
                return lambda rec, fields=fields, wanted=wanted: any(
                    str(rec.get(f) or "").lower() == wanted for f in fields
                )
        if params.get("word"):
            word = params["word"].lower()
            return lambda rec: any(
                word in str(v).lower() for k, v in rec.items() if isinstance(v, str) and k != "id"
            )
        raise QueryError(
            400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", {"param": "criteria"}
        )

    # --- writes --------------------------------------------------------------------------------

    def upsert_view(self, request: HttpRequest, version: str, module: str) -> HttpResponse:
        if request.method != "POST":
            return self.error(
                405, "the http request method type is not a valid one", code="INVALID_REQUEST_METHOD"
            )
        try:
            return self._write(request, self._module(module), "upsert")
        except QueryError as exc:
            return self._refuse(exc)

    def _items(self, request: HttpRequest) -> tuple[list[Any], dict[str, Any]]:
        body = json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise QueryError(
                400,
                "INVALID_DATA",
                "body must be a JSON object with a data array",
                {"expected_data_type": "jsonarray"},
            )
        if not body["data"]:
            raise QueryError(400, "INVALID_DATA", "data must not be empty", {"api_name": "data"})
        if len(body["data"]) > BATCH_LIMIT:
            raise QueryError(
                400, "LIMIT_EXCEEDED", "Limit exceeded", {"limit": BATCH_LIMIT, "api_name": "data"}
            )
        return body["data"], body

    def _write(self, request: HttpRequest, module: str, action: str, *, record_id: str = "") -> HttpResponse:
        items, body = self._items(request)
        checks = body.get("duplicate_check_fields") or list(MODULES[module]["duplicate_check"])
        answers: list[dict[str, Any]] = []
        changed: dict[str, list[str]] = {"insert": [], "update": []}
        for position, item in enumerate(items):
            try:
                if not isinstance(item, dict):
                    raise RecordError("INVALID_DATA", "invalid data", {"expected_data_type": "jsonobject"})
                if record_id:
                    item = {**item, "id": record_id}
                with transaction.atomic():
                    answer, done = self._write_one(module, action, item, checks)
                changed[done].append(answer["details"]["id"])
                answers.append(answer)
            except RecordError as exc:
                exc.details.setdefault("json_path", f"$.data[{position}]")
                answers.append(exc.as_item())
        ok = sum(1 for a in answers if a["status"] == "success")
        status = 400 if not ok else (207 if ok < len(answers) else (201 if action == "insert" else 200))
        response = JsonResponse({"data": answers}, status=status)
        for operation, ids in changed.items():
            if ids:
                self.notify(request, module, operation, ids)
        return response

    def _write_one(
        self, module: str, action: str, item: dict[str, Any], checks: list[str]
    ) -> tuple[dict[str, Any], str]:
        target = None
        duplicate_field = None
        if action in {"update", "upsert"} and item.get("id"):
            target = (
                self.records(module)
                .select_for_update()
                .filter(remote_id=str(item["id"]), archived=False)
                .first()
            )
            if target is None:
                raise RecordError(
                    "INVALID_DATA",
                    "the id given seems to be invalid",
                    {"api_name": "id", "id": str(item["id"])},
                )
        elif action == "update":
            raise RecordError("MANDATORY_NOT_FOUND", "required field not found", {"api_name": "id"})
        elif action == "upsert":
            target, duplicate_field = self._duplicate(module, item, checks)
        now = timezone.now()
        if target is None:
            values = self.clean(module, item, creating=True)
            self._check_unique(module, values, None)
            record = self.new_record(module, values, now)
            record.save()
            return self._success(
                record, "record added", "insert" if action == "upsert" else None, duplicate_field
            ), "insert"
        values = self.clean(module, item, creating=False)
        self._check_unique(module, values, target.remote_id)
        target.data = {k: v for k, v in {**target.data, **values}.items() if v is not None}
        target.updated_at = now
        target.save(update_fields=["data", "updated_at"])
        return self._success(
            target, "record updated", "update" if action == "upsert" else None, duplicate_field
        ), "update"

    def _duplicate(
        self, module: str, item: dict[str, Any], checks: list[str]
    ) -> tuple[SandboxRecord | None, str | None]:
        """The record an upsert updates: the oldest live one sharing a duplicate-check field's value."""
        for name in checks:
            value = item.get(name)
            if value in (None, ""):
                continue
            lookup = {f"data__{name}__iexact": str(value)}
            rows = self.records(module).select_for_update().filter(archived=False, **lookup)
            record = rows.order_by("created_at").first()
            if record is not None:
                return record, name
        return None, None

    def _check_unique(self, module: str, values: dict[str, Any], own_id: str | None) -> None:
        """Setting ``unique_fields`` ({module: [api names]}): a second record with the value → DUPLICATE_DATA."""
        for name in (self.setting("unique_fields", {}) or {}).get(module, []):
            value = values.get(name)
            if value in (None, ""):
                continue
            lookup = {f"data__{name}__iexact": str(value)}
            record = (
                self.records(module).filter(archived=False, **lookup).exclude(remote_id=own_id or "").first()
            )
            if record is not None:
                raise RecordError(
                    "DUPLICATE_DATA",
                    "duplicate data",
                    {
                        "api_name": name,
                        "duplicate_record": {"id": record.remote_id, "module": {"api_name": module}},
                    },
                )

    @staticmethod
    def _success(
        record: SandboxRecord, message: str, action: str | None, duplicate_field: str | None
    ) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "code": "SUCCESS",
            "details": {
                "Modified_Time": zoho_time(record.updated_at),
                "Modified_By": {"name": USER["name"], "id": USER["id"]},
                "Created_Time": zoho_time(record.created_at),
                "id": record.remote_id,
                "Created_By": {"name": USER["name"], "id": USER["id"]},
            },
            "message": message,
            "status": "success",
        }
        if action:
            answer["action"] = action
            answer["duplicate_field"] = duplicate_field
        return answer

    def _delete(self, request: HttpRequest, module: str, ids: list[str]) -> HttpResponse:
        ids = [i for i in ids if i]
        if not ids:
            raise QueryError(
                400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", {"param": "ids"}
            )
        if len(ids) > BATCH_LIMIT:
            raise QueryError(400, "LIMIT_EXCEEDED", "Limit exceeded", {"limit": BATCH_LIMIT, "param": "ids"})
        now = timezone.now()
        answers, deleted = [], []
        for remote_id in ids:
            if (
                self.records(module)
                .filter(remote_id=remote_id, archived=False)
                .update(archived=True, archived_at=now)
            ):
                deleted.append(remote_id)
                answers.append(
                    {
                        "code": "SUCCESS",
                        "details": {"id": remote_id},
                        "message": "record deleted",
                        "status": "success",
                    }
                )
            else:
                answers.append(
                    {
                        "code": "INVALID_DATA",
                        "details": {"id": remote_id},
                        "message": "the given id seems to be invalid",
                        "status": "error",
                    }
                )
        status = 400 if not deleted else (207 if len(deleted) < len(ids) else 200)
        if deleted:
            self.notify(request, module, "delete", deleted)
        return JsonResponse({"data": answers}, status=status)

    def notify(self, request: HttpRequest, module: str, operation: str, ids: list[str]) -> None:
        """Overridden by the notifications mixin: tell watch channels about a change."""


def _matches(actual: Any, op: str, wanted: str) -> bool:
    if isinstance(actual, dict):
        actual = actual.get("id")
    text = "" if actual is None else str(actual)
    if op == "equals":
        return text.lower() == wanted.lower()
    return text.lower().startswith(wanted.lower())
