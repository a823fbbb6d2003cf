"""Personal data encrypted at rest (ENCRYPT_PII), found through keyed blind indexes.

Raw rows are read with a cursor (what a database dump or a stolen backup holds); lookups go through
the API, the sync engine against the HubSpot emulator over real HTTP, the admin and reencrypt.
"""

import hashlib

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from connectors.hubspot.emulator import emulator as hubspot_emulator
from integrations.models import ApiKey
from integrations.pii import blind_index, is_token
from integrations.pii_rows import pii_rewrite
from sync.models import Activity, Contact, Conversation
from sync.runs import sync_run_execute, sync_run_request
from sync.services import record_update, records_bulk_upsert
from tests.sandbox import sandbox_integration

PERSONAL = ("first_name", "last_name", "email", "phone", "mobile_phone")
ANA = {
    "first_name": "Ana",
    "last_name": "Lovelace",
    "email": "ana@example.com",
    "phone": "+14155552671",
    "mobile_phone": "+442079460018",
}


def raw(table: str, pk: int, *columns: str) -> dict[str, str]:
    """The row as stored, bypassing the ORM's decryption."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return dict(zip(columns, cursor.fetchone(), strict=True))


def upsert(subaccount, *records, entity: str = "contact"):
    return records_bulk_upsert(entity=entity, subaccount=subaccount, records=list(records), origin="test")


def test_the_stored_row_holds_no_personal_data_in_clear(subaccount):
    [result] = upsert(subaccount, {**ANA, "email": " Ana@Example.COM "})
    stored = raw("sync_contact", result.id, *PERSONAL, "email_index", "phone_index")
    dump = " ".join(str(v) for v in stored.values())
    # Every personal column is a Fernet token (a short name could occur inside base64 by chance,
    # so only values of 8+ characters are also searched for as substrings).
    assert all(is_token(stored[name]) for name in PERSONAL)
    for value in (*ANA.values(), "Ana@Example.COM", "4155552671", "Lovelace"):
        assert len(value) < 8 or value not in dump
    assert stored["email_index"] == blind_index("ana@example.com", "email")
    assert stored["phone_index"] == blind_index("+14155552671", "phone")
    contact = Contact.objects.get(pk=result.id)  # the ORM reads the clear values back
    assert {name: getattr(contact, name) for name in PERSONAL} == ANA


def test_a_single_save_and_an_update_keep_the_index_in_step(subaccount):
    contact = Contact.objects.create(subaccount=subaccount, email="old@example.com", first_name="Old")
    assert raw("sync_contact", contact.pk, "email_index")["email_index"] == blind_index(
        "old@example.com", "email"
    )
    record_update(record=contact, fields={"email": "New@Example.com"}, origin="test")
    assert not Contact.objects.filter(email="old@example.com").exists()
    assert Contact.objects.get(email="new@example.com").pk == contact.pk
    contact.refresh_from_db()
    contact.email = "third@example.com"
    contact.save(update_fields=["email"])  # save(update_fields=) writes the index with its field
    assert Contact.objects.get(email="third@example.com").pk == contact.pk


def test_message_content_is_encrypted(subaccount):
    [conversation] = upsert(subaccount, {"subject": "My order 1234"}, entity="conversation")
    [message] = upsert(
        subaccount,
        {
            "kind": "message",
            "subject": "Re: order",
            "body": "Call me on +1 415 555 2671",
            "conversation_id": conversation.id,
        },
        entity="activity",
    )
    assert "order" not in raw("sync_conversation", conversation.id, "subject")["subject"]
    stored = raw("sync_activity", message.id, "subject", "body")
    assert is_token(stored["subject"]) and is_token(stored["body"])
    assert "2671" not in stored["body"]
    assert Activity.objects.get(pk=message.id).body == "Call me on +1 415 555 2671"
    assert Conversation.objects.get(pk=conversation.id).subject == "My order 1234"


def test_the_api_filters_by_email_and_phone_through_the_index(subaccount):
    [ana, _bob] = upsert(subaccount, ANA, {"email": "bob@example.com"})
    _, key = ApiKey.objects.create_key(name="test", subaccount=subaccount)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")

    def ids(query: str) -> list[int]:
        response = api.get(f"/api/v1/contacts/?{query}")
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids("email=ANA@Example.com") == [ana.id]
    assert ids("email=%20ana@example.com%20") == [ana.id]
    assert ids("phone=%2B1%20415%20555%202671") == [ana.id]
    assert ids("email=ana@example") == []  # exact match only: no substring search on ciphertext


def test_lookups_that_cannot_work_on_ciphertext_are_refused():
    with pytest.raises(FieldError):
        list(Contact.objects.filter(email__icontains="ana"))
    with pytest.raises(FieldError):
        list(Contact.objects.filter(first_name="Ana"))  # no index: a name is never looked up
    with pytest.raises(FieldError):
        list(Activity.objects.filter(body__contains="order"))


def test_exact_and_in_lookups_and_related_lookups_use_the_index(subaccount):
    [ana, bob] = upsert(subaccount, ANA, {"email": "bob@example.com", "phone": "+12025550123"})
    assert Contact.objects.get(email__iexact="ANA@EXAMPLE.COM").pk == ana.id
    assert {c.pk for c in Contact.objects.filter(email__in=["ana@example.com", "bob@example.com"])} == {
        ana.id,
        bob.id,
    }
    assert Contact.objects.get(phone="+12025550123").pk == bob.id
    assert Contact.objects.get(mobile_phone="+442079460018").pk == ana.id
    assert Contact.objects.filter(subaccount=subaccount, email="").count() == 0
    [message] = upsert(subaccount, {"kind": "note", "contact_id": ana.id}, entity="activity")
    assert Activity.objects.get(contact__email="ana@example.com").pk == message.id


def test_a_batch_matches_by_email_in_any_case_and_by_phone(subaccount):
    [ana, caller] = upsert(subaccount, {"email": "ana@example.com"}, {"phone": "+14155552671"})
    again = upsert(
        subaccount,
        {"email": "ANA@Example.com", "first_name": "Ana"},
        {"phone": "(415) 555-2671", "email": "caller@example.com"},
    )
    assert [(r.id, r.status) for r in again] == [(ana.id, "updated"), (caller.id, "updated")]
    assert Contact.objects.filter(subaccount=subaccount).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_hubspot_pull_matches_local_contacts_by_email_and_phone_without_duplicates(
    catalog, subaccount, sandbox_url
):
    hubspot_emulator.reset()
    by_email = Contact.objects.create(subaccount=subaccount, email="ana@example.com", first_name="Local")
    by_phone = Contact.objects.create(subaccount=subaccount, phone="+14155552671", first_name="Caller")
    hubspot_emulator.create_many(
        "contacts",
        [
            {"email": "Ana@Example.COM", "firstname": "Ana"},
            {"email": "caller@example.com", "phone": "+1 (415) 555-2671", "firstname": "Cal"},
            {"email": "new@example.com", "firstname": "New"},
        ],
    )
    integration = sandbox_integration(subaccount, "hubspot", sandbox_url)
    run = sync_run_request(integration=integration, kind="full", entities=["contact"], enqueue=False)
    run = sync_run_execute(run_id=run.pk)

    assert run.status == "succeeded", run.error
    assert Contact.objects.filter(subaccount=subaccount).count() == 3
    assert Contact.objects.get(email="ana@example.com").pk == by_email.pk
    assert Contact.objects.get(phone="+14155552671").pk == by_phone.pk
    assert Contact.objects.get(pk=by_phone.pk).email == "caller@example.com"
    created = Contact.objects.get(email="new@example.com")  # written by the bulk COPY path
    assert is_token(raw("sync_contact", created.pk, "email")["email"])


def test_reencrypt_moves_personal_data_to_the_newest_key_and_old_rows_stay_readable(subaccount, settings):
    [ana] = upsert(subaccount, ANA)
    before = raw("sync_contact", ana.id, "email", "email_index")
    old = settings.FIELD_ENCRYPTION_KEYS[0]
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old]
    assert Contact.objects.get(pk=ana.id).email == "ana@example.com"  # written with the old key
    call_command("reencrypt", verbosity=0)
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]  # the old key is gone
    after = raw("sync_contact", ana.id, "email", "email_index")
    assert after["email"] != before["email"] and is_token(after["email"])
    assert after["email_index"] == before["email_index"]  # the index key is not a Fernet key
    contact = Contact.objects.get(email="ana@example.com")
    assert {name: getattr(contact, name) for name in PERSONAL} == ANA


def test_reencrypt_rebuilds_the_indexes_after_the_index_key_changes(subaccount, settings):
    [ana] = upsert(subaccount, ANA)
    settings.PII_INDEX_KEY = "a-new-index-key"
    assert not Contact.objects.filter(email="ana@example.com").exists()  # until re-indexed
    call_command("reencrypt", verbosity=0)
    assert Contact.objects.get(email="ana@example.com").pk == ana.id


def test_the_blind_index_is_keyed(settings):
    settings.PII_INDEX_KEY = "key-one"
    first = blind_index("Ana@Example.com", "email")
    assert first == blind_index(" ana@example.com ", "email")  # normalised: same value, same index
    assert first != blind_index("bob@example.com", "email")
    assert first != hashlib.sha256(b"ana@example.com").hexdigest()
    assert first != hashlib.sha256(b"email:ana@example.com").hexdigest()
    assert blind_index("+1 (415) 555-2671", "phone") == blind_index("+14155552671", "phone")
    assert blind_index("", "email") == ""
    settings.PII_INDEX_KEY = "key-two"
    assert blind_index("ana@example.com", "email") != first


def test_with_encrypt_pii_off_values_are_stored_in_clear_and_still_found(subaccount, settings):
    settings.ENCRYPT_PII = False
    [ana] = upsert(subaccount, ANA)
    stored = raw("sync_contact", ana.id, *PERSONAL)
    assert stored == ANA
    assert Contact.objects.get(email="ANA@example.com").pk == ana.id

    settings.ENCRYPT_PII = True  # switched on: clear rows stay readable, and rewriting encrypts them
    assert Contact.objects.get(pk=ana.id).first_name == "Ana"
    assert pii_rewrite(Contact) == 1
    assert all(is_token(v) for v in raw("sync_contact", ana.id, *PERSONAL).values())
    assert Contact.objects.get(email="ana@example.com").first_name == "Ana"


def test_the_admin_finds_a_contact_by_its_whole_email_or_phone(subaccount):
    [ana, _] = upsert(subaccount, ANA, {"email": "bob@example.com"})
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("op", "op@example.com", "pw-123456789"))
    url = reverse("admin:sync_contact_changelist")
    for query in ("ANA@example.com", "+14155552671"):
        response = client.get(url, {"q": query})
        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == [Contact.objects.get(pk=ana.id)]
    assert client.get(url, {"q": "ana"}).context["cl"].result_count == 0  # no substring search
    assert client.get(reverse("admin:sync_activity_changelist"), {"q": "order"}).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_the_data_migration_encrypts_existing_rows_and_fills_their_indexes(subaccount):
    [ana] = upsert(subaccount, ANA)
    [note] = upsert(subaccount, {"kind": "note", "body": "Prefers calls after 5pm"}, entity="activity")
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate([("sync", "0021_pii_encrypted")])  # backwards: the rows in clear again
    assert raw("sync_contact", ana.id, *PERSONAL) == ANA
    assert raw("sync_activity", note.id, "body")["body"] == "Prefers calls after 5pm"
    with connection.cursor() as cursor:  # as the schema migration left them: indexes not filled
        cursor.execute("UPDATE sync_contact SET email_index = '', phone_index = '', mobile_phone_index = ''")

    executor.loader.build_graph()
    executor.migrate(leaves)  # forwards through 0022 (and the later migrations: the schema as it is)

    assert all(is_token(v) for v in raw("sync_contact", ana.id, *PERSONAL).values())
    assert is_token(raw("sync_activity", note.id, "body")["body"])
    assert Contact.objects.get(email="ana@example.com", phone="+14155552671").pk == ana.id
    assert Activity.objects.get(pk=note.id).body == "Prefers calls after 5pm"
