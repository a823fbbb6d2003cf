"""Generated requests from our own OpenAPI schema: whatever the input, never a 500.

Eight examples per operation in the suite; ``FUZZ_EXAMPLES=300 pytest tests/integrations/test_api_fuzz.py``
digs deeper (run it after touching the API).
"""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from config.wsgi import application
from integrations.models import ApiKey
from tests.factories import IntegrationFactory, SubAccountFactory

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture
def api_key(catalog):
    sub = SubAccountFactory(slug="fuzz")
    IntegrationFactory(subaccount=sub, config={"auth_mode": "private_app", "access_token": "pat-fuzz-123"})
    return ApiKey.objects.create_key(name="fuzz", subaccount=sub)[1]


@pytest.mark.django_db(transaction=True)
@(
    schema.include(method=["GET", "POST", "PATCH", "PUT"])
    .exclude(path_regex=r".*/(test|sync|disconnect|oauth/start)/$")
    .parametrize()
)
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", 8)),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_never_answers_500(case, api_key, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = case.call(headers={"Authorization": f"Bearer {api_key}"})
    case.validate_response(response, checks=[not_a_server_error])
