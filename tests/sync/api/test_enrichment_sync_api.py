"""The seed's sync API: POST one contact or company (upsert + a queued enrichment job), GET the logs."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sync.models import Change, Company, Contact, EnrichmentJob
from tests.factories import IntegrationFactory

SEED_CONTACT = {
    "email": "John@Company.com",
    "firstName": "John",
    "lastName": "Doe",
    "company": "Acme Corp",
    "phone": "+44 20 1234 5678",
    "title": "CTO",
}


def sync(api, body, **headers):
    return api.post("/api/v1/enrichment/sync", body, format="json", **headers)


def test_a_seed_contact_in_camel_case_is_created_and_queued_with_its_options(api, subaccount):
    answer = sync(
        api,
        {
            "entity_type": "contact",
            "contact": SEED_CONTACT,
            "options": {"skipEnrichment": True, "priority": 8},
        },
    )
    assert answer.status_code == 202, answer.content
    body = answer.json()
    contact = Contact.objects.get(pk=body["id"])
    assert (body["success"], body["entityType"], body["operation"]) == (True, "contact", "create")
    assert (contact.subaccount, contact.email, contact.first_name, contact.last_name) == (
        subaccount,
        "john@company.com",
        "John",
        "Doe",
    )
    assert (contact.job_title, contact.company_name, contact.phone) == ("CTO", "Acme Corp", "+442012345678")
    job = EnrichmentJob.objects.get(pk=body["job_id"])
    assert (job.entity, job.record_id, job.status, job.priority) == ("contact", contact.pk, "pending", 8)
    assert (job.skip_enrichment, job.reason, job.operation, job.integration_id) == (
        True,
        "api",
        "create",
        None,
    )
    assert Change.objects.get(entity="contact", record_id=contact.pk).origin.startswith("api_key:")


def test_syncing_again_matches_by_email_and_reuses_the_pending_job(api, subaccount):
    first = sync(api, {"entity_type": "contact", "contact": SEED_CONTACT}).json()
    again = sync(api, {"entity_type": "contact", "contact": {**SEED_CONTACT, "email": "john@company.com"}})
    assert again.status_code == 202
    assert (again.json()["id"], again.json()["operation"], again.json()["job_id"]) == (
        first["id"],
        "unchanged",
        first["job_id"],
    )
    changed = sync(
        api,
        {
            "entity_type": "contact",
            "contact": {"email": "john@company.com", "title": "CEO"},
            "options": {"priority": 10},
        },
    ).json()
    assert (changed["id"], changed["operation"]) == (first["id"], "update")
    job = EnrichmentJob.objects.get()
    assert (job.pk, job.priority, job.skip_enrichment) == (first["job_id"], 10, False)
    assert Contact.objects.get().job_title == "CEO"


def test_the_canonical_name_wins_over_the_seeds_and_the_other_entity_is_ignored(api):
    body = sync(
        api,
        {
            "entity_type": "contact",
            "contact": {"title": "CTO", "job_title": "CEO", "email": "ana@example.com"},
            "company": {"name": "Ignored"},
        },
    ).json()
    assert Contact.objects.get(pk=body["id"]).job_title == "CEO"
    assert not Company.objects.exists()


def test_the_default_options_are_normal_priority_with_enrichment(api):
    body = sync(
        api, {"entity_type": "company", "company": {"name": "Revolut", "domain": "https://www.revolut.com"}}
    ).json()
    company = Company.objects.get(pk=body["id"])
    assert (body["entityType"], company.domain) == ("company", "revolut.com")
    job = EnrichmentJob.objects.get(pk=body["job_id"])
    assert (job.entity, job.priority, job.skip_enrichment) == ("company", 5, False)


def test_the_integration_whose_toggles_apply_must_be_the_callers(api, subaccount, other_subaccount):
    mine = IntegrationFactory(subaccount=subaccount)
    theirs = IntegrationFactory(subaccount=other_subaccount)
    refused = sync(
        api, {"entity_type": "contact", "contact": {"email": "ana@example.com"}, "integration_id": theirs.pk}
    )
    assert refused.status_code == 400
    assert "integration_id" in refused.json()["error"]["details"]
    assert not Contact.objects.exists() and not EnrichmentJob.objects.exists()
    body = sync(
        api, {"entity_type": "contact", "contact": {"email": "ana@example.com"}, "integration_id": mine.pk}
    ).json()
    assert EnrichmentJob.objects.get(pk=body["job_id"]).integration_id == mine.pk


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"entity_type": "contact", "contact": {"email": "ana@example.com"}, "options": {"priority": 0}},
            "options",
        ),
        (
            {"entity_type": "contact", "contact": {"email": "ana@example.com"}, "options": {"priority": 11}},
            "options",
        ),
        (
            {
                "entity_type": "contact",
                "contact": {"email": "ana@example.com"},
                "options": {"skipEnrichment": "x"},
            },
            "options",
        ),
        ({"entity_type": "deal", "contact": {"email": "ana@example.com"}}, "entity_type"),
        ({"entity_type": "contact"}, "contact"),
        ({"entity_type": "contact", "contact": ["a"]}, "contact"),
        ({"entity_type": "contact", "contact": {"email": "not an email"}}, "email"),
        ({"entity_type": "contact", "contact": {"score": 99}}, "score"),
        ({"entity_type": "contact", "contact": {"ownerId": "x" * 256, "owner_id": "ana"}}, "ownerId"),
        (
            {"entity_type": "contact", "contact": {"email": "ana@example.com"}, "options": {"priority": "8"}},
            "options",
        ),
        (
            {"entity_type": "contact", "contact": {"email": "ana@example.com"}, "integration_id": "1"},
            "integration_id",
        ),
        ({"entity_type": "contact", "contact": {"companyId": "abc-123"}}, "company_id"),
    ],
)
def test_invalid_sync_requests_are_400s_that_write_nothing(api, body, field):
    answer = sync(api, body)
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["code"] == "invalid"
    assert field in answer.json()["error"]["details"]
    assert not Contact.objects.exists() and not EnrichmentJob.objects.exists()


def test_the_company_id_of_another_sub_account_is_refused(api, other_subaccount):
    theirs = Company.objects.create(subaccount=other_subaccount, name="Theirs")
    answer = sync(
        api, {"entity_type": "contact", "contact": {"email": "ana@example.com", "companyId": theirs.pk}}
    )
    assert answer.status_code == 400 and "company_id" in answer.json()["error"]["details"]


def test_idempotency_key_replays_the_first_answer(api):
    body = {"entity_type": "contact", "contact": {"email": "ana@example.com"}, "options": {"priority": 9}}
    first = sync(api, body, HTTP_IDEMPOTENCY_KEY="k-1")
    again = sync(api, body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 202 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    conflict = sync(api, {**body, "options": {"priority": 2}}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "idempotency_conflict"
    assert Contact.objects.count() == 1 and EnrichmentJob.objects.count() == 1


# --- logs ------------------------------------------------------------------------------------------


def job(subaccount, **values):
    now = timezone.now()
    defaults = {"entity": "contact", "record_id": 1, "status": "succeeded", "available_at": now}
    return EnrichmentJob.objects.create(subaccount=subaccount, **{**defaults, **values})


def test_logs_show_the_seeds_fields_newest_first(api, subaccount):
    done = job(
        subaccount,
        record_id=7,
        enrichments={"leadScore": 89, "buyingSignals": ["hiring"]},
        duration_ms=1250,
        enrichment_ms=900,
        finished_at=timezone.now(),
    )
    failed = job(subaccount, record_id=8, entity="company", status="failed", error="provider down")
    logs = api.get("/api/v1/enrichment/sync").json()["logs"]
    assert [row["id"] for row in logs] == [failed.pk, done.pk]
    row = logs[1]
    assert {
        k: row[k] for k in ("sync_type", "operation", "status", "duration_ms", "enrichment_ms", "record_id")
    } == {
        "sync_type": "contact",
        "operation": "update",
        "status": "succeeded",
        "duration_ms": 1250,
        "enrichment_ms": 900,
        "record_id": 7,
    }
    assert row["enrichments"]["leadScore"] == 89 and row["integration_id"] is None
    assert logs[0]["error"] == "provider down" and logs[0]["sync_type"] == "company"


def test_logs_filter_by_status_entity_and_integration(api, subaccount, other_subaccount):
    integration = IntegrationFactory(subaccount=subaccount)
    theirs = IntegrationFactory(subaccount=other_subaccount)
    ok = job(subaccount, integration=integration, record_id=1)
    failed = job(subaccount, status="failed", record_id=2)
    company = job(subaccount, entity="company", record_id=3, status="pending")
    job(other_subaccount, record_id=4, integration=theirs)

    def ids(query: str) -> list[int]:
        answer = api.get(f"/api/v1/enrichment/sync?{query}")
        assert answer.status_code == 200, answer.content
        return [row["id"] for row in answer.json()["logs"]]

    assert ids("") == [company.pk, failed.pk, ok.pk]
    assert ids("status=failed") == [failed.pk]
    assert ids("entity_type=company") == [company.pk]
    assert ids(f"integration_id={integration.pk}") == [ok.pk]
    refused = api.get(f"/api/v1/enrichment/sync?integration_id={theirs.pk}")
    assert refused.status_code == 400 and "integration_id" in refused.json()["error"]["details"]


def test_logs_page_with_limit_and_next_before(api, subaccount):
    jobs = [job(subaccount, record_id=n) for n in range(5)]
    first = api.get("/api/v1/enrichment/sync?limit=2").json()
    assert [row["id"] for row in first["logs"]] == [jobs[4].pk, jobs[3].pk]
    second = api.get(f"/api/v1/enrichment/sync?limit=2&before={first['next_before']}").json()
    third = api.get(f"/api/v1/enrichment/sync?limit=2&before={second['next_before']}").json()
    assert [row["id"] for row in second["logs"] + third["logs"]] == [jobs[2].pk, jobs[1].pk, jobs[0].pk]
    assert third["next_before"] is None


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "status=success", "entity_type=deal", "before=x"])
def test_log_query_validation(api, query):
    answer = api.get(f"/api/v1/enrichment/sync?{query}")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid"


def test_logs_never_show_another_sub_accounts_jobs(api, other_api, subaccount, other_subaccount):
    mine = job(subaccount, finished_at=timezone.now() - timedelta(minutes=1))
    assert [row["id"] for row in other_api.get("/api/v1/enrichment/sync").json()["logs"]] == []
    assert [row["id"] for row in api.get("/api/v1/enrichment/sync").json()["logs"]] == [mine.pk]


def test_the_sync_api_needs_a_key(client, db):
    answer = client.post("/api/v1/enrichment/sync", {}, content_type="application/json")
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthenticated"
