"""The test live server (tests/live_server.py) leaves no database session behind a kept-alive socket,
so the test database can be dropped at the end of the run."""

import pytest
import requests
from django.db import connection

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="counts PostgreSQL sessions (make test starts one)"
)


def database_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_a_kept_alive_request_thread_holds_no_database_session(live_server):
    before = database_sessions()
    with requests.Session() as session:
        for _ in range(2):
            ready = session.get(f"{live_server.url}/readyz", timeout=10).json()
            assert ready["checks"]["database"]["ok"]  # the request thread did use the database
        # The socket is still open, its server thread waiting for a next request: no session held.
        assert database_sessions() <= before
