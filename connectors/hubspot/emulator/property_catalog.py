"""The standard (HubSpot-defined) properties the emulator knows, as the properties API shows them.

Each entry is a property definition in HubSpot's shape (``GET /crm/v3/properties/{objectType}``):
name, label, type (string / number / date / datetime / enumeration / bool), fieldType (text,
textarea, html, phonenumber, number, date, select, radio, checkbox, booleancheckbox), options for
enumerations, ``hubspotDefined: true`` and ``modificationMetadata.readOnlyValue`` for the ones
HubSpot computes (record id, created and modified times).
"""

from __future__ import annotations

import functools
from typing import Any

from connectors.hubspot.emulator.association_types import SINGULAR

EPOCH_ISO = "2019-08-06T02:43:14.491Z"  # when HubSpot's own properties say they were made (a fixed date)


def definition(
    name: str,
    label: str,
    type_: str = "string",
    field_type: str = "text",
    *,
    options: tuple[tuple[str, str], ...] = (),
    group: str,
    read_only: bool = False,
    hubspot_defined: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    """One property definition with every field the official client requires."""
    body: dict[str, Any] = {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "description": "",
        "groupName": group,
        "options": [
            {"label": text, "value": value, "displayOrder": i, "hidden": False, "description": ""}
            for i, (value, text) in enumerate(options)
        ],
        "displayOrder": -1,
        "calculated": False,
        "externalOptions": False,
        "hasUniqueValue": name == "hs_object_id",
        "hidden": False,
        "formField": not read_only,
        "modificationMetadata": {
            "archivable": not hubspot_defined,
            "readOnlyDefinition": hubspot_defined,
            "readOnlyValue": read_only,
        },
        "createdAt": EPOCH_ISO,
        "updatedAt": EPOCH_ISO,
        "archived": False,
        **extra,
    }
    if hubspot_defined:
        body["hubspotDefined"] = True  # custom properties carry no such flag
    return body


LIFECYCLE = (
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
)
DEAL_STAGES = (
    ("appointmentscheduled", "Appointment Scheduled"),
    ("qualifiedtobuy", "Qualified To Buy"),
    ("presentationscheduled", "Presentation Scheduled"),
    ("decisionmakerboughtin", "Decision Maker Bought-In"),
    ("contractsent", "Contract Sent"),
    ("closedwon", "Closed Won"),
    ("closedlost", "Closed Lost"),
)
INDUSTRIES = (
    ("ACCOUNTING", "Accounting"),
    ("COMPUTER_SOFTWARE", "Computer Software"),
    ("FINANCIAL_SERVICES", "Financial Services"),
    ("HOSPITAL_HEALTH_CARE", "Hospital & Health Care"),
    ("MARKETING_AND_ADVERTISING", "Marketing and Advertising"),
    ("RETAIL", "Retail"),
)
TASK_STATUS = (
    ("NOT_STARTED", "Not Started"),
    ("IN_PROGRESS", "In Progress"),
    ("WAITING", "Waiting"),
    ("COMPLETED", "Completed"),
    ("DEFERRED", "Deferred"),
)
TASK_PRIORITY = (("NONE", "None"), ("LOW", "Low"), ("MEDIUM", "Medium"), ("HIGH", "High"))
CALL_DIRECTION = (("INBOUND", "Inbound"), ("OUTBOUND", "Outbound"))
EMAIL_DIRECTION = (
    ("EMAIL", "Email sent from CRM"),
    ("INCOMING_EMAIL", "Incoming email"),
    ("FORWARDED_EMAIL", "Forwarded email"),
)
CURRENCIES = (("USD", "US Dollar"), ("EUR", "Euro"), ("GBP", "British Pound"))

# name → (label, type, fieldType, options) per object type, besides the ones every type has.
_STANDARD: dict[str, tuple[tuple[str, str, str, str, tuple[tuple[str, str], ...]], ...]] = {
    "contacts": (
        ("firstname", "First Name", "string", "text", ()),
        ("lastname", "Last Name", "string", "text", ()),
        ("email", "Email", "string", "text", ()),
        ("phone", "Phone Number", "string", "phonenumber", ()),
        ("mobilephone", "Mobile Phone Number", "string", "phonenumber", ()),
        ("jobtitle", "Job Title", "string", "text", ()),
        ("company", "Company Name", "string", "text", ()),
        ("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", LIFECYCLE),
    ),
    "companies": (
        ("name", "Company name", "string", "text", ()),
        ("domain", "Company Domain Name", "string", "text", ()),
        ("phone", "Phone Number", "string", "phonenumber", ()),
        ("industry", "Industry", "enumeration", "select", INDUSTRIES),
    ),
    "deals": (
        ("dealname", "Deal Name", "string", "text", ()),
        ("amount", "Amount", "number", "number", ()),
        ("deal_currency_code", "Currency", "enumeration", "select", CURRENCIES),
        ("dealstage", "Deal Stage", "enumeration", "radio", DEAL_STAGES),
        ("pipeline", "Pipeline", "enumeration", "select", (("default", "Sales Pipeline"),)),
        ("closedate", "Close Date", "datetime", "date", ()),
    ),
    "notes": (("hs_note_body", "Note body", "string", "html", ()),),
    "tasks": (
        ("hs_task_subject", "Task Title", "string", "text", ()),
        ("hs_task_body", "Task notes", "string", "html", ()),
        ("hs_task_status", "Task Status", "enumeration", "select", TASK_STATUS),
        ("hs_task_priority", "Priority", "enumeration", "select", TASK_PRIORITY),
    ),
    "calls": (
        ("hs_call_title", "Call Title", "string", "text", ()),
        ("hs_call_body", "Call notes", "string", "html", ()),
        ("hs_call_direction", "Call direction", "enumeration", "select", CALL_DIRECTION),
        ("hs_call_duration", "Call duration", "number", "number", ()),
    ),
    "emails": (
        ("hs_email_subject", "Email subject", "string", "text", ()),
        ("hs_email_text", "Email body", "string", "textarea", ()),
        ("hs_email_direction", "Email direction", "enumeration", "select", EMAIL_DIRECTION),
    ),
    "meetings": (
        ("hs_meeting_title", "Meeting name", "string", "text", ()),
        ("hs_meeting_body", "Meeting description", "string", "html", ()),
        ("hs_meeting_start_time", "Start Time", "datetime", "date", ()),
        ("hs_meeting_end_time", "End Time", "datetime", "date", ()),
    ),
}
ACTIVITY_TYPES = ("notes", "tasks", "calls", "emails", "meetings")


def group_name(object_type: str) -> str:
    return "engagement" if object_type in ACTIVITY_TYPES else f"{SINGULAR[object_type]}information"


def standard_group_label(object_type: str) -> str:
    """The standard group's label: "Contact information", "Engagement", ..."""
    if object_type in ACTIVITY_TYPES:
        return "Engagement"
    return f"{SINGULAR[object_type].title()} information"


def standard_properties(object_type: str) -> dict[str, dict[str, Any]]:
    """name → definition of every HubSpot-defined property of ``object_type``."""
    group = group_name(object_type)
    created = "createdate" if object_type in {"contacts", "companies", "deals"} else "hs_createdate"
    modified = "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"
    rows = [
        definition(name, label, type_, field, options=options, group=group)
        for name, label, type_, field, options in _STANDARD[object_type]
    ]
    if object_type in ACTIVITY_TYPES:
        rows.insert(0, definition("hs_timestamp", "Activity date", "datetime", "date", group=group))
    owner = (
        "Activity assigned to" if object_type in ACTIVITY_TYPES else f"{SINGULAR[object_type].title()} owner"
    )
    rows.append(
        definition(
            "hubspot_owner_id",
            owner,
            "enumeration",
            "select",
            group=group,
            externalOptions=True,
            referencedObjectType="OWNER",
        )
    )
    rows += [
        definition(created, "Create Date", "datetime", "date", group=group, read_only=True),
        definition(modified, "Last Modified Date", "datetime", "date", group=group, read_only=True),
        definition("hs_object_id", "Record ID", "number", "number", group=group, read_only=True),
    ]
    return {row["name"]: row for row in rows}


@functools.cache
def standard_names(object_type: str) -> frozenset[str]:
    """The names alone, for filtering reads (computed once per type)."""
    return frozenset(standard_properties(object_type))
