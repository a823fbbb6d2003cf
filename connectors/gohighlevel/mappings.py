"""Default field mappings for GoHighLevel (providers.md "Canonical field map"). Data only.

Contacts map their own fields; ``name`` is derived by GoHighLevel from first and last name, so it is
not written. Opportunities keep the stage and pipeline as GoHighLevel's ids (the connector
translates canonical stages through the setup's ``stageMap``). Notes and tasks are written both
ways (the kind picks the endpoint; a task's subject and due date are its title and ``dueDate``);
appointments only read (a note's time is when it was added, an appointment's when it starts; each
record carries one of the two).
"""

from typing import Any

from connectors.mapping_rows import DATETIME, E164, FROM_REMOTE, LOWERCASE, NUMBER, TRIM, row

DEFAULT_MAPPINGS: dict[str, list[dict[str, Any]]] = {
    "contact": [
        row("first_name", "firstName", TRIM),
        row("last_name", "lastName", TRIM),
        row("email", "email", LOWERCASE),
        row("phone", "phone", E164),
        row("company_name", "companyName", TRIM),
        row("owner_id", "assignedTo", direction=FROM_REMOTE),
    ],
    "deal": [
        row("name", "name", TRIM),
        row("amount", "monetaryValue", NUMBER),
        row("stage", "pipelineStageId"),
        row("pipeline", "pipelineId"),
        row("owner_id", "assignedTo", direction=FROM_REMOTE),
    ],
    "activity": [
        row("kind", "_kind"),
        row("subject", "title"),
        row("body", "body"),
        row("due_at", "dueDate", DATETIME),
        row("occurred_at", "dateAdded", DATETIME, FROM_REMOTE),
        row("occurred_at", "startTime", DATETIME, FROM_REMOTE),
        row("status", "appointmentStatus", direction=FROM_REMOTE),
    ],
}
