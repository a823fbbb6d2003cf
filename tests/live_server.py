"""pytest-django's live server, with request threads that close their database connections.

Django's test server answers each client socket on its own thread and closes that thread's database
connections only when the client closes the socket (``ThreadedWSGIServer.close_request``). Our
clients keep sockets alive (``requests.Session`` in connectors, emulators and tests, the browser in
e2e tests), so with persistent connections (``CONN_MAX_AGE``) every idle keep-alive thread held a
PostgreSQL session open, across tests and past the end of the run, and dropping the test database
then found it "being accessed by other users". Here each request closes what it opened, as the
last thing its thread does before waiting for the client's next request.
"""

from __future__ import annotations

from django.db import connections
from django.test.testcases import LiveServerThread, QuietWSGIRequestHandler
from pytest_django.live_server_helper import LiveServer


class _ClosingRequestHandler(QuietWSGIRequestHandler):
    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        finally:
            # This thread's connections only (they are thread-local); an in-memory SQLite
            # connection shared with the test thread ignores close().
            connections.close_all()


class ClosingLiveServerThread(LiveServerThread):
    def _create_server(self, connections_override=None):
        return self.server_class(
            (self.host, self.port),
            _ClosingRequestHandler,
            allow_reuse_address=False,
            connections_override=connections_override,
        )


def live_server_start(addr: str) -> LiveServer:
    """A started ``LiveServer`` (pytest-django's fixture object) running ``ClosingLiveServerThread``."""
    server = LiveServer(addr, start=False)
    plain = server.thread
    server.thread = ClosingLiveServerThread(
        plain.host,
        plain.static_handler,
        connections_override=plain.connections_override,
        port=plain.port,
    )
    server.thread.daemon = True
    server.start()
    return server
