"""API clients with a sub-account's key: ``api`` for acme, ``other_api`` for globex (who must see nothing)."""

import pytest
from rest_framework.test import APIClient

from integrations.models import ApiKey


def api_for(subaccount) -> APIClient:
    key = ApiKey.objects.create_key(name="test", subaccount=subaccount)[1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def api(subaccount):
    return api_for(subaccount)


@pytest.fixture
def other_api(other_subaccount):
    return api_for(other_subaccount)
