"""Copies of personal data in JSON columns encrypted at rest (ENCRYPT_PII): a link's agreed values,
a conflict's sides, a create intent and every record's custom fields (``integrations.fields.PiiJSONField``).

Raw rows are read with a cursor (what a dump or a stolen backup holds); the values come back through
the ORM, a full sync against the HubSpot emulator over real HTTP, the API, dumpdata and reencrypt.
"""

import io
import json
import time

import pytest
from cryptography.fernet import Fernet
from django.core import serializers
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from rest_framework.test import APIClient

from connectors.hubspot.emulator import emulator as hubspot_emulator
from integrations.models import ApiKey
from integrations.pii import is_token
from integrations.pii_rows import pii_rewrite
from sync.models import Conflict, Contact, CreateIntent, EntityLink
from sync.runs import sync_run_execute, sync_run_request
from sync.services import record_update
from tests.factories import IntegrationFactory
from tests.sandbox import sandbox_integration
from tests.sync.test_pii_encryption import ANA, raw, upsert

CLEAR = ("ana@example.com", "Lovelace", "4155552671", "2079460018")


@pytest.fixture
def integration(catalog, subaccount):
    return IntegrationFactory(subaccount=subaccount, status="active", config={"auth_mode": "private_app"})


def assert_no_clear_personal_data(text: str) -> None:
    for value in CLEAR:
        assert value not in text


def full_sync(integration, kind: str = "full"):
    run = sync_run_request(integration=integration, kind=kind, entities=["contact"], enqueue=False)
    run = sync_run_execute(run_id=run.pk)
    assert run.status == "succeeded", run.error
    return run


def conflict_row(subaccount, integration, local_id: int = 1, **values) -> Conflict:
    return Conflict.objects.create(
        subaccount=subaccount,
        integration=integration,
        entity="contact",
        local_id=local_id,
        remote_id="r1",
        field="email",
        **values,
    )


@pytest.mark.django_db(transaction=True)
def test_a_hubspot_sync_stores_link_bases_and_conflicts_encrypted(catalog, subaccount, sandbox_url):
    hubspot_emulator.reset()
    hubspot_emulator.create_many(
        "contacts", [{"email": "ana@example.com", "firstname": "Ana", "lastname": "Lovelace"}]
    )
    integration = sandbox_integration(subaccount, "hubspot", sandbox_url, conflict_strategy="crm_wins")
    full_sync(integration)  # the new link is written by the bulk COPY path

    link = EntityLink.objects.get(integration=integration)
    assert link.base["email"] == "ana@example.com" and link.base["last_name"] == "Lovelace"
    stored = raw("sync_entitylink", link.pk, "base")["base"]
    assert is_token(stored)
    assert_no_clear_personal_data(stored)

    # Both sides change the name: the strategy settles it and records the conflict.
    contact = Contact.objects.get(pk=link.local_id)
    record_update(record=contact, fields={"last_name": "Local-Lovelace"}, origin="api")
    time.sleep(0.01)  # HubSpot stamps milliseconds: the remote edit is the newer one
    hubspot_emulator.touch("contacts", link.remote_id, {"lastname": "Remote-Lovelace"})
    full_sync(integration, "delta")  # the link's base is rewritten by bulk_update

    settled = Conflict.objects.get(integration=integration)
    assert (settled.local_value, settled.remote_value, settled.base_value, settled.resolved_value) == (
        "Local-Lovelace",
        "Remote-Lovelace",
        "Lovelace",
        "Remote-Lovelace",
    )
    columns = ("local_value", "remote_value", "base_value", "resolved_value")
    stored = raw("sync_conflict", settled.pk, *columns)
    assert all(is_token(stored[name]) for name in columns)
    assert_no_clear_personal_data(" ".join(stored.values()))
    link.refresh_from_db()
    assert link.base["last_name"] == "Remote-Lovelace"
    assert "Lovelace" not in raw("sync_entitylink", link.pk, "base")["base"]
    assert Contact.objects.get(pk=link.local_id).last_name == "Remote-Lovelace"
    quiet = full_sync(integration, "delta")  # the stored base reads back equal: nothing to do
    assert (quiet.created, quiet.updated, quiet.pushed) == (0, 0, 0)


def test_custom_fields_are_encrypted_and_come_back_through_the_api(subaccount):
    [ana] = upsert(subaccount, {**ANA, "custom_fields": {"second_email": "ana@example.com", "seats": 3}})
    [bare] = upsert(subaccount, {"email": "bob@example.com"})
    stored = raw("sync_contact", ana.id, "custom_fields")["custom_fields"]
    assert is_token(stored)
    assert_no_clear_personal_data(stored)
    # No custom fields: nothing personal to hide, and no cipher work for every record without any.
    assert raw("sync_contact", bare.id, "custom_fields")["custom_fields"] == "{}"

    _, key = ApiKey.objects.create_key(name="test", subaccount=subaccount)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    body = api.get(f"/api/v1/contacts/{ana.id}/").json()
    assert body["custom_fields"] == {"second_email": "ana@example.com", "seats": 3}
    patched = api.patch(f"/api/v1/contacts/{ana.id}/", {"custom_fields": {"seats": 4}}, format="json")
    assert patched.status_code == 200, patched.content
    assert Contact.objects.get(pk=ana.id).custom_fields == {"second_email": "ana@example.com", "seats": 4}
    assert is_token(raw("sync_contact", ana.id, "custom_fields")["custom_fields"])


def test_lookups_into_an_encrypted_json_value_are_refused(db):
    with pytest.raises(FieldError):
        list(Contact.objects.filter(custom_fields__plan="pro"))
    with pytest.raises(FieldError):
        list(EntityLink.objects.filter(base__contains={"email": "ana@example.com"}))
    with pytest.raises(FieldError):
        list(Conflict.objects.filter(local_value="Ana"))
    assert list(Conflict.objects.filter(local_value__isnull=True)) == []


def test_json_values_of_every_kind_round_trip(subaccount, integration):
    values = ["Ana", "", 0, False, 1.5, ["a", 1], {"nested": {"email": "ana@example.com"}}, {}]
    rows = [
        conflict_row(subaccount, integration, local_id=n, local_value=v, remote_value=None)
        for n, v in enumerate(values)
    ]
    for row, value in zip(rows, values, strict=True):
        row = Conflict.objects.get(pk=row.pk)
        assert row.local_value == value and type(row.local_value) is type(value)
        assert row.remote_value is None
    assert raw("sync_conflict", rows[0].pk, "remote_value")["remote_value"] is None  # SQL NULL


def test_with_encrypt_pii_off_copies_are_clear_json_and_reencrypt_encrypts_them(
    subaccount, integration, settings
):
    settings.ENCRYPT_PII = False
    [ana] = upsert(subaccount, {**ANA, "custom_fields": {"second_email": "ana@example.com"}})
    link = EntityLink.objects.create(
        integration=integration, entity="contact", local_id=ana.id, remote_id="r1", base=dict(ANA)
    )
    conflict = conflict_row(subaccount, integration, local_value="ana@example.com", base_value=None)
    intent = CreateIntent.objects.create(
        integration=integration,
        entity="contact",
        local_id=ana.id,
        payload={"email": "ana@example.com"},
        base=dict(ANA),
        created_at=link.last_synced_at,
    )
    assert json.loads(raw("sync_entitylink", link.pk, "base")["base"]) == ANA
    assert raw("sync_conflict", conflict.pk, "local_value")["local_value"] == '"ana@example.com"'
    assert json.loads(raw("sync_contact", ana.id, "custom_fields")["custom_fields"]) == {
        "second_email": "ana@example.com"
    }

    settings.ENCRYPT_PII = True  # switched on: clear rows stay readable, reencrypt encrypts them
    assert EntityLink.objects.get(pk=link.pk).base == ANA
    assert Conflict.objects.get(pk=conflict.pk).local_value == "ana@example.com"
    call_command("reencrypt", verbosity=0)
    stored = [
        raw("sync_entitylink", link.pk, "base")["base"],
        raw("sync_conflict", conflict.pk, "local_value")["local_value"],
        raw("sync_contact", ana.id, "custom_fields")["custom_fields"],
        *raw("sync_createintent", intent.pk, "payload", "base").values(),
    ]
    assert all(is_token(value) for value in stored)
    assert_no_clear_personal_data(" ".join(stored))
    assert EntityLink.objects.get(pk=link.pk).base == ANA
    assert CreateIntent.objects.get(pk=intent.pk).payload == {"email": "ana@example.com"}
    assert Contact.objects.get(pk=ana.id).custom_fields == {"second_email": "ana@example.com"}


def test_reencrypt_moves_copies_to_the_newest_key(subaccount, integration, settings):
    [ana] = upsert(subaccount, ANA)
    link = EntityLink.objects.create(
        integration=integration, entity="contact", local_id=ana.id, remote_id="r1", base=dict(ANA)
    )
    before = raw("sync_entitylink", link.pk, "base")["base"]
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.FIELD_ENCRYPTION_KEYS]
    call_command("reencrypt", verbosity=0)
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]  # the old key is gone
    assert raw("sync_entitylink", link.pk, "base")["base"] != before
    assert EntityLink.objects.get(pk=link.pk).base == ANA


def test_dumpdata_writes_no_personal_data_in_clear_and_loads_back(subaccount, integration):
    [ana] = upsert(subaccount, {**ANA, "custom_fields": {"second_email": "ana@example.com"}})
    EntityLink.objects.create(
        integration=integration, entity="contact", local_id=ana.id, remote_id="r1", base=dict(ANA)
    )
    conflict_row(subaccount, integration, local_value="ana@example.com", remote_value="x@example.com")
    out = io.StringIO()
    call_command("dumpdata", "sync.contact", "sync.entitylink", "sync.conflict", stdout=out)
    dump = out.getvalue()
    assert "gAAAAA" in dump
    assert_no_clear_personal_data(dump)

    objects = list(serializers.deserialize("json", dump))
    Contact.objects.all().delete()
    EntityLink.objects.all().delete()
    Conflict.objects.all().delete()
    for obj in objects:
        obj.save()
    contact = Contact.objects.get(pk=ana.id)
    assert (contact.email, contact.custom_fields) == ("ana@example.com", {"second_email": "ana@example.com"})
    assert Contact.objects.get(email="ana@example.com").pk == ana.id  # the index is rebuilt on save
    assert EntityLink.objects.get().base == ANA
    assert Conflict.objects.get().local_value == "ana@example.com"


def test_pii_rewrite_can_clear_only_some_columns(subaccount):
    [ana] = upsert(subaccount, {**ANA, "custom_fields": {"second_email": "ana@example.com"}})
    pii_rewrite(Contact, only=["custom_fields"], clear=True)
    stored = raw("sync_contact", ana.id, "email", "custom_fields")
    assert is_token(stored["email"])  # left as it was
    assert json.loads(stored["custom_fields"]) == {"second_email": "ana@example.com"}


@pytest.mark.django_db(transaction=True)
def test_the_migrations_convert_existing_jsonb_rows_and_back(subaccount, integration):
    [ana] = upsert(subaccount, {**ANA, "custom_fields": {"second_email": "ana@example.com"}})
    link = EntityLink.objects.create(
        integration=integration, entity="contact", local_id=ana.id, remote_id="r1", base=dict(ANA)
    )
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate([("sync", "0022_pii_encrypt_rows")])  # backwards: jsonb columns in clear
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT base->>'email', jsonb_typeof(base) FROM sync_entitylink WHERE id = %s", [link.pk]
            )
            assert cursor.fetchone() == ("ana@example.com", "object")
            cursor.execute("SELECT custom_fields->>'second_email' FROM sync_contact WHERE id = %s", [ana.id])
            assert cursor.fetchone() == ("ana@example.com",)
    finally:
        executor.loader.build_graph()
        executor.migrate(leaves)
    stored = raw("sync_entitylink", link.pk, "base")["base"]
    assert is_token(stored) and is_token(raw("sync_contact", ana.id, "custom_fields")["custom_fields"])
    assert EntityLink.objects.get(pk=link.pk).base == ANA
    assert Contact.objects.get(pk=ana.id).custom_fields == {"second_email": "ana@example.com"}
