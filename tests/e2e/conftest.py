"""Playwright on Debian's chromium against pytest-django's live server (LIBRARIES.md §3)."""

import os

import pytest

# Must be set before Playwright's session fixtures start their event loop (an autouse
# monkeypatch is too late); that is why e2e tests run in their own pytest call.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium", "args": ARGS}
