"""An integration's user mapping: which CRM user each platform owner is.

Canonical records name their owner as the platform knows them (``alice@acme.com``, as the owner
rules of ``sync.automation`` assign them); each CRM has its own user ids. The mapping lives on the
integration's ``owner_id`` mapping rows as an ``options`` transform (CRM user id → platform owner):
outbound a mapped owner becomes the CRM's id, inbound the CRM's id becomes the owner, and ids or
owners it does not list pass through unchanged (the CRM decides whether it takes them).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction

from integrations.audit import audit_record
from integrations.models import Integration
from sync.mapping import mappings_ensure_defaults
from sync.models import FieldMapping

OWNER_FIELD = "owner_id"


class OwnerMapInvalid(ValueError):
    """The mapping is not one platform owner → one CRM user id each."""


def owner_map(integration: Integration) -> dict[str, str]:
    """Platform owner → CRM user id, as the integration's owner rows hold it."""
    for row in FieldMapping.objects.filter(integration=integration, local_field=OWNER_FIELD).order_by(
        "entity"
    ):
        transform = row.transform or {}
        if transform.get("name") == "options":
            return {
                str(owner): str(remote)
                for remote, owner in (transform.get("args") or {}).get("map", {}).items()
            }
    return {}


def owner_map_set(integration: Integration, mapping: Mapping[str, str], *, actor: str) -> int:
    """Store ``mapping`` (platform owner → CRM user id) on every owner row; returns rows changed.
    An empty mapping removes it. Raises OwnerMapInvalid."""
    clean = _clean(mapping)
    transform = (
        {"name": "options", "args": {"map": {remote: owner for owner, remote in clean.items()}}}
        if clean
        else None
    )
    mappings_ensure_defaults(integration)
    with transaction.atomic():
        rows = FieldMapping.objects.select_for_update().filter(
            integration=integration, local_field=OWNER_FIELD
        )
        changed = 0
        for row in rows:
            if row.transform != transform and (
                row.transform is None or row.transform.get("name") == "options"
            ):
                row.transform = transform
                row.save(update_fields=["transform"])
                changed += 1
        audit_record(
            integration=integration,
            subaccount=integration.subaccount,
            actor=actor,
            action="owner_map.set",
            changes={"owners": sorted(clean)},
        )
    return changed


def _clean(mapping: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(mapping, Mapping):
        raise OwnerMapInvalid("expected an object of platform owner → CRM user id")
    clean: dict[str, str] = {}
    for owner, remote in mapping.items():
        owner, remote = str(owner).strip(), str(remote).strip() if remote is not None else ""
        if not owner or not remote:
            raise OwnerMapInvalid("every owner needs a CRM user id, and every id an owner")
        if len(owner) > 255 or len(remote) > 255:
            raise OwnerMapInvalid("owners and CRM user ids are at most 255 characters")
        clean[owner] = remote
    remotes = list(clean.values())
    duplicate = next((r for r in remotes if remotes.count(r) > 1), None)
    if duplicate is not None:
        raise OwnerMapInvalid(f"CRM user {duplicate} is given to more than one owner")
    return clean
