"""PostgreSQL restarted in the middle of a sync, Redis restarted in the middle of deliveries: the
workers reconnect by themselves, the run finishes with nothing lost or duplicated, webhooks
accepted while Redis was down are processed after it, and outbound retries still fire.

The servers are the throwaway ones scripts/with-test-servers.sh started (it exports where they
live); this process, the live server's threads, the workers and beat all lose their connections."""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter

import pytest
from django.conf import settings
from django.db import OperationalError, close_old_connections, connection
from kombu import pools

from config.celery import app as celery_app
from config.redis_clients import redis_client
from connectors.registry import emulator_module
from connectors.sandbox.models import SandboxState
from sync.models import SyncRun
from sync.runs import sync_run_request
from sync.services import record_create
from tests.chaos.conftest import assert_contacts_match, scaled
from tests.sandbox import sandbox_integration
from tests.system.conftest import wait_for
from tests.webhooks.outbound_receiver import Reply, receiver  # noqa: F401 (a fixture)
from webhooks.models import Delivery, InboundEvent
from webhooks.outbound import services as outbound

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("tests.webhooks.urls_inbound"),
]

# 15 s as in production; the short form 6 s (the system tests use 4): the same recovery, sooner.
LEASE_TTL = scaled(6, 15)
ENV = {"SYNC_LEASE_TTL_SECONDS": str(LEASE_TTL)}
FINISHED = ("succeeded", "partial", "failed")


class Servers:
    """The throwaway PostgreSQL and Redis of this test session, restarted in place."""

    def __init__(self) -> None:
        self.dir = os.environ["TEST_SERVERS_DIR"]
        self.pg_bin = os.environ["TEST_PG_BIN"]
        self.redis_port = os.environ["TEST_REDIS_PORT"]
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []

    def restart_postgres(self) -> None:
        """A fast restart (every connection is cut); pg_ctl reuses the server's options."""
        subprocess.run(
            [
                *self.as_postgres,
                f"{self.pg_bin}/pg_ctl",
                "-D",
                f"{self.dir}/data",
                "-m",
                "fast",
                "-w",
                "-l",
                f"{self.dir}/pg.log",
                "restart",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def stop_redis(self) -> None:
        subprocess.run(
            ["redis-cli", "-p", self.redis_port, "shutdown", "nosave"], capture_output=True, timeout=10
        )

    def forget_redis_connections(self) -> None:
        """This process's pooled connections to the old Redis are dead: drop them, so the next
        test's broker calls (a worker ping) and our own clients connect afresh."""
        pools.reset()  # kombu's process-wide connection and producer pools
        celery_app._after_fork()  # the app's references to them: as a freshly forked process starts
        for client in (redis_client(), redis_client(settings.CELERY_BROKER_URL)):
            client.connection_pool.disconnect()

    def start_redis(self) -> None:
        subprocess.run(
            [
                "redis-server",
                "--port",
                self.redis_port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
                "--pidfile",
                f"{self.dir}/redis.pid",
                "--logfile",
                f"{self.dir}/redis.log",
            ],
            check=True,
            timeout=10,
        )
        wait_for(
            lambda: (
                subprocess.run(["redis-cli", "-p", self.redis_port, "ping"], capture_output=True).stdout
                == b"PONG\n"
            ),
            timeout=10,
            message="Redis to answer",
        )
        self.forget_redis_connections()


@pytest.fixture
def servers():
    if "TEST_SERVERS_DIR" not in os.environ:
        pytest.skip("needs the servers of scripts/with-test-servers.sh")
    return Servers()


def reconnected(query):
    """``query()`` once this process's own connection works again (it was cut by the restart)."""

    def attempt():
        try:
            return query()
        except OperationalError:
            close_old_connections()
            connection.close()
            return None

    return attempt


def test_postgres_restarted_mid_sync_the_run_finishes_with_nothing_lost(
    catalog, subaccount, sandbox_url, workers, beat, servers, record
):
    records = scaled(3_000, 10_000)
    em = emulator_module("hubspot").emulator
    em.reset()
    em.seed("contacts", records, None)
    em.state()
    SandboxState.objects.filter(provider="hubspot").update(latency_ms=40)  # the restart lands mid-sync
    integration = sandbox_integration(subaccount, "hubspot", sandbox_url, direction="inbound")
    beat("Resume runs whose worker stopped", env=ENV)
    workers("pg", env=ENV)
    run = sync_run_request(integration=integration, kind="full", entities=["contact"], requested_by="chaos")
    wait_for(
        lambda: SyncRun.objects.get(pk=run.pk).processed >= records // 4,
        timeout=180,
        interval=0.05,
        message="a quarter of the records",
    )

    restarted = time.monotonic()
    servers.restart_postgres()
    connection.close()
    at_restart = wait_for(
        reconnected(lambda: SyncRun.objects.get(pk=run.pk).processed or -1),
        timeout=30,
        message="PostgreSQL back",
    )
    assert at_restart < records, "the sync finished before the restart"
    wait_for(
        reconnected(lambda: SyncRun.objects.get(pk=run.pk).processed > at_restart),
        timeout=LEASE_TTL + 60,
        message="the run to move again",
    )
    recovered = time.monotonic() - restarted
    finished = wait_for(
        reconnected(lambda: SyncRun.objects.filter(pk=run.pk, status__in=FINISHED).first()),
        timeout=600,
        message="the run to finish",
    )

    assert finished.status == "succeeded", finished.error
    counts = assert_contacts_match(integration, subaccount, expected=records)
    record(
        "PostgreSQL restarted mid full sync (HubSpot)",
        events=f"{records} records",
        kills=1,
        recover_seconds=recovered,
        notes=f"restarted at {at_restart} processed; the worker reconnected by itself, beat re-sent the run",
        **counts,
    )


def test_redis_restarted_mid_delivery_inbound_and_outbound_carry_on(
    catalog,
    subaccount,
    sandbox_url,
    live_server,
    workers,
    beat,
    servers,
    record,
    receiver,  # noqa: F811 (the fixture)
):
    changes = scaled(20, 100)
    em = emulator_module("hubspot").emulator
    em.reset()
    em.seed("contacts", changes, None)
    integration = sandbox_integration(subaccount, "hubspot", sandbox_url, direction="inbound")
    endpoint = outbound.endpoint_create(
        subaccount=subaccount, url=receiver.url(), event_types=["contact.*"], retry_schedule=[2, 2, 2]
    )
    receiver.reply(*[Reply(503, body=b"busy")] * 3)  # the first attempts fail: retries are due
    beat(
        "Send due webhook deliveries (retries, recovery)",
        "Turn new changes into webhook messages",
        extra={"webhooks.inbound_retry_due": 5},
    )
    workers("redis")
    for i in range(changes):
        record_create(
            subaccount=subaccount, entity="contact", fields={"email": f"r{i}@chaos.example"}, origin="t"
        )
    wait_for(
        lambda: Delivery.objects.filter(endpoint=endpoint).exists(),
        timeout=60,
        message="the first deliveries",
    )

    servers.stop_redis()
    outage = time.monotonic()
    target = f"{live_server.url}/webhooks/in/hubspot/{integration.pk}/"
    remote_ids = list(em.records("contacts").values_list("remote_id", flat=True))
    events = [
        {
            "eventId": 20_000_000 + n,
            "subscriptionType": "contact.creation",
            "objectId": int(remote_id),
            "occurredAt": int(time.time() * 1000),
        }
        for n, remote_id in enumerate(remote_ids)
    ]
    statuses = [
        em.fire_webhooks(None, target, events[i : i + 10]).status_code for i in range(0, len(events), 10)
    ]
    time.sleep(3)  # the outage lasts a little longer than the posting
    servers.start_redis()
    back = time.monotonic()

    assert statuses and all(s == 200 for s in statuses), statuses  # accepted while Redis was down
    wait_for(
        lambda: (
            InboundEvent.objects.filter(integration=integration, status="processed").count() == len(events)
        ),
        timeout=180,
        interval=0.5,
        message="the webhooks accepted during the outage to be processed",
    )
    processed_after = time.monotonic() - back
    wait_for(
        lambda: (
            Delivery.objects.filter(endpoint=endpoint).count() >= changes
            and not Delivery.objects.filter(endpoint=endpoint).exclude(status="succeeded").exists()
        ),
        timeout=120,
        interval=0.5,
        message="every delivery to succeed",
    )
    delivered_after = time.monotonic() - back

    assert InboundEvent.objects.filter(integration=integration).count() == len(events)
    succeeded_ids = Counter(r.headers["webhook-id"] for r in receiver.requests)
    assert len(succeeded_ids) == Delivery.objects.filter(endpoint=endpoint).count()
    assert not Delivery.objects.filter(endpoint=endpoint).exclude(status="succeeded").exists()
    record(
        "Redis restarted mid-delivery (inbound + outbound)",
        events=f"{len(events)} inbound events during a {back - outage:.0f} s outage, {changes} outbound deliveries",
        kills=1,
        recover_seconds=max(processed_after, delivered_after),
        lost=0,
        duplicated=0,
        notes=f"inbound processed {processed_after:.0f} s after Redis returned, deliveries done {delivered_after:.0f} s",
    )
