"""Scores written back to contacts and companies, and the nightly re-score for decay.

``records_score`` is what the pipeline calls once providers have stored their findings in
``record.enriched``: it scores a batch, works out the next actions and stage, and writes only the
records whose enrichment values changed, through the services' bulk machinery (version bumped, one
``Change`` per record, origin "enrichment"), with a ``ScoreHistory`` row when the score or its
breakdown moved. Scoring unchanged input writes nothing at all.

``decay_rescore`` is the nightly job: engagement decays with time alone, so records with recent
activity, or with engagement left from an earlier scoring, are re-scored (cause "decay").
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import DateTimeField, Exists, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from integrations.models import SubAccount
from sync.bulk import insert_values
from sync.enrichment.actions import next_actions, profile_for
from sync.enrichment.facts import facts_for, window_start
from sync.enrichment.scoring import Score, Scorer
from sync.enrichment.store import changed_rows_write
from sync.entities import ENTITIES
from sync.models import Activity, CanonicalRecord, NextActionRule, ScoreHistory, ScoringProfile
from sync.services import change_log_lock

__all__ = ["BATCH", "ORIGIN", "SCORED_FIELDS", "ScoreOutcome", "decay_rescore", "records_score"]

ORIGIN = "enrichment"
BATCH = 2000  # records per transaction
SCORED_ENTITIES = ("contact", "company")
# The values a scoring writes, in Change.fields order; scored_at follows any of them.
SCORED_FIELDS = (
    "score",
    "score_breakdown",
    "score_reasons",
    "scorer_version",
    "signals",
    "next_actions",
    "suggested_stage",
)


@dataclass
class ScoreOutcome:
    """How many records were scored and how many changed; ``previous`` holds each changed
    record's score before (None when it had none), for what reacts to a score crossing a line."""

    scored: int = 0
    changed: int = 0
    previous: dict[int, int | None] = field(default_factory=dict)


def records_score(
    subaccount: SubAccount,
    entity: str,
    ids: Sequence[int],
    *,
    cause: str,
    now: datetime | None = None,
) -> ScoreOutcome:
    """Score the live ``entity`` records of ``subaccount`` among ``ids`` and write what changed.

    Each batch of ``BATCH`` records is one transaction that takes the sub-account's change-log lock
    before reading the records, so the versions it bumps are the ones it read. Ids of other
    sub-accounts, deleted or missing records are skipped.
    """
    if entity not in SCORED_ENTITIES:
        raise ValueError(f"{entity!r} is not scored: one of {SCORED_ENTITIES}")
    now = now or timezone.now()
    profile = profile_for(subaccount)
    rules = list(NextActionRule.objects.filter(subaccount=subaccount, is_active=True))
    scorer = Scorer(profile, now=now)
    outcome = ScoreOutcome()
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), BATCH):
        _score_batch(
            subaccount, entity, unique[start : start + BATCH], profile, scorer, rules, cause, now, outcome
        )
    return outcome


def _score_batch(
    subaccount: SubAccount,
    entity: str,
    ids: list[int],
    profile: ScoringProfile,
    scorer: Scorer,
    rules: list[NextActionRule],
    cause: str,
    now: datetime,
    outcome: ScoreOutcome,
) -> None:
    definition = ENTITIES[entity]
    with transaction.atomic():
        change_log_lock(subaccount_id=subaccount.pk)
        records = list(definition.model.objects.filter(subaccount=subaccount, is_deleted=False, pk__in=ids))
        facts = facts_for(entity, records, profile, now=now)
        changed: list[tuple[CanonicalRecord, list[str]]] = []
        history: list[tuple] = []
        for record in records:
            result = scorer.score(facts[record.pk])
            previous_score = record.score
            names = _apply(record, result, rules, now)
            if not names:
                continue
            changed.append((record, names))
            outcome.previous[record.pk] = previous_score
            if "score" in names or "score_breakdown" in names:
                history.append(_history(subaccount, entity, record, cause, now))
        outcome.scored += len(records)
        if not changed:
            return
        for record, _ in changed:
            record.scored_at = now
        changed_rows_write(changed, origin=ORIGIN, also=("scored_at",))
        insert_values(ScoreHistory, HISTORY_COLUMNS, history)
        outcome.changed += len(changed)


def _apply(record: CanonicalRecord, result: Score, rules: list[NextActionRule], now: datetime) -> list[str]:
    """Set the scored values that differ on ``record``; their names (empty: nothing changed)."""
    actions, stage = next_actions(result.total, result.signals, rules, now=now)
    values: dict[str, Any] = {
        "score": result.total,
        "score_breakdown": result.breakdown,
        "score_reasons": result.reasons,
        "scorer_version": result.version,
        "signals": result.signals,
        "next_actions": _keep_due_dates(actions, record.next_actions),
        "suggested_stage": stage,
    }
    names = []
    for name in SCORED_FIELDS:
        if getattr(record, name) != values[name]:
            setattr(record, name, values[name])
            names.append(name)
    return names


def _keep_due_dates(actions: list[dict[str, Any]], previous: Any) -> list[dict[str, Any]]:
    """An action still suggested by the same rule keeps the due date it was first given: time
    passing alone must not make a record look changed (nor move a deadline away)."""
    if not previous or not isinstance(previous, list):
        return actions
    due = {
        (item.get("rule"), item.get("action")): item.get("due_at")
        for item in previous
        if isinstance(item, dict) and item.get("due_at")
    }
    return [
        {**action, "due_at": due.get((action["rule"], action["action"]), action["due_at"])}
        for action in actions
    ]


HISTORY_COLUMNS = (
    "subaccount_id",
    "entity",
    "record_id",
    "score",
    "breakdown",
    "reasons",
    "scorer_version",
    "cause",
    "created_at",
)


def _history(
    subaccount: SubAccount, entity: str, record: CanonicalRecord, cause: str, now: datetime
) -> tuple:
    """One ScoreHistory row as COPY values (HISTORY_COLUMNS): a model instance per row costs more
    than the scoring itself."""
    cause = cause[: ScoreHistory._meta.get_field("cause").max_length]
    return (
        subaccount.pk,
        entity,
        record.pk,
        record.score,
        record.score_breakdown,
        record.score_reasons,
        record.scorer_version,
        cause,
        now,
    )


# --- decay ------------------------------------------------------------------------------------


def decay_rescore(*, now: datetime | None = None, batch: int = BATCH) -> int:
    """Re-score every scored record whose engagement time alone may have moved; returns how many
    changed. Those are the records with an activity since the window's start (minus a day, so
    activities that just left the window count too) and those scored over a day ago with
    engagement left. Sub-accounts are read one at a time, records in batches of ``batch``."""
    now = now or timezone.now()
    changed = 0
    for profile in ScoringProfile.objects.select_related("subaccount").order_by("pk"):
        for entity in SCORED_ENTITIES:
            for ids in _decay_candidates(profile, entity, now, batch):
                changed += records_score(profile.subaccount, entity, ids, cause="decay", now=now).changed
    return changed


def _decay_candidates(profile: ScoringProfile, entity: str, now: datetime, batch: int) -> Iterator[list[int]]:
    """Ids of the records to re-score, in ascending batches (keyset: nothing held open)."""
    model = ENTITIES[entity].model
    since = window_start(profile, now) - timedelta(days=1)
    recent = (
        Activity.objects.filter(**{f"{entity}_id": OuterRef("pk")}, is_deleted=False)
        .annotate(at=Coalesce("occurred_at", "created_at", output_field=DateTimeField()))
        .filter(at__gte=since)
    )
    candidates = (
        model.objects.filter(subaccount_id=profile.subaccount_id, is_deleted=False, score__isnull=False)
        .filter(
            Q(Exists(recent)) | Q(scored_at__lt=now - timedelta(days=1), score_breakdown__engagement__gt=0)
        )
        .order_by("pk")
    )
    after = 0
    while True:
        ids = list(candidates.filter(pk__gt=after).values_list("pk", flat=True)[:batch])
        if not ids:
            return
        yield ids
        after = ids[-1]
