"""MissionX fixtures: a reset emulator on the live server, an account's config, connectors on it,
and a scripted webhook receiver (a real HTTP server) that records what it was sent."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from connectors.missionx.connector import MissionXConnector
from connectors.missionx.emulator import emulator as missionx_emulator
from tests.sandbox import connectors_made
from tests.sandbox import emulator_control as control  # noqa: F401 (the tests import it from here)


@pytest.fixture
def mx(transactional_db):
    """The MissionX emulator, empty, with its rate-limit windows cleared."""
    missionx_emulator.reset()
    yield missionx_emulator
    missionx_emulator.reset()


@pytest.fixture
def config(mx, sandbox_url):
    config, tokens = mx.connect(sandbox_url)
    assert tokens is None
    return config


@pytest.fixture
def base(config):
    return config["base_url"]


@pytest.fixture
def api(config):
    """A plain HTTP session holding the account's API key, for talking to the emulator directly."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {config['api_key']}"
    yield session
    session.close()


@pytest.fixture
def make_connector():
    yield from connectors_made(MissionXConnector)


@pytest.fixture
def connector(config, make_connector):
    return make_connector(config)


class Receiver:
    """Answers each POST with the next scripted status (then 200) and keeps every request."""

    def __init__(self):
        self.statuses: list[int] = []
        self.stall = 0.0  # seconds the next request waits before it is answered
        self.received: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    stall, receiver.stall = receiver.stall, 0.0
                time.sleep(stall)
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.received.append(
                        {
                            "at": time.monotonic(),
                            "headers": dict(self.headers),
                            "body": body,
                            "status": status,
                        }
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.stop()


def wait_for_deliveries(base: str, count: int, *, timeout: float = 20.0) -> list[dict]:
    """The emulator's delivery log once ``count`` deliveries are done (fails the test on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = requests.get(f"{base}/_control/deliveries", timeout=10).json()["data"]
        done = [row for row in rows if row["done"]]
        if len(done) >= count:
            return done
        assert time.monotonic() < deadline, rows
        time.sleep(0.05)
