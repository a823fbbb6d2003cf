"""A real HTTP endpoint for emulators to post webhooks to: it records every request and answers
with the statuses a test scripts (and can stall), so retries and back-off are seen for real."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookReceiver:
    """``statuses`` are answered in turn, then ``status``; ``stall`` delays the next answer once.
    Each request lands in ``received`` as {at, headers, body (bytes), json (parsed or None), status}."""

    def __init__(self, status: int = 200):
        self.status = status
        self.statuses: list[int] = []
        self.stall = 0.0
        self.received: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    stall, receiver.stall = receiver.stall, 0.0
                time.sleep(stall)
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else receiver.status
                    receiver.received.append(
                        {
                            "at": time.monotonic(),
                            "headers": dict(self.headers),
                            "body": body,
                            "json": _json(body),
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

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _json(body: bytes):
    try:
        return json.loads(body)
    except ValueError:
        return None
