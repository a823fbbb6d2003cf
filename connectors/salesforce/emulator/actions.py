"""Salesforce's invocable actions: the standard ``convertLead`` action
(``POST /services/data/vXX.X/actions/standard/convertLead``).

Invocable actions take ``{"inputs": [{...}, ...]}`` and answer one result per input, in order:
``{"actionName", "errors", "isSuccess", "outputValues"}``; a refused input fails alone. A conversion
creates (or reuses) the Account and Contact, optionally an Opportunity with the contact as its primary
contact role, copies the lead's fields into empty fields of the targets, and marks the lead converted
(IsConverted, Converted*Id, ConvertedDate, the converted Status): a converted lead can no longer be edited.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse

from connectors.salesforce.client import normalize_id, type_of_id
from connectors.salesforce.emulator.errors import RecordError
from connectors.salesforce.emulator.schema import CONVERTED_STATUSES
from connectors.sandbox.emulator import Emulator, json_body
from connectors.sandbox.models import SandboxRecord

CONVERT_LEAD = "convertLead"
# Lead field → the Contact / Account field conversion copies it to (Salesforce's standard lead mapping).
CONTACT_FROM_LEAD = {
    "FirstName": "FirstName",
    "LastName": "LastName",
    "Email": "Email",
    "Phone": "Phone",
    "MobilePhone": "MobilePhone",
    "Title": "Title",
    "Description": "Description",
}
ACCOUNT_FROM_LEAD = {"Company": "Name", "Phone": "Phone"}


def _quarter_end(today: date) -> date:
    """Salesforce's default CloseDate for an opportunity made by conversion: the quarter's last day."""
    last_month = (today.month - 1) // 3 * 3 + 3
    if last_month == 12:
        return date(today.year, 12, 31)
    return date(today.year, last_month + 1, 1) - timedelta(days=1)


class SalesforceActions(Emulator):
    """The standard invocable actions the emulator serves."""

    def standard_action_view(self, request: HttpRequest, version: str, action: str) -> HttpResponse:
        if (bad := self._check_version(version)) is not None:
            return bad
        if action != CONVERT_LEAD:
            return self.error(404, f"The action {action} does not exist", code="NOT_FOUND")
        if request.method == "GET":
            return JsonResponse({"name": CONVERT_LEAD, "label": "Convert Lead", "type": "CONVERTLEAD"})
        if request.method != "POST":
            return self.error(405, f"HTTP Method '{request.method}' not allowed. Allowed are GET,HEAD,POST")
        body = json_body(request)
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or not inputs or not all(isinstance(i, dict) for i in inputs):
            return self.error(
                400, 'Missing or invalid inputs: send {"inputs": [{...}]}', code="JSON_PARSER_ERROR"
            )
        results = []
        for given in inputs:
            try:
                with transaction.atomic():
                    outputs = self._convert_lead(given)
            except RecordError as exc:
                results.append(
                    {
                        "actionName": CONVERT_LEAD,
                        "errors": [exc.as_item()],
                        "isSuccess": False,
                        "outputValues": None,
                    }
                )
                continue
            results.append(
                {"actionName": CONVERT_LEAD, "errors": None, "isSuccess": True, "outputValues": outputs}
            )
        return JsonResponse(results, safe=False)

    # --- conversion ---------------------------------------------------------------------------------

    def _convert_lead(self, given: dict[str, Any]) -> dict[str, Any]:
        lead = self._existing("Lead", given.get("leadId"), "leadId")
        if lead.data.get("IsConverted"):
            raise RecordError("CANNOT_UPDATE_CONVERTED_LEAD", "This lead was already converted.", ["leadId"])
        status = given.get("convertedStatus")
        if status not in CONVERTED_STATUSES:
            raise RecordError("INVALID_STATUS", f"invalid convertedStatus: {status}", ["convertedStatus"])
        account = (
            self._existing("Account", given["accountId"], "accountId") if given.get("accountId") else None
        )
        contact = None
        if given.get("contactId"):
            if account is None:
                raise RecordError(
                    "REQUIRED_FIELD_MISSING", "accountId is required when contactId is given", ["accountId"]
                )
            contact = self._existing("Contact", given["contactId"], "contactId")
            if contact.data.get("AccountId") != account.remote_id:
                raise RecordError(
                    "INVALID_CROSS_REFERENCE_KEY", "the contact does not belong to the account", ["contactId"]
                )
        create_opportunity = given.get("createOpportunity", True) is not False and not given.get(
            "doNotCreateOpportunity"
        )
        data = lead.data
        account_id = self._merge_into("Account", account, ACCOUNT_FROM_LEAD, data)
        contact_id = self._merge_into("Contact", contact, CONTACT_FROM_LEAD, data, AccountId=account_id)
        opportunity_id = None
        if create_opportunity:
            opportunity_id = self._create(
                "Opportunity",
                Name=str(given.get("opportunityName") or data.get("Company") or data.get("LastName")),
                StageName="Prospecting",
                CloseDate=_quarter_end(date.today()).isoformat(),
                AccountId=account_id,
            )
            self._create(
                "OpportunityContactRole", OpportunityId=opportunity_id, ContactId=contact_id, IsPrimary=True
            )
        self._save(
            lead,
            {
                "IsConverted": True,
                "Status": status,
                "ConvertedAccountId": account_id,
                "ConvertedContactId": contact_id,
                "ConvertedOpportunityId": opportunity_id,
                "ConvertedDate": date.today().isoformat(),
            },
        )
        return {
            "leadId": lead.remote_id,
            "accountId": account_id,
            "contactId": contact_id,
            "opportunityId": opportunity_id,
        }

    def _existing(self, object_type: str, value: Any, field: str) -> SandboxRecord:
        remote_id = normalize_id(value)
        if remote_id is None or type_of_id(remote_id) != object_type:
            raise RecordError("MALFORMED_ID", f"{field}: id value of incorrect type: {value}", [field])
        row = self.records(object_type).filter(remote_id=remote_id, archived=False).first()
        if row is None:
            raise RecordError("INVALID_CROSS_REFERENCE_KEY", f"{field}: invalid cross reference id", [field])
        return row

    def _merge_into(
        self,
        object_type: str,
        target: SandboxRecord | None,
        mapping: dict[str, str],
        lead: dict[str, Any],
        **extra: Any,
    ) -> str:
        """Copy the lead's values into a new record, or into the empty fields of an existing one."""
        copied = {to: lead[source] for source, to in mapping.items() if lead.get(source) not in (None, "")}
        if target is None:
            return self._create(object_type, **copied, **extra)
        empty = {name: value for name, value in copied.items() if target.data.get(name) in (None, "")}
        if empty:
            self._save(target, empty)
        return target.remote_id

    def _create(self, object_type: str, **fields: Any) -> str:
        spec = self._spec(object_type)
        assert spec is not None  # noqa: S101 (only the emulator's own objects are created here)
        return self._insert(spec, [self._clean(spec, fields, creating=True)])[0]
