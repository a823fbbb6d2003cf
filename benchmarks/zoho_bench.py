"""Zoho CRM figures for `make bench`: full pull, delta cost, push batching — against the Zoho emulator
served by gunicorn over real HTTP (benchmarks.run's server), with the baseline measured in the same run.

1. Full pull of N contacts with the credit limit off: records/s, and the ratio to a plain
   ``bulk_create`` of the same rows (goal ≥ 0.25).
2. Delta after 100 remote changes: API calls (goal ≤ 3: one listing with If-Modified-Since, one
   recycle-bin read).
4. Full pull under Zoho's published limit — a credit budget, not a rate: records per credit against the
   ceiling of 200 (one full page a call), with exactly the credits needed and no failures.
3. Push of 1,000 local changes: write requests (goal ≤ 10: 100 records a call), counted as the run's
   requests minus those of an idle delta measured just before.

    scripts/with-test-servers.sh python -m benchmarks.zoho_bench [--records 20000] [--quick]

``bench_zoho(records)`` returns the figures; ``markdown(results)`` renders them for RESULTS.md.
"""

from __future__ import annotations

import json
import time

from django.core.management import call_command
from django.utils import timezone

from benchmarks.run import (  # first: sets Django up
    baseline_bulk_create,
    emulator_server,
    provider_main,
)
from connectors.registry import emulator_module
from connectors.sandbox.models import SandboxState
from integrations.models import Integration, IntegrationTemplate, SubAccount
from integrations.services import integration_create, integration_set_status
from integrations.tokens import IntegrationTokenStore
from sync.models import Change, Contact, SyncRun
from sync.runs import sync_run_execute, sync_run_request
from sync.services import records_bulk_upsert

PUSHED = 1000
BULK = 500  # records per records_bulk_upsert call when making the local changes


def zoho_integration(base: str) -> Integration:
    """A bidirectional contact integration on the emulator, its own limiter opened wide."""
    sub, _ = SubAccount.objects.get_or_create(slug="bench-zoho", defaults={"name": "bench-zoho"})
    Contact.objects.filter(subaccount=sub).delete()
    Change.objects.filter(subaccount=sub).delete()
    config, tokens = emulator_module("zoho").emulator.connect(f"{base}/sandbox")
    integration = integration_create(
        subaccount=sub,
        template=IntegrationTemplate.objects.get(key="zoho"),
        name="bench-zoho",
        config={**config, "rate_limit": "100000/1"},
        actor="bench",
        direction="bidirectional",
    )
    IntegrationTokenStore(integration.pk).save(tokens)
    integration_set_status(integration=integration, status="active", actor="bench")
    integration.refresh_from_db()
    return integration


def run(integration: Integration, kind: str) -> tuple[SyncRun, float, int]:
    """One contact sync in this process: the run, its seconds, and the API requests it made."""
    before = SandboxState.objects.get(provider="zoho").requests
    pending = sync_run_request(integration=integration, kind=kind, entities=["contact"], enqueue=False)
    started = time.perf_counter()
    done = sync_run_execute(run_id=pending.pk)
    elapsed = time.perf_counter() - started
    assert done.status == "succeeded", (kind, done.status, done.error)
    return done, elapsed, SandboxState.objects.get(provider="zoho").requests - before


def bench_zoho(records: int) -> dict:
    call_command("migrate", verbosity=0)
    call_command("load_catalog", verbosity=0)
    em = emulator_module("zoho").emulator
    results: dict = {}
    with emulator_server() as base:
        em.reset()
        SandboxState.objects.update_or_create(provider="zoho", defaults={"rate_limit_enabled": False})
        print(f"seeding {records} Zoho contacts", flush=True)
        em.seed("Contacts", records)
        integration = zoho_integration(base)

        full, elapsed, calls = run(integration, "full")
        assert Contact.objects.filter(subaccount=integration.subaccount).count() == records
        baseline = baseline_bulk_create(records)
        results["full"] = {
            "records": records,
            "seconds": elapsed,
            "records_per_s": records / elapsed,
            "api_calls": calls,
            "baseline_seconds": baseline,
            "baseline_records_per_s": records / baseline,
            "ratio": baseline / elapsed,
        }
        print("zoho full", json.dumps(results["full"]), flush=True)

        changed = list(em.records("Contacts").order_by("?")[:100])
        for record in changed:  # edited in Zoho: new values, a new Modified_Time
            record.data = {**record.data, "Title": "Changed in Zoho"}
            record.updated_at = timezone.now()
        em.records("Contacts").bulk_update(changed, ["data", "updated_at"])
        delta, delta_elapsed, delta_calls = run(integration, "delta")
        results["delta"] = {
            "changes": 100,
            "api_calls": delta_calls,
            "updated": delta.updated,
            "seconds": delta_elapsed,
        }
        print("zoho delta", json.dumps(results["delta"]), flush=True)

        _, _, idle_calls = run(integration, "delta")  # the reads every delta makes
        local = list(
            Contact.objects.filter(subaccount=integration.subaccount)
            .order_by("pk")
            .values_list("email", flat=True)[:PUSHED]
        )
        for start in range(0, len(local), BULK):
            records_bulk_upsert(
                subaccount=integration.subaccount,
                entity="contact",
                records=[
                    {"email": email, "job_title": "Changed here"} for email in local[start : start + BULK]
                ],
                origin="bench",
            )
        push, push_elapsed, push_calls = run(integration, "delta")
        pushed_in_zoho = sum(
            1 for r in em.records("Contacts").only("data") if r.data.get("Title") == "Changed here"
        )
        results["push"] = {
            "changes": len(local),
            "pushed": push.pushed,
            "in_zoho": pushed_in_zoho,
            "requests": push_calls,
            "write_requests": push_calls - idle_calls,
            "seconds": push_elapsed,
        }
        print("zoho push", json.dumps(results["push"]), flush=True)

        # Under Zoho's published limit: its budget is credits (1 per call), not time, so the ceiling is
        # 200 records per credit (a full page per call). The org gets exactly the credits a full pull
        # needs, the credit limit is on, and nothing may fail.
        em.reset()
        em.seed("Contacts", records)
        needed = -(-records // 200)
        em.state()
        SandboxState.objects.filter(provider="zoho").update(
            rate_limit_enabled=True, settings={"credit_limit": needed}
        )
        limited_integration = zoho_integration(base)
        limited, limited_elapsed, limited_calls = run(limited_integration, "full")
        results["limited"] = {
            "records": records,
            "credit_limit": needed,
            "api_calls": limited_calls,
            "records_per_credit": records / limited_calls,
            "ceiling_records_per_credit": 200,
            "share_of_ceiling": records / limited_calls / 200,
            "failed": limited.failed,
            "seconds": limited_elapsed,
        }
        print("zoho limited", json.dumps(results["limited"]), flush=True)
    return results


def markdown(results: dict) -> str:
    """The Zoho section of RESULTS.md."""
    f, d, p, lim = results["full"], results["delta"], results["push"], results["limited"]
    return f"""## Zoho CRM

The Zoho emulator on gunicorn (2 workers) over real HTTP, one sync in-process; the credit limit is off
except in Z4.

| # | what | result | baseline (same run) | ratio | goal |
|---|---|---|---|---|---|
| Z1 | full pull of {f["records"]:,} contacts | {f["records_per_s"]:,.0f} records/s ({f["seconds"]:.1f} s, {f["api_calls"]} API calls) | plain `bulk_create` of the same rows: {f["baseline_records_per_s"]:,.0f} records/s | {f["ratio"]:.2f} | ratio ≥ 0.25 |
| Z2 | delta after {d["changes"]} remote changes | {d["api_calls"]} API calls, {d["updated"]} updated, {d["seconds"]:.2f} s | — | — | ≤ 3 calls |
| Z3 | push of {p["changes"]:,} local changes | {p["write_requests"]} write requests ({p["requests"]} in all), {p["pushed"]} pushed, {p["in_zoho"]} in Zoho | — | — | ≤ 10 write requests |
| Z4 | full pull of {lim["records"]:,} contacts under Zoho's limit (a {lim["credit_limit"]}-credit budget) | {lim["records_per_credit"]:,.0f} records per credit, {lim["api_calls"]} calls, {lim["failed"]} failed | ceiling: 200 records per credit (a full page a call) | {lim["share_of_ceiling"]:.0%} of the ceiling | ≥ 90 %, no failed requests |
"""


def main() -> None:
    provider_main("Zoho CRM", bench_zoho, markdown)


if __name__ == "__main__":
    main()
