"""Enrichment figures for `make bench`, written to the "## Enrichment" section of RESULTS.md.

Scoring: N contacts (default 100,000; 70 % linked to one of 2,000 enriched companies, 30 % with
recent activities) scored with the default scorer through ``records_score`` in batches of 2,000,
against a bare loop measured in the same run that reads the same rows in the same batches and
writes a constant score with the same write machinery (change-log lock, ``records_write``: one
UPDATE and one Change per record). Goal: ratio ≥ 0.3. A second scoring of the unchanged records
is reported too (it must write nothing).

    scripts/with-test-servers.sh python -m benchmarks.enrichment_bench [--records 100000] [--quick]

``scoring_section(records)`` returns the figures and the section's table rows, for a caller that
adds rows of its own (``markdown`` renders the section).
"""

from __future__ import annotations

import json
import random
import time
from datetime import timedelta

from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from benchmarks.enrichment_flow_bench import (  # imports benchmarks.run first: Django set up
    API_CALLS,
    FLOW_CONTACTS,
    PROVIDER_RECORDS,
    api_figures,
    flow_figures,
    provider_figures,
)
from benchmarks.enrichment_flow_bench import rows as flow_rows
from benchmarks.run import emulator_server, provider_main  # first: sets Django up
from integrations.models import SubAccount
from sync.bulk import insert_rows
from sync.enrichment.actions import profile_for
from sync.enrichment.persist import BATCH, records_score
from sync.entities import ENTITIES
from sync.models import Activity, Change, Company, Contact, ScoreHistory
from sync.services import change_log_lock, records_write

TITLE = "Enrichment"
SCORING_SLUG = "bench-scoring"
COMPANIES = 2000
INDUSTRIES = ("SaaS", "Fintech", "Retail", "Healthcare", "Manufacturing", "Media", "Logistics", "Education")
COUNTRIES = ("US", "GB", "DE", "FR", "NL", "ES", "CA", "AU")
TITLES = ("VP Sales", "Head of Marketing", "CTO", "Engineer", "Director of Operations", "Analyst", "")
STAGES = ("seed", "series_a", "series_b", "series_c", "public", "")
KINDS = (("meeting", ""), ("call", "outbound"), ("email", "inbound"), ("email", "outbound"), ("note", ""))

TABLE_HEAD = "| # | what | result | baseline (same run) | ratio / share | goal |\n|---|---|---|---|---|---|"


def bench_subaccount() -> SubAccount:
    """A fresh tenant with a realistic ideal customer profile."""
    sub, _ = SubAccount.objects.get_or_create(slug=SCORING_SLUG, defaults={"name": SCORING_SLUG})
    for model in (Activity, Contact, Company, Change):
        model.objects.filter(subaccount=sub).delete()
    ScoreHistory.objects.filter(subaccount=sub).delete()
    profile = profile_for(sub)
    profile.icp_industries = ["SaaS", "Fintech"]
    profile.icp_sizes = ["51-200", "201-1000"]
    profile.icp_countries = ["US", "GB", "DE"]
    profile.icp_titles = ["VP", "Head", "CTO", "Director"]
    profile.save()
    return sub


def seed(sub: SubAccount, records: int) -> list[int]:
    """Companies, contacts and activities by COPY; returns the contact ids."""
    rng = random.Random(2)  # noqa: S311 (test data)
    now = timezone.now()
    companies = [
        Company(
            subaccount=sub,
            name=f"Company {i}",
            domain=f"company{i}.example",
            industry=INDUSTRIES[i % len(INDUSTRIES)],
            enriched={
                "builtin": {"country": COUNTRIES[i % len(COUNTRIES)], "employees": rng.randint(5, 8000)},
                "enrichment_http": {
                    "annual_revenue": rng.choice((None, 500_000, 4e6, 25e6, 300e6)),
                    "growth_rate": rng.choice((None, -5, 3, 12, 30, 80)),
                    "open_roles": rng.choice((None, 0, 3, 8, 40)),
                    "funding_stage": rng.choice(STAGES),
                    "signals": rng.choice(([], ["hiring"], ["funding"], ["hiring", "funding"])),
                    "provider_score": rng.choice((None, 35, 60, 85)),
                },
            },
        )
        for i in range(COMPANIES)
    ]
    insert_rows(Company, companies)
    ids: list[int] = []
    for start in range(0, records, 10_000):
        contacts = [
            Contact(
                subaccount=sub,
                first_name=f"First{i}",
                last_name=f"Last{i}",
                email=f"bench{i}@company{i % COMPANIES}.example",
                job_title=TITLES[i % len(TITLES)],
                company_id=companies[i % COMPANIES].pk if i % 10 < 7 else None,
                enriched={"builtin": {"domain": f"company{i % COMPANIES}.example"}},
            )
            for i in range(start, min(records, start + 10_000))
        ]
        insert_rows(Contact, contacts)
        activities = [
            Activity(
                subaccount=sub,
                contact_id=c.pk,
                kind=kind,
                direction=direction,
                occurred_at=now - timedelta(days=rng.randint(0, 120), hours=rng.randint(0, 23)),
            )
            for c in contacts
            if rng.random() < 0.3
            for kind, direction in rng.sample(KINDS, rng.randint(1, 4))
        ]
        insert_rows(Activity, activities)
        ids.extend(c.pk for c in contacts)
    return ids


def constant_score(sub: SubAccount, ids: list[int]) -> float:
    """The bare loop: read each batch of rows, write score 50 through the same machinery."""
    definition = ENTITIES["contact"]
    started = time.perf_counter()
    for start in range(0, len(ids), BATCH):
        with transaction.atomic():
            change_log_lock(subaccount_id=sub.pk)
            records = list(
                Contact.objects.filter(subaccount=sub, is_deleted=False, pk__in=ids[start : start + BATCH])
            )
            now = timezone.now()
            for record in records:
                record.score = 50
                record.version += 1
                record.updated_at = now
            records_write(
                definition,
                created=[],
                updated=records,
                columns=["score"],
                changes=[(record, Change.Op.UPDATE, ["score"]) for record in records],
                origin="bench",
            )
    return time.perf_counter() - started


def score_all(sub: SubAccount, ids: list[int]) -> tuple[float, int]:
    """``records_score`` over the same batches: seconds, records changed."""
    changed = 0
    started = time.perf_counter()
    for start in range(0, len(ids), BATCH):
        changed += records_score(sub, "contact", ids[start : start + BATCH], cause="bench").changed
    return time.perf_counter() - started, changed


def scoring_section(records: int) -> tuple[dict, list[str]]:
    """Scoring figures and their table rows (numbered from 1)."""
    sub = bench_subaccount()
    print(f"seeding {records} contacts", flush=True)
    ids = seed(sub, records)
    baseline = constant_score(sub, ids)
    elapsed, changed = score_all(sub, ids)
    again, unchanged_writes = score_all(sub, ids)
    assert changed == records, (changed, records)
    assert unchanged_writes == 0, unchanged_writes
    figures = {
        "records": records,
        "seconds": elapsed,
        "records_per_s": records / elapsed,
        "baseline_seconds": baseline,
        "baseline_records_per_s": records / baseline,
        "ratio": baseline / elapsed,
        "activities": Activity.objects.filter(subaccount=sub).count(),
        "rescore_unchanged_seconds": again,
        "rescore_unchanged_records_per_s": records / again,
        "rescore_unchanged_writes": unchanged_writes,
    }
    print("scoring", json.dumps(figures), flush=True)
    f = figures
    rows = [
        f"| 1 | scoring {records:,} contacts with the default scorer ({f['activities']:,} activities, "
        f"{COMPANIES:,} companies) | {f['records_per_s']:,.0f} records/s ({f['seconds']:.1f} s) | "
        f"read the rows, write a constant score the same way: {f['baseline_records_per_s']:,.0f} records/s "
        f"({f['baseline_seconds']:.1f} s) | {f['ratio']:.2f} | ratio ≥ 0.3 |",
        f"| 2 | re-scoring the same {records:,} contacts, nothing changed | "
        f"{f['rescore_unchanged_records_per_s']:,.0f} records/s, {f['rescore_unchanged_writes']} writes | "
        f"the first scoring: {f['records_per_s']:,.0f} records/s | "
        f"× {f['rescore_unchanged_records_per_s'] / f['records_per_s']:.2f} | no write |",
    ]
    return figures, rows


def bench(records: int) -> dict:
    call_command("migrate", verbosity=0)
    call_command("load_catalog", verbosity=0)
    figures, rows = scoring_section(records)
    quick = records < 100_000
    with emulator_server() as base:
        provider = provider_figures(base, records=500 if quick else PROVIDER_RECORDS)
        flow = flow_figures(base, contacts=20 if quick else FLOW_CONTACTS)
        api = api_figures(base, SubAccount.objects.get(slug=SCORING_SLUG), calls=50 if quick else API_CALLS)
    rows += flow_rows(provider, flow, api, first=len(rows) + 1)
    return {"scoring": figures, "provider": provider, "flow": flow, "api": api, "rows": rows}


def markdown(results: dict) -> str:
    rows = "\n".join(results.pop("rows"))
    return f"""## {TITLE}

Scoring through `sync.enrichment.persist.records_score` in batches of {BATCH:,}, PostgreSQL on
loopback; the baseline is measured in the same run.

{TABLE_HEAD}
{rows}
"""


if __name__ == "__main__":
    provider_main(TITLE, bench, markdown, records=100_000, quick_records=5_000)
