"""The integration admin shows whatever quota usage a connector reported at the last connection test
(``TestResult.details[USAGE_KEY]``), for any provider, and nothing when none was reported."""

import pytest
from django.contrib.auth import get_user_model

from connectors.types import USAGE_KEY
from tests.factories import IntegrationFactory


@pytest.fixture
def staff(db, client):
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-123456789")
    client.force_login(user)
    return client


def change_page(client, integration) -> str:
    page = client.get(f"/admin/integrations/integration/{integration.pk}/change/")
    assert page.status_code == 200
    return page.content.decode()


def test_reported_usage_rows_are_shown_under_health(staff, catalog, subaccount):
    integration = IntegrationFactory(
        subaccount=subaccount,
        last_test_details={
            "org_id": "1",
            USAGE_KEY: [
                {"label": "Daily requests used", "value": "120 of 10,000 today"},
                {"label": "<b>Burst</b>", "value": "3 of 100 per 10 s"},
            ],
        },
    )
    html = change_page(staff, integration)
    assert "Provider usage" in html
    assert "<strong>Daily requests used:</strong> 120 of 10,000 today" in html
    assert "&lt;b&gt;Burst&lt;/b&gt;" in html  # escaped, never markup from a provider


@pytest.mark.parametrize("details", [{}, {"org_id": "1"}, {USAGE_KEY: []}, {USAGE_KEY: [{"label": ""}]}])
def test_no_usage_reported_shows_no_usage_field(staff, catalog, subaccount, details):
    integration = IntegrationFactory(subaccount=subaccount, last_test_details=details)
    html = change_page(staff, integration)
    assert "Provider usage" not in html and "used:" not in html
