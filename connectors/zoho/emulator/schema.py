"""The Zoho CRM org's data model: modules, their standard fields (as ``settings/fields`` shows them), the
org's custom fields (setting ``custom_fields``), record storage and the wire shape of a record, write
validation, and the sample and seed data.

Records are ``SandboxRecord`` rows with ``object_type`` = the module's API name. ``data`` holds the field
values by API name; lookups are stored as ``{"id", "name"}``. ``created_at``/``updated_at`` are
Created_Time/Modified_Time (shown to the second with an offset, kept finer inside); ``archived`` is a
record in the recycle bin (``/deleted``), ``archived_at`` its deleted_time.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from connectors.sandbox.emulator import Emulator, sample_phone
from connectors.sandbox.models import SandboxRecord

ORG_ID = "20099887766"
ZGID = "20099887766"
USER = {"id": "5725767000000411001", "name": "Sandbox User", "email": "sandbox.user@example.com"}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SEED_CHUNK = 2000


def field(
    api_name: str,
    label: str,
    data_type: str = "text",
    *,
    mandatory: bool = False,
    read_only: bool = False,
    picklist: tuple[Any, ...] = (),
    lookup: str = "",
    custom: bool = False,
) -> dict[str, Any]:
    """One field as ``GET /settings/fields`` describes it."""
    json_type = {
        "boolean": "boolean",
        "integer": "integer",
        "bigint": "integer",
        "double": "double",
        "currency": "double",
        "decimal": "double",
        "percent": "double",
        "lookup": "jsonobject",
        "ownerlookup": "jsonobject",
        "multiselectpicklist": "jsonarray",
    }.get(data_type, "string")
    body: dict[str, Any] = {
        "api_name": api_name,
        "field_label": label,
        "display_label": label,
        "data_type": data_type,
        "json_type": json_type,
        "custom_field": custom,
        "read_only": read_only,
        "field_read_only": read_only,
        "system_mandatory": mandatory,
        "visible": True,
        "length": 255 if data_type in {"text", "email", "phone", "website", "picklist"} else 32000,
        "id": str(5725767000000002000 + (abs(hash(api_name)) % 999)),
        "pick_list_values": [
            {"display_value": display, "actual_value": actual, "sequence_number": n, "id": str(n)}
            for n, (actual, display) in enumerate(_options(picklist), start=1)
        ],
    }
    if lookup:
        body["lookup"] = {"module": {"api_name": lookup, "id": "5725767000000002175"}}
    return body


def _options(picklist: tuple[Any, ...]) -> list[tuple[str, str]]:
    """Picklist entries as (actual_value, display_value): a plain string is both."""
    return [
        (str(v.get("actual_value")), str(v.get("display_value") or v.get("actual_value")))
        if isinstance(v, dict)
        else (str(v), str(v))
        for v in picklist
    ]


_SYSTEM = (
    field("Owner", "Contact Owner", "ownerlookup"),
    field("Created_Time", "Created Time", "datetime", read_only=True),
    field("Modified_Time", "Modified Time", "datetime", read_only=True),
)
MODULES: dict[str, dict[str, Any]] = {
    "Contacts": {
        "singular": "Contact",
        "duplicate_check": ("Email",),
        "fields": (
            field("First_Name", "First Name"),
            field("Last_Name", "Last Name", mandatory=True),
            field("Full_Name", "Full Name", read_only=True),
            field("Email", "Email", "email"),
            field("Phone", "Phone", "phone"),
            field("Mobile", "Mobile", "phone"),
            field("Title", "Title"),
            field("Account_Name", "Account Name", "lookup", lookup="Accounts"),
            field(
                "Lead_Source",
                "Lead Source",
                "picklist",
                picklist=("Advertisement", "Web Download", "Partner"),
            ),
            field("Date_of_Birth", "Date of Birth", "date"),
            field("Description", "Description", "textarea"),
            *_SYSTEM,
        ),
    },
    "Leads": {
        "singular": "Lead",
        "duplicate_check": ("Email",),
        "fields": (
            field("First_Name", "First Name"),
            field("Last_Name", "Last Name", mandatory=True),
            field("Full_Name", "Full Name", read_only=True),
            field("Email", "Email", "email"),
            field("Phone", "Phone", "phone"),
            field("Mobile", "Mobile", "phone"),
            field("Designation", "Title"),
            field("Company", "Company"),
            field(
                "Lead_Status", "Lead Status", "picklist", picklist=("Not Contacted", "Contacted", "Qualified")
            ),
            *_SYSTEM,
        ),
    },
    "Accounts": {
        "singular": "Account",
        "duplicate_check": ("Account_Name",),
        "fields": (
            field("Account_Name", "Account Name", mandatory=True),
            field("Website", "Website", "website"),
            field("Phone", "Phone", "phone"),
            field("Industry", "Industry", "picklist", picklist=("Technology", "Retail", "Manufacturing")),
            field("Description", "Description", "textarea"),
            *_SYSTEM,
        ),
    },
    "Deals": {
        "singular": "Deal",
        "duplicate_check": ("Deal_Name",),
        "fields": (
            field("Deal_Name", "Deal Name", mandatory=True),
            field("Amount", "Amount", "currency"),
            field(
                "Stage",
                "Stage",
                "picklist",
                mandatory=True,
                picklist=("Qualification", "Needs Analysis", "Proposal", "Closed Won", "Closed Lost"),
            ),
            field("Pipeline", "Pipeline", "picklist", picklist=("Standard",)),
            field("Closing_Date", "Closing Date", "date"),
            field("Account_Name", "Account Name", "lookup", lookup="Accounts"),
            field("Contact_Name", "Contact Name", "lookup", lookup="Contacts"),
            field("Description", "Description", "textarea"),
            *_SYSTEM,
        ),
    },
    "Tasks": {
        "singular": "Task",
        "duplicate_check": (),
        "fields": (
            field("Subject", "Subject", mandatory=True),
            field("Description", "Description", "textarea"),
            field(
                "Status",
                "Status",
                "picklist",
                picklist=("Not Started", "Deferred", "In Progress", "Completed", "Waiting for input"),
            ),
            field(
                "Priority", "Priority", "picklist", picklist=("High", "Highest", "Low", "Lowest", "Normal")
            ),
            field("Due_Date", "Due Date", "date"),
            field("Who_Id", "Contact Name", "lookup", lookup="Contacts"),
            field("What_Id", "Related To", "lookup"),
            field("$se_module", "Related Module", read_only=True),
            *_SYSTEM,
        ),
    },
    "Notes": {
        "singular": "Note",
        "duplicate_check": (),
        "fields": (
            field("Note_Title", "Note Title"),
            field("Note_Content", "Note Content", "textarea", mandatory=True),
            field("Parent_Id", "Parent ID", "lookup", mandatory=True),
            field("$se_module", "Related Module", read_only=True),
            *_SYSTEM,
        ),
    },
}
# Lookups that can point at several modules name the module in ``$se_module``.
POLYMORPHIC = {
    "What_Id": ("Accounts", "Deals", "Leads"),
    "Parent_Id": ("Contacts", "Accounts", "Deals", "Leads"),
}
NAME_FIELD = {"Contacts": "Full_Name", "Leads": "Full_Name", "Accounts": "Account_Name", "Deals": "Deal_Name"}


class RecordError(Exception):
    """Refuses one record of a write: its per-item error object in ``data[]``."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code, self.message, self.details = code, message, details or {}

    def as_item(self) -> dict[str, Any]:
        return {"code": self.code, "details": self.details, "message": self.message, "status": "error"}


def zoho_time(value: datetime | None) -> str | None:
    """Zoho's datetime: ISO to the second with an offset (``2024-10-15T10:30:00+00:00``)."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


def new_id() -> str:
    """A 19-digit record id, as Zoho's."""
    return str(5725767000000000000 + secrets.randbelow(10**15))


class ZohoSchema(Emulator):
    """Modules, fields (standard and custom), records and their validation."""

    def module_names(self) -> tuple[str, ...]:
        return tuple(MODULES)

    def custom_fields(self, module: str) -> list[dict[str, Any]]:
        """The org's custom fields (setting ``custom_fields``: module → api name → {data_type, field_label,
        pick_list_values}) in ``settings/fields`` shape."""
        configured = (self.setting("custom_fields", {}) or {}).get(module) or {}
        return [self._custom_field(name, spec) for name, spec in configured.items()]

    @staticmethod
    def _custom_field(name: str, spec: dict[str, Any]) -> dict[str, Any]:
        """One configured custom field; one created through the API keeps its id and length."""
        described = field(
            name,
            str(spec.get("field_label") or name.replace("_", " ")),
            str(spec.get("data_type") or "text"),
            picklist=tuple(spec.get("pick_list_values") or ()),
            custom=True,
        )
        described.update({k: spec[k] for k in ("id", "length") if k in spec})
        return described

    def fields_of(self, module: str) -> list[dict[str, Any]]:
        return [*MODULES[module]["fields"], *self.custom_fields(module)]

    def field_index(self, module: str) -> dict[str, dict[str, Any]]:
        return {f["api_name"]: f for f in self.fields_of(module)}

    # --- the wire shape -----------------------------------------------------------------------------

    def wire(self, record: SandboxRecord, fields: list[str] | None = None) -> dict[str, Any]:
        """A record as Zoho returns it: the asked fields (all when None), id, times and owner always."""
        data = dict(record.data)
        data["Created_Time"] = zoho_time(record.created_at)
        data["Modified_Time"] = zoho_time(record.updated_at)
        data.setdefault("Owner", dict(USER))
        if record.object_type in {"Contacts", "Leads"}:
            data["Full_Name"] = " ".join(str(data.get(k) or "") for k in ("First_Name", "Last_Name")).strip()
        if fields is not None:
            keep = set(fields) | {"Created_Time", "Modified_Time", "Owner"}
            data = {k: v for k, v in data.items() if k in keep or k == "$se_module"}
            for name in fields:
                data.setdefault(name, None)
        return {"id": record.remote_id, **data}

    # --- validation ---------------------------------------------------------------------------------

    def clean(self, module: str, item: dict[str, Any], *, creating: bool) -> dict[str, Any]:
        """The values a write stores, or RecordError: mandatory fields, emails, numbers, lookups."""
        known = self.field_index(module)
        values: dict[str, Any] = {}
        for name, value in item.items():
            spec = known.get(name)
            if name in {"id", "$se_module"} or spec is None or spec.get("read_only"):
                continue  # Zoho ignores fields the module does not have and read-only ones
            values[name] = self._value(module, name, spec, value, item)
        if "$se_module" in item:
            values["$se_module"] = item["$se_module"]
        if creating:
            for name, spec in known.items():
                if spec.get("system_mandatory") and values.get(name) in (None, ""):
                    raise RecordError(
                        "MANDATORY_NOT_FOUND",
                        "required field not found",
                        {"api_name": name, "json_path": f"$.data[0].{name}"},
                    )
        return values

    def _value(self, module: str, name: str, spec: dict[str, Any], value: Any, item: dict[str, Any]) -> Any:
        kind = spec["data_type"]
        if value is None or value == "":
            return None
        if kind == "email" and not EMAIL_RE.match(str(value)):
            raise RecordError(
                "INVALID_DATA", "invalid data", {"api_name": name, "expected_data_type": "email"}
            )
        if kind in {"currency", "double", "decimal", "percent", "integer", "bigint"}:
            try:
                return float(value) if kind not in {"integer", "bigint"} else int(value)
            except (TypeError, ValueError):
                raise RecordError(
                    "INVALID_DATA", "invalid data", {"api_name": name, "expected_data_type": kind}
                ) from None
        if kind == "date" and not re.match(r"^\d{4}-\d{2}-\d{2}$", str(value)):
            raise RecordError(
                "INVALID_DATA", "invalid data", {"api_name": name, "expected_data_type": "date"}
            )
        if kind == "lookup":
            return self._lookup(module, name, spec, value, item)
        if kind == "ownerlookup":
            return (
                dict(USER) if (value.get("id") if isinstance(value, dict) else value) == USER["id"] else None
            )
        return value

    def _lookup(
        self, module: str, name: str, spec: dict[str, Any], value: Any, item: dict[str, Any]
    ) -> dict[str, Any]:
        target_id = str(value.get("id") if isinstance(value, dict) else value)
        targets = POLYMORPHIC.get(name)
        if targets:
            target_module = str(item.get("$se_module") or "")
            if target_module not in targets:
                raise RecordError(
                    "INVALID_DATA", "invalid data", {"api_name": "$se_module", "expected_data_type": "module"}
                )
        else:
            target_module = spec["lookup"]["module"]["api_name"]
        target = self.records(target_module).filter(remote_id=target_id, archived=False).first()
        if target is None:
            raise RecordError(
                "INVALID_DATA",
                "the related id given seems to be invalid",
                {"api_name": name, "id": target_id},
            )
        return {"id": target_id, "name": self.display_name(target)}

    def display_name(self, record: SandboxRecord) -> str:
        if record.object_type in {"Contacts", "Leads"}:
            return " ".join(str(record.data.get(k) or "") for k in ("First_Name", "Last_Name")).strip()
        return str(record.data.get(NAME_FIELD.get(record.object_type, "Subject")) or "")

    # --- storage -------------------------------------------------------------------------------------

    def new_record(self, module: str, values: dict[str, Any], when: datetime | None = None) -> SandboxRecord:
        when = when or timezone.now()
        return SandboxRecord(
            provider=self.provider,
            object_type=module,
            remote_id=new_id(),
            data=values,
            created_at=when,
            updated_at=when,
        )

    # --- sample, invalid and seed data (contract suite, demo, benchmarks) ------------------------

    def sample_record(self, entity: str, i: int) -> dict[str, Any]:
        if entity == "contact":
            return {
                "First_Name": f"Sample{i}",
                "Last_Name": "Person",
                "Email": f"sample{i}@example.com",
                "Phone": sample_phone(i),
                "Title": "Buyer",
            }
        if entity == "company":
            return {
                "Account_Name": f"Sample Co {i}",
                "Website": f"sample{i}.example.com",
                "Industry": "Technology",
            }
        if entity == "deal":
            return {
                "Deal_Name": f"Sample deal {i}",
                "Amount": 1000 + i,
                "Stage": "Qualification",
                "Closing_Date": "2027-01-31",
            }
        if entity == "activity":
            return {
                "_kind": "task",
                "Subject": f"Sample task {i}",
                "Status": "Not Started",
                "Due_Date": "2027-01-15",
            }
        raise ValueError(f"no sample {entity!r}")

    def invalid_record(self, entity: str) -> dict[str, Any]:
        """A record Zoho refuses with INVALID_DATA: an email that is not one (contacts), or a missing
        mandatory field (others: MANDATORY_NOT_FOUND)."""
        record = self.sample_record(entity, 999_999)
        if entity == "contact":
            return {**record, "Email": "not-an-email"}
        mandatory = {"company": "Account_Name", "deal": "Deal_Name", "activity": "Subject"}[entity]
        return {k: v for k, v in record.items() if k != mandatory}

    def seed(self, object_type: str, count: int, request: HttpRequest | None = None) -> int:
        """bulk_create ``count`` records of a module, modified one second apart ending now."""
        module = object_type[:1].upper() + object_type[1:]
        if module not in {"Contacts", "Leads", "Accounts", "Deals", "Tasks"}:
            raise ValueError(f"zoho cannot seed {object_type!r}: Contacts, Leads, Accounts, Deals or Tasks")
        if count < 0:
            raise ValueError("count must be positive")
        end = timezone.now()
        for start in range(0, count, SEED_CHUNK):
            SandboxRecord.objects.bulk_create(
                [
                    self.new_record(module, self._seed_values(module, n), end - timedelta(seconds=count - n))
                    for n in range(start, min(count, start + SEED_CHUNK))
                ]
            )
        return count

    @staticmethod
    def _seed_values(module: str, n: int) -> dict[str, Any]:
        return {
            "Contacts": {
                "First_Name": f"Seed{n}",
                "Last_Name": "Contact",
                "Email": f"seed{n}@example.com",
                "Phone": sample_phone(n),
            },
            "Leads": {
                "First_Name": f"Lead{n}",
                "Last_Name": "Seed",
                "Email": f"lead{n}@example.com",
                "Company": f"Seed Co {n % 97}",
            },
            "Accounts": {
                "Account_Name": f"Seed Co {n}",
                "Website": f"seed{n}.example.com",
                "Industry": "Retail",
            },
            "Deals": {
                "Deal_Name": f"Seed deal {n}",
                "Amount": float(100 + n % 900),
                "Stage": "Qualification",
                "Closing_Date": "2027-01-01",
            },
            "Tasks": {"Subject": f"Seed task {n}", "Status": "Not Started", "Due_Date": "2027-01-01"},
        }[module]
