"""Next actions and the suggested deal stage, from the sub-account's rule table.

``next_actions`` is pure: every active rule whose score range holds the score (and whose signal,
when it names one, the record carries) adds its action, due ``due_in_hours`` after ``now``; the
first matching rule with a stage gives the suggested stage. Rules are read in the order given
(the table's ``position`` order).

``profile_for`` is where a sub-account's scoring profile comes from: created on first use with
the default rule table (``DEFAULT_NEXT_ACTION_RULES``), which the admin then edits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from django.db import IntegrityError, transaction

from integrations.models import SubAccount
from sync.models import NextActionRule, ScoringProfile

__all__ = ["DEFAULT_NEXT_ACTION_RULES", "next_actions", "profile_for"]

# The table a new profile starts with, in position order.
DEFAULT_NEXT_ACTION_RULES: tuple[dict[str, Any], ...] = (
    {
        "min_score": 80,
        "max_score": 100,
        "action": "Schedule call within 48 h",
        "due_in_hours": 48,
        "stage": "qualified",
    },
    {
        "min_score": 60,
        "max_score": 79,
        "action": "Send tailored follow-up e-mail",
        "due_in_hours": 72,
        "stage": "contacted",
    },
    {
        "min_score": 0,
        "max_score": 59,
        "action": "Add to nurture sequence",
        "due_in_hours": 168,
        "stage": "lead",
        "create_task": False,
    },
    {"signal": "recent_reply", "action": "Answer their latest reply", "due_in_hours": 24},
    {"signal": "meeting_booked", "action": "Prepare for the booked meeting", "due_in_hours": 24},
    {"signal": "hiring", "action": "Reference their hiring in outreach", "due_in_hours": 72},
    {"signal": "funding", "action": "Congratulate them on their funding round", "due_in_hours": 72},
)


class RuleLike(Protocol):
    pk: int | None
    min_score: int
    max_score: int
    signal: str
    action: str
    due_in_hours: int
    stage: str
    is_active: bool


def next_actions(
    score: int, signals: Iterable[str], rules: Sequence[RuleLike], *, now: datetime
) -> tuple[list[dict[str, Any]], str]:
    """The actions ``[{"action", "due_at" (ISO, UTC, seconds), "rule" (id)}]`` and the stage."""
    present = set(signals)
    actions: list[dict[str, Any]] = []
    stage = ""
    base = now.astimezone(UTC).replace(microsecond=0)
    for rule in rules:
        if not rule.is_active or not rule.min_score <= score <= rule.max_score:
            continue
        if rule.signal and rule.signal not in present:
            continue
        due = base + timedelta(hours=rule.due_in_hours)
        actions.append({"action": rule.action, "due_at": due.isoformat(), "rule": rule.pk})
        if not stage and rule.stage:
            stage = rule.stage
    return actions, stage


def profile_for(subaccount: SubAccount) -> ScoringProfile:
    """The sub-account's scoring profile; created with the default rule table on first use.

    Two workers creating it at once: the loser's get_or_create finds the winner's row (or its
    INSERT fails on the one-to-one and we read the winner's), and only the creator adds rules.
    """
    profile = ScoringProfile.objects.filter(subaccount=subaccount).first()
    if profile is not None:
        return profile
    try:
        with transaction.atomic():
            profile, created = ScoringProfile.objects.get_or_create(subaccount=subaccount)
            if created:
                NextActionRule.objects.bulk_create(
                    [
                        NextActionRule(subaccount=subaccount, position=position, **values)
                        for position, values in enumerate(DEFAULT_NEXT_ACTION_RULES)
                    ]
                )
    except IntegrityError:
        profile = ScoringProfile.objects.get(subaccount=subaccount)
    return profile
