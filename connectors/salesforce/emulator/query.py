"""Salesforce's SOQL endpoints: ``query`` and ``queryAll``, paged through stored query locators
(``nextRecordsUrl``, ``Sforce-Query-Options: batchSize``), with indexed conditions run in the ORM and
the rest evaluated by ``soql``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from connectors.salesforce.client import QUERY_BATCH_MAX, QUERY_BATCH_MIN, normalize_id
from connectors.salesforce.emulator import soql
from connectors.salesforce.emulator.schema import PREFIX, ObjectSpec, new_ids
from connectors.sandbox.emulator import Emulator
from connectors.sandbox.models import SandboxRecord

QUERY_LOCATOR = "QueryLocator"
LOCATOR_IDLE = timedelta(minutes=15)


class SalesforceQuery(Emulator):
    """The query views and the locators that page them."""

    def query_view(self, request: HttpRequest, version: str, kind: str) -> HttpResponse:
        if (bad := self._check_version(version)) is not None:
            return bad
        if request.method != "GET":
            return self.error(405, f"HTTP Method '{request.method}' not allowed. Allowed are GET,HEAD")
        text = request.GET.get("q", "")
        try:
            query = soql.parse(text)
            spec = self._spec(query.sobject)
            if spec is None:
                raise soql.InvalidType(f"sObject type '{query.sobject}' is not supported.")
            query = soql.bind(query, spec.types, sobject=spec.name)
            _check_restrictions(spec, query)
        except soql.SoqlError as exc:
            return self.error(400, str(exc), code=exc.code)
        ids = self._matching_pks(spec, query, include_deleted=kind == "queryAll")
        locator = {
            "type": spec.name,
            "fields": list(query.fields),
            "ids": ids,
            "all": kind == "queryAll",
            "batch": self._batch_size(request),
        }
        return self._query_page(version, locator, locator_id=None, offset=0)

    def query_more_view(
        self, request: HttpRequest, version: str, kind: str, locator: str, offset: str
    ) -> HttpResponse:
        if (bad := self._check_version(version)) is not None:
            return bad
        row = SandboxRecord.objects.filter(
            provider=self.provider,
            object_type=QUERY_LOCATOR,
            remote_id=locator,
            updated_at__gt=timezone.now() - LOCATOR_IDLE,
        ).first()
        if row is None or int(offset) > len(row.data["ids"]):
            return self.error(400, "invalid query locator", code="INVALID_QUERY_LOCATOR")
        SandboxRecord.objects.filter(pk=row.pk).update(updated_at=timezone.now())  # cursors expire when idle
        return self._query_page(version, row.data, locator_id=locator, offset=int(offset))

    def _batch_size(self, request: HttpRequest) -> int:
        options = request.headers.get("Sforce-Query-Options", "")
        match = re.search(r"batchSize\s*=\s*(\d+)", options)
        if not match:
            return QUERY_BATCH_MAX
        return min(max(int(match.group(1)), QUERY_BATCH_MIN), QUERY_BATCH_MAX)

    def _query_page(
        self, version: str, locator: dict[str, Any], *, locator_id: str | None, offset: int
    ) -> HttpResponse:
        ids, batch = locator["ids"], int(locator["batch"])
        page_ids = ids[offset : offset + batch]
        rows = SandboxRecord.objects.in_bulk(page_ids)
        spec = self._spec(locator["type"])
        records = []
        for pk in page_ids:
            row = rows.get(pk)
            if row is None or (row.archived and not locator["all"]):
                continue  # hard-deleted by a reset, or deleted since the query ran
            full = self._wire(spec, row, version)
            records.append(
                {
                    "attributes": self._attributes(spec, row.remote_id, version),
                    **{name: full.get(name) for name in locator["fields"]},
                }
            )
        body: dict[str, Any] = {"totalSize": len(ids), "done": offset + batch >= len(ids), "records": records}
        if not body["done"]:
            if locator_id is None:
                locator_id = self._store_locator(locator)
            body["nextRecordsUrl"] = f"{PREFIX}/services/data/{version}/query/{locator_id}-{offset + batch}"
        return JsonResponse(body)

    def _store_locator(self, locator: dict[str, Any]) -> str:
        moment = timezone.now()
        stale = SandboxRecord.objects.filter(
            provider=self.provider, object_type=QUERY_LOCATOR, updated_at__lt=moment - LOCATOR_IDLE
        )
        stale.delete()
        locator_id = new_ids("01g")[0]
        SandboxRecord.objects.create(
            provider=self.provider,
            object_type=QUERY_LOCATOR,
            remote_id=locator_id,
            data=locator,
            created_at=moment,
            updated_at=moment,
        )
        return locator_id

    def _matching_pks(self, spec: ObjectSpec, query: soql.Query, *, include_deleted: bool) -> list[int]:
        """The primary keys of the result, in order. Indexed columns become ORM filters; the rest is
        evaluated in Python only when the query needs it."""
        rows = self.records(spec.name)
        if not include_deleted:
            rows = rows.filter(archived=False)
        residual = []
        for cond in query.where:
            lookup = _orm_condition(cond)
            if lookup is None:
                residual.append(cond)
            else:
                rows = rows.filter(lookup)
        order = _ORM_ORDER.get(query.order_by.field) if query.order_by else ("pk",)
        if not residual and order is not None:
            if query.order_by and query.order_by.descending:
                order = tuple(f"-{name}" for name in order)
            pks = rows.order_by(*order).values_list("pk", flat=True)
            return list(pks[: query.limit] if query.limit is not None else pks)
        candidates = [
            (row.pk, self._wire(spec, row)) for row in rows.order_by("pk").iterator(chunk_size=2000)
        ]
        matching = [(pk, record) for pk, record in candidates if soql.matches(record, residual, spec.types)]
        if query.order_by:
            by_identity = {id(record): pk for pk, record in matching}
            ordered = soql.sort_records([record for _, record in matching], query.order_by, spec.types)
            result = [by_identity[id(record)] for record in ordered]
        else:
            result = [pk for pk, _ in matching]
        return result[: query.limit] if query.limit is not None else result


# Objects Salesforce refuses to query without a filter on one of these id fields (= or IN).
_REQUIRED_FILTERS = {"ContentDocumentLink": ("ContentDocumentId", "LinkedEntityId")}


def _check_restrictions(spec: ObjectSpec, query: soql.Query) -> None:
    """Salesforce's implementation restrictions on some objects' queries (MALFORMED_QUERY)."""
    needed = _REQUIRED_FILTERS.get(spec.name)
    if needed and not any(c.field in needed and c.op in {"=", "IN"} for c in query.where):
        raise soql.SoqlError(
            f"Implementation restriction: {spec.name} requires a filter by a single Id on "
            f"{' or '.join(needed)} using the equals operator or multiple Id's using the IN operator."
        )


_COLUMNS = {
    "SystemModstamp": "updated_at",
    "LastModifiedDate": "updated_at",
    "CreatedDate": "created_at",
    "IsDeleted": "archived",
    "Id": "remote_id",
}
_ORM_ORDER = {
    "SystemModstamp": ("updated_at", "pk"),
    "LastModifiedDate": ("updated_at", "pk"),
    "CreatedDate": ("created_at", "pk"),
    "Id": ("remote_id",),
}
_LOOKUPS = {"=": "exact", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte", "IN": "in"}


def _orm_condition(cond: soql.Condition) -> Q | None:
    """A Q on an indexed column for the condition, or None when it must be evaluated in Python."""
    column = _COLUMNS.get(cond.field)
    if column is None or cond.op == "LIKE":
        return None
    values = list(cond.value) if cond.op in soql.SET_OPERATORS else [cond.value]
    if column == "remote_id":
        if cond.op not in {"=", "!=", "IN", "NOT IN"}:
            return None
        # Ids compare in their 18-char form: a 15-char literal names the same record.
        values = [normalize_id(v) or "" for v in values if v is not None]
    if any(v is None for v in values):
        # No stored record has a null Id, date or flag: "= null" matches nothing, "!= null" everything.
        return Q(pk__in=[]) if cond.op in {"=", "IN"} else Q()
    negate = cond.op in {"!=", "NOT IN"}
    lookup = _LOOKUPS["IN" if cond.op in soql.SET_OPERATORS else ("=" if negate else cond.op)]
    q = Q(**{f"{column}__{lookup}": values if lookup == "in" else values[0]})
    return ~q if negate else q
