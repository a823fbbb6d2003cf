"""What a worker does with a batch of claimed enrichment jobs, per sub-account and entity:

1. **enrich** (``auto_enrich``, unless the job skips it): every provider of the sub-account in
   order (``providers.providers_for``); each writes its own part of ``enriched`` and may correct
   canonical fields (name casing, phone, company link), which are written like any other change;
2. **score** (``auto_score``): ``persist.records_score`` (score, sub-scores, reasons, signals,
   next actions, suggested stage, history);
3. **act**: ``sync.automation.automate`` (owner, tasks, deal) by the toggles;
4. **push**: when anything changed, the sub-account's pushing integrations are asked for a delta
   run (``sync.push_feed.push_soon``), so the CRMs have it within seconds.

A provider that cannot answer (5xx, 429, timeout) leaves its records unscored with the reason in
``enrichment_error`` and the job is retried with back-off; on its last attempt the record is scored
with what the other providers found. A record's own provider error is recorded and does not stop
its scoring. Nothing here blocks a sync: jobs run on their own queue.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from connectors.errors import ConnectorError
from integrations.automation import AutomationSettings, automation_settings_for
from integrations.models import Integration, SubAccount
from sync.automation import automate
from sync.enrichment.actions import profile_for
from sync.enrichment.jobs import MAX_ATTEMPTS, job_fail, job_succeed, jobs_claim
from sync.enrichment.persist import records_score
from sync.enrichment.providers import providers_for
from sync.enrichment.store import enrichment_write
from sync.enrichment.types import Finding, Record, enriched_view
from sync.entities import ENTITIES
from sync.models import EnrichmentJob
from sync.push_feed import push_soon
from sync.services import RecordInvalid, record_update

logger = logging.getLogger(__name__)

ORIGIN = "enrichment"
BATCH = 50


@dataclass
class RunResult:
    claimed: int = 0
    succeeded: int = 0
    retried: int = 0
    failed: int = 0


def jobs_run(*, limit: int = BATCH, owner: str | None = None) -> RunResult:
    """Claim up to ``limit`` jobs (highest priority first) and run them; returns the tallies."""
    jobs = jobs_claim(limit=limit, owner=owner)
    result = RunResult(claimed=len(jobs))
    groups: dict[tuple[int, str], list[EnrichmentJob]] = defaultdict(list)
    for job in jobs:
        groups[(job.subaccount_id, job.entity)].append(job)
    for (subaccount_id, entity), group in groups.items():
        try:
            _run_group(subaccount_id, entity, group, result)
        except Exception as exc:  # one sub-account's failure must not stop the others' jobs
            logger.exception("enrichment jobs failed", extra={"subaccount_id": subaccount_id})
            for job in group:
                if job_fail(job, error=f"internal error: {type(exc).__name__}", retry=True):
                    result.retried += 1
                else:
                    result.failed += 1
    return result


def _run_group(subaccount_id: int, entity: str, jobs: list[EnrichmentJob], result: RunResult) -> None:
    started = time.monotonic()
    subaccount = SubAccount.objects.get(pk=subaccount_id)
    definition = ENTITIES[entity]
    rows = definition.model.objects.filter(subaccount_id=subaccount_id, is_deleted=False)
    if entity == "contact":
        rows = rows.select_related("company")
    records = rows.in_bulk([job.record_id for job in jobs])
    integrations = Integration.objects.in_bulk([job.integration_id for job in jobs if job.integration_id])
    settings = {
        job.pk: automation_settings_for(subaccount, integrations.get(job.integration_id)) for job in jobs
    }
    logs: dict[int, dict[str, Any]] = defaultdict(dict)

    live = [job for job in jobs if job.record_id in records]
    for job in jobs:
        if job.record_id not in records:
            job_succeed(
                job, enrichments={"skipped": "the record was deleted"}, duration_ms=0, enrichment_ms=0
            )
            result.succeeded += 1

    # 1. enrich
    enrich_started = time.monotonic()
    wanted = [job for job in live if settings[job.pk].auto_enrich and not job.skip_enrichment]
    unavailable = _enrich(subaccount, entity, [records[job.record_id] for job in wanted], logs_for=logs)
    enrichment_ms = int((time.monotonic() - enrich_started) * 1000)
    retrying = {
        job.pk: unavailable[job.record_id]
        for job in wanted
        if job.record_id in unavailable and job.attempts < MAX_ATTEMPTS
    }

    # 2. score (fresh rows: enrichment may have changed them)
    ready = [job for job in live if job.pk not in retrying]
    scoring = [job.record_id for job in ready if settings[job.pk].auto_score]
    rescored = records_score(subaccount, entity, scoring, cause="change").changed if scoring else 0
    fresh = rows.in_bulk([job.record_id for job in ready])

    # 3. act
    profile = profile_for(subaccount)
    # Only what was written is pushed: re-enriching unchanged input asks the CRMs for nothing.
    changed_anything = bool(rescored) or any(logs[rid].get("changed") for rid in logs)
    for job in ready:
        record = fresh.get(job.record_id)
        if record is None:
            continue
        outcome = automate(record, settings=settings[job.pk], profile=profile, entity=entity)
        logs[job.record_id].update(outcome.as_dict())
        changed_anything = changed_anything or bool(outcome.as_dict())

    # 4. push, once the writes above have committed
    if changed_anything:
        push_soon(subaccount_id, requested_by="enrichment")

    duration_ms = int((time.monotonic() - started) * 1000)
    for job in ready:
        record = fresh.get(job.record_id)
        summary = _summary(record, settings[job.pk], logs.get(job.record_id, {})) if record else {}
        job_succeed(job, enrichments=summary, duration_ms=duration_ms, enrichment_ms=enrichment_ms)
        result.succeeded += 1
    for job in live:
        if job.pk in retrying:
            job_fail(job, error=retrying[job.pk], retry=True, duration_ms=duration_ms)
            result.retried += 1


def _enrich(
    subaccount: SubAccount, entity: str, records: list[Record], *, logs_for: dict[int, dict[str, Any]]
) -> dict[int, str]:
    """Run the providers over ``records`` and store what they found; returns the records some
    provider could not answer for (id → reason), which wait for a retry."""
    if not records:
        return {}
    unavailable: dict[int, str] = {}
    stored = {record.pk: dict(record.enriched or {}) for record in records}
    parts: dict[int, dict[str, Any]] = {pk: dict(value) for pk, value in stored.items()}
    errors: dict[int, list[str]] = defaultdict(list)
    canonical: dict[int, dict[str, Any]] = defaultdict(dict)
    for provider in providers_for(subaccount):
        try:
            findings = provider.enrich(entity, records)
        except ConnectorError as exc:
            reason = f"{provider.name} unavailable: {exc}"[:400]
            for record in records:
                unavailable[record.pk] = reason
            continue
        for record in records:
            finding = findings.get(record.pk)
            if finding is None:
                continue
            if finding.error:
                errors[record.pk].append(f"{provider.name}: {finding.error}")
                continue
            parts[record.pk][provider.name] = _part(finding)
            canonical[record.pk].update(finding.canonical)
            logs_for[record.pk].setdefault("providers", []).append(provider.name)
            # The next provider sees what this one found (the built-in domain, industry, ...).
            record.enriched = parts[record.pk]
    for record in records:
        if canonical.get(record.pk):
            _correct(record, canonical[record.pk], logs_for[record.pk])
    now = timezone.now()
    updates = []
    for record in records:
        values: dict[str, Any] = {
            "enriched": parts[record.pk],
            "enrichment_error": "; ".join(
                [*errors.get(record.pk, ()), *([unavailable[record.pk]] if record.pk in unavailable else [])]
            )[:500],
        }
        if parts[record.pk] != stored[record.pk]:
            values["enriched_at"] = now
        updates.append((record, values))
    for record in enrichment_write(updates, origin=ORIGIN):
        logs_for[record.pk]["changed"] = True
    return unavailable


def _part(finding: Finding) -> dict[str, Any]:
    part = {key: value for key, value in finding.enriched.items() if value not in (None, "", [], {})}
    if finding.score is not None:
        part["provider_score"] = int(finding.score)
    if finding.signals:
        part["signals"] = list(finding.signals)
    return part


def _correct(record: Record, fields: dict[str, Any], log: dict[str, Any]) -> None:
    """Write a provider's canonical corrections (origin enrichment): the CRMs get them as changes."""
    try:
        outcome = record_update(record=record, fields=fields, origin=ORIGIN)
    except RecordInvalid as exc:
        log.setdefault("errors", []).append(f"correction refused: {exc}")
        return
    if outcome.status != "unchanged":
        log["changed"] = True
        log["corrected"] = sorted(fields)
        for name, value in fields.items():
            setattr(record, name, getattr(outcome.record, name, value))
        record.version = outcome.record.version


def _summary(record: Record, settings: AutomationSettings, log: dict[str, Any]) -> dict[str, Any]:
    """The job's log entry, in the seed's terms."""
    view = enriched_view(record.enriched, order=("builtin",))
    out: dict[str, Any] = {}
    if view.get("summary"):
        out["summary"] = view["summary"]
    if settings.auto_score and record.score is not None:
        out.update(
            leadScore=record.score,
            subScores=record.score_breakdown,
            buyingSignals=record.signals,
            nextActions=[a.get("action") for a in record.next_actions or ()],
            dealStage=record.suggested_stage,
        )
    out.update({k: v for k, v in log.items() if k != "changed"})
    if record.enrichment_error:
        out["enrichmentError"] = record.enrichment_error
    return out
