"""The other copies of personal data encrypted at rest (ENCRYPT_PII): lead events' payloads,
onboarding steps' payloads and results, client orders' names and e-mails (found by e-mail through a
blind index), payroll audits' corrections, enrichment findings and job summaries, message
attachments and the API's stored idempotent answers.

Raw rows are read with a cursor (what a dump or a stolen backup holds); the values come back through
the ORM, the flows that use them (lead events sent, an idempotent replay, the admin's search) and
``reencrypt``.
"""

import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import TextField
from django.db.models.functions import Cast
from rest_framework.test import APIClient

from integrations.models import ApiKey
from integrations.pii import is_token
from sync.enrichment.setup import EMPTY_OBJECT
from sync.lead_events import CLIENT_ID_FIELD, lead_event_of, lead_events_queue, lead_events_send
from sync.models import (
    Activity,
    AuditResult,
    ClientOrder,
    Contact,
    EnrichmentJob,
    FlowStep,
    IdempotencyKey,
    LeadEventOutbox,
)
from tests.factories import IntegrationFactory
from tests.sync.test_lead_events import (  # noqa: F401 -- fixtures and the recording sink
    RecordingSink,
    contact,
    kicks,
    sink,
    sink_registered,
)
from tests.sync.test_pii_encryption import ANA, raw, upsert

CLEAR = ("ana@example.com", "Lovelace", "4155552671")
CLIENT_ID = "1197596843.1673515000"
FILE = {"id": "fil_1", "filename": "payroll-ana-lovelace.xlsx", "download_url": "https://x.test/dl/fil_1"}
CORRECTIONS = [{"row": 2, "rule": "extra_cells", "message": "Values beyond the last column (Ana Lovelace)"}]


@pytest.fixture
def integration(catalog, subaccount):
    return IntegrationFactory(subaccount=subaccount, status="active", config={"auth_mode": "private_app"})


def assert_encrypted(*values: str, clear: tuple[str, ...] = CLEAR) -> None:
    assert all(is_token(value) for value in values), values
    text = " ".join(values)
    assert all(value not in text for value in clear)


def onboarding_rows(subaccount, integration) -> tuple[FlowStep, ClientOrder, AuditResult]:
    step = FlowStep.objects.create(
        subaccount=subaccount,
        integration=integration,
        key="audit:fil_1",
        entity_type=FlowStep.EntityType.AUDIT_RESULT,
        direction=FlowStep.Direction.INBOUND,
        payload={"portal_id": "prt_1", "file": FILE},
        result={"url": "https://portal.test/ana-lovelace"},
    )
    order, _ = ClientOrder.objects.update_or_create(
        integration=integration,
        lead_record_id="rec1",
        defaults={"subaccount": subaccount, "client_name": "Ana Lovelace", "email": "ana@example.com"},
    )
    audit = AuditResult.objects.create(
        subaccount=subaccount,
        integration=integration,
        order=order,
        file_id="fil_1",
        file_name="payroll.xlsx",
        corrections=CORRECTIONS,
        status=AuditResult.Status.COMPLETED,
    )
    return step, order, audit


def test_a_queued_lead_event_is_stored_encrypted_and_sent_as_it_was(subaccount, sink):  # noqa: F811
    ana = contact(subaccount, custom_fields={CLIENT_ID_FIELD: CLIENT_ID})
    lead_events_queue(subaccount_id=subaccount.pk)  # bulk_create of the outbox rows
    row = LeadEventOutbox.objects.get(integration=sink)
    assert_encrypted(raw("sync_leadeventoutbox", row.pk, "payload")["payload"], clear=(CLIENT_ID,))
    assert lead_event_of(row).client_id == CLIENT_ID and lead_event_of(row).user_id == str(ana.pk)

    lead_events_send(subaccount_id=subaccount.pk)
    [(_, [event])] = RecordingSink.requests
    assert (event.client_id, event.user_id, event.params["lead_source"]) == (CLIENT_ID, str(ana.pk), "api")


def test_onboarding_steps_orders_and_audits_are_stored_encrypted(subaccount, integration):
    step, order, audit = onboarding_rows(subaccount, integration)
    stored = raw("sync_flowstep", step.pk, "payload", "result")
    assert_encrypted(*stored.values(), clear=("ana-lovelace", "fil_1"))
    assert_encrypted(*raw("sync_clientorder", order.pk, "client_name", "email").values())
    assert_encrypted(raw("sync_auditresult", audit.pk, "corrections")["corrections"])

    step = FlowStep.objects.get(pk=step.pk)
    assert step.payload["file"] == FILE and step.result == {"url": "https://portal.test/ana-lovelace"}
    # step_save_progress's write: a queryset update() goes through the field too.
    FlowStep.objects.filter(pk=step.pk).update(result={**step.result, "emailed": True})
    assert is_token(raw("sync_flowstep", step.pk, "result")["result"])
    assert FlowStep.objects.get(pk=step.pk).result["emailed"] is True
    assert AuditResult.objects.get(pk=audit.pk).corrections == CORRECTIONS

    # A second update_or_create (save with update_fields) keeps the e-mail's index in step.
    ClientOrder.objects.update_or_create(
        integration=integration, lead_record_id="rec1", defaults={"email": "bob@example.com"}
    )
    assert not ClientOrder.objects.filter(email="ana@example.com").exists()
    found = ClientOrder.objects.get(email="BOB@example.com")
    assert (found.pk, found.client_name) == (order.pk, "Ana Lovelace")


def test_the_admin_finds_an_order_by_its_whole_email(admin_client, subaccount, integration):
    _, order, _ = onboarding_rows(subaccount, integration)
    page = admin_client.get("/admin/sync/clientorder/", {"q": "Ana@Example.com"})
    assert page.status_code == 200 and f"/admin/sync/clientorder/{order.pk}/" in page.content.decode()
    missed = admin_client.get("/admin/sync/clientorder/", {"q": "Lovelace"})
    assert missed.status_code == 200 and f"/admin/sync/clientorder/{order.pk}/" not in missed.content.decode()


def test_enrichment_findings_summaries_and_attachments_are_stored_encrypted(subaccount):
    [ana, bare] = upsert(subaccount, ANA, {"email": "bob@example.com"})
    found = {"http": {"full_name": "Ana Lovelace", "linkedin": "https://in.test/ana-lovelace"}}
    Contact.objects.filter(pk=ana.id).update(enriched=found)
    assert_encrypted(raw("sync_contact", ana.id, "enriched")["enriched"])
    assert Contact.objects.get(pk=ana.id).enriched == found
    assert raw("sync_contact", bare.id, "enriched")["enriched"] == EMPTY_OBJECT
    # The backfill's "enriched at all" filter (sync.enrichment.setup) reads an empty object's stored form.
    text = Contact.objects.annotate(enriched_text=Cast("enriched", TextField()))
    assert list(text.exclude(enriched_text=EMPTY_OBJECT).values_list("pk", flat=True)) == [ana.id]

    job = EnrichmentJob.objects.create(
        subaccount=subaccount,
        entity="contact",
        record_id=ana.id,
        available_at=Contact.objects.get(pk=ana.id).created_at,
        enrichments={"summary": "Ana Lovelace, ana@example.com"},
    )
    assert_encrypted(raw("sync_enrichmentjob", job.pk, "enrichments")["enrichments"])

    attachments = [{"name": "ana-lovelace-passport.pdf", "url": "https://files.test/ana@example.com"}]
    [message] = upsert(
        subaccount, {"kind": "message", "body": "hi", "attachments": attachments}, entity="activity"
    )
    assert_encrypted(raw("sync_activity", message.id, "attachments")["attachments"], clear=("ana-lovelace",))
    assert Activity.objects.get(pk=message.id).attachments == attachments


def test_an_idempotent_answer_is_stored_encrypted_and_replayed(subaccount):
    _, key = ApiKey.objects.create_key(name="test", subaccount=subaccount)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    first = api.post("/api/v1/contacts/", ANA, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201, first.content
    stored = IdempotencyKey.objects.get(subaccount=subaccount, key="k-1")
    assert_encrypted(raw("sync_idempotencykey", stored.pk, "response")["response"])
    again = api.post("/api/v1/contacts/", ANA, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json() and again.json()["email"] == "ana@example.com"


def test_with_encrypt_pii_off_the_copies_are_clear_and_reencrypt_encrypts_them(
    subaccount, integration, settings
):
    settings.ENCRYPT_PII = False
    step, order, audit = onboarding_rows(subaccount, integration)
    assert json.loads(raw("sync_flowstep", step.pk, "payload")["payload"])["file"] == FILE
    assert raw("sync_clientorder", order.pk, "email")["email"] == "ana@example.com"
    assert json.loads(raw("sync_auditresult", audit.pk, "corrections")["corrections"]) == CORRECTIONS

    settings.ENCRYPT_PII = True  # switched on: clear rows stay readable, reencrypt encrypts them
    assert ClientOrder.objects.get(email="ana@example.com").client_name == "Ana Lovelace"
    call_command("reencrypt", verbosity=0)
    assert_encrypted(*raw("sync_flowstep", step.pk, "payload", "result").values(), clear=("ana-lovelace",))
    assert_encrypted(*raw("sync_clientorder", order.pk, "client_name", "email").values())
    assert_encrypted(raw("sync_auditresult", audit.pk, "corrections")["corrections"])
    assert FlowStep.objects.get(pk=step.pk).payload["file"] == FILE
    assert ClientOrder.objects.get(email="ana@example.com").pk == order.pk


@pytest.mark.django_db(transaction=True)
def test_the_migrations_convert_existing_rows_and_back(subaccount, integration):
    step, order, audit = onboarding_rows(subaccount, integration)
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate([("sync", "0024_pii_json_encrypt_rows")])  # backwards: jsonb and varchar in clear
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT payload->'file'->>'filename', jsonb_typeof(result) FROM sync_flowstep WHERE id = %s",
                [step.pk],
            )
            assert cursor.fetchone() == ("payroll-ana-lovelace.xlsx", "object")
            cursor.execute("SELECT client_name, email FROM sync_clientorder WHERE id = %s", [order.pk])
            assert cursor.fetchone() == ("Ana Lovelace", "ana@example.com")
            cursor.execute("SELECT jsonb_typeof(corrections) FROM sync_auditresult WHERE id = %s", [audit.pk])
            assert cursor.fetchone() == ("array",)
    finally:
        executor.loader.build_graph()
        executor.migrate(leaves)
    assert_encrypted(*raw("sync_clientorder", order.pk, "client_name", "email").values())
    assert_encrypted(raw("sync_flowstep", step.pk, "payload")["payload"], clear=("ana-lovelace",))
    assert ClientOrder.objects.get(email="ana@example.com").pk == order.pk  # the index was filled
    assert AuditResult.objects.get(pk=audit.pk).corrections == CORRECTIONS
