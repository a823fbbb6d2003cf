"""Automation after scoring: give unowned records an owner, open follow-up tasks, create a deal at
the threshold. Every action is a canonical write (origin ``automation``) that the connected CRMs
receive like any other change.

Each task and deal is guarded by an ``AutomationMark`` inserted in the same transaction as the
record it creates; the mark is unique per (record, action), so re-scoring, a retried job or two
workers scoring the same record at once create it once.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.dateparse import parse_datetime

from integrations.automation import AutomationSettings
from integrations.models import SubAccount
from sync.enrichment.types import Record, enriched_view
from sync.models import Activity, AutomationMark, Company, Contact, NextActionRule, OwnerRule, ScoringProfile
from sync.services import RecordInvalid, record_create, record_update

logger = logging.getLogger(__name__)

ORIGIN = "automation"
DEAL_ACTION = "deal"


@dataclass
class AutomationOutcome:
    """What automation did for one record (for the job's log)."""

    owner: str = ""
    tasks: list[int] = field(default_factory=list)
    deal: int | None = None
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.owner:
            out["owner_assigned"] = self.owner
        if self.tasks:
            out["tasks_created"] = self.tasks
        if self.deal is not None:
            out["deal_created"] = self.deal
        if self.errors:
            out["automation_errors"] = self.errors
        return out


def automate(
    record: Record, *, settings: AutomationSettings, profile: ScoringProfile, entity: str
) -> AutomationOutcome:
    """Run the switched-on actions for one freshly scored record."""
    outcome = AutomationOutcome()
    if settings.auto_assign and not record.owner_id:
        outcome.owner = owner_assign(record)
    if settings.auto_create_tasks:
        outcome.tasks = tasks_create(record, entity=entity)
    if settings.auto_create_deals and entity == "contact" and record.score is not None:
        if record.score >= settings.deal_threshold:
            try:
                outcome.deal = deal_create(record, profile=profile)
            except RecordInvalid as exc:
                outcome.errors.append(f"deal: {exc}")
    return outcome


# --- owner ---------------------------------------------------------------------------------------


def owner_assign(record: Record) -> str:
    """The first matching owner rule's next team member becomes the record's owner ("" if none)."""
    facts = _territory(record)
    for rule in OwnerRule.objects.filter(subaccount_id=record.subaccount_id, is_active=True).order_by(
        "position", "id"
    ):
        if not rule_matches(rule, facts):
            continue
        owner = _next_in_team(rule.pk)
        if not owner:
            continue
        record_update(record=record, fields={"owner_id": owner}, origin=ORIGIN)
        record.owner_id = owner
        return owner
    return ""


def rule_matches(rule: OwnerRule, facts: Mapping[str, str]) -> bool:
    """Empty criteria match anything; lists compare case-insensitively, postcodes by prefix."""

    def within(values: Iterable[str], value: str) -> bool:
        wanted = [v.strip().lower() for v in values or () if str(v).strip()]
        return not wanted or value.lower() in wanted

    postcode = facts.get("postcode", "").replace(" ", "").upper()
    prefixes = [p.replace(" ", "").upper() for p in rule.postcode_prefixes or () if str(p).strip()]
    return (
        within(rule.countries, facts.get("country", ""))
        and within(rule.regions, facts.get("region", ""))
        and within(rule.industries, facts.get("industry", ""))
        and (not prefixes or any(postcode.startswith(p) for p in prefixes))
    )


def _territory(record: Record) -> dict[str, str]:
    view = enriched_view(record.enriched, order=("builtin",))
    facts = {key: str(view.get(key) or "") for key in ("country", "region", "postcode", "industry")}
    if not facts["industry"]:
        company = record if isinstance(record, Company) else record.company
        if company is not None:
            facts["industry"] = company.industry or str(enriched_view(company.enriched).get("industry") or "")
    return facts


def _next_in_team(rule_id: int) -> str:
    """Round-robin: whose turn it is, moving the turn on under a row lock (one winner per turn)."""
    with transaction.atomic():
        rule = OwnerRule.objects.select_for_update().get(pk=rule_id)
        team = [str(member).strip() for member in rule.team or () if str(member).strip()]
        if not team:
            return ""
        owner = team[rule.next_index % len(team)]
        rule.next_index = (rule.next_index + 1) % len(team)
        rule.save(update_fields=["next_index"])
    return owner


# --- tasks ---------------------------------------------------------------------------------------


def tasks_create(record: Record, *, entity: str) -> list[int]:
    """A task for each suggested next action whose rule opens one, once per record and rule."""
    rule_ids = {int(a["rule"]) for a in record.next_actions or () if str(a.get("rule", "")).isdigit()}
    if not rule_ids:
        return []
    opening = set(
        NextActionRule.objects.filter(
            subaccount_id=record.subaccount_id, pk__in=rule_ids, create_task=True
        ).values_list("pk", flat=True)
    )
    created = []
    for action in record.next_actions or ():
        rule_id = int(action["rule"]) if str(action.get("rule", "")).isdigit() else None
        if rule_id not in opening:
            continue
        due = _when(action.get("due_at"))
        fields = {
            "kind": Activity.Kind.TASK,
            "subject": str(action.get("action", ""))[:500],
            "body": _task_body(record),
            "due_at": due,
            "occurred_at": due,
        }
        if entity == "contact":
            fields["contact_id"] = record.pk
            if record.company_id:
                fields["company_id"] = record.company_id
        else:
            fields["company_id"] = record.pk
        pk = _once(record, entity, f"task:{rule_id}", "activity", fields)
        if pk is not None:
            created.append(pk)
    return created


def _task_body(record: Record) -> str:
    reasons = "; ".join(record.score_reasons or ())
    return f"Score {record.score}/100. {reasons}".strip() if record.score is not None else ""


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    return parse_datetime(str(value)) if value else None


# --- deals ---------------------------------------------------------------------------------------


def deal_create(contact: Contact, *, profile: ScoringProfile) -> int | None:
    """The contact's deal, created once when its score first reaches the threshold."""
    fields: dict[str, Any] = {
        "name": deal_name(contact, profile.deal_name_template)[:255],
        "stage": profile.deal_stage,
        "pipeline": profile.deal_pipeline,
        "contact_ids": [contact.pk],
    }
    if contact.company_id:
        fields["company_id"] = contact.company_id
    if contact.owner_id:
        fields["owner_id"] = contact.owner_id
    return _once(contact, "contact", DEAL_ACTION, "deal", {k: v for k, v in fields.items() if v != ""})


def deal_name(contact: Contact, template: str) -> str:
    """``template`` with {name}, {company}, {email}, {score}; unknown placeholders stay as written."""
    name = f"{contact.first_name} {contact.last_name}".strip() or contact.email or f"Contact {contact.pk}"
    company = (contact.company.name if contact.company_id and contact.company else "") or contact.company_name
    values = {"name": name, "company": company or name, "email": contact.email, "score": contact.score or ""}
    formatter = string.Formatter()
    out = []
    for literal, field_name, _, _ in formatter.parse(template or "{name}"):
        out.append(literal)
        if field_name is not None:
            out.append(str(values.get(field_name, "{" + field_name + "}")))
    text = "".join(out).strip(" —-")
    return text or name


# --- once ----------------------------------------------------------------------------------------


def _once(
    record: Record, entity: str, action: str, created_entity: str, fields: dict[str, Any]
) -> int | None:
    """Create the record for ``action`` unless it was done before: the mark and the record commit
    together, and a concurrent second attempt fails on the mark's unique constraint."""
    if AutomationMark.objects.filter(entity=entity, record_id=record.pk, action=action).exists():
        return None
    subaccount = SubAccount.objects.get(pk=record.subaccount_id)
    try:
        with transaction.atomic():
            mark = AutomationMark.objects.create(
                subaccount_id=record.subaccount_id, entity=entity, record_id=record.pk, action=action
            )
            created = record_create(
                subaccount=subaccount, entity=created_entity, fields=fields, origin=ORIGIN
            )
            mark.created_entity, mark.created_id = created_entity, created.pk
            mark.save(update_fields=["created_entity", "created_id"])
    except IntegrityError:
        return None  # done by someone else meanwhile
    logger.info(
        "automation created a record",
        extra={
            "entity": created_entity,
            "record_id": created.pk,
            "action": action,
            "for": f"{entity}:{record.pk}",
        },
    )
    return created.pk
