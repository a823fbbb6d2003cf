"""Shared fixtures. Personas: ``subaccount`` (acme) owns things; ``other_subaccount`` (globex)
must never see them."""

import os

import pytest
from django.core.management import call_command

from connectors.aitable.emulator import automation as aitable_automation
from connectors.sandbox import delivery as sandbox_delivery
from tests.factories import SubAccountFactory
from tests.live_server import live_server_start
from tests.process_logs import process_log_sections


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Emulator webhook deliveries run on background threads against the live server and the
    database. Each test's are waited out when its body ends, before its fixtures tear down (the
    database flush among them), so no delivery of one test writes into, or locks, the next one's."""
    try:
        return (yield)
    finally:
        sandbox_delivery.deliveries_wait(timeout=20.0)
        aitable_automation.deliveries_wait(timeout=20.0)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test's report carries the tails of the process logs it registered."""
    report = yield
    if report.when in ("setup", "call") and report.failed:  # a worker that never answered fails setup
        report.sections.extend(process_log_sections(item))
    return report


@pytest.fixture
def catalog(db):
    call_command("load_catalog", verbosity=0)


@pytest.fixture
def subaccount(db):
    return SubAccountFactory(slug="acme", name="Acme")


@pytest.fixture
def other_subaccount(db):
    return SubAccountFactory(slug="globex", name="Globex")


@pytest.fixture(scope="session")
def live_server(request):
    """pytest-django's ``live_server``, whose request threads close their database connections
    after every request (tests/live_server.py says why)."""
    addr = (
        request.config.getvalue("liveserver") or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS") or "localhost"
    )
    server = live_server_start(addr)
    yield server
    server.stop()


@pytest.fixture
def sandbox_url(live_server):
    """Base URL of the emulators, served over real HTTP by pytest-django's live server."""
    return f"{live_server.url}/sandbox"


@pytest.fixture(autouse=True)
def _fresh_receiver_memory(monkeypatch):
    """What webhooks remember per process (integrations read, rate-limit leases, kick windows)
    starts empty in every test: the database under it is new each time, and a window left open by
    the previous test would swallow this test's first kick (eager tasks never run the queued one)."""
    from integrations.kick import kick_reset
    from webhooks.inbound import services as inbound
    from webhooks.inbound import targets as inbound_targets
    from webhooks.inbound import throttle
    from webhooks.outbound import outbox

    inbound_targets.forget()
    # A fresh process holds no rate-limit slices and, without Redis, has counted nothing.
    monkeypatch.setattr(throttle, "_leases", {})
    monkeypatch.setattr(throttle, "_local_counts", {})
    kick_reset(inbound.KICK_KEY)
    kick_reset(outbox.KICK_KEY)
