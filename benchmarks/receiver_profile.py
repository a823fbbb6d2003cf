"""The webhook receiver's cost per request against the store floor's, and where it goes.

    scripts/with-test-servers.sh .venv/bin/python -m benchmarks.receiver_profile [--requests N]

Both views are called through Django's test client (the whole middleware stack, production
settings, PostgreSQL) with the same Salesforce Outbound Message bodies the ingress benchmark sends,
in alternating blocks so the machine's drift lands on both. Then cProfile runs over the receiver
alone and its top entries by cumulative time are printed. Not part of `make bench`: this is the
tool behind benchmarks/RESULTS.md's "Receiver profile" table, run by hand when the receiver changes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
os.environ["SANDBOX"] = "on"
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["WEBHOOK_INBOUND_RATE_LIMIT"] = "1000000/1"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from benchmarks.urls import create_floor_table  # noqa: E402
from benchmarks.webhooks_bench import salesforce_receiving  # noqa: E402
from connectors.salesforce.emulator.webhooks import outbound_message  # noqa: E402

BLOCKS = 6
HOST = "127.0.0.1"


def receiver_url_and_bodies(count: int) -> tuple[str, list[bytes]]:
    integration = salesforce_receiving(f"http://{HOST}", slug="bench-profile")
    bodies = [
        outbound_message(
            [(f"04lP{time.time_ns()}x{n}", "Contact", {"Id": "003000000000001AAA", "LastName": "Load"})],
            base_url=f"http://{HOST}/sandbox/salesforce",
        )
        for n in range(count)
    ]
    return f"/webhooks/in/salesforce/{integration.pk}/?token={integration.webhook_secret}", bodies


def post_all(client: Client, url: str, bodies: list[bytes]) -> float:
    """Milliseconds per request."""
    started = time.perf_counter()
    for body in bodies:
        response = client.post(url, data=body, content_type="text/xml; charset=utf-8", HTTP_SOAPACTION='""')
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}: {response.content[:200]!r}")
    return (time.perf_counter() - started) * 1000 / len(bodies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per view and per profile")
    parser.add_argument("--top", type=int, default=30, help="profile entries printed")
    options = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("run through scripts/with-test-servers.sh")
    call_command("migrate", verbosity=0)
    call_command("load_catalog", verbosity=0)
    create_floor_table()
    url, bodies = receiver_url_and_bodies(options.requests * 2 + 200)
    client = Client(HTTP_HOST=HOST)
    block = max(1, options.requests // BLOCKS)
    post_all(client, url, bodies[:100])  # warm-up: imports, caches, the integration lookup
    post_all(client, "/bench/store-floor/", bodies[:100])
    floor, receiver = [], []
    for n in range(BLOCKS):
        chunk = bodies[200 + n * block : 200 + (n + 1) * block]
        floor.append(post_all(client, "/bench/store-floor/", chunk))
        receiver.append(post_all(client, url, chunk))
    print(
        f"ms per request (median of {BLOCKS} blocks of {block}): "
        f"store floor {statistics.median(floor):.3f}, receiver {statistics.median(receiver):.3f}, "
        f"share {statistics.median(floor) / statistics.median(receiver):.2f}"
    )
    profiled = bodies[200 + options.requests :][: options.requests]
    profile = cProfile.Profile()
    profile.enable()
    post_all(client, url, profiled)
    profile.disable()
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("cumulative").print_stats(options.top)
    print(f"cProfile over {len(profiled)} receiver requests, cumulative seconds:")
    print(out.getvalue())


if __name__ == "__main__":
    main()
