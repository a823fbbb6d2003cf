"""The Salesforce org's data model: where it is mounted, its ids, the sObjects and their fields, value
coercion and validation, record storage and its wire form, and the sample and seed data."""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db.models import Q
from django.http import HttpRequest

from connectors.salesforce.client import (
    API_VERSION,
    KEY_PREFIXES,
    case_safe_id,
    format_datetime,
    normalize_id,
    parse_datetime,
    type_of_id,
)
from connectors.salesforce.emulator import soql
from connectors.salesforce.emulator.errors import RecordError, RequestError
from connectors.sandbox.emulator import Emulator, now_ms
from connectors.sandbox.models import SandboxRecord

PREFIX = "/sandbox/salesforce"
ORG_ID = case_safe_id("00D5g00000Sbx01")
USER_ID = case_safe_id("0055g00000Sbx01")
SEED_CHUNK = 2000

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class FieldSpec:
    type: str
    createable: bool = True
    updateable: bool = True
    required: bool = False
    picklist: tuple[str, ...] = ()
    restricted: bool = False  # restricted picklist: other values are refused
    references: tuple[str, ...] = ()
    external_id: bool = False
    default: Any = None
    label: str = ""  # describe's label; "" derives one from the name
    picklist_labels: tuple[str, ...] = ()  # labels for ``picklist`` values, when they differ
    length: int = 0  # text fields: the most characters a value may have (0: not checked)
    precision: int = 0  # numbers: digits in all, and after the point
    scale: int = 0

    @property
    def custom(self) -> bool:
        return False


@dataclass(frozen=True)
class CustomFieldSpec(FieldSpec):
    """A field an org admin added (``Name__c``), configured through the emulator's settings."""

    @property
    def custom(self) -> bool:
        return True


@dataclass(frozen=True)
class ObjectSpec:
    name: str
    fields: dict[str, FieldSpec] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return KEY_PREFIXES[self.name]

    @property
    def types(self) -> dict[str, str]:
        return {name: spec.type for name, spec in self.fields.items()}

    def lookup(self, name: str) -> str | None:
        """The schema's spelling of a field name (Salesforce field names are case-insensitive)."""
        lowered = name.lower()
        return next((known for known in self.fields if known.lower() == lowered), None)


_READ_ONLY = {"createable": False, "updateable": False}
_INSERT_ONLY = {"updateable": False}
_AUDIT = {
    "Id": FieldSpec("id", **_READ_ONLY),
    "IsDeleted": FieldSpec("boolean", **_READ_ONLY),
    "CreatedDate": FieldSpec("datetime", **_READ_ONLY),
    "LastModifiedDate": FieldSpec("datetime", **_READ_ONLY),
    "SystemModstamp": FieldSpec("datetime", **_READ_ONLY),
}
_SYSTEM = {
    **_AUDIT,
    "OwnerId": FieldSpec("reference", references=("User",)),
    "External_Id__c": FieldSpec("string", external_id=True),
}
# Fields the emulator fills itself, whatever an object's field list says: the record's row carries them.
_ROW_FIELDS = ("Id", "IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp")
_STAGES = (
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
)
_WHO, _WHAT = ("Contact", "Lead"), ("Account", "Opportunity", "Case")
_NOTE_PARENTS = ("Account", "Contact", "Opportunity", "Lead", "Case")
# A default org's Case statuses; the ones with IsClosed = true (a case moved to one gets its ClosedDate).
CASE_STATUSES = ("New", "Working", "Escalated", "Closed")
CLOSED_CASE_STATUSES = frozenset({"Closed"})
CASE_NUMBER_DIGITS = 8  # Salesforce's auto-number display format: 00001000
LEAD_STATUSES = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
)
# The LeadStatus values with IsConverted = true: the only statuses a conversion may set.
CONVERTED_STATUSES = frozenset({"Closed - Converted"})


def _object(name: str, system: dict[str, FieldSpec] = _SYSTEM, **fields: FieldSpec) -> ObjectSpec:
    return ObjectSpec(name, {**system, **fields})


OBJECTS: dict[str, ObjectSpec] = {
    spec.name: spec
    for spec in (
        _object(
            "Contact",
            FirstName=FieldSpec("string"),
            LastName=FieldSpec("string", required=True),
            Name=FieldSpec("string", **_READ_ONLY),
            Email=FieldSpec("email"),
            Phone=FieldSpec("phone"),
            MobilePhone=FieldSpec("phone"),
            Title=FieldSpec("string"),
            AccountId=FieldSpec("reference", references=("Account",)),
            Description=FieldSpec("textarea"),
        ),
        _object(
            "Account",
            Name=FieldSpec("string", required=True),
            Website=FieldSpec("url"),
            Phone=FieldSpec("phone"),
            Industry=FieldSpec("picklist"),
            Description=FieldSpec("textarea"),
        ),
        _object(
            "Opportunity",
            Name=FieldSpec("string", required=True),
            Amount=FieldSpec("currency"),
            StageName=FieldSpec("picklist", required=True, picklist=_STAGES),
            CloseDate=FieldSpec("date", required=True),
            AccountId=FieldSpec("reference", references=("Account",)),
            Description=FieldSpec("textarea"),
        ),
        _object(
            "Task",
            Subject=FieldSpec("string"),
            Description=FieldSpec("textarea"),
            Status=FieldSpec(
                "picklist",
                restricted=True,
                default="Not Started",
                picklist=("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"),
            ),
            Priority=FieldSpec(
                "picklist", restricted=True, default="Normal", picklist=("High", "Normal", "Low")
            ),
            TaskSubtype=FieldSpec(
                "picklist",
                updateable=False,
                restricted=True,
                default="Task",
                picklist=("Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"),
            ),
            # Unrestricted: an org's own types (and the connector's "Message" mark) are stored as sent.
            Type=FieldSpec("picklist", picklist=("Call", "Email", "Meeting", "Other")),
            ActivityDate=FieldSpec("date"),
            WhoId=FieldSpec("reference", references=_WHO),
            WhatId=FieldSpec("reference", references=_WHAT),
        ),
        _object(
            "Event",
            Subject=FieldSpec("string"),
            Description=FieldSpec("textarea"),
            ActivityDate=FieldSpec("date"),
            ActivityDateTime=FieldSpec("datetime"),
            StartDateTime=FieldSpec("datetime"),
            EndDateTime=FieldSpec("datetime"),
            DurationInMinutes=FieldSpec("int"),
            Location=FieldSpec("string"),
            WhoId=FieldSpec("reference", references=_WHO),
            WhatId=FieldSpec("reference", references=_WHAT),
        ),
        _object(
            "Case",
            CaseNumber=FieldSpec("string", **_READ_ONLY, label="Case Number"),
            Subject=FieldSpec("string", length=255),
            Description=FieldSpec("textarea"),
            Status=FieldSpec("picklist", restricted=True, default="New", picklist=CASE_STATUSES),
            # Unrestricted in a default org: other origins (WhatsApp, Chat) are stored as sent.
            Origin=FieldSpec("picklist", label="Case Origin", picklist=("Phone", "Email", "Web")),
            Priority=FieldSpec("picklist", default="Medium", picklist=("High", "Medium", "Low")),
            ContactId=FieldSpec("reference", references=("Contact",)),
            AccountId=FieldSpec("reference", references=("Account",)),
            # Derived from Status, set by Salesforce alone (``_derive``).
            IsClosed=FieldSpec("boolean", **_READ_ONLY, default=False, label="Closed"),
            ClosedDate=FieldSpec("datetime", **_READ_ONLY, label="Closed Date"),
        ),
        _object(
            "Lead",
            FirstName=FieldSpec("string"),
            LastName=FieldSpec("string", required=True),
            Name=FieldSpec("string", **_READ_ONLY),
            Company=FieldSpec("string", required=True),
            Email=FieldSpec("email"),
            Phone=FieldSpec("phone"),
            MobilePhone=FieldSpec("phone"),
            Title=FieldSpec("string"),
            Description=FieldSpec("textarea"),
            Status=FieldSpec("picklist", default="Open - Not Contacted", picklist=LEAD_STATUSES),
            # Set only by a conversion (the convertLead action), never by a write.
            IsConverted=FieldSpec("boolean", **_READ_ONLY, default=False),
            ConvertedContactId=FieldSpec("reference", **_READ_ONLY, references=("Contact",)),
            ConvertedAccountId=FieldSpec("reference", **_READ_ONLY, references=("Account",)),
            ConvertedOpportunityId=FieldSpec("reference", **_READ_ONLY, references=("Opportunity",)),
            ConvertedDate=FieldSpec("date", **_READ_ONLY),
        ),
        _object(
            "OpportunityContactRole",
            _AUDIT,
            OpportunityId=FieldSpec("reference", **_INSERT_ONLY, required=True, references=("Opportunity",)),
            ContactId=FieldSpec("reference", required=True, references=("Contact",)),
            Role=FieldSpec(
                "picklist",
                picklist=(
                    "Business User",
                    "Decision Maker",
                    "Economic Buyer",
                    "Economic Decision Maker",
                    "Evaluator",
                    "Executive Sponsor",
                    "Influencer",
                    "Technical Buyer",
                    "Other",
                ),
            ),
            IsPrimary=FieldSpec("boolean", default=False),
        ),
        # ContentNote has no SystemModstamp: LastModifiedDate is its change stamp.
        _object(
            "ContentNote",
            {
                name: spec
                for name, spec in _SYSTEM.items()
                if name not in {"SystemModstamp", "External_Id__c"}
            },
            Title=FieldSpec("string", required=True),
            Content=FieldSpec("base64"),
            TextPreview=FieldSpec("string", **_READ_ONLY),
            FileType=FieldSpec("string", **_READ_ONLY),
            FileExtension=FieldSpec("string", **_READ_ONLY),
            ContentSize=FieldSpec("int", **_READ_ONLY),
        ),
        _object(
            "ContentDocumentLink",
            {name: spec for name, spec in _AUDIT.items() if name in {"Id", "IsDeleted", "SystemModstamp"}},
            LinkedEntityId=FieldSpec(
                "reference", **_INSERT_ONLY, required=True, references=(*_NOTE_PARENTS, "User")
            ),
            ContentDocumentId=FieldSpec(
                "reference", **_INSERT_ONLY, required=True, references=("ContentNote",)
            ),
            ShareType=FieldSpec("picklist", restricted=True, default="V", picklist=("V", "C", "I")),
            Visibility=FieldSpec(
                "picklist",
                restricted=True,
                default="AllUsers",
                picklist=("AllUsers", "InternalUsers", "SharedUsers"),
            ),
        ),
        _object(
            "Note",
            {name: spec for name, spec in _SYSTEM.items() if name != "External_Id__c"},
            Title=FieldSpec("string", required=True),
            Body=FieldSpec("textarea"),
            ParentId=FieldSpec("reference", **_INSERT_ONLY, required=True, references=_NOTE_PARENTS),
            IsPrivate=FieldSpec("boolean", default=False),
        ),
    )
}
# Field types an org's custom fields may have (emulator settings ``custom_fields``).
CUSTOM_FIELD_TYPES = frozenset(
    {
        "string",
        "textarea",
        "email",
        "phone",
        "url",
        "picklist",
        "multipicklist",
        "double",
        "currency",
        "percent",
        "int",
        "date",
        "datetime",
        "boolean",
    }
)
# Names accepted by seed(): provider names, plural REST-ish names and canonical entities.
_SEED_ALIASES = {
    "contacts": "Contact",
    "accounts": "Account",
    "company": "Account",
    "companies": "Account",
    "opportunities": "Opportunity",
    "deal": "Opportunity",
    "deals": "Opportunity",
    "tasks": "Task",
    "activity": "Task",
    "activities": "Task",
    "events": "Event",
    "leads": "Lead",
    "cases": "Case",
    "conversation": "Case",
    "conversations": "Case",
}


def new_ids(prefix: str, count: int = 1) -> list[str]:
    """Fresh 18-char ids: key prefix, a sandbox pod marker, 10 random base-62 characters, checksum."""
    raw = secrets.token_bytes(10 * count)
    return [
        case_safe_id(prefix + "Sb" + "".join(_ID_ALPHABET[b % 62] for b in raw[i * 10 : i * 10 + 10]))
        for i in range(count)
    ]


def blob_text(value: Any) -> str:
    """A stored base64 blob as text ("" when unset)."""
    if not value:
        return ""
    return base64.b64decode(str(value)).decode("utf-8", errors="replace")


def custom_fields(config: dict[str, Any]) -> dict[str, FieldSpec]:
    """Field specs from the ``custom_fields`` setting of one object: ``{"Name__c": {"type", "label",
    "picklist": [value or {"value", "label"}], "restricted", "required", "external_id", "length",
    "precision", "scale"}}``.

    Names must end in ``__c`` and types be ones an admin can create: anything else is refused loudly,
    since a test that configured it expects it to exist."""
    fields: dict[str, FieldSpec] = {}
    for name, options in config.items():
        options = options or {}
        kind = str(options.get("type") or "string")
        if not name.endswith("__c") or kind not in CUSTOM_FIELD_TYPES:
            raise ValueError(
                f"custom field {name!r} of type {kind!r}: names end in __c, types are {CUSTOM_FIELD_TYPES}"
            )
        entries = [
            p if isinstance(p, dict) else {"value": p, "label": p} for p in options.get("picklist") or ()
        ]
        fields[name] = CustomFieldSpec(
            kind,
            required=bool(options.get("required")),
            restricted=bool(options.get("restricted")),
            external_id=bool(options.get("external_id")),
            picklist=tuple(str(p["value"]) for p in entries),
            picklist_labels=tuple(str(p.get("label") or p["value"]) for p in entries),
            label=str(options.get("label") or name.removesuffix("__c").replace("_", " ")),
            length=int(options.get("length") or 0),
            precision=int(options.get("precision") or 0),
            scale=int(options.get("scale") or 0),
        )
    return fields


def _coerce(spec: ObjectSpec, name: str, fs: FieldSpec, raw: Any) -> Any:
    """A JSON value in the field's stored form; JSON_PARSER_ERROR (whole request) when it cannot be one."""
    if raw is None:
        return None

    def refuse(kind: str) -> RequestError:
        shown = json.dumps(raw)[:60]
        return RequestError(
            400,
            "JSON_PARSER_ERROR",
            f"Cannot deserialize instance of {kind} from value {shown} "
            "or request may be missing a required field",
            [name],
        )

    if fs.type in soql.NUMERIC_TYPES:
        if isinstance(raw, bool):
            raise refuse("double")
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise refuse("double") from None
        return int(number) if fs.type == "int" and number.is_integer() else number
    if fs.type == "boolean":
        if not isinstance(raw, bool):
            raise refuse("boolean")
        return raw
    if fs.type == "date":
        if not isinstance(raw, str) or len(raw) != 10:
            raise refuse("date")
        try:
            return date.fromisoformat(raw).isoformat()
        except ValueError:
            raise refuse("date") from None
    if fs.type == "datetime":
        parsed = parse_datetime(raw) if isinstance(raw, str) else None
        if parsed is None:
            raise refuse("dateTime")
        return format_datetime(parsed)
    if fs.type == "base64":
        # Blob fields travel base64-encoded in JSON; anything else cannot be decoded.
        try:
            base64.b64decode(str(raw), validate=True)
        except (binascii.Error, ValueError):
            raise refuse("base64") from None
        return str(raw)
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise refuse("string")
    return str(raw)


class SalesforceSchema(Emulator):
    """sObjects and records: validation, storage, the wire form, seeding and touching."""

    def sample_record(self, entity: str, i: int) -> dict[str, Any]:
        samples = {
            "contact": {
                "FirstName": f"Ana{i}",
                "LastName": f"Lee{i}",
                "Email": f"ana.lee{i}@example.com",
                "Phone": f"+1415555{i % 10_000:04d}",
                "Title": "Buyer",
            },
            "company": {"Name": f"Acme {i}", "Website": f"acme{i}.example.com", "Industry": "Technology"},
            "deal": {
                "Name": f"Deal {i}",
                "StageName": "Prospecting",
                "CloseDate": "2025-06-30",
                "Amount": 1000 + i,
            },
            "activity": {
                "_kind": "task",
                "Subject": f"Follow up {i}",
                "Status": "Not Started",
                "ActivityDate": "2025-06-30",
            },
            "conversation": {
                "Subject": f"Order question {i}",
                "Status": "New",
                "Origin": "WhatsApp",
                "Priority": "Medium",
            },
        }
        return dict(samples[entity])

    def invalid_record(self, entity: str) -> dict[str, Any]:
        invalid = {
            "contact": {"FirstName": "Nolast", "Email": "nolast@example.com"},  # REQUIRED_FIELD_MISSING
            "company": {"Website": "nameless.example.com"},  # REQUIRED_FIELD_MISSING
            "deal": {"Name": "No stage"},  # REQUIRED_FIELD_MISSING
            "activity": {"_kind": "task", "Subject": "Bad", "Status": "Maybe"},  # restricted picklist
            "conversation": {"Subject": "Bad", "Status": "Maybe"},  # restricted picklist
        }
        return dict(invalid[entity])

    def seed(self, object_type: str, count: int, request: HttpRequest | None) -> int:
        """Bulk-insert ``count`` records as pre-existing history.

        Seeded records are back-dated one second apart, ending a minute before the call, so a delta
        pull never mistakes them for fresh changes; use ``touch`` or the API for changes.
        """
        spec = self._spec(_SEED_ALIASES.get(object_type.lower(), object_type))
        if spec is None or count < 0:
            raise ValueError(f"salesforce emulator cannot seed {object_type!r}")
        start = self.records(spec.name).count()
        end = now_ms() - timedelta(minutes=1)
        for offset in range(0, count, SEED_CHUNK):
            size = min(SEED_CHUNK, count - offset)
            ids = new_ids(spec.prefix, size)
            rows = []
            for k in range(size):
                n = start + offset + k
                stamp = end - timedelta(seconds=count - offset - k - 1)
                rows.append(
                    SandboxRecord(
                        provider=self.provider,
                        object_type=spec.name,
                        remote_id=ids[k],
                        data=self._seed_data(spec.name, n),
                        created_at=stamp,
                        updated_at=stamp,
                    )
                )
            SandboxRecord.objects.bulk_create(rows, batch_size=500)
        return count

    def touch(self, object_type: str, remote_id: str, fields: dict[str, Any]) -> None:
        """Change a record as a user in Salesforce would: new values and a fresh SystemModstamp."""
        spec = self._spec(_SEED_ALIASES.get(object_type.lower(), object_type))
        if spec is None:
            raise ValueError(f"salesforce emulator has no {object_type!r} records")
        row = self.records(spec.name).get(remote_id=normalize_id(remote_id) or remote_id)
        row.data = {**row.data, **fields}
        row.updated_at = now_ms()
        row.save(update_fields=["data", "updated_at"])

    def _clean(
        self, spec: ObjectSpec, body: dict[str, Any], *, creating: bool, current: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Values to store for a create or update; RequestError for the whole request, RecordError for this one."""
        if spec.name == "Lead" and current and current.get("IsConverted"):
            raise RecordError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", ["Id"])
        values: dict[str, Any] = {}
        for raw_name, raw in body.items():
            if raw_name == "attributes":
                continue
            name = spec.lookup(raw_name)
            if name is None:
                raise RequestError(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{raw_name}' on sobject of type {spec.name}",
                    [raw_name],
                )
            if name == "Id" and not creating:
                continue  # collections updates name their record with Id
            fs = spec.fields[name]
            if not (fs.createable if creating else fs.updateable):
                raise RecordError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {name}. "
                    "Please check the security settings of this field and verify that it is "
                    "read/write for your profile or permission set.",
                    [name],
                )
            values[name] = _coerce(spec, name, fs, raw)
        if creating:
            defaults = {name: fs.default for name, fs in spec.fields.items() if fs.default is not None}
            owner = {"OwnerId": USER_ID} if "OwnerId" in spec.fields else {}
            values = {**defaults, **owner, **{k: v for k, v in values.items() if v is not None}}
        merged = {**(current or {}), **values}
        missing = [name for name, fs in spec.fields.items() if fs.required and merged.get(name) in (None, "")]
        if missing:
            raise RecordError(
                "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
            )
        for name, value in values.items():
            if value is not None:
                values[name] = self._check_value(spec, name, spec.fields[name], value)
        return values | self._derive(spec, values, current or {})

    def _derive(self, spec: ObjectSpec, values: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
        """Fields Salesforce sets itself from a write: a Case's IsClosed and ClosedDate follow its Status
        (ClosedDate is stamped when it closes, cleared when it reopens), and a Case given a contact but no
        account takes the contact's account."""
        if spec.name != "Case":
            return {}
        derived: dict[str, Any] = {}
        if "Status" in values:
            closed = values["Status"] in CLOSED_CASE_STATUSES
            derived["IsClosed"] = closed
            if not closed:
                derived["ClosedDate"] = None
            elif not current.get("IsClosed"):
                derived["ClosedDate"] = format_datetime(now_ms())
        contact_id = values.get("ContactId")
        if contact_id and not values.get("AccountId") and not current.get("AccountId"):
            contact = self.records("Contact").filter(remote_id=contact_id).first()
            if contact is not None and contact.data.get("AccountId"):
                derived["AccountId"] = contact.data["AccountId"]
        return derived

    def _check_value(self, spec: ObjectSpec, name: str, fs: FieldSpec, value: Any) -> Any:
        if fs.length and isinstance(value, str) and len(value) > fs.length:
            raise RecordError(
                "STRING_TOO_LONG",
                f"{fs.label or name}: data value too large: {value[:20]}... (max length={fs.length})",
                [name],
            )
        if fs.type == "email" and not _EMAIL.match(str(value)):
            raise RecordError("INVALID_EMAIL_ADDRESS", f"{name}: invalid email address: {value}", [name])
        if fs.type == "multipicklist" and fs.restricted:
            bad = [item for item in str(value).split(";") if item not in fs.picklist]
            if bad:
                raise RecordError(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{name}: bad value for restricted picklist field: {bad[0]}",
                    [name],
                )
            return value
        if fs.restricted and value not in fs.picklist:
            raise RecordError(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{name}: bad value for restricted picklist field: {value}",
                [name],
            )
        if fs.type == "reference":
            remote_id = normalize_id(value)
            target = type_of_id(remote_id) if remote_id else None
            if remote_id is None or target not in fs.references:
                raise RecordError("MALFORMED_ID", f"{name}: id value of incorrect type: {value}", [name])
            if (
                target != "User"
                and not self.records(target).filter(remote_id=remote_id, archived=False).exists()
            ):
                raise RecordError(
                    "INVALID_CROSS_REFERENCE_KEY", f"{name}: invalid cross reference id", [name]
                )
            return remote_id
        return value

    def _insert(self, spec: ObjectSpec, rows: list[dict[str, Any]]) -> list[str]:
        moment = now_ms()
        ids = new_ids(spec.prefix, len(rows))
        rows = self._numbered(spec, rows)
        SandboxRecord.objects.bulk_create(
            [
                SandboxRecord(
                    provider=self.provider,
                    object_type=spec.name,
                    remote_id=remote_id,
                    data=values,
                    created_at=moment,
                    updated_at=moment,
                )
                for remote_id, values in zip(ids, rows, strict=True)
            ]
        )
        return ids

    def _numbered(self, spec: ObjectSpec, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows with the auto-number Salesforce gives new records of the object (a Case's CaseNumber,
        counting every case ever made, deleted ones included)."""
        if spec.name != "Case":
            return rows
        start = self.records("Case").count() + 1
        return [
            {**values, "CaseNumber": f"{start + k:0{CASE_NUMBER_DIGITS}d}"} for k, values in enumerate(rows)
        ]

    def _save(self, row: SandboxRecord, values: dict[str, Any]) -> None:
        row.data = {**row.data, **values}
        row.updated_at = now_ms()
        row.save(update_fields=["data", "updated_at"])

    def _recycle(self, rows: list[SandboxRecord]) -> None:
        """Move records to the Recycle Bin: IsDeleted, and a fresh SystemModstamp for replication.

        Junction rows go with either end, as in Salesforce: an opportunity's or contact's contact roles,
        a note's or a record's ContentDocumentLinks."""
        moment = now_ms()
        ids = [row.remote_id for row in rows]
        junctions = (
            self.records("OpportunityContactRole")
            .filter(Q(data__OpportunityId__in=ids) | Q(data__ContactId__in=ids))
            .values_list("pk", flat=True)
        )
        links = (
            self.records("ContentDocumentLink")
            .filter(Q(data__ContentDocumentId__in=ids) | Q(data__LinkedEntityId__in=ids))
            .values_list("pk", flat=True)
        )
        SandboxRecord.objects.filter(
            Q(pk__in=[row.pk for row in rows]) | Q(pk__in=list(junctions)) | Q(pk__in=list(links)),
            archived=False,
        ).update(archived=True, archived_at=moment, updated_at=moment)

    def _wire(self, spec: ObjectSpec, row: SandboxRecord, version: str = API_VERSION) -> dict[str, Any]:
        """The record as Salesforce shows it: every field (null when unset) plus system fields. A blob
        field shows the URL its content is read from (``sObject Blob Get``), never the content."""
        data = row.data
        record = {name: data.get(name) for name in spec.fields}
        stamps = {
            "Id": row.remote_id,
            "IsDeleted": row.archived,
            "CreatedDate": format_datetime(row.created_at),
            "LastModifiedDate": format_datetime(row.updated_at),
            "SystemModstamp": format_datetime(row.updated_at),
        }
        record.update({name: stamps[name] for name in _ROW_FIELDS if name in spec.fields})
        if "Name" in spec.fields and not spec.fields["Name"].createable:
            record["Name"] = " ".join(part for part in (data.get("FirstName"), data.get("LastName")) if part)
        for name, fs in spec.fields.items():
            if fs.type == "base64" and data.get(name) is not None:
                record[name] = f"{PREFIX}/services/data/{version}/sobjects/{spec.name}/{row.remote_id}/{name}"
        if spec.name == "ContentNote":
            text = blob_text(data.get("Content"))
            record |= {
                "FileType": "SNOTE",
                "FileExtension": "snote",
                "ContentSize": len(text.encode()),
                "TextPreview": text[:255] or None,
            }
        return record

    @staticmethod
    def _attributes(spec: ObjectSpec, remote_id: str, version: str) -> dict[str, str]:
        return {
            "type": spec.name,
            "url": f"{PREFIX}/services/data/{version}/sobjects/{spec.name}/{remote_id}",
        }

    def _find(self, spec: ObjectSpec, record_id: str) -> SandboxRecord | None:
        remote_id = normalize_id(record_id)
        if remote_id is None:
            return None
        return self.records(spec.name).filter(remote_id=remote_id).first()

    def _spec(self, name: str) -> ObjectSpec | None:
        """The object called ``name`` (case-insensitive), with the org's custom fields."""
        spec = next((spec for known, spec in OBJECTS.items() if known.lower() == name.lower()), None)
        if spec is None:
            return None
        custom = (self.setting("custom_fields", {}) or {}).get(spec.name) or {}
        if not custom:
            return spec
        return ObjectSpec(spec.name, {**spec.fields, **custom_fields(custom)})

    def object_specs(self) -> list[ObjectSpec]:
        return [spec for name in OBJECTS if (spec := self._spec(name)) is not None]

    def _seed_data(self, sobject: str, n: int) -> dict[str, Any]:
        data: dict[str, Any] = {"OwnerId": USER_ID}
        if sobject in {"Contact", "Lead"}:
            data |= {
                "FirstName": f"Seed{n}",
                "LastName": f"Person{n}",
                "Email": f"seed{n}@example.com",
                "Phone": f"+1415555{n % 10_000:04d}",
            }
            if sobject == "Lead":
                data |= {"Company": f"Seed Co {n}", "Status": "Open - Not Contacted"}
        elif sobject == "Account":
            data |= {"Name": f"Seed Account {n}", "Website": f"seed{n}.example.com", "Industry": "Technology"}
        elif sobject == "Opportunity":
            data |= {
                "Name": f"Seed Deal {n}",
                "StageName": "Prospecting",
                "CloseDate": "2025-12-31",
                "Amount": float(1000 + n),
            }
        elif sobject == "Case":
            data |= {
                "CaseNumber": f"{n + 1:0{CASE_NUMBER_DIGITS}d}",
                "Subject": f"Seed case {n}",
                "Status": "New",
                "Origin": "Web",
                "Priority": "Medium",
                "IsClosed": False,
            }
        elif sobject == "Task":
            data |= {
                "Subject": f"Seed task {n}",
                "Status": "Not Started",
                "Priority": "Normal",
                "TaskSubtype": "Task",
                "ActivityDate": "2025-12-31",
            }
        else:
            data |= {"Subject": f"Seed event {n}", "ActivityDate": "2025-12-31", "DurationInMinutes": 30}
        return data
