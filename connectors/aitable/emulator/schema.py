"""The emulated AITable space: its datasheets, their columns (fields) and views, and the defaults a reset
installs (providers.md §4: the seed's Leads, Orders and Audit Results datasheets, plus Companies, Deals
and Activities so every canonical entity has a datasheet to sync with).

A space is a ``SandboxRecord`` of type ``space``, a datasheet one of type ``datasheet`` whose ``data``
holds ``{"name", "space_id", "fields": [...], "views": [...]}``; each field is AITable's meta shape
(``{"id", "name", "type", "isPrimary", "editable", "property"}``). Ids are fixed for the defaults so
tests, the demo and the integration config agree on them; created fields and datasheets get random ones.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from django.db import transaction

from connectors.sandbox.emulator import Emulator, now_ms
from connectors.sandbox.models import SandboxRecord

SPACE_ID = "spcDemoSpace01"
SPACE_NAME = "Digicon CRM"
LEADS_ID = "dstDigiconLeads01"
ORDERS_ID = "dstDigiconOrders01"
AUDIT_ID = "dstDigiconAudit01"
COMPANIES_ID = "dstDigiconComps01"
DEALS_ID = "dstDigiconDeals01"
ACTIVITIES_ID = "dstDigiconActiv01"
DEAL_STAGES = ("Qualified", "Proposal", "Won", "Lost")
ACTIVITY_STATUSES = ("Open", "In progress", "Done")
ACTIVITY_KINDS = ("note", "task", "call", "email", "meeting")

# Field types whose cells only the server writes.
READ_ONLY_TYPES = frozenset(
    {"CreatedTime", "LastModifiedTime", "AutoNumber", "Formula", "CreatedBy", "LastModifiedBy"}
)
LINK_TYPES = frozenset({"OneWayLink", "TwoWayLink", "MagicLink"})
# What POST …/fields accepts (providers.md §4 types); the rest of AITable's catalogue is not emulated.
CREATABLE_TYPES = frozenset(
    {
        "SingleText",
        "Text",
        "Email",
        "Phone",
        "URL",
        "Number",
        "Currency",
        "Percent",
        "SingleSelect",
        "MultiSelect",
        "DateTime",
        "Checkbox",
        "OneWayLink",
        "TwoWayLink",
        "CreatedTime",
        "LastModifiedTime",
    }
)
_ALNUM = string.ascii_letters + string.digits
_COLORS = ("deepPurple_0", "indigo_0", "blue_0", "teal_0", "green_0", "yellow_0", "orange_0", "red_0")


def new_id(prefix: str, length: int = 14) -> str:
    """An AITable-style id: ``rec``/``fld``/``opt``… and random letters and digits."""
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(length))


def select_option(name: str, index: int, option_id: str | None = None) -> dict[str, Any]:
    color = _COLORS[index % len(_COLORS)]
    return {"id": option_id or new_id("opt", 10), "name": name, "color": {"name": color, "value": "#7b67ee"}}


def _field(field_id: str, name: str, field_type: str, **property_: Any) -> dict[str, Any]:
    return {
        "id": field_id,
        "name": name,
        "type": field_type,
        "isPrimary": False,
        "editable": field_type not in READ_ONLY_TYPES,
        "property": property_ or None,
    }


def _select(field_id: str, name: str, options: tuple[str, ...]) -> dict[str, Any]:
    return _field(
        field_id,
        name,
        "SingleSelect",
        options=[select_option(o, i, f"opt{field_id[3:]}{i:02d}") for i, o in enumerate(options)],
    )


def _date(field_id: str, name: str, field_type: str = "DateTime") -> dict[str, Any]:
    return _field(field_id, name, field_type, format="YYYY/MM/DD HH:mm", includeTime=True, autoFill=False)


def _link(field_id: str, name: str, foreign: str) -> dict[str, Any]:
    return _field(field_id, name, "OneWayLink", foreignDatasheetId=foreign, limitToView=None)


def _number(field_id: str, name: str) -> dict[str, Any]:
    return _field(field_id, name, "Number", precision=0, defaultValue=None)


def _currency(field_id: str, name: str) -> dict[str, Any]:
    return _field(field_id, name, "Currency", precision=2, defaultValue=None, symbol="$")


def _primary(field: dict[str, Any]) -> dict[str, Any]:
    return {**field, "isPrimary": True}


def default_datasheets() -> dict[str, dict[str, Any]]:
    """The seed's three datasheets and the CRM ones, with fixed field, option and view ids (the
    order is the space's node order)."""
    return {
        LEADS_ID: {
            "name": "Leads",
            "fields": [
                _primary(_field("fldLeadName001", "Client Name", "SingleText", defaultValue=None)),
                _field("fldLeadEmail01", "Email", "Email"),
                _field("fldLeadPhone01", "Phone", "Phone"),
                _field("fldLeadCompany", "Company", "SingleText", defaultValue=None),
                _select("fldLeadStatus1", "Status", ("New", "Contacted", "Qualified", "Won", "Lost")),
                _field("fldLeadPortal1", "Portal URL", "URL"),
                _field("fldLeadNotes01", "Notes", "Text"),
                _date("fldLeadEdited1", "Last Edited", "LastModifiedTime"),
            ],
            "views": [{"id": "viwLeadsGrid01", "name": "Grid view", "type": "Grid"}],
        },
        ORDERS_ID: {
            "name": "Orders",
            "fields": [
                _primary(_field("fldOrderName01", "Order", "SingleText", defaultValue=None)),
                _link("fldOrderLead01", "Lead", LEADS_ID),
                _field("fldOrderLeadId", "Lead Record ID", "SingleText", defaultValue=None),
                _field("fldOrderClient", "Client Name", "SingleText", defaultValue=None),
                _field("fldOrderEmail1", "Email", "Email"),
                _select("fldOrderStatus", "Status", ("Active", "Completed", "Cancelled")),
                _field("fldOrderPortal", "Portal URL", "URL"),
                _date("fldOrderDate01", "Order Date"),
            ],
            "views": [{"id": "viwOrdersGrid1", "name": "Grid view", "type": "Grid"}],
        },
        AUDIT_ID: {
            "name": "Audit Results",
            "fields": [
                _primary(_field("fldAuditName01", "Audit", "SingleText", defaultValue=None)),
                _link("fldAuditOrder1", "Order", ORDERS_ID),
                _field("fldAuditFileId", "File ID", "SingleText", defaultValue=None),
                _field("fldAuditFileNm", "File Name", "SingleText", defaultValue=None),
                _date("fldAuditUpload", "Upload Date"),
                _number("fldAuditEmploy", "Employees Processed"),
                _number("fldAuditCorrec", "Corrections Made"),
                _field("fldAuditFileUr", "Corrected File URL", "URL"),
                _select("fldAuditStatus", "Status", ("completed", "failed")),
            ],
            "views": [{"id": "viwAuditGrid01", "name": "Grid view", "type": "Grid"}],
        },
        COMPANIES_ID: {
            "name": "Companies",
            "fields": [
                _primary(_field("fldCompName001", "Name", "SingleText", defaultValue=None)),
                _field("fldCompWebsite", "Website", "URL"),
                _field("fldCompPhone01", "Phone", "Phone"),
                _field("fldCompIndustr", "Industry", "SingleText", defaultValue=None),
            ],
            "views": [{"id": "viwCompsGrid01", "name": "Grid view", "type": "Grid"}],
        },
        DEALS_ID: {
            "name": "Deals",
            "fields": [
                _primary(_field("fldDealName001", "Deal", "SingleText", defaultValue=None)),
                _currency("fldDealAmount1", "Amount"),
                _select("fldDealStage01", "Stage", DEAL_STAGES),
                _date("fldDealClose01", "Close Date"),
                _link("fldDealCompany", "Company", COMPANIES_ID),
                _link("fldDealContact", "Contacts", LEADS_ID),
            ],
            "views": [{"id": "viwDealsGrid01", "name": "Grid view", "type": "Grid"}],
        },
        ACTIVITIES_ID: {
            "name": "Activities",
            "fields": [
                _primary(_field("fldActSubject1", "Subject", "SingleText", defaultValue=None)),
                _field("fldActNotes001", "Notes", "Text"),
                _select("fldActStatus01", "Status", ACTIVITY_STATUSES),
                _date("fldActDueDate1", "Due Date"),
                _select("fldActKind0001", "Kind", ACTIVITY_KINDS),
            ],
            "views": [{"id": "viwActivGrid01", "name": "Grid view", "type": "Grid"}],
        },
    }


class FieldSpecError(ValueError):
    """A field definition POST …/fields cannot accept."""


class AITableSchema(Emulator):
    """Spaces, datasheets and their fields, installed on reset and created through the API."""

    def reset(self) -> None:
        super().reset()
        self.install_defaults()

    def install_defaults(self) -> None:
        """The Digicon space and its default datasheets (no rows), unless a space exists already."""
        if self.records("space").exists():
            return
        now = now_ms()
        with transaction.atomic():
            SandboxRecord.objects.get_or_create(
                provider=self.provider,
                object_type="space",
                remote_id=SPACE_ID,
                defaults={"data": {"name": SPACE_NAME}, "created_at": now, "updated_at": now},
            )
            for dst_id, sheet in default_datasheets().items():
                SandboxRecord.objects.get_or_create(
                    provider=self.provider,
                    object_type="datasheet",
                    remote_id=dst_id,
                    defaults={"data": {**sheet, "space_id": SPACE_ID}, "created_at": now, "updated_at": now},
                )

    # --- lookups ------------------------------------------------------------------------------

    def spaces(self) -> list[SandboxRecord]:
        self.install_defaults()
        return list(self.records("space").order_by("id"))

    def space(self, space_id: str) -> SandboxRecord | None:
        self.install_defaults()
        return self.records("space").filter(remote_id=space_id).first()

    def datasheets(self, space_id: str | None = None) -> list[SandboxRecord]:
        self.install_defaults()
        sheets = self.records("datasheet").order_by("id")
        return [s for s in sheets if space_id is None or s.data.get("space_id") == space_id]

    def datasheet(self, dst_id: str) -> SandboxRecord | None:
        self.install_defaults()
        return self.records("datasheet").filter(remote_id=dst_id).first()

    @staticmethod
    def field_by_key(sheet: SandboxRecord, key: str, field_key: str = "name") -> dict[str, Any] | None:
        """The column called ``key`` (its name, or its id when ``field_key`` is ``id``)."""
        attr = "id" if field_key == "id" else "name"
        return next((f for f in sheet.data["fields"] if f[attr] == key), None)

    @staticmethod
    def field_by_ref(sheet: SandboxRecord, ref: str) -> dict[str, Any] | None:
        """A column a formula names: ``{Name}`` or ``{fldId}``."""
        return next((f for f in sheet.data["fields"] if ref in (f["name"], f["id"])), None)

    # --- schema writes ---------------------------------------------------------------------------

    def field_build(self, sheet: SandboxRecord, spec: Any) -> dict[str, Any]:
        """A new column from POST …/fields ``{"type", "name", "property"?}`` (validated, not saved)."""
        if not isinstance(spec, dict):
            raise FieldSpecError("The request body must be a JSON object")
        name, field_type = spec.get("name"), spec.get("type")
        prop = spec.get("property") or {}
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise FieldSpecError("The field name is required (1–100 characters)")
        if field_type not in CREATABLE_TYPES:
            raise FieldSpecError(f"The field type [{field_type}] is not supported")
        if not isinstance(prop, dict):
            raise FieldSpecError("property must be an object")
        if any(f["name"] == name for f in sheet.data["fields"]):
            raise FieldSpecError(f"The field name [{name}] already exists")
        field = _field(new_id("fld", 10), name, field_type)
        field["property"] = self._field_property(field_type, prop) or None
        return field

    def _field_property(self, field_type: str, prop: dict[str, Any]) -> dict[str, Any]:
        if field_type in {"SingleSelect", "MultiSelect"}:
            options = prop.get("options") or []
            if not isinstance(options, list):
                raise FieldSpecError("property.options must be a list")
            names = [o.get("name") if isinstance(o, dict) else o for o in options]
            if not all(isinstance(n, str) and n for n in names):
                raise FieldSpecError("Every option needs a name")
            return {"options": [select_option(n, i) for i, n in enumerate(names)]}
        if field_type in LINK_TYPES:
            foreign = prop.get("foreignDatasheetId")
            if not isinstance(foreign, str) or self.datasheet(foreign) is None:
                raise FieldSpecError(f"The linked datasheet [{foreign}] does not exist")
            return {"foreignDatasheetId": foreign, "limitToView": prop.get("limitToView")}
        if field_type in {"Number", "Currency", "Percent"}:
            out = {"precision": int(prop.get("precision", 0)), "defaultValue": prop.get("defaultValue")}
            if field_type == "Currency":
                out["symbol"] = str(prop.get("symbol", "$"))
            return out
        if field_type in {"DateTime", "CreatedTime", "LastModifiedTime"}:
            return {
                "format": str(prop.get("dateFormat") or prop.get("format") or "YYYY/MM/DD"),
                "includeTime": bool(prop.get("includeTime", False)),
                "autoFill": bool(prop.get("autoFill", False)),
            }
        if field_type == "Checkbox":
            return {"icon": str(prop.get("icon", "white_check_mark"))}
        if field_type == "SingleText":
            return {"defaultValue": prop.get("defaultValue")}
        return {}

    def field_add(self, sheet: SandboxRecord, field: dict[str, Any]) -> None:
        sheet.data = {**sheet.data, "fields": [*sheet.data["fields"], field]}
        sheet.updated_at = now_ms()
        sheet.save(update_fields=["data", "updated_at"])

    def field_remove(self, sheet: SandboxRecord, field_id: str) -> bool:
        """Drop a column and its cells; the primary column cannot go."""
        field = self.field_by_key(sheet, field_id, "id")
        if field is None or field.get("isPrimary"):
            return False
        with transaction.atomic():
            sheet.data = {**sheet.data, "fields": [f for f in sheet.data["fields"] if f["id"] != field_id]}
            sheet.save(update_fields=["data"])
            for row in self.records(sheet.remote_id):
                if field_id in row.data:
                    row.data = {k: v for k, v in row.data.items() if k != field_id}
                    row.save(update_fields=["data"])
        return True

    def datasheet_create(self, space_id: str, spec: dict[str, Any]) -> SandboxRecord:
        """A datasheet from POST /spaces/{spc}/datasheets ``{"name", "fields"?: [...]}``; its first
        field is the primary one (a SingleText "Title" when none is given)."""
        name = spec.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise FieldSpecError("The datasheet name is required (1–100 characters)")
        specs = spec.get("fields") or [{"type": "SingleText", "name": "Title"}]
        if not isinstance(specs, list):
            raise FieldSpecError("fields must be a list")
        now = now_ms()
        sheet = SandboxRecord(
            provider=self.provider,
            object_type="datasheet",
            remote_id=new_id("dst", 14),
            data={
                "name": name,
                "space_id": space_id,
                "fields": [],
                "views": [{"id": new_id("viw", 10), "name": "Grid view", "type": "Grid"}],
            },
            created_at=now,
            updated_at=now,
        )
        fields: list[dict[str, Any]] = []
        for item in specs:
            sheet.data["fields"] = fields
            fields.append(self.field_build(sheet, item))
        fields[0]["isPrimary"] = True
        sheet.data["fields"] = fields
        sheet.save()
        return sheet
