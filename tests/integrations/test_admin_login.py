"""The admin's log-in is rate-limited: five failures for one username (within 15 minutes) and further
attempts are refused without a password check, with a message that says when to come back."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings

from integrations import admin_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    name = f"op-{uuid.uuid4().hex[:8]}"  # the counts live in the shared storage: a name of its own
    get_user_model().objects.create_superuser(name, f"{name}@example.com", "right-password")
    return name


def attempt(client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post("/admin/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_five_failures_lock_the_username_even_with_the_right_password(client, operator):
    for _ in range(5):
        assert "correct username and password" in attempt(client, operator, "wrong").content.decode()

    refused = attempt(client, operator, "right-password")

    assert refused.status_code == 200 and "_auth_user_id" not in client.session
    assert "Too many failed log-ins" in refused.content.decode()
    assert "Try again in 15 minute(s)" in refused.content.decode()


def test_a_success_clears_the_usernames_failures(client, operator):
    for _ in range(4):
        attempt(client, operator, "wrong")
    assert attempt(client, operator, "right-password").status_code == 302
    client.logout()

    for _ in range(4):
        attempt(client, operator, "wrong")
    assert attempt(client, operator, "right-password").status_code == 302  # four again, not eight


def test_one_address_trying_many_usernames_is_locked_out(client, operator):
    address = f"10.1.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    for n in range(20):
        attempt(client, f"guess-{uuid.uuid4().hex[:6]}-{n}", "wrong", address)

    refused = attempt(client, operator, "right-password", address)

    assert "Too many failed log-ins" in refused.content.decode()
    assert attempt(client, operator, "right-password", "10.9.9.9").status_code == 302  # elsewhere: fine


@override_settings(ADMIN_LOGIN_FAILURES="2 per 1 minute")
def test_the_budget_is_a_setting(client, operator):
    attempt(client, operator, "wrong")
    attempt(client, operator, "wrong")

    assert "Too many failed log-ins" in attempt(client, operator, "right-password").content.decode()


def test_the_storage_being_down_does_not_lock_anyone_out(client, operator, monkeypatch):
    class Down:
        def __getattr__(self, name):
            raise ConnectionError("redis is down")

    monkeypatch.setattr(admin_login, "moving_window", Down)

    assert attempt(client, operator, "right-password").status_code == 302
