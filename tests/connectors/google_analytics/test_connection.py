"""``test_connection``: the token exchange, a one-row report and the validation server's verdict
on a sample ``generate_lead``; every failure a message, never an exception or a secret."""

from __future__ import annotations

import pytest

from connectors.base import MemoryTokenStore
from connectors.google_analytics.connector import GoogleAnalyticsConnector
from tests.connectors.google_analytics.conftest import control

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_connected_integration_passes(connector, key_file):
    result = connector.test_connection()
    assert result.ok, result.message
    assert key_file["client_email"] in result.message and "G-SANDBOX123" in result.message
    assert result.details["tokens_per_day_remaining"] > 0


def test_events_only_and_reports_only_configs_test_their_own_channel(config):
    events_only = {k: config[k] for k in ("measurementId", "apiSecret", "collect_url")}
    assert GoogleAnalyticsConnector(events_only).test_connection().ok
    reports_only = {k: config[k] for k in ("serviceAccountKey", "propertyId", "base_url")}
    result = GoogleAnalyticsConnector(reports_only, token_store=MemoryTokenStore()).test_connection()
    assert result.ok and "events" not in result.message


def test_a_garbage_key_is_a_config_failure_without_the_key(config):
    result = GoogleAnalyticsConnector(
        {**config, "serviceAccountKey": '{"client_email": "x@y", "private_key": "SECRETPEM"}'}
    ).test_connection()
    assert not result.ok and result.details == {"reason": "config", "field": "serviceAccountKey"}
    assert "SECRETPEM" not in result.message


def test_a_spent_quota_is_unreachable_for_now(connector, config):
    control(config, "settings", {"tokens_per_day": 1})
    result = connector.test_connection()
    assert not result.ok and result.details["reason"] == "unreachable" and "per day" in result.message


def test_an_injected_server_error_on_the_report_is_retried(connector, config):
    control(config, "faults", {"rule": {"path_contains": ":runReport", "count": 1, "status": 503}})
    assert connector.test_connection().ok
