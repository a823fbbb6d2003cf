"""Generated requests from our own OpenAPI schema, checked with every schemathesis check: no 500,
and every status, body, parameter bound and format the server has is the one the schema declares
(a schema-valid request is accepted, a schema-invalid one refused).

Ten examples per operation and phase in the suite, with a fixed seed;
``FUZZ_EXAMPLES=300 pytest tests/integrations/test_api_fuzz.py`` digs deeper (run it after touching the API).
"""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from config.wsgi import application
from integrations.models import ApiKey
from sync.models import Company, Contact, Conversation, Deal
from tests.factories import IntegrationFactory, SubAccountFactory

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
# JSON with NUL (\u0000) anywhere, keys included, is refused as malformed (PostgreSQL cannot store it;
# the API description says so), and OpenAPI 3.0 cannot constrain object keys.
schema.config.generation.update(allow_x00=False)

# The schema's own formats for record values (sync.api.serializers.RECORD_VALUE_FORMATS).
schemathesis.openapi.format("phone", st.sampled_from(["+14155552671", "+442071838750", "(415) 555-2671", ""]))
schemathesis.openapi.format(
    "domain", st.sampled_from(["example.com", "https://www.Acme.io/about", "sub.example.org"])
)

# Values no schema can pin down, substituted in requests that are otherwise valid (a generated one
# would be a correct 400): ids of the caller's own live objects; phone numbers (valid per numbering
# plan, libphonenumber); domains (the "domain" format is ours: a host name, or a URL reduced to one);
# webhook targets (must resolve to a public address; the sandbox allows
# loopback); an integration's template and config (the config is checked against the template's own
# JSON schema, which the OpenAPI document cannot embed per template).
REFERENCES = {
    "integration": "integration",
    "integration_id": "integration",
    "linked_to": "integration",
    "company_id": "company",
    "contact_id": "contact",
    "deal_id": None,
    "conversation_id": "conversation",
    "contact_ids": "contact_ids",
}
FIXED = {
    "phone": "+14155552671",
    "mobile_phone": "+442071838750",
    "mobilePhone": "+442071838750",  # the enrichment sync API's record
    "url": "http://127.0.0.1:9/hook",
    "domain": "https://www.fuzz.example/about",
}
HUBSPOT_CONFIG = {"auth_mode": "private_app", "access_token": "pat-fuzz-456"}


@pytest.fixture
def fixture_ids(catalog):
    sub = SubAccountFactory(slug="fuzz")
    # The base URL refuses connections at once: test/ and sync/ get a real answer, never a provider.
    integration = IntegrationFactory(
        subaccount=sub,
        config={"auth_mode": "private_app", "access_token": "pat-fuzz-123", "base_url": "http://127.0.0.1:9"},
    )
    company = Company.objects.create(subaccount=sub, name="Fuzz Inc")
    contact = Contact.objects.create(subaccount=sub, email="fuzz@example.com", company=company)
    deal = Deal.objects.create(subaccount=sub, name="Fuzz deal", company=company)
    deal.contacts.add(contact)
    conversation = Conversation.objects.create(subaccount=sub, subject="Fuzz chat", contact=contact)
    key = ApiKey.objects.create_key(name="fuzz", subaccount=sub)[1]
    ids = {
        "integration": integration.pk,
        "company": company.pk,
        "contact": contact.pk,
        "conversation": conversation.pk,
    }
    return key, {**ids, "contact_ids": [contact.pk]}


def _substitute_references(case, ids: dict[str, int]) -> None:
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    containers = [case.query] if isinstance(case.query, dict) else []
    if isinstance(case.body, dict):
        containers.append(case.body)
        records = case.body.get("records")
        if isinstance(records, list):
            containers += [item for item in records if isinstance(item, dict)]
        # The enrichment sync API's record (POST /enrichment/sync).
        containers += [
            case.body[key] for key in ("contact", "company") if isinstance(case.body.get(key), dict)
        ]
    for container in containers:
        for name, entity in REFERENCES.items():
            value = container.get(name)
            if value not in (None, "") and not isinstance(value, bool):
                container[name] = ids[entity] if entity else None
        for name, value in FIXED.items():
            if container.get(name) not in (None, ""):
                container[name] = value
        if isinstance(container.get("custom_fields"), dict):  # keys: 1-255 characters, not blank
            fields = container["custom_fields"]
            container["custom_fields"] = {k: v for k, v in fields.items() if k.strip() and len(k) <= 255}
    if case.method == "PUT" and case.path.endswith("/mappings/") and isinstance(case.body, dict):
        # A transform's arguments are checked beyond their JSON types (a strftime pattern, a
        # non-empty list of field names): the schema cannot say it all, so generated ones are dropped.
        for rows in case.body.values():
            for row in rows if isinstance(rows, list) else ():
                if (
                    isinstance(row, dict)
                    and isinstance(row.get("transform"), dict)
                    and row["transform"].get("args")
                ):
                    row["transform"] = None
    if case.method == "POST" and case.path == "/api/v1/integrations/" and isinstance(case.body, dict):
        case.body.update(template="hubspot", config=HUBSPOT_CONFIG)
    elif case.method == "PATCH" and isinstance(case.body, dict) and "config" in case.body:
        if case.path == "/api/v1/integrations/{id}/":
            case.body["config"] = HUBSPOT_CONFIG


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", 10)),
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_does_what_its_schema_says(case, fixture_ids, django_capture_on_commit_callbacks):
    key, ids = fixture_ids
    _substitute_references(case, ids)
    # A negative case may have its own malformed Authorization header as its violation: replacing it
    # with our key would turn the case valid (and its acceptance into a false failure).
    negative = case.meta is not None and not case.meta.generation.mode.is_positive
    keep_own = negative and "Authorization" in (case.headers or {})
    with django_capture_on_commit_callbacks(execute=False):
        case.call_and_validate(headers={} if keep_own else {"Authorization": f"Bearer {key}"})
