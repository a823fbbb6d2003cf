"""Customers as ``api-customers-sync`` and ``api-customers-bulk-create`` write them: validation,
the external_id → email → phone match, and create-or-update.

A customer needs a ``name`` and an ``email`` or a ``phone`` (after the update is applied: an update
may send only what changed). E-mails match case-insensitively; phones are stored and matched in
E.164, a number without ``+`` read in the ``default_country`` setting (IE). An update overwrites only
the keys the input has: ``custom_fields`` merged key by key, ``tags`` replaced when given. Every
create or update fires ``customer.created`` / ``customer.updated``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from connectors.alacarte.emulator.events import AlaCarteEvents
from connectors.alacarte.emulator.phones import DEFAULT_COUNTRY, e164
from connectors.alacarte.emulator.store import CUSTOMERS, STRING_FIELDS, new_id
from connectors.sandbox.emulator import now_ms
from connectors.sandbox.models import SandboxRecord

MAX_BATCH = 1000
_MATCH_ORDER = (("external_id", "exact"), ("email", "iexact"), ("phone", "exact"))
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class CustomerInvalid(ValueError):
    """One customer's validation failure; its message is what the API reports for it."""


@dataclass(frozen=True)
class Upserted:
    record: SandboxRecord
    action: str  # created / updated
    matched_by: str | None  # external_id / email / phone / None (created)


def _text(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise CustomerInvalid(f"{name} must be a string")
    return value.strip()


def customer_changes(raw: Any, default_country: str) -> dict[str, Any]:
    """The input customer's keys, cleaned (phones in E.164); raises CustomerInvalid."""
    if not isinstance(raw, dict):
        raise CustomerInvalid("customer must be a JSON object")
    changes: dict[str, Any] = {name: _text(name, raw[name]) for name in STRING_FIELDS if name in raw}
    if changes.get("email") and not _EMAIL.match(changes["email"]):
        raise CustomerInvalid("invalid email")
    if changes.get("phone"):
        phone = e164(changes["phone"], default_country)
        if phone is None:
            raise CustomerInvalid("invalid phone")
        changes["phone"] = phone
    if changes.get("whatsapp_number"):
        changes["whatsapp_number"] = (
            e164(changes["whatsapp_number"], default_country) or changes["whatsapp_number"]
        )
    if "tags" in raw:
        tags = raw["tags"] if raw["tags"] is not None else []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise CustomerInvalid("tags must be a list of strings")
        changes["tags"] = tags
    if "custom_fields" in raw:
        fields = raw["custom_fields"] if raw["custom_fields"] is not None else {}
        if not isinstance(fields, dict):
            raise CustomerInvalid("custom_fields must be an object")
        changes["custom_fields"] = fields
    return changes


def merged(existing: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` over ``existing``; custom fields key by key. Raises CustomerInvalid when the
    result lacks a name or both contact methods."""
    data = {**existing, **changes}
    if "custom_fields" in changes:
        data["custom_fields"] = {**existing.get("custom_fields", {}), **changes["custom_fields"]}
    if not data.get("name"):
        raise CustomerInvalid("name is required")
    if not data.get("email") and not data.get("phone"):
        raise CustomerInvalid("email or phone is required")
    return data


class AlaCarteCustomers(AlaCarteEvents):
    def default_country(self) -> str:
        return str(self.setting("default_country", DEFAULT_COUNTRY))

    def customers(self) -> QuerySet[SandboxRecord]:
        return self.records(CUSTOMERS)

    def customer_match(self, changes: dict[str, Any]) -> tuple[SandboxRecord | None, str | None]:
        """The existing customer these (cleaned) keys name, and by which key: external_id, then
        e-mail (any case), then phone (E.164). One query for the three; the order decides here."""
        keys = [(k, lookup) for k, lookup in _MATCH_ORDER if changes.get(k)]
        if not keys:
            return None, None
        query = Q()
        for key, lookup in keys:
            query |= Q(**{f"data__{key}__{lookup}": changes[key]})
        candidates = list(self.customers().filter(query).order_by("pk"))
        for key, _ in keys:
            wanted = str(changes[key]).lower() if key == "email" else changes[key]
            for found in candidates:
                value = found.data.get(key) or ""
                if (value.lower() if key == "email" else value) == wanted:
                    return found, key
        return None, None

    def customer_upsert(
        self, raw: Any, *, country: str = "", fire: bool = True, wait: bool = False
    ) -> Upserted:
        """Create or update one input customer (phones read in ``country``, else the setting's);
        raises CustomerInvalid with nothing written."""
        changes = customer_changes(raw, country or self.default_country())
        found, matched_by = self.customer_match(changes)
        now = now_ms()
        if found is None:
            data = merged({"tags": [], "custom_fields": {}}, changes)
            record = SandboxRecord.objects.create(
                provider=self.provider,
                object_type=CUSTOMERS,
                remote_id=new_id(),
                data=data,
                created_at=now,
                updated_at=now,
            )
            action = "created"
        else:
            found.data = merged(found.data, changes)
            found.updated_at = now
            found.save(update_fields=["data", "updated_at"])
            record, action = found, "updated"
        if fire:
            self.emit_customer(action, record, wait=wait)
        return Upserted(record, action, matched_by)

    def customers_lookup(
        self, *, ids: list[str], emails: list[str], phones: list[str], external_ids: list[str]
    ) -> list[SandboxRecord]:
        """Each customer any of the values names, once, oldest first; unknown values are skipped."""
        query = Q()
        if ids:
            query |= Q(remote_id__in=ids)
        if external_ids:
            query |= Q(data__external_id__in=external_ids)
        for email in emails:
            query |= Q(data__email__iexact=email.strip())
        normalised = [p for p in (e164(p, self.default_country()) for p in phones) if p]
        if normalised:
            query |= Q(data__phone__in=normalised)
        if not query:
            return []
        return list(self.customers().filter(query).order_by("created_at", "pk"))
