"""Per-key API throttling: each key has its own budget; over it, a 429 JSON error with Retry-After."""

from __future__ import annotations

import pytest
from django.test import override_settings

from integrations.api import throttling
from integrations.api.throttling import parse_rate
from tests.integrations.test_api import api_for

pytestmark = pytest.mark.django_db


@override_settings(API_RATE_LIMIT="3/minute")
def test_a_key_over_its_budget_is_answered_429_with_retry_after(subaccount, other_subaccount):
    busy, quiet = api_for(subaccount), api_for(other_subaccount)

    answers = [busy.get("/api/v1/contacts/").status_code for _ in range(3)]
    refused = busy.get("/api/v1/contacts/")

    assert answers == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert quiet.get("/api/v1/contacts/").status_code == 200  # another key's budget is its own


@override_settings(API_RATE_LIMIT="")
def test_an_empty_rate_turns_throttling_off(subaccount):
    api = api_for(subaccount)

    assert {api.get("/api/v1/contacts/").status_code for _ in range(20)} == {200}


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [
        ("6000/minute", (6000, 60)),
        ("10/second", (10, 1)),
        ("5/hour", (5, 3600)),
        ("100 per 10 seconds", (100, 10)),
    ],
)
def test_rates_use_the_limits_librarys_notation(rate, parsed):
    item = parse_rate(rate)
    assert (item.amount, item.get_expiry()) == parsed


def test_an_empty_rate_is_no_limit():
    assert parse_rate("") is None


def test_the_storage_being_down_lets_requests_through(subaccount, monkeypatch):
    class Down:
        def hit(self, *args):
            raise ConnectionError("redis is down")

    monkeypatch.setattr(throttling, "fixed_window", Down)
    api = api_for(subaccount)

    with override_settings(API_RATE_LIMIT="1/minute"):
        assert [api.get("/api/v1/contacts/").status_code for _ in range(3)] == [200, 200, 200]


@pytest.mark.parametrize("rate", ["lots", "10/fortnight", "x/minute"])
def test_a_malformed_rate_says_what_it_should_look_like(rate):
    with pytest.raises(ValueError, match="6000/minute"):
        parse_rate(rate)
