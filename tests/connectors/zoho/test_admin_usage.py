"""Zoho's API-credit use reaches the integration's admin page through the last connection test."""

import re

import pytest
from django.contrib.auth import get_user_model

from integrations.services import integration_test
from tests.sandbox import sandbox_integration


@pytest.fixture
def staff(client, transactional_db):
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-123456789")
    client.force_login(user)
    return client


def page_text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_emulator_reports_credits_in_the_rate_headers(api, base):
    answer = api.get(f"{base}/crm/v7/org")
    assert answer.status_code == 200
    assert int(answer.headers["X-RATELIMIT-LIMIT"]) == 50_000
    assert 0 <= int(answer.headers["X-RATELIMIT-REMAINING"]) < 50_000


def test_the_admin_shows_api_credits_used_after_a_health_check(zoho, sandbox_url, catalog, subaccount, staff):
    integration = sandbox_integration(subaccount, "zoho", sandbox_url)
    result = integration_test(integration=integration, actor="test")
    assert result.ok, result.message
    used = zoho.credits_used()  # the health check's calls, as the emulator counted them
    assert used >= 1

    page = staff.get(f"/admin/integrations/integration/{integration.pk}/change/")
    assert page.status_code == 200
    text = page_text(page.content.decode())
    match = re.search(r"API credits used: ([\d,]+) of 50,000 in the last 24 hours", text)
    assert match, text[:2000]
    assert int(match[1].replace(",", "")) == used
    assert "Provider usage" in text
