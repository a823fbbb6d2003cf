"""The sandbox's Pages, lead forms and leads, shaped as the Graph API returns them.

One Page (``page_id`` setting, made by ``connect``) with its forms; leads carry ``field_data``
name/values arrays (the standard keys and each form's custom questions) and ``+0000`` timestamps.
Leads are immutable. ``/{form-id}/leads`` lists newest first, filters on ``time_created`` and pages
with base64 ``before``/``after`` cursors (``paging.next`` absent on the last page).
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from connectors.facebook_leads.emulator.graph import GraphBase
from connectors.sandbox.emulator import sample_phone
from connectors.sandbox.models import SandboxRecord

PAGES, FORMS, LEADS = "page", "form", "lead"
DEFAULT_LIMIT, MAX_LIMIT = 25, 500
LEAD_DEFAULT_FIELDS = ("id", "created_time", "field_data")
FORM_DEFAULT_FIELDS = ("id", "name", "status", "locale")
FILTER_OPERATORS = {
    "GREATER_THAN": lambda a, b: a > b,
    "GREATER_THAN_OR_EQUAL": lambda a, b: a >= b,
    "LESS_THAN": lambda a, b: a < b,
    "LESS_THAN_OR_EQUAL": lambda a, b: a <= b,
    "EQUAL": lambda a, b: a == b,
}
# The contact questions a sandbox form asks after its custom ones, as Graph lists them.
STANDARD_QUESTIONS = (
    ("full_name", "Full name", "FULL_NAME"),
    ("email", "Email", "EMAIL"),
    ("phone_number", "Phone number", "PHONE"),
)
FIRST_NAMES = ("Ana", "Ben", "Chloé", "Dmitri", "Eve", "Farah", "Gus", "Hana", "Ivo", "June")
LAST_NAMES = ("Lee", "Okafor", "Martín", "Novak", "Silva", "Tanaka", "Weber", "Young", "Zhou", "Kim")


def graph_id() -> str:
    """A numeric Graph id (15-16 digits, as Meta's object ids look)."""
    return str(10**15 + secrets.randbelow(9 * 10**15))


def graph_time(unix: int) -> str:
    """``2025-01-01T10:00:00+0000``: how the Graph API writes times."""
    return datetime.fromtimestamp(unix, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def encode_position(position: int) -> str:
    return base64.urlsafe_b64encode(f"pos:{position}".encode()).decode().rstrip("=")


def decode_position(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    prefix, _, number = text.partition(":")
    return int(number) if prefix == "pos" and number.isdigit() else None


def requested_fields(request: HttpRequest, default: tuple[str, ...]) -> list[str]:
    raw = request.GET.get("fields", "")
    names = [name.strip() for name in raw.split(",") if name.strip()] or list(default)
    return ["id", *[n for n in names if n != "id"]]


def only(data: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    return {name: data[name] for name in fields if name in data}


class GraphStore(GraphBase):
    # --- lookups --------------------------------------------------------------------------------

    def record(self, object_type: str, object_id: str) -> SandboxRecord | None:
        return self.records(object_type).filter(remote_id=str(object_id)).first()

    def page_id(self) -> str:
        return str(self.setting("page_id", ""))

    def ensure_page(self) -> SandboxRecord:
        """The sandbox Page and its first form, made once."""
        page_id = self.page_id()
        page = self.record(PAGES, page_id) if page_id else None
        if page is not None:
            return page
        now = timezone.now()
        page = SandboxRecord.objects.create(
            provider=self.provider,
            object_type=PAGES,
            remote_id=graph_id(),
            data={"name": "Sandbox Bakery", "category": "Bakery", "tasks": ["ADVERTISE", "MANAGE"]},
            created_at=now,
            updated_at=now,
        )
        state = self.state()
        state.settings = {
            **state.settings,
            "page_id": page.remote_id,
            "ad_account_id": f"act_{graph_id()[:12]}",
        }
        state.save(update_fields=["settings"])
        self.form_add(page.remote_id, "Spring offer", questions=["what_are_you_looking_for"])
        return page

    def form_add(self, page_id: str, name: str, *, questions: list[str] | None = None) -> SandboxRecord:
        now = timezone.now()
        return SandboxRecord.objects.create(
            provider=self.provider,
            object_type=FORMS,
            remote_id=graph_id(),
            data={
                "page_id": page_id,
                "name": name,
                "status": "ACTIVE",
                "locale": "en_US",
                "ad_id": graph_id(),
                "questions": [
                    {
                        "key": key,
                        "label": key.replace("_", " ").capitalize(),
                        "type": "CUSTOM",
                        "id": graph_id(),
                    }
                    for key in (questions or [])
                ]
                + [
                    {"key": key, "label": label, "type": kind, "id": graph_id()}
                    for key, label, kind in STANDARD_QUESTIONS
                ],
            },
            created_at=now,
            updated_at=now,
        )

    def forms(self, page_id: str):
        return self.records(FORMS).filter(data__page_id=page_id).order_by("pk")

    # --- leads ----------------------------------------------------------------------------------

    def lead_add(
        self,
        form: SandboxRecord,
        field_data: list[dict[str, Any]],
        *,
        created: int | None = None,
        ad_id: str = "",
        platform: str = "fb",
    ) -> SandboxRecord:
        created = int(created if created is not None else timezone.now().timestamp())
        ad_id = ad_id or str(form.data.get("ad_id") or graph_id())  # each form runs behind one ad
        data = {
            "created_unix": created,
            "field_data": field_data,
            "form_id": form.remote_id,
            "page_id": form.data["page_id"],
            "ad_id": ad_id,
            "ad_name": f"{form.data['name']} ad",
            "adset_id": f"{int(ad_id) + 1}",
            "adset_name": "Sandbox ad set",
            "campaign_id": f"{int(ad_id) + 2}",
            "campaign_name": f"{form.data['name']} campaign",
            "is_organic": False,
            "platform": platform,
        }
        when = datetime.fromtimestamp(created, tz=UTC)
        return SandboxRecord.objects.create(
            provider=self.provider,
            object_type=LEADS,
            remote_id=graph_id(),
            data=data,
            created_at=when,
            updated_at=when,
        )

    def sample_field_data(self, n: int, form: SandboxRecord) -> list[dict[str, Any]]:
        first, last = FIRST_NAMES[n % len(FIRST_NAMES)], f"{LAST_NAMES[n % len(LAST_NAMES)]}{n}"
        data = [
            {"name": "email", "values": [f"lead{n}@example.com"]},
            {"name": "full_name", "values": [f"{first} {last}"]},
            {"name": "phone_number", "values": [sample_phone(n)]},
        ]
        for question in form.data.get("questions", []):
            if question.get("type") != "CUSTOM":
                continue
            data.append({"name": question["key"], "values": [f"answer {n}"]})
        return data

    def lead_shape(self, lead: SandboxRecord) -> dict[str, Any]:
        data = {k: v for k, v in lead.data.items() if k != "created_unix"}
        return {"id": lead.remote_id, "created_time": graph_time(lead.data["created_unix"]), **data}

    def seed_leads(self, count: int, *, spacing: timedelta = timedelta(seconds=1)) -> list[SandboxRecord]:
        """``count`` leads, ``spacing`` apart ending now, taking turns between the Page's forms."""
        page = self.ensure_page()
        forms = list(self.forms(page.remote_id))
        base = self.records(LEADS).count()
        end = int(timezone.now().timestamp())
        step = int(spacing.total_seconds())
        made = []
        for i in range(count):
            form = forms[i % len(forms)]
            made.append(
                self.lead_add(
                    form, self.sample_field_data(base + i, form), created=end - (count - 1 - i) * step
                )
            )
        return made

    # --- filtering and paging -------------------------------------------------------------------

    def parse_filtering(self, raw: str) -> list[tuple[str, Any, Any]] | str:
        """(field, operator, value) triples, or the message of the (#100) error refusing them."""
        if not raw:
            return []
        try:
            rules = json.loads(raw)
        except ValueError:
            return "Param filtering must be a JSON array"
        if not isinstance(rules, list):
            return "Param filtering must be a JSON array"
        parsed = []
        for rule in rules:
            if not isinstance(rule, dict) or rule.get("field") not in ("time_created", "ad_id", "form_id"):
                return "Filtering field is invalid: use time_created, ad_id or form_id"
            operator = FILTER_OPERATORS.get(str(rule.get("operator", "")).upper())
            if operator is None:
                return f"Filtering operator {rule.get('operator')!r} is not supported"
            value = rule.get("value")
            if rule["field"] == "time_created":
                try:
                    value = int(value)
                except (TypeError, ValueError):
                    return "Filtering value for time_created must be a Unix timestamp"
            parsed.append((rule["field"], operator, value))
        return parsed

    def lead_matches(self, lead: SandboxRecord, rules: list[tuple[str, Any, Any]]) -> bool:
        for name, operator, value in rules:
            actual = lead.data["created_unix"] if name == "time_created" else str(lead.data.get(name, ""))
            if not operator(actual, value if name == "time_created" else str(value)):
                return False
        return True

    def page_of(self, request: HttpRequest, items: list[dict[str, Any]]) -> dict[str, Any] | str:
        """A Graph list body: ``data`` + ``paging`` (cursors, ``next``/``previous`` URLs)."""
        try:
            limit = min(max(int(request.GET.get("limit", DEFAULT_LIMIT)), 1), MAX_LIMIT)
        except ValueError:
            return "Param limit must be an integer"
        start = 0
        if request.GET.get("after"):
            position = decode_position(request.GET["after"])
            if position is None:
                return "Invalid cursor: after"
            start = position + 1
        chunk = items[start : start + limit]
        body: dict[str, Any] = {"data": chunk}
        if chunk:
            body["paging"] = {
                "cursors": {
                    "before": encode_position(start),
                    "after": encode_position(start + len(chunk) - 1),
                }
            }
            if start + len(chunk) < len(items):
                query = request.GET.copy()
                query["after"] = body["paging"]["cursors"]["after"]
                query["limit"] = str(limit)
                body["paging"]["next"] = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        return body
