"""Playwright on Debian's chromium against pytest-django's live server (LIBRARIES.md §3)."""

import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from playwright.sync_api import Page, expect

from integrations.models import Membership, SubAccount

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


SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "correct-horse-battery"


def log_in(page: Page, base: str, username: str) -> Page:
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_be_visible()
    return page


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save the current screen as docs/screenshots/<name>.png (the README's tour shows them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=full_page)
    return target


@pytest.fixture
def operator_page(live_server, page: Page) -> Page:
    """A superuser (an operator: every sub-account) logged in; the catalog loaded; sub-account acme."""
    call_command("load_catalog", verbosity=0)
    SubAccount.objects.get_or_create(slug="acme", defaults={"name": "Acme"})
    get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)
    return log_in(page, live_server.url, "operator")


@pytest.fixture
def staff_user(db):
    """Make a staff (not super) user who manages only ``subaccounts``, holding every model permission
    outside auth: what they may touch is then decided by the admin's scoping alone."""

    def make(username: str, *subaccounts: SubAccount):
        user = get_user_model().objects.create_user(
            username, f"{username}@example.com", PASSWORD, is_staff=True
        )
        user.user_permissions.set(Permission.objects.exclude(content_type__app_label__in=["auth"]))
        for sub in subaccounts:
            Membership.objects.create(user=user, subaccount=sub)
        return user

    return make
