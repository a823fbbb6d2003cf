"""Enrichment over real HTTP with real workers, for the "## Enrichment" section (enrichment_bench.py):

- the enrichment_http emulator answering ``HttpProvider`` in batches of 50 (records/s, requests);
- seed 002's path: a contact created through the API → enriched, scored, a task and a deal created
  and pushed to the HubSpot emulator, by two Celery workers (one on the enrichment queue, one on
  the sync queue), 100 contacts posted two a second; p50/p90 from the POST to the moment all
  three are in HubSpot with the score, the enrichment time per record, and the success rate;
- API p95 of the priority queue and the contacts list with the scoring section's 100,000 scored
  contacts.

The app (API and emulators) runs under gunicorn (``benchmarks.run.emulator_server``).
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

import benchmarks.run  # noqa: F401 (first: sets Django up)
from connectors.registry import emulator_module
from connectors.sandbox.models import SandboxRecord
from integrations.models import ApiKey, Integration, SubAccount
from integrations.sandbox import sandbox_integration_connect
from sync.enrichment.actions import profile_for
from sync.enrichment.providers import HttpProvider
from sync.models import (
    Activity,
    AutomationMark,
    Change,
    Company,
    Contact,
    Deal,
    EnrichmentJob,
    EntityLink,
    FieldMapping,
    NextActionRule,
)

ROOT = Path(__file__).resolve().parents[1]
PROVIDER_RECORDS = 2_000
FLOW_CONTACTS = 100
FLOW_INTERVAL = 0.5  # seconds between two POSTs
FLOW_TIMEOUT = 120.0
API_CALLS = 200


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def _integration(sub: SubAccount, key: str, base: str, **config) -> Integration:
    return sandbox_integration_connect(
        sub, key, f"{base}/sandbox", actor="bench", name=f"bench {key}", settings=config
    )


def _fresh(slug: str) -> SubAccount:
    sub, _ = SubAccount.objects.get_or_create(slug=slug, defaults={"name": slug})
    for model in (Activity, Deal, Contact, Company, Change, EnrichmentJob):
        model.objects.filter(subaccount=sub).delete()
    Integration.objects.filter(subaccount=sub).delete()
    return sub


# --- the enrichment_http emulator --------------------------------------------------------------


def provider_figures(base: str, records: int = PROVIDER_RECORDS) -> dict:
    sub = _fresh("bench-enrich-http")
    emulator_module("enrichment_http").emulator.reset()
    integration = _integration(sub, "enrichment_http", base)
    contacts = Contact.objects.bulk_create(
        Contact(subaccount=sub, email=f"person{i}@company{i % 400}.example", first_name=f"P{i}")
        for i in range(records)
    )
    provider = HttpProvider(integration)
    before = _requests_seen(integration)
    started = time.perf_counter()
    findings = provider.enrich("contact", contacts)
    elapsed = time.perf_counter() - started
    requests_made = _requests_seen(integration) - before
    return {
        "records": records,
        "seconds": elapsed,
        "records_per_s": records / elapsed,
        "requests": requests_made,
        "expected_requests": math.ceil(records / provider.batch_size),
        "batch_size": provider.batch_size,
        "answered": sum(1 for f in findings.values() if not f.error),
    }


def _requests_seen(integration: Integration) -> int:
    """Requests the emulator has answered (its control surface's state)."""
    return requests.post(f"{integration.config['base_url']}/_control/state", json={}, timeout=10).json()[
        "requests"
    ]


# --- seed 002's path ---------------------------------------------------------------------------


@contextmanager
def workers():
    """Two Celery workers: enrichment, and sync + default (a delta run never holds up scoring)."""
    env = {**os.environ, "SANDBOX": "on", "DEBUG": "off"}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-n",
                f"{name}@%h",
                "-Q",
                queues,
                "--concurrency",
                "1",
                "--pool",
                "solo",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "WARNING",
            ],
            cwd=ROOT,
            env=env,
        )
        for name, queues in (("bench-enrichment", "enrichment"), ("bench-sync", "sync,default,webhooks"))
    ]
    try:
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(20)


def flow_figures(base: str, contacts: int = FLOW_CONTACTS) -> dict:
    sub = _fresh("bench-flow")
    emulator_module("hubspot").emulator.reset()
    emulator_module("enrichment_http").emulator.reset()
    for name in ("auto_enrich", "auto_score", "auto_assign", "auto_create_tasks", "auto_create_deals"):
        setattr(sub, name, True)
    sub.deal_threshold = 0
    sub.save()
    profile = profile_for(sub)
    profile.icp_industries, profile.icp_countries, profile.deal_stage = (
        ["SaaS"],
        ["US"],
        "appointmentscheduled",
    )
    profile.save()
    NextActionRule.objects.get_or_create(
        subaccount=sub, action="Book an intro call", defaults={"position": 0, "due_in_hours": 24}
    )
    ApiKey.objects.filter(subaccount=sub).delete()
    _, key = ApiKey.objects.create_key(name="bench", subaccount=sub)
    with workers():
        # "Rate limit off" as in the other benches: this measures our latency, not HubSpot's quota.
        hubspot = _integration(sub, "hubspot", base, rate_limit="100000/1", search_rate_limit="100000/1")
        requests.post(f"{base}/sandbox/hubspot/_control/faults", json={"rate_limit": False}, timeout=10)
        _integration(sub, "enrichment_http", base)
        _wait(
            lambda: FieldMapping.objects.filter(integration=hubspot, local_field="enrichment:score").exists(),
            60,
        )
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        posted: dict[int, float] = {}
        arrived: dict[int, float] = {}
        deadline = None
        next_post = time.monotonic()
        i = 0
        while True:
            now = time.monotonic()
            if i < contacts and now >= next_post:
                response = session.post(
                    f"{base}/api/v1/contacts/",
                    json={
                        "email": f"lead{i}@flow{i % 10}-saas.io",
                        "first_name": f"lead{i}",
                        "job_title": "VP Sales",
                    },
                    timeout=10,
                )
                response.raise_for_status()
                posted[response.json()["id"]] = now
                i += 1
                next_post = now + FLOW_INTERVAL
                if i == contacts:
                    deadline = time.monotonic() + FLOW_TIMEOUT
            for pk in _arrived(hubspot, [pk for pk in posted if pk not in arrived]):
                arrived[pk] = time.monotonic()
            if i == contacts and (len(arrived) == contacts or time.monotonic() > deadline):
                break
            time.sleep(0.05)
    latencies = [arrived[pk] - posted[pk] for pk in arrived]
    jobs = EnrichmentJob.objects.filter(subaccount=sub, entity="contact")
    enrich_ms = [j.enrichment_ms for j in jobs if j.enrichment_ms is not None]
    return {
        "contacts": contacts,
        "arrived": len(arrived),
        "p50_s": statistics.median(latencies) if latencies else None,
        "p90_s": percentile(latencies, 0.9) if latencies else None,
        "max_s": max(latencies) if latencies else None,
        "jobs": jobs.count(),
        "jobs_succeeded": jobs.filter(status="succeeded").count(),
        "enrichment_ms_p50": statistics.median(enrich_ms) if enrich_ms else None,
        "enrichment_ms_p90": percentile(enrich_ms, 0.9) if enrich_ms else None,
        "success_rate": len(arrived) / contacts,
    }


def _arrived(hubspot: Integration, pending: list[int]) -> list[int]:
    """Contacts whose record (with its score), deal and task are all in HubSpot."""
    if not pending:
        return []
    links = dict(
        EntityLink.objects.filter(integration=hubspot, entity="contact", local_id__in=pending).values_list(
            "local_id", "remote_id"
        )
    )
    scored = set(
        SandboxRecord.objects.filter(
            provider="hubspot", object_type="contacts", remote_id__in=list(links.values())
        )
        .exclude(data__platform_score=None)
        .values_list("remote_id", flat=True)
    )
    marks = AutomationMark.objects.filter(entity="contact", record_id__in=pending).values_list(
        "record_id", "action", "created_id"
    )
    deal_of, task_of = {}, {}
    for record_id, action, created_id in marks:
        (deal_of if action == "deal" else task_of)[record_id] = created_id
    pushed_deals = set(
        EntityLink.objects.filter(
            integration=hubspot, entity="deal", local_id__in=list(deal_of.values())
        ).values_list("local_id", flat=True)
    )
    pushed_tasks = set(
        EntityLink.objects.filter(
            integration=hubspot, entity="activity", local_id__in=list(task_of.values())
        ).values_list("local_id", flat=True)
    )
    return [
        pk
        for pk in pending
        if links.get(pk) in scored and deal_of.get(pk) in pushed_deals and task_of.get(pk) in pushed_tasks
    ]


def _wait(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for the workers")
        time.sleep(0.2)


# --- API latency with 100,000 scored contacts --------------------------------------------------


def api_figures(base: str, sub: SubAccount, calls: int = API_CALLS) -> dict:
    ApiKey.objects.filter(subaccount=sub, name="bench").delete()
    _, key = ApiKey.objects.create_key(name="bench", subaccount=sub)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    owner = (
        Contact.objects.filter(subaccount=sub).exclude(owner_id="").values_list("owner_id", flat=True).first()
    )
    out = {"contacts": Contact.objects.filter(subaccount=sub).count(), "calls": calls}
    endpoints = {
        "priority_queue": "/api/v1/priority-queue/?limit=50",
        "priority_queue_owner": f"/api/v1/priority-queue/?limit=50&owner_id={owner or 'nobody'}",
        "contacts": "/api/v1/contacts/?limit=50",
    }
    for name, path in endpoints.items():
        session.get(f"{base}{path}", timeout=30).raise_for_status()  # warm up
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            response = session.get(f"{base}{path}", timeout=30)
            times.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
        out[f"{name}_p50_ms"] = statistics.median(times)
        out[f"{name}_p95_ms"] = percentile(times, 0.95)
    return out


def rows(provider: dict, flow: dict, api: dict, first: int) -> list[str]:
    n = first
    p, f, a = provider, flow, api
    return [
        f"| {n} | enrichment of {p['records']:,} contacts through the enrichment_http emulator, batches of "
        f"{p['batch_size']} | {p['records_per_s']:,.0f} records/s ({p['seconds']:.1f} s), {p['requests']} requests, "
        f"{p['answered']:,} answered | ceil(n/{p['batch_size']}) = {p['expected_requests']} requests | "
        f"{p['requests'] / p['expected_requests']:.2f} | requests = ceil(n/50) |",
        f"| {n + 1} | contact created through the API → enriched, scored, task and deal created and pushed to "
        f"the HubSpot emulator ({f['contacts']} contacts, one every {FLOW_INTERVAL} s, two workers) | "
        f"p50 {f['p50_s']:.2f} s, p90 {f['p90_s']:.2f} s, max {f['max_s']:.2f} s | seed: p90 < 5 s | — | "
        f"p90 < 2 s |",
        f"| {n + 2} | enrichment time per record (providers' time of the record's batch) | "
        f"p50 {f['enrichment_ms_p50']:.0f} ms, p90 {f['enrichment_ms_p90']:.0f} ms | seed: < 2 s | — | < 2 s |",
        f"| {n + 3} | success rate over the run (HubSpot has the contact with its score, its deal and its task) "
        f"| {f['arrived']}/{f['contacts']} arrived, {f['jobs_succeeded']}/{f['jobs']} jobs succeeded | "
        f"seed: > 99 % | {f['success_rate']:.0%} | 100 % |",
        f"| {n + 4} | API p95 with {a['contacts']:,} scored contacts ({a['calls']} calls each, over HTTP) | "
        f"priority queue {a['priority_queue_p95_ms']:.0f} ms (by owner {a['priority_queue_owner_p95_ms']:.0f} ms), "
        f"contacts list {a['contacts_p95_ms']:.0f} ms | seed: < 500 ms | — | < 100 ms |",
    ]
