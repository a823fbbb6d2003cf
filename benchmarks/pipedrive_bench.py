"""Pipedrive figures for `make bench`: full pull, delta cost, push of local changes (one request per
record, no duplicate after a forced retry), against the emulator served by gunicorn over real HTTP.

    scripts/with-test-servers.sh python -m benchmarks.pipedrive_bench [--records 20000] [--quick]

Reuses benchmarks/run.py's server and baseline helpers (importing it sets Django up). Every ratio is
against a baseline measured in the same run.
"""

from __future__ import annotations

import json
import time

from django.core.management import call_command
from django.db.models import Count

from benchmarks.run import (  # first: sets Django up
    baseline_bulk_create,
    emulator_server,
    full_pull,
    provider_main,
)
from connectors.registry import emulator_module
from connectors.sandbox.models import SandboxState
from integrations.models import Integration, IntegrationTemplate, SubAccount
from integrations.services import connector_for, integration_create, integration_set_status
from sync.models import Change, Contact, SyncRun
from sync.runs import sync_run_execute, sync_run_request
from sync.services import records_bulk_upsert

PUSH_CHANGES = 1_000
RETRY_CREATES = 200
UNLIMITED = {"rate_limit": "100000/1", "search_rate_limit": "100000/1"}


def emulator_requests() -> int:
    return SandboxState.objects.get(provider="pipedrive").requests


def pipedrive_integration(base: str, *, slug: str, limited: bool = False) -> Integration:
    """A bidirectional integration on the emulator. Unless ``limited``, our own limiter is out of
    the way (the emulator's limits are off for those figures: they measure the sync, not the pacing)."""
    sub, _ = SubAccount.objects.get_or_create(slug=slug, defaults={"name": slug})
    Contact.objects.filter(subaccount=sub).delete()
    Change.objects.filter(subaccount=sub).delete()
    config, _ = emulator_module("pipedrive").emulator.connect(f"{base}/sandbox")
    integration = integration_create(
        subaccount=sub,
        template=IntegrationTemplate.objects.get(key="pipedrive"),
        name=slug,
        config={**config, **({} if limited else UNLIMITED)},
        actor="bench",
        direction="bidirectional",
    )
    integration_set_status(integration=integration, status="active", actor="bench")
    integration.refresh_from_db()
    return integration


def delta(integration: Integration) -> tuple[SyncRun, float, int]:
    """A delta run inline: (run, seconds, provider requests)."""
    before = emulator_requests()
    run = sync_run_request(integration=integration, kind="delta", entities=["contact"], enqueue=False)
    started = time.perf_counter()
    run = sync_run_execute(run_id=run.pk)
    return run, time.perf_counter() - started, emulator_requests() - before


def bench_pipedrive(records: int) -> dict:
    call_command("migrate", verbosity=0)
    call_command("load_catalog", verbosity=0)
    em = emulator_module("pipedrive").emulator
    results: dict = {}
    with emulator_server() as base:
        em.reset()
        SandboxState.objects.filter(pk=em.state().pk).update(rate_limit_enabled=False)
        print(f"seeding {records} persons in the Pipedrive emulator", flush=True)
        em.seed("persons", records, None)

        # Full pull against a plain bulk_create of the same rows.
        integration = pipedrive_integration(base, slug="bench-pipedrive")
        before = emulator_requests()
        run, elapsed = full_pull(integration)
        assert run.status == "succeeded", (run.status, run.error)
        assert Contact.objects.filter(subaccount=integration.subaccount).count() == records
        baseline = baseline_bulk_create(records)
        results["full"] = {
            "records": records,
            "seconds": elapsed,
            "records_per_s": records / elapsed,
            "requests": emulator_requests() - before,
            "baseline_seconds": baseline,
            "baseline_records_per_s": records / baseline,
            "ratio": baseline / elapsed,
        }
        print("full", json.dumps(results["full"]), flush=True)

        # Delta after 100 remote changes.
        time.sleep(1.1)  # update_time has whole seconds: the changes land after the full pull's
        changed = list(em.live("persons").order_by("?").values_list("remote_id", flat=True)[:100])
        for remote_id in changed:
            em.touch("persons", remote_id, {"name": f"Changed {remote_id}"})
        run, delta_elapsed, calls = delta(integration)
        assert run.status == "succeeded" and run.updated >= 100, (run.status, run.updated, run.error)
        results["delta"] = {
            "changes": 100,
            "provider_calls": calls,
            "seconds": delta_elapsed,
            "updated": run.updated,
        }
        print("delta", json.dumps(results["delta"]), flush=True)
        _, _, idle_calls = delta(integration)  # what a delta reads when nothing changed

        # Push of 1,000 local changes: one PATCH per record.
        sub = integration.subaccount
        emails = list(
            Contact.objects.filter(subaccount=sub)
            .order_by("pk")
            .values_list("email", flat=True)[:PUSH_CHANGES]
        )
        records_bulk_upsert(
            subaccount=sub,
            entity="contact",
            records=[
                {"email": e, "first_name": "Pushed", "last_name": f"N{i}"} for i, e in enumerate(emails)
            ],
            origin="bench",
        )
        run, push_elapsed, push_calls = delta(integration)
        assert run.status == "succeeded" and run.pushed == PUSH_CHANGES, (run.status, run.pushed, run.error)
        results["push"] = {
            "changes": PUSH_CHANGES,
            "pushed": run.pushed,
            "requests": push_calls,
            "write_requests": push_calls - idle_calls,
            "seconds": push_elapsed,
            "records_per_s": PUSH_CHANGES / push_elapsed,
        }

        # New local contacts pushed while the provider loses answers after writing: none twice.
        fresh = [
            {"first_name": f"Retry{i}", "last_name": "Bench", "email": f"retry{i}@example.com"}
            for i in range(RETRY_CREATES)
        ]
        records_bulk_upsert(subaccount=sub, entity="contact", records=fresh, origin="bench")
        state = em.state()
        state.settings = {
            **state.settings,
            "fault_rule": {
                "path_contains": "/api/v2/persons",
                "skip": 20,
                "count": 5,
                "status": 504,
                "after_write": True,
            },
        }
        state.save(update_fields=["settings"])
        run, create_elapsed, create_calls = delta(integration)
        if run.pushed < RETRY_CREATES:  # a lost answer left uncertain: the next run settles it
            run, _, more = delta(integration)
            create_calls += more
        made = (
            em.live("persons")
            .filter(data__name__startswith="Retry")
            .values("data__name")
            .annotate(n=Count("id"))
        )
        results["push"].update(
            creates=RETRY_CREATES,
            lost_answers=5,
            create_requests=create_calls,
            remote_copies=sum(row["n"] for row in made),
            duplicates=sum(row["n"] - 1 for row in made),
        )
        assert results["push"]["remote_copies"] == RETRY_CREATES, results["push"]
        print("push", json.dumps(results["push"]), flush=True)

        # Under Pipedrive's published burst limit (API token, 40 per 2 s): a pull (500 records a
        # request), then a push (one request per record).
        results["limited_pull"] = limited_pull(base, em, records=records, unlimited_seconds=elapsed)
        print("limited_pull", json.dumps(results["limited_pull"]), flush=True)
        results["limited"] = limited_push(base, em, changes=min(PUSH_CHANGES, records // 2))
        print("limited", json.dumps(results["limited"]), flush=True)
    return results


def limited_pull(base: str, em, *, records: int, unlimited_seconds: float) -> dict:
    """Read every person with the emulator's limits on and our limiter at its default, twice: the
    connector's pull alone (what the limit paces: requests per second against the burst window's
    ceiling, and 429s), then the whole sync's full pull (what it costs a real run next to P1's)."""
    SandboxState.objects.filter(pk=em.state().pk).update(rate_limit_enabled=True)
    integration = pipedrive_integration(base, slug="bench-pipedrive-limited-pull", limited=True)
    amount, seconds = em.burst_for(None, "")
    ceiling = amount / seconds
    connector = connector_for(integration)
    before, pages, pulled = emulator_requests(), 0, 0
    started = time.perf_counter()
    for page in connector.pull("contact", cursor=None):
        pages, pulled = pages + 1, pulled + len(page.records)
    fetch_seconds = time.perf_counter() - started
    fetch_requests = emulator_requests() - before
    assert pulled >= records, (pulled, records)  # P4's new persons are there too

    before = emulator_requests()
    run, elapsed = full_pull(integration)
    assert run.status == "succeeded", (run.status, run.error)
    sync_requests = emulator_requests() - before
    return {
        "records": pulled,
        "requests": fetch_requests,
        "seconds": fetch_seconds,
        "requests_per_s": fetch_requests / fetch_seconds,
        "ceiling_requests_per_s": ceiling,
        "share_of_ceiling": min(1.0, fetch_requests / fetch_seconds / ceiling),
        "pages": pages,
        "rejected": fetch_requests - pages,  # requests beyond one a page: 429s and their retries
        "sync_requests": sync_requests,
        "sync_seconds": elapsed,
        "sync_requests_per_s": sync_requests / elapsed,
        "sync_vs_unlimited": unlimited_seconds / elapsed,
        "failed": run.failed,
        "status": run.status,
    }


def limited_push(base: str, em, *, changes: int) -> dict:
    """Push ``changes`` local edits with the emulator's limits on and our limiter at its default:
    requests per second achieved against the burst window's ceiling, and failed records."""
    SandboxState.objects.filter(pk=em.state().pk).update(rate_limit_enabled=True)
    integration = pipedrive_integration(base, slug="bench-pipedrive-limited", limited=True)
    run, _ = full_pull(integration)
    assert run.status == "succeeded", (run.status, run.error)
    _, _, idle_calls = delta(integration)
    emails = list(
        Contact.objects.filter(subaccount=integration.subaccount)
        .order_by("pk")
        .values_list("email", flat=True)[:changes]
    )
    records_bulk_upsert(
        subaccount=integration.subaccount,
        entity="contact",
        records=[{"email": e, "first_name": "Limited", "last_name": f"N{i}"} for i, e in enumerate(emails)],
        origin="bench",
    )
    run, elapsed, calls = delta(integration)
    amount, seconds = em.burst_for(None, "")
    ceiling = amount / seconds
    achieved = calls / elapsed
    return {
        "changes": changes,
        "requests": calls,
        "write_requests": calls - idle_calls,
        "seconds": elapsed,
        "requests_per_s": achieved,
        "ceiling_requests_per_s": ceiling,
        "share_of_ceiling": achieved / ceiling,
        "failed": run.failed,
        "status": run.status,
    }


def markdown(results: dict) -> str:
    """The Pipedrive rows for benchmarks/RESULTS.md."""
    f, d, p, lim = results["full"], results["delta"], results["push"], results["limited"]
    lp = results["limited_pull"]
    return f"""## Pipedrive

| # | what | result | baseline (same run) | ratio / share | goal |
|---|---|---|---|---|---|
| P1 | full pull of {f["records"]:,} persons (v2, 500 per page), limits off | {f["records_per_s"]:,.0f} records/s ({f["seconds"]:.1f} s, {f["requests"]} requests) | plain `bulk_create` of the same rows: {f["baseline_records_per_s"]:,.0f} records/s | {f["ratio"]:.2f} | ratio ≥ 0.25 |
| P2 | delta after {d["changes"]} remote changes | {d["provider_calls"]} provider calls, {d["seconds"]:.2f} s | — | — | ≤ 3 calls |
| P3 | push of {p["changes"]:,} local changes | {p["write_requests"]:,} write requests ({p["requests"]:,} in all), {p["records_per_s"]:,.0f} records/s | — | {p["write_requests"] / p["changes"]:.2f} requests per record | requests = records |
| P4 | {p["creates"]} new contacts pushed while {p["lost_answers"]} create answers are lost after the write | {p["remote_copies"]} persons in Pipedrive, {p["duplicates"]} duplicates, {p["create_requests"]} requests (exact search + create each) | — | — | 0 duplicates |
| P5 | push of {lim["changes"]:,} local changes under the published burst limit ({lim["ceiling_requests_per_s"]:.0f} requests/s) | {lim["requests_per_s"]:.1f} requests/s, {lim["requests"]:,} requests, {lim["failed"]} failed | ceiling {lim["ceiling_requests_per_s"]:.0f} requests/s | {lim["share_of_ceiling"]:.0%} of the ceiling | ≥ 90 %, 0 failed |
| P6 | full pull of {lp["records"]:,} persons under the published burst limit ({lp["ceiling_requests_per_s"]:.0f} requests/s) | connector pull: {lp["requests_per_s"]:.1f} requests/s ({lp["requests"]} requests, {lp["seconds"]:.2f} s), {lp["rejected"]} rejected; whole sync: {lp["sync_seconds"]:.1f} s, {lp["failed"]} failed | ceiling {lp["ceiling_requests_per_s"]:.0f} requests/s; P1 (limits off) {f["seconds"]:.1f} s | {lp["share_of_ceiling"]:.0%} of the ceiling; sync {lp["sync_vs_unlimited"]:.2f} × P1's speed | ≥ 90 %, 0 failed |

P6 reads the persons twice with the limit on: the connector's pull alone is what the burst window
paces (its share of the ceiling is the goal), and the whole sync's pull shows what the limit costs a
real run next to P1: a sync writes 500 records a request more slowly than the ceiling lets it read,
so there its request rate is bound by our writes, not by the limit.
"""


def main() -> None:
    provider_main("Pipedrive", bench_pipedrive, markdown)


if __name__ == "__main__":
    main()
