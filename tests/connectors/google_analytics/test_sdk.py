"""Google's official client (google-analytics-data, REST transport) runs against the emulator
unchanged: only ``api_endpoint`` and the key file's ``token_uri`` point at it."""

from __future__ import annotations

import json

import pytest
from google.analytics.data_v1beta import BetaAnalyticsDataClient
from google.analytics.data_v1beta.types import DateRange, Dimension, Metric, RunReportRequest
from google.api_core import exceptions as google_exceptions
from google.oauth2 import service_account

from tests.connectors.google_analytics.conftest import control

pytestmark = pytest.mark.django_db(transaction=True)
SCOPES = ["https://www.googleapis.com/auth/analytics.readonly"]


def official_client(config: dict, key_file: dict) -> BetaAnalyticsDataClient:
    credentials = service_account.Credentials.from_service_account_info(key_file, scopes=SCOPES)
    return BetaAnalyticsDataClient(
        transport="rest", client_options={"api_endpoint": config["base_url"]}, credentials=credentials
    )


def test_run_report_with_the_official_client(config, key_file):
    control(config, "seed", {"object": "traffic", "count": 3})
    client = official_client(config, key_file)
    response = client.run_report(
        RunReportRequest(
            property=f"properties/{config['propertyId']}",
            dimensions=[
                Dimension(name="date"),
                Dimension(name="sessionSource"),
                Dimension(name="sessionMedium"),
            ],
            metrics=[Metric(name="sessions"), Metric(name="conversions")],
            date_ranges=[DateRange(start_date="2daysAgo", end_date="today")],
            limit=10,
            offset=5,
            return_property_quota=True,
        )
    )
    assert response.row_count == 15 and len(response.rows) == 10
    assert [h.name for h in response.dimension_headers] == ["date", "sessionSource", "sessionMedium"]
    assert response.rows[0].dimension_values[0].value.isdigit()
    assert int(response.rows[0].metric_values[0].value) > 0
    assert response.property_quota.tokens_per_day.remaining > 0


def test_the_official_client_sees_permission_denied(config, key_file):
    control(config, "property", {"revoke": [key_file["client_email"]]})
    with pytest.raises(google_exceptions.Forbidden):  # REST maps 403 PERMISSION_DENIED to Forbidden
        official_client(config, key_file).run_report(
            RunReportRequest(
                property=f"properties/{config['propertyId']}",
                metrics=[Metric(name="sessions")],
                date_ranges=[DateRange(start_date="today", end_date="today")],
            )
        )
    assert json.dumps(key_file)  # the key file itself was used unchanged
