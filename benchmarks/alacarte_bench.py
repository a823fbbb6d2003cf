"""À La Carte Chat (seed 004, issue 15), for the "## À La Carte Chat" section of RESULTS.md:

- **initial push of 5,000 contacts**: the seed's "import 5000 customers" scenario, as a first full
  sync of a new integration exports them through ``api-customers-sync`` (1,000 a request, matched
  external_id → e-mail → phone by the emulator); seconds and requests (goal ≤ 5 + retries), against
  ``bulk_create`` of the same rows in the same run.
- **message.received → activity visible through the API**: a customer writes in (the emulator's
  control), the emulator signs and posts the webhook to our receiver (gunicorn), a Celery worker
  applies it; p50/p90 over 100 messages from the message to the activity in
  ``GET /api/v1/contacts/{id}/messages/`` (goal p90 < 2 s). Baseline: the webhook's own trip
  (message → event stored by the receiver), on the same messages.
- **polling catch-up of 10,000 missed messages**: ``api-messages-since`` from the last stored
  message, 100 a page while ``has_more``; seconds and calls, against ``bulk_create`` of the same
  activities.
"""

from __future__ import annotations

import math
import statistics
import time

import requests
from django.core.management import call_command

import benchmarks.run  # noqa: F401 (first: sets Django up)
from benchmarks.onboarding_bench import _total, percentile, wire_counter, worker
from benchmarks.run import emulator_server, provider_main
from connectors.alacarte.emulator import emulator as alacarte_emulator
from integrations.models import ApiKey, Integration, SubAccount
from integrations.sandbox import sandbox_integration_connect
from sync.models import Activity, Contact, EntityLink
from sync.polling import poll
from sync.runs import sync_run_execute, sync_run_request
from sync.services import record_create
from webhooks.models import InboundEvent

TITLE = "À La Carte Chat"
PUSH_CONTACTS = 5_000
MESSAGES = 100
CATCH_UP = 10_000
VISIBLE_TIMEOUT = 30.0
PROVIDERS = ("alacarte",)


def _fresh(slug: str) -> SubAccount:
    sub, _ = SubAccount.objects.get_or_create(slug=slug, defaults={"name": slug})
    Integration.objects.filter(subaccount=sub).delete()
    Activity.objects.filter(subaccount=sub).delete()
    Contact.objects.filter(subaccount=sub).delete()
    return sub


def _chat(sub: SubAccount, base: str) -> Integration:
    alacarte_emulator.reset()
    return sandbox_integration_connect(sub, "alacarte", f"{base}/sandbox", actor="bench", name="bench chat")


def _rows(n: int) -> list[dict]:
    return [
        {
            "first_name": "Guest",
            "last_name": f"{i:05d}",
            "email": f"guest{i}@bench.io",
            "phone": f"+35387{i:07d}",
        }
        for i in range(n)
    ]


# --- initial push ---------------------------------------------------------------------------------


def push_figures(base: str, contacts: int = PUSH_CONTACTS) -> dict:
    rows = _rows(contacts)
    baseline_sub = _fresh("bench-chat-baseline")
    started = time.perf_counter()
    Contact.objects.bulk_create([Contact(subaccount=baseline_sub, **row) for row in rows], batch_size=1000)
    baseline_s = time.perf_counter() - started

    sub = _fresh("bench-chat-push")
    Contact.objects.bulk_create([Contact(subaccount=sub, **row) for row in rows], batch_size=1000)
    chat = _chat(sub, base)
    with wire_counter(PROVIDERS) as counts:
        started = time.perf_counter()
        run = sync_run_execute(run_id=sync_run_request(integration=chat, kind="full", enqueue=False).pk)
        seconds = time.perf_counter() - started
    return {
        "contacts": contacts,
        "run_status": run.status,
        "pushed": run.pushed,
        "failed": run.failed,
        "linked": EntityLink.objects.filter(integration=chat, entity="contact").count(),
        "customers": alacarte_emulator.records("customers").count(),
        "seconds": seconds,
        "sync_requests": counts[("alacarte", "/api-customers-sync")],
        "emulator_s": counts[("alacarte", "seconds")],
        "requests": _total(counts, "alacarte"),
        "429": _total(counts, "alacarte", 429),
        "bulk_create_s": baseline_s,
        "ratio_to_bulk_create": baseline_s / seconds if seconds else None,
    }


# --- webhook → activity -----------------------------------------------------------------------------


def inbound_figures(base: str, messages: int = MESSAGES) -> dict:
    sub = _fresh("bench-chat-inbound")
    chat = _chat(sub, base)
    alacarte_emulator.webhooks_connect(
        f"{base}/webhooks/in/alacarte/{chat.pk}/", config=chat.config, secret=""
    )
    _, key = ApiKey.objects.create_key(name="bench", subaccount=sub)
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {key}"
    joe = record_create(
        subaccount=sub,
        entity="contact",
        fields={"first_name": "Joe", "last_name": "Bloggs", "email": "joe@bench.io"},
        origin="bench",
    )
    run = sync_run_execute(run_id=sync_run_request(integration=chat, kind="full", enqueue=False).pk)
    customer = EntityLink.objects.get(integration=chat, entity="contact", local_id=joe.pk).remote_id
    latencies, sent = [], {}
    with worker():
        time.sleep(2.0)  # the worker's first connection
        for i in range(messages):
            started = time.time()
            made = requests.post(
                f"{chat.config['base_url']}/_control/inbound",
                json={"customer_id": customer, "channel": "whatsapp", "content": f"Message {i}"},
                timeout=10,
            ).json()
            sent[made["message"]["id"]] = started
            deadline = time.monotonic() + VISIBLE_TIMEOUT
            while time.monotonic() < deadline:
                shown = api.get(f"{base}/api/v1/contacts/{joe.pk}/messages/", timeout=10).json()
                if any(m["body"] == f"Message {i}" for m in shown):
                    latencies.append(time.time() - started)
                    break
                time.sleep(0.02)
    events = {
        e.remote_id: e.created_at.timestamp()
        for e in InboundEvent.objects.filter(integration=chat, entity="activity").order_by("pk")
    }
    trip = [events[mid] - t0 for mid, t0 in sent.items() if mid in events]
    return {
        "messages": messages,
        "setup_run": run.status,
        "visible": len(latencies),
        "stored_once": Activity.objects.filter(subaccount=sub, kind="message").count(),
        "p50_s": statistics.median(latencies) if latencies else None,
        "p90_s": percentile(latencies, 0.9) if latencies else None,
        "max_s": max(latencies) if latencies else None,
        "webhook_trip_p50_s": statistics.median(trip) if trip else None,
        "webhook_trip_p90_s": percentile(trip, 0.9) if trip else None,
    }


# --- polling catch-up ----------------------------------------------------------------------------------


def catch_up_figures(base: str, messages: int = CATCH_UP) -> dict:
    sub = _fresh("bench-chat-catch-up")
    chat = _chat(sub, base)
    alacarte_emulator.seed("customers", 10, None)
    alacarte_emulator.seed("messages", messages, None)
    with wire_counter(PROVIDERS) as counts:
        started = time.perf_counter()
        outcome = poll(chat, ["activity"])
        seconds = time.perf_counter() - started
    stored = list(
        Activity.objects.filter(subaccount=sub).values("kind", "subject", "body", "direction", "channel")
    )
    baseline_sub = _fresh("bench-chat-catch-up-baseline")
    started = time.perf_counter()
    Activity.objects.bulk_create(
        [Activity(subaccount=baseline_sub, **row) for row in stored], batch_size=1000
    )
    baseline_s = time.perf_counter() - started
    return {
        "messages": messages,
        "stored": len(stored),
        "processed": outcome.processed,
        "failed": outcome.failed,
        "seconds": seconds,
        "calls": counts[("alacarte", "/api-messages-since")],
        "emulator_s": counts[("alacarte", "seconds")],
        "expected_calls": math.ceil(messages / 100),
        "429": _total(counts, "alacarte", 429),
        "bulk_create_s": baseline_s,
        "ratio_to_bulk_create": baseline_s / seconds if seconds else None,
    }


# --- report ----------------------------------------------------------------------------------------------


def bench(records: int) -> dict:
    call_command("migrate", verbosity=0)
    call_command("load_catalog", verbosity=0)
    quick = records < PUSH_CONTACTS
    with emulator_server() as base:
        pushed = push_figures(base, contacts=records)
        inbound = inbound_figures(base, messages=20 if quick else MESSAGES)
        caught_up = catch_up_figures(base, messages=1_000 if quick else CATCH_UP)
    return {"push": pushed, "inbound": inbound, "catch_up": caught_up}


def _s(value) -> str:
    return "—" if value is None else f"{value:.2f} s"


def _ours(figures: dict) -> float:
    """The ratio to ``bulk_create`` of the platform's own time: the run less its wait for the emulator."""
    own = figures["seconds"] - figures["emulator_s"]
    return figures["bulk_create_s"] / own if own > 0 else 0.0


def markdown(results: dict) -> str:
    push, inbound, catch = results["push"], results["inbound"], results["catch_up"]
    push_goal = push["sync_requests"] <= math.ceil(push["contacts"] / 1000) and push["failed"] == 0
    inbound_goal = (
        inbound["p90_s"] is not None and inbound["p90_s"] < 2 and inbound["visible"] == inbound["messages"]
    )
    return f"""## {TITLE}

Against the À La Carte Chat emulator served by gunicorn; a Celery worker on the Redis broker applies
the webhooks (`benchmarks/alacarte_bench.py`). Baselines are measured in the same run. Most of the
initial push is the emulator's own upsert (it matches each customer by external_id, e-mail and
phone in its database, one request of 1,000 at a time): the time spent waiting for it is shown, and
the ratio of our own side with it left out.

| # | measure | result | baseline | ratio |
|---|---|---|---|---|
| C1 | initial push of {push["contacts"]:,} contacts (first full sync; goal ≤ {math.ceil(push["contacts"] / 1000)} `api-customers-sync` calls + retries: **{"met" if push_goal else "NOT met"}**) | {_s(push["seconds"])} (of which {_s(push["emulator_s"])} waiting for the emulator's matching), {push["sync_requests"]} sync calls ({push["requests"]} requests in all, {push["429"]} × 429), {push["linked"]:,} linked, {push["failed"]} failed, run {push["run_status"]} | `bulk_create` of the same rows: {_s(push["bulk_create_s"])} | {push["ratio_to_bulk_create"]:.3f} ({_ours(push):.2f} of our own side, the emulator's wait left out) |
| C2 | `message.received` → activity in `GET /api/v1/contacts/{{id}}/messages/`, {inbound["messages"]} messages: p50 / p90 / max (goal p90 < 2 s: **{"met" if inbound_goal else "NOT met"}**) | {_s(inbound["p50_s"])} / {_s(inbound["p90_s"])} / {_s(inbound["max_s"])}, {inbound["stored_once"]} stored | the webhook's own trip p50 / p90: {_s(inbound["webhook_trip_p50_s"])} / {_s(inbound["webhook_trip_p90_s"])} | — |
| C3 | polling catch-up of {catch["messages"]:,} missed messages | {_s(catch["seconds"])} (of which {_s(catch["emulator_s"])} waiting for the emulator), {catch["calls"]} calls (ceil(n/100) = {catch["expected_calls"]}, plus the last look the inclusive `since` repeats), {catch["stored"]:,} stored, {catch["failed"]} failed, {catch["429"]} × 429 | `bulk_create` of the same activities: {_s(catch["bulk_create_s"])} | {catch["ratio_to_bulk_create"]:.3f} ({_ours(catch):.2f} of our own side) |
"""


if __name__ == "__main__":
    provider_main(TITLE, bench, markdown, records=PUSH_CONTACTS, quick_records=1_000)
