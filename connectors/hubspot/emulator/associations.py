"""HubSpot's associations: the v4 record and batch endpoints, association labels, and the v3
``associations`` of object reads and creates.

Associations are two-way: each is stored once per direction (``SandboxAssociation``), with the type
id of that direction (contact→company 279, company→contact 280), so either side reads it with one
query. Labelled associations always carry the unlabeled type as well, as in HubSpot. Archived
records drop out of every association read (their rows stay, as HubSpot restores them with the
record). Associating records changes neither record's ``hs_lastmodifieddate`` / ``lastmodifieddate``:
in HubSpot an association change alone does not show up in a modified-date delta (it is what
``*.associationChange`` webhooks are for).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from connectors.hubspot.emulator.association_types import (
    BY_ID,
    OBJECT_TYPE_IDS,
    PRIMARY_OWNED_BY_FROM,
    SINGULAR,
    AssociationType,
    default_type,
    object_type_name,
    types_between,
)
from connectors.hubspot.emulator.errors import BadRequest
from connectors.hubspot.emulator.schema import iso
from connectors.sandbox.emulator import Emulator, json_body
from connectors.sandbox.models import SandboxAssociation

# How many associated records one read returns per record (v4 GET ``limit`` default and cap).
ASSOCIATION_PAGE = 500

Links = dict[str, dict[str, list[AssociationType]]]  # from id → to id → types


def object_id_value(remote_id: str) -> int | str:
    """HubSpot answers association object ids as numbers."""
    return int(remote_id) if remote_id.isdecimal() else remote_id


def spec(kind: AssociationType) -> dict[str, Any]:
    return {"category": "HUBSPOT_DEFINED", "typeId": kind.type_id, "label": kind.label}


class HubSpotAssociations(Emulator):
    """Association storage and the views that read and write it."""

    # --- names ----------------------------------------------------------------------------------

    @staticmethod
    def association_object(name: str) -> str:
        """An object type as association paths take it (contacts, contact, 0-1) → contacts."""
        found = object_type_name(name)
        if found is None:
            raise BadRequest(f"Unable to infer object type from: {name}")
        return found

    def _guard_pair(
        self, request: HttpRequest, from_type: str, to_type: str, handler: Any, *args: Any
    ) -> HttpResponse:
        try:
            pair = self.association_object(from_type), self.association_object(to_type)
            return handler(request, *pair, *args)
        except BadRequest as exc:
            return self.error(exc.status, exc.message, code=exc.category, **exc.extra)

    # --- storage --------------------------------------------------------------------------------

    def live_ids(self, object_type: str, ids: Iterable[str]) -> set[str]:
        wanted = {str(i) for i in ids}
        if not wanted:
            return set()
        rows = self.records(object_type).filter(archived=False, remote_id__in=wanted)
        return set(rows.values_list("remote_id", flat=True))

    def associate(
        self, from_type: str, from_id: str, to_type: str, to_id: str, type_ids: Iterable[int]
    ) -> None:
        """Add these types (and the unlabeled one) between two records, both directions."""
        kinds = {BY_ID[t] for t in type_ids}
        plain = default_type(from_type, to_type)
        if plain is not None:
            kinds.add(plain)
        with transaction.atomic():
            for kind in kinds:
                self._demote_other_primaries(kind, from_id, to_id)
            rows = []
            for kind in kinds:
                rows.append(self._row(from_type, from_id, to_type, to_id, kind.type_id))
                rows.append(self._row(to_type, to_id, from_type, from_id, kind.inverse_id))
            SandboxAssociation.objects.bulk_create(rows, ignore_conflicts=True)

    def _row(
        self, from_type: str, from_id: str, to_type: str, to_id: str, type_id: int
    ) -> SandboxAssociation:
        return SandboxAssociation(
            provider=self.provider,
            from_type=from_type,
            from_id=from_id,
            to_type=to_type,
            to_id=to_id,
            type_id=type_id,
        )

    def _demote_other_primaries(self, kind: AssociationType, from_id: str, to_id: str) -> None:
        """A contact or deal has one primary company: a new one takes the label from the old."""
        if kind.type_id in PRIMARY_OWNED_BY_FROM:
            owner_type, owner_id, company_type, forward, keep = (
                kind.from_type,
                from_id,
                kind.to_type,
                kind,
                to_id,
            )
        elif kind.inverse_id in PRIMARY_OWNED_BY_FROM:
            owner_type, owner_id, company_type, forward, keep = (
                kind.to_type,
                to_id,
                kind.from_type,
                BY_ID[kind.inverse_id],
                from_id,
            )
        else:
            return
        mine = SandboxAssociation.objects.filter(provider=self.provider)
        mine.filter(
            from_type=owner_type, from_id=owner_id, to_type=company_type, type_id=forward.type_id
        ).exclude(to_id=keep).delete()
        mine.filter(
            from_type=company_type, to_type=owner_type, to_id=owner_id, type_id=forward.inverse_id
        ).exclude(from_id=keep).delete()

    def dissociate(self, from_type: str, from_id: str, to_type: str, to_ids: Iterable[str]) -> None:
        """Remove every association type between a record and these records (both directions)."""
        targets = [str(i) for i in to_ids]
        if not targets:
            return
        SandboxAssociation.objects.filter(provider=self.provider).filter(
            Q(from_type=from_type, from_id=from_id, to_type=to_type, to_id__in=targets)
            | Q(from_type=to_type, from_id__in=targets, to_type=from_type, to_id=from_id)
        ).delete()

    def links(self, from_type: str, from_ids: Iterable[str], to_type: str) -> Links:
        """from id → live associated id → its types (primary first), for live records only."""
        wanted = self.live_ids(from_type, from_ids)
        rows = list(
            SandboxAssociation.objects.filter(
                provider=self.provider, from_type=from_type, to_type=to_type, from_id__in=wanted
            ).values_list("from_id", "to_id", "type_id")
        )
        live = self.live_ids(to_type, {to_id for _, to_id, _ in rows})
        found: Links = defaultdict(lambda: defaultdict(list))
        order = {t.type_id: i for i, t in enumerate(types_between(from_type, to_type))}
        for from_id, to_id, type_id in rows:
            if to_id in live and type_id in BY_ID:
                found[from_id][to_id].append(BY_ID[type_id])
        for targets in found.values():
            for kinds in targets.values():
                kinds.sort(key=lambda k: order.get(k.type_id, len(order)))
        return found

    # --- v3: associations on object reads and creates -------------------------------------------

    def attach_associations(
        self, object_type: str, bodies: list[dict[str, Any]], requested: Iterable[str]
    ) -> None:
        """Add HubSpot v3's ``associations`` to serialized records: per target type, the associated
        ids with each type's v3 name. Types with nothing associated are left out, as HubSpot does."""
        ids = [str(b["id"]) for b in bodies]
        for raw in requested:
            to_type = object_type_name(raw.strip())
            if to_type is None:
                continue
            found = self.links(object_type, ids, to_type)
            for body in bodies:
                targets = found.get(str(body["id"]), {})
                if not targets:
                    continue
                results = [
                    {"id": to_id, "type": kind.v3_name}
                    for to_id in sorted(targets, key=_numeric)
                    for kind in targets[to_id]
                ]
                body.setdefault("associations", {})[to_type] = {"results": results}

    def clean_associations(self, object_type: str, given: Any) -> list[tuple[str, str, list[int]]]:
        """A v3 create's ``associations`` → (to type, to id, type ids); BadRequest when a type is
        unknown or a target is missing (HubSpot refuses the whole create)."""
        if given in (None, []):
            return []
        if not isinstance(given, list):
            raise BadRequest("Invalid input JSON: associations must be a list")
        cleaned: dict[tuple[str, str], list[int]] = {}
        for item in given:
            to_id = str(((item or {}).get("to") or {}).get("id", ""))
            for kind in (item or {}).get("types") or []:
                type_id = int((kind or {}).get("associationTypeId") or 0)
                defined = BY_ID.get(type_id)
                if defined is None or defined.from_type != object_type:
                    raise BadRequest(
                        f"{type_id} is not a valid association type id from {SINGULAR[object_type]}",
                        category="VALIDATION_ERROR",
                    )
                cleaned.setdefault((defined.to_type, to_id), []).append(type_id)
        for (to_type, to_id), _ in cleaned.items():
            if to_id not in self.live_ids(to_type, [to_id]):
                raise BadRequest(
                    f"No {SINGULAR[to_type]} with id {to_id} exists to associate with",
                    category="VALIDATION_ERROR",
                )
        return [(to_type, to_id, types) for (to_type, to_id), types in cleaned.items()]

    def apply_associations(self, object_type: str, remote_id: str, cleaned: list[tuple[str, str, list[int]]]):
        for to_type, to_id, type_ids in cleaned:
            self.associate(object_type, remote_id, to_type, to_id, type_ids)

    # --- v4: one record ------------------------------------------------------------------------

    def record_associations_view(
        self, request: HttpRequest, object_type: str, object_id: str, to_type: str
    ) -> HttpResponse:
        if request.method != "GET":
            return self.error(405, f"Method {request.method} is not supported on this path")
        return self._guard_pair(request, object_type, to_type, self._record_page, object_id)

    def _record_page(
        self, request: HttpRequest, from_type: str, to_type: str, object_id: str
    ) -> HttpResponse:
        try:
            limit = max(1, min(int(request.GET.get("limit", ASSOCIATION_PAGE)), ASSOCIATION_PAGE))
            offset = int(request.GET.get("after") or 0)
        except ValueError:
            raise BadRequest("limit and after must be numbers") from None
        targets = self.links(from_type, [object_id], to_type).get(object_id, {})
        ordered = sorted(targets, key=_numeric)
        body: dict[str, Any] = {
            "results": [_target(to_id, targets[to_id]) for to_id in ordered[offset : offset + limit]]
        }
        if offset + limit < len(ordered):
            params = request.GET.copy()
            params["after"] = str(offset + limit)
            body["paging"] = {
                "next": {
                    "after": str(offset + limit),
                    "link": request.build_absolute_uri(f"{request.path}?{params.urlencode()}"),
                }
            }
        return JsonResponse(body)

    def default_association_view(
        self, request: HttpRequest, from_type: str, from_id: str, to_type: str, to_id: str
    ) -> HttpResponse:
        if request.method != "PUT":
            return self.error(405, f"Method {request.method} is not supported on this path")
        return self._guard_pair(request, from_type, to_type, self._put_default, from_id, to_id)

    def _put_default(self, request: HttpRequest, from_type: str, to_type: str, from_id: str, to_id: str):
        self._require_live(from_type, from_id, to_type, to_id)
        kind = self._default_or_refuse(from_type, to_type)
        self.associate(from_type, from_id, to_type, to_id, [kind.type_id])
        started = iso(timezone.now())
        return JsonResponse(
            {**self._envelope(started), "results": [_default_result(from_id, to_id, kind)]}, status=200
        )

    def labelled_association_view(
        self, request: HttpRequest, from_type: str, from_id: str, to_type: str, to_id: str
    ) -> HttpResponse:
        if request.method == "PUT":
            return self._guard_pair(request, from_type, to_type, self._put_labelled, from_id, to_id)
        if request.method == "DELETE":
            return self._guard_pair(request, from_type, to_type, self._delete_pair, from_id, to_id)
        return self.error(405, f"Method {request.method} is not supported on this path")

    def _put_labelled(self, request: HttpRequest, from_type: str, to_type: str, from_id: str, to_id: str):
        type_ids = self._type_ids(from_type, to_type, json_body(request))
        self._require_live(from_type, from_id, to_type, to_id)
        self.associate(from_type, from_id, to_type, to_id, type_ids)
        return JsonResponse(self._labels_between(from_type, from_id, to_type, to_id), status=201)

    def _delete_pair(self, request: HttpRequest, from_type: str, to_type: str, from_id: str, to_id: str):
        self.dissociate(from_type, from_id, to_type, [to_id])
        return HttpResponse(status=204)

    def _require_live(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        for object_type, object_id in ((from_type, from_id), (to_type, to_id)):
            if not self.live_ids(object_type, [object_id]):
                raise BadRequest(
                    f"No {SINGULAR[object_type]} with id {object_id} exists",
                    category="OBJECT_NOT_FOUND",
                    status=404,
                )

    @staticmethod
    def _default_or_refuse(from_type: str, to_type: str) -> AssociationType:
        kind = default_type(from_type, to_type)
        if kind is None:
            raise BadRequest(f"{SINGULAR[from_type]} records cannot be associated with {to_type}")
        return kind

    @staticmethod
    def _type_ids(from_type: str, to_type: str, given: Any) -> list[int]:
        """An association spec list ([{associationCategory, associationTypeId}]) → valid type ids."""
        if not isinstance(given, list) or not given:
            raise BadRequest("Invalid input JSON: expected a list of association specs")
        allowed = {t.type_id for t in types_between(from_type, to_type)}
        ids = []
        for item in given:
            item = item if isinstance(item, dict) else {}
            category = str(item.get("associationCategory", ""))
            try:
                type_id = int(item.get("associationTypeId"))
            except (TypeError, ValueError):
                raise BadRequest("associationTypeId must be a number") from None
            if category != "HUBSPOT_DEFINED" or type_id not in allowed:
                raise BadRequest(
                    f"association type {category}/{type_id} is not defined from {from_type} to {to_type}"
                )
            ids.append(type_id)
        return ids

    def _labels_between(self, from_type: str, from_id: str, to_type: str, to_id: str) -> dict[str, Any]:
        kinds = self.links(from_type, [from_id], to_type).get(from_id, {}).get(to_id, [])
        return {
            "fromObjectTypeId": OBJECT_TYPE_IDS[from_type],
            "fromObjectId": object_id_value(from_id),
            "toObjectTypeId": OBJECT_TYPE_IDS[to_type],
            "toObjectId": object_id_value(to_id),
            "labels": [k.label for k in kinds if k.label],
        }

    # --- v4: batch and labels ------------------------------------------------------------------

    def association_batch_view(self, request: HttpRequest, from_type: str, to_type: str, action: str):
        handler = {
            "read": self._batch_read_links,
            "create": self._batch_create_links,
            "archive": self._batch_archive_links,
            "associate/default": self._batch_default_links,
        }.get(action)
        if handler is None:
            return self.error(404, f"Unknown batch action {action!r}", code="OBJECT_NOT_FOUND")
        if request.method != "POST":
            return self.error(405, f"Method {request.method} is not supported on this path")
        return self._guard_pair(request, from_type, to_type, self._association_batch, handler)

    def association_default_batch_view(self, request: HttpRequest, from_type: str, to_type: str):
        return self.association_batch_view(request, from_type, to_type, "associate/default")

    def _association_batch(self, request: HttpRequest, from_type: str, to_type: str, handler: Any):
        body = json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            raise BadRequest("Invalid input JSON: expected an object with an 'inputs' list")
        inputs = body["inputs"]
        # Reads take 1,000 ids (HubSpot's changelog, February 2025); creates and archives the batch cap.
        limits = self.limits()  # type: ignore[attr-defined]
        cap = int(
            limits["association_read_max"] if handler == self._batch_read_links else limits["batch_max"]
        )
        if len(inputs) > cap:
            raise BadRequest(f"Batch input limit exceeded: {len(inputs)} inputs, at most {cap} are allowed.")
        if not all(isinstance(item, dict) for item in inputs):
            raise BadRequest("Invalid input JSON: every input must be an object")
        started = iso(timezone.now())
        outcome = handler(from_type, to_type, inputs)
        if outcome is None:
            return HttpResponse(status=204)
        results, errors, ok_status = outcome
        payload = {**self._envelope(started), "results": results}
        if errors:
            payload["numErrors"] = len(errors)
            payload["errors"] = errors
        return JsonResponse(payload, status=207 if errors else ok_status)

    @staticmethod
    def _envelope(started: str) -> dict[str, Any]:
        return {
            "status": "COMPLETE",
            "requestedAt": started,
            "startedAt": started,
            "completedAt": iso(timezone.now()),
        }

    @staticmethod
    def _v4_error(
        message: str, category: str, sub_category: str = "", **context: list[str]
    ) -> dict[str, Any]:
        error: dict[str, Any] = {
            "status": "error",
            "category": category,
            "message": message,
            "context": context,
            "errors": [],
            "links": {},
            "id": str(uuid.uuid4()),
        }
        if sub_category:
            error["subCategory"] = sub_category
        return error

    def _batch_read_links(self, from_type: str, to_type: str, inputs: list[dict[str, Any]]):
        ids = [str(item.get("id", "")) for item in inputs]
        found = self.links(from_type, ids, to_type)
        page = int(self.limits().get("association_page_max", ASSOCIATION_PAGE))  # type: ignore[attr-defined]
        results, errors = [], []
        for item, from_id in zip(inputs, ids, strict=True):
            targets = found.get(from_id)
            if not targets:
                errors.append(
                    self._v4_error(
                        f"No {SINGULAR[to_type]} is associated with {SINGULAR[from_type]} {from_id}.",
                        "OBJECT_NOT_FOUND",
                        "crm.associations.NO_ASSOCIATIONS_FOUND",
                        fromObjectId=[from_id],
                        fromObjectType=[SINGULAR[from_type]],
                        toObjectType=[SINGULAR[to_type]],
                    )
                )
                continue
            try:
                offset = int(item.get("after") or 0)
            except ValueError:
                raise BadRequest(f"Invalid after value: {item.get('after')!r}") from None
            ordered = sorted(targets, key=_numeric)
            result: dict[str, Any] = {
                "from": {"id": from_id},
                "to": [_target(to_id, targets[to_id]) for to_id in ordered[offset : offset + page]],
            }
            if offset + page < len(ordered):
                result["paging"] = {"next": {"after": str(offset + page)}}
            results.append(result)
        return results, errors, 200

    def _missing_error(self, from_type: str, from_id: str, to_type: str, to_id: str) -> dict[str, Any] | None:
        for object_type, object_id in ((from_type, from_id), (to_type, to_id)):
            if not self.live_ids(object_type, [object_id]):
                return self._v4_error(
                    f"No {SINGULAR[object_type]} with id {object_id} exists",
                    "OBJECT_NOT_FOUND",
                    fromObjectId=[from_id],
                    toObjectId=[to_id],
                )
        return None

    @staticmethod
    def _ends(item: dict[str, Any]) -> tuple[str, str]:
        return str((item.get("from") or {}).get("id", "")), str((item.get("to") or {}).get("id", ""))

    def _batch_create_links(self, from_type: str, to_type: str, inputs: list[dict[str, Any]]):
        results, errors = [], []
        for item in inputs:
            from_id, to_id = self._ends(item)
            try:
                type_ids = self._type_ids(from_type, to_type, item.get("types"))
            except BadRequest as exc:
                errors.append(
                    self._v4_error(exc.message, exc.category, fromObjectId=[from_id], toObjectId=[to_id])
                )
                continue
            missing = self._missing_error(from_type, from_id, to_type, to_id)
            if missing is not None:
                errors.append(missing)
                continue
            self.associate(from_type, from_id, to_type, to_id, type_ids)
            results.append(self._labels_between(from_type, from_id, to_type, to_id))
        return results, errors, 201

    def _batch_default_links(self, from_type: str, to_type: str, inputs: list[dict[str, Any]]):
        kind = self._default_or_refuse(from_type, to_type)
        results, errors = [], []
        for item in inputs:
            from_id, to_id = self._ends(item)
            missing = self._missing_error(from_type, from_id, to_type, to_id)
            if missing is not None:
                errors.append(missing)
                continue
            self.associate(from_type, from_id, to_type, to_id, [kind.type_id])
            results.append(_default_result(from_id, to_id, kind))
        return results, errors, 200

    def _batch_archive_links(self, from_type: str, to_type: str, inputs: list[dict[str, Any]]) -> None:
        for item in inputs:
            from_id = str((item.get("from") or {}).get("id", ""))
            targets = item.get("to") or []
            self.dissociate(from_type, from_id, to_type, [str((t or {}).get("id", "")) for t in targets])
        return None  # 204, missing ids included

    def association_labels_view(self, request: HttpRequest, from_type: str, to_type: str) -> HttpResponse:
        if request.method != "GET":
            return self.error(405, f"Method {request.method} is not supported on this path")
        return self._guard_pair(request, from_type, to_type, self._labels)

    def _labels(self, request: HttpRequest, from_type: str, to_type: str) -> HttpResponse:
        return JsonResponse({"results": [spec(kind) for kind in types_between(from_type, to_type)]})


def _numeric(remote_id: str) -> tuple[int, str]:
    return (int(remote_id), "") if remote_id.isdecimal() else (0, remote_id)


def _target(to_id: str, kinds: list[AssociationType]) -> dict[str, Any]:
    return {"toObjectId": object_id_value(to_id), "associationTypes": [spec(k) for k in kinds]}


def _default_result(from_id: str, to_id: str, kind: AssociationType) -> dict[str, Any]:
    return {
        "from": {"id": from_id},
        "to": {"id": to_id},
        "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": kind.type_id},
    }
