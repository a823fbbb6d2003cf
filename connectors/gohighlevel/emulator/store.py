"""The GoHighLevel emulator's records: contacts, opportunities, pipelines, notes, tasks and custom
fields of one location, in the API v2 shapes (providers.md §6), with their validation, samples and
seeds. Every record lives in a ``SandboxRecord`` whose ``data`` is the body the API returns."""

from __future__ import annotations

import re
import secrets
import string
from typing import Any

from django.http import HttpRequest

from connectors.base import RELATIONS_KEY
from connectors.sandbox.delivery import SignedWebhooks
from connectors.sandbox.emulator import iso_ms, now_ms, sample_phone
from connectors.sandbox.models import SandboxRecord

SANDBOX_LOCATION = "ve9EPM428h8vShlRW1KT"
SANDBOX_COMPANY = "5DP4iH6HLkQsiKESj6rh"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
CONTACT_FIELDS = (
    "firstName",
    "lastName",
    "name",
    "email",
    "phone",
    "companyName",
    "website",
    "address1",
    "city",
    "state",
    "postalCode",
    "country",
    "timezone",
    "tags",
    "source",
    "assignedTo",
    "dnd",
    "customFields",
)
OPPORTUNITY_FIELDS = (
    "name",
    "pipelineId",
    "pipelineStageId",
    "status",
    "monetaryValue",
    "contactId",
    "assignedTo",
    "source",
)
STATUSES = ("open", "won", "lost", "abandoned")
PIPELINE_ID = "VDm7RPYC2GLUvdpKmBfC"
CALENDAR_ID = "BqTwX8QFwXzpegMve9EQ"
STAGES = (
    ("7915dedc-8f18-44d5-8bc3-77c04e994a10", "New lead"),
    ("339a6d53-ad39-4a46-8e7a-5a6d6c4b84b4", "Won"),
)
ONBOARDING_PIPELINE_ID = "kQ3nR8sT2vW6xY0zA4bC"
ONBOARDING_STAGES = (
    ("a1f0c9e2-5b7d-4e3a-9c8f-1d2e3f4a5b6c", "Contacted"),
    ("b2e1d0f3-6c8e-4f4b-8d9a-2e3f4a5b6c7d", "Qualified"),
    ("c3d2e1a4-7d9f-4a5c-9eab-3f4a5b6c7d8e", "Won"),
    ("d4e3f2b5-8eaf-4b6d-afbc-4a5b6c7d8e9f", "Lost"),
)
# id → (name, stages): the location's pipelines, in the order GoHighLevel lists them.
PIPELINES = {
    PIPELINE_ID: ("Sales pipeline", STAGES),
    ONBOARDING_PIPELINE_ID: ("Onboarding", ONBOARDING_STAGES),
}
CUSTOM_FIELDS = (
    ("Qf5wD1kQ0eCn8yR2mT4a", "Lead score", "NUMERICAL"),
    ("Xs3pL9vB7nH2kJ5tQ1wE", "Industry", "TEXT"),
)


def new_id() -> str:
    """A 20-character id like GoHighLevel's."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(20))


class GoHighLevelStore(SignedWebhooks):
    """Records of the sandbox location and the rules the API checks on writes."""

    def location_id(self) -> str:
        return str(self.setting("location_id", SANDBOX_LOCATION))

    def record(self, object_type: str, remote_id: str) -> SandboxRecord | None:
        return self.records(object_type).filter(remote_id=str(remote_id)).first()

    def save_new(self, object_type: str, data: dict[str, Any]) -> SandboxRecord:
        now = now_ms()
        data = {"id": new_id(), "locationId": self.location_id(), **data}
        stamp = iso_ms(now)
        data.setdefault("dateAdded", stamp)
        data["dateUpdated"] = stamp
        return SandboxRecord.objects.create(
            provider=self.provider,
            object_type=object_type,
            remote_id=data["id"],
            data=data,
            created_at=now,
            updated_at=now,
        )

    def save_changes(self, row: SandboxRecord, changes: dict[str, Any]) -> SandboxRecord:
        now = now_ms()
        row.data = {**row.data, **changes, "dateUpdated": iso_ms(now)}
        row.updated_at = now
        row.save(update_fields=["data", "updated_at"])
        return row

    # --- validation: 422 with an array ``message`` ---------------------------------------------

    def contact_problems(self, body: dict[str, Any]) -> list[str]:
        problems = []
        email = body.get("email")
        if email not in (None, "") and not (isinstance(email, str) and EMAIL.match(email)):
            problems.append("email must be an email")
        phone = body.get("phone")
        if phone not in (None, "") and not (isinstance(phone, str) and E164.match(phone)):
            problems.append("phone must be a valid phone number")
        if "tags" in body and not (
            isinstance(body["tags"], list) and all(isinstance(t, str) for t in body["tags"])
        ):
            problems.append("tags must be an array of strings")
        unknown = set(body) - set(CONTACT_FIELDS) - {"locationId"}
        problems += [f"property {name} should not exist" for name in sorted(unknown)]
        return problems

    def opportunity_problems(
        self, body: dict[str, Any], *, creating: bool, pipeline_of: str = ""
    ) -> list[str]:
        """What is wrong with an opportunity body; a stage must be one of its pipeline's (the body's,
        else ``pipeline_of``, the one the opportunity is in)."""
        problems = []
        if creating:
            problems += [f"{f} should not be empty" for f in ("name", "pipelineId") if not body.get(f)]
        if "status" in body and body["status"] not in STATUSES:
            problems.append(f"status must be one of the following values: {', '.join(STATUSES)}")
        if body.get("monetaryValue") not in (None, "") and not isinstance(body["monetaryValue"], int | float):
            problems.append("monetaryValue must be a number")
        if body.get("pipelineId") and body["pipelineId"] not in PIPELINES:
            problems.append("pipelineId is invalid")
        pipeline = body.get("pipelineId") or pipeline_of
        stages = {stage for _, listed in PIPELINES.values() for stage, _ in listed}
        if pipeline in PIPELINES:
            stages = {stage for stage, _ in PIPELINES[pipeline][1]}
        if body.get("pipelineStageId") and body["pipelineStageId"] not in stages:
            problems.append("pipelineStageId is invalid")
        if body.get("contactId") and self.record("contacts", body["contactId"]) is None:
            problems.append("contactId is invalid")
        unknown = set(body) - set(OPPORTUNITY_FIELDS) - {"locationId"}
        problems += [f"property {name} should not exist" for name in sorted(unknown)]
        return problems

    @staticmethod
    def contact_body(data: dict[str, Any]) -> dict[str, Any]:
        """A contact as stored, its derived ``name`` kept in step with first and last names."""
        first, last = data.get("firstName") or "", data.get("lastName") or ""
        if "firstName" in data or "lastName" in data:
            data["name"] = " ".join(part for part in (first, last) if part) or data.get("name", "")
        if isinstance(data.get("email"), str):
            data["email"] = data["email"].lower()
        return data

    def duplicate_of(self, email: str, phone: str, *, exclude: str = "") -> SandboxRecord | None:
        """The contact an email (first) or phone already belongs to, as the duplicate rule matches."""
        rows = self.records("contacts").exclude(remote_id=exclude)
        if email:
            found = rows.filter(data__email=email.lower()).first()
            if found is not None:
                return found
        if phone:
            return rows.filter(data__phone=phone).first()
        return None

    # --- samples and seeds -------------------------------------------------------------------

    def sample_record(self, entity: str, n: int) -> dict[str, Any]:
        if entity == "contact":
            return {
                "firstName": f"Sample{n}",
                "lastName": f"Person{n}",
                "email": f"sample{n}@example.com",
                "phone": sample_phone(n),
                "companyName": f"Company {n}",
                "tags": ["sandbox"],
            }
        if entity == "deal":
            return {
                "name": f"Deal {n}",
                "pipelineId": PIPELINE_ID,
                "pipelineStageId": STAGES[0][0],
                "status": "open",
                "monetaryValue": 1000 + n,
            }
        if entity == "activity":
            contact = self.save_new("contacts", self.contact_body(self.sample_record("contact", 90_000 + n)))
            return {
                "_kind": "note",
                "body": f"Sample note {n}",
                RELATIONS_KEY: {"contact_id": {"add": [contact.remote_id], "remove": []}},
            }
        raise ValueError(f"no {entity} samples")

    def invalid_record(self, entity: str) -> dict[str, Any]:
        return {"firstName": "Invalid", "email": "not-an-email"}

    def seed(self, object_type: str, count: int, request: HttpRequest | None) -> int:
        if object_type not in ("contacts", "opportunities"):
            raise ValueError("seed contacts or opportunities")
        start = self.records(object_type).count()
        for n in range(start, start + count):
            if object_type == "contacts":
                self.save_new("contacts", self.contact_body(self.sample_record("contact", n)))
            else:
                self.save_new("opportunities", self.sample_record("deal", n))
        return count
