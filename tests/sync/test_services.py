"""The write path: matching rungs, merging, the Change log, bulk upserts and their query budget."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from sync.models import Activity, Change, Company, Contact, Deal, IdempotencyKey
from sync.selectors import change_list
from sync.services import (
    MAX_BULK,
    BatchTooLarge,
    DuplicateRecord,
    IdempotencyConflict,
    RecordInvalid,
    idempotency_execute,
    idempotency_keys_purge,
    record_create,
    record_delete,
    record_update,
    record_upsert,
    records_bulk_upsert,
)
from tests.sync.factories import CompanyFactory, ContactFactory

ORIGIN = "integration:7"


def upsert(subaccount, fields, entity="contact", **kwargs):
    return record_upsert(subaccount=subaccount, entity=entity, fields=fields, origin=ORIGIN, **kwargs)


def changes(subaccount):
    return list(Change.objects.filter(subaccount=subaccount).order_by("seq"))


# --- single upserts: the matching rungs -----------------------------------------------------------


def test_a_new_contact_is_created_normalised_with_a_create_change(subaccount):
    result = upsert(
        subaccount, {"email": " Ana@Example.com ", "phone": "(415) 555-2671", "first_name": "Ana"}
    )
    assert result.status == "created"
    stored = Contact.objects.get(pk=result.record.pk)
    assert (stored.email, stored.phone, stored.first_name, stored.version) == (
        "ana@example.com",
        "+14155552671",
        "Ana",
        1,
    )
    [change] = changes(subaccount)
    assert (change.entity, change.record_id, change.op, change.origin) == (
        "contact",
        stored.pk,
        "create",
        ORIGIN,
    )
    assert sorted(change.fields) == ["email", "first_name", "phone"]


def test_external_id_is_the_first_rung_even_when_the_email_points_elsewhere(subaccount):
    by_id = ContactFactory(subaccount=subaccount, external_id="crm-1", email="old@example.com")
    ContactFactory(subaccount=subaccount, email="ana@example.com")
    result = upsert(subaccount, {"external_id": "crm-1", "email": "ana@example.com"})
    assert (result.status, result.record.pk) == ("updated", by_id.pk)
    assert Contact.objects.get(pk=by_id.pk).email == "ana@example.com"


def test_email_matches_ignoring_case_and_repeating_is_a_no_op(subaccount):
    existing = ContactFactory(subaccount=subaccount, email="ana@example.com", first_name="")
    fields = {"email": "ANA@Example.com", "first_name": "Ana"}
    first = upsert(subaccount, fields)
    again = upsert(subaccount, fields)
    assert (first.status, first.record.pk) == ("updated", existing.pk)
    assert (again.status, again.record.pk) == ("unchanged", existing.pk)
    stored = Contact.objects.get(pk=existing.pk)
    assert (stored.first_name, stored.version) == ("Ana", 2)
    assert [(c.op, c.fields) for c in changes(subaccount)] == [("update", ["first_name"])]


@pytest.mark.parametrize("incoming", ["+14155552671", "(415) 555-2671", "415.555.2671", "+1 415-555-2671"])
def test_phone_matches_in_any_format_when_nothing_else_does(subaccount, incoming):
    existing = ContactFactory(subaccount=subaccount, email="", phone="+14155552671")
    result = upsert(subaccount, {"phone": incoming, "last_name": "Lee"})
    assert (result.status, result.record.pk) == ("updated", existing.pk)
    assert Contact.objects.filter(subaccount=subaccount).count() == 1


def test_email_rung_never_takes_over_a_record_with_another_external_id(subaccount):
    ContactFactory(subaccount=subaccount, external_id="crm-1", email="shared@example.com")
    result = upsert(subaccount, {"external_id": "crm-2", "email": "shared@example.com"})
    assert result.status == "created"
    assert sorted(Contact.objects.values_list("external_id", flat=True)) == ["crm-1", "crm-2"]


def test_email_rung_adopts_a_record_without_external_id(subaccount):
    existing = ContactFactory(subaccount=subaccount, email="ana@example.com")
    result = upsert(subaccount, {"external_id": "crm-9", "email": "ana@example.com"})
    assert (result.status, result.record.pk) == ("updated", existing.pk)
    assert Contact.objects.get(pk=existing.pk).external_id == "crm-9"


def test_matching_stays_inside_the_sub_account(subaccount, other_subaccount):
    theirs = ContactFactory(subaccount=other_subaccount, external_id="crm-1", email="ana@example.com")
    result = upsert(subaccount, {"external_id": "crm-1", "email": "ana@example.com"})
    assert result.status == "created" and result.record.pk != theirs.pk
    assert Contact.objects.get(pk=theirs.pk).version == 1


def test_companies_match_on_domain_after_external_id(subaccount):
    existing = CompanyFactory(subaccount=subaccount, domain="acme.com", name="")
    result = upsert(subaccount, {"domain": "https://www.ACME.com/", "name": "Acme"}, entity="company")
    assert (result.status, result.record.pk) == ("updated", existing.pk)
    assert Company.objects.get(pk=existing.pk).name == "Acme"


def test_deals_match_only_on_external_id(subaccount):
    first = upsert(subaccount, {"external_id": "d-1", "name": "Big", "amount": "100"}, entity="deal")
    same_name = upsert(subaccount, {"name": "Big"}, entity="deal")
    again = upsert(subaccount, {"external_id": "d-1", "amount": 100}, entity="deal")
    assert first.status == "created" and same_name.status == "created"
    assert (again.status, again.record.pk) == ("unchanged", first.record.pk)
    assert Deal.objects.get(pk=first.record.pk).amount == Decimal("100.00")


def test_upserting_a_deleted_records_external_id_restores_it(subaccount):
    existing = ContactFactory(subaccount=subaccount, external_id="crm-1")
    record_delete(record=existing, origin=ORIGIN)
    result = upsert(subaccount, {"external_id": "crm-1", "first_name": "Back"})
    stored = Contact.objects.get(pk=existing.pk)
    assert (result.status, stored.is_deleted, stored.deleted_at, stored.first_name) == (
        "updated",
        False,
        None,
        "Back",
    )
    assert set(changes(subaccount)[-1].fields) == {"is_deleted", "deleted_at", "first_name"}


def test_match_false_always_creates_but_refuses_a_taken_external_id(subaccount):
    existing = ContactFactory(subaccount=subaccount, external_id="crm-1", email="ana@example.com")
    created = upsert(subaccount, {"email": "ana@example.com"}, match=False)
    assert created.status == "created" and created.record.pk != existing.pk
    with pytest.raises(DuplicateRecord) as exc:
        record_create(subaccount=subaccount, entity="contact", fields={"external_id": "crm-1"}, origin=ORIGIN)
    assert exc.value.existing_id == existing.pk and "external_id" in exc.value.errors


# --- merging and the Change log -------------------------------------------------------------------


def test_custom_fields_merge_and_null_removes_a_key(subaccount):
    existing = ContactFactory(
        subaccount=subaccount, email="ana@example.com", custom_fields={"plan": "free", "seats": 1}
    )
    result = upsert(
        subaccount, {"email": "ana@example.com", "custom_fields": {"plan": "pro", "seats": None, "nps": 9}}
    )
    stored = Contact.objects.get(pk=existing.pk)
    assert result.status == "updated"
    assert stored.custom_fields == {"plan": "pro", "nps": 9}
    assert sorted(changes(subaccount)[-1].fields) == ["custom:nps", "custom:plan", "custom:seats"]
    again = upsert(subaccount, {"email": "ana@example.com", "custom_fields": {"plan": "pro", "seats": None}})
    assert again.status == "unchanged" and Contact.objects.get(pk=existing.pk).version == 2


def test_unchanged_values_in_another_format_write_nothing(subaccount):
    existing = ContactFactory(
        subaccount=subaccount, email="ana@example.com", phone="+14155552671", first_name="Ana"
    )
    before = Contact.objects.get(pk=existing.pk).updated_at
    result = upsert(
        subaccount, {"email": "ANA@example.com", "phone": "(415) 555-2671", "first_name": " Ana "}
    )
    assert result.status == "unchanged"
    stored = Contact.objects.get(pk=existing.pk)
    assert (stored.version, stored.updated_at) == (1, before)
    assert changes(subaccount) == []


def test_update_assigns_only_changed_fields_and_logs_them_with_the_origin(subaccount):
    company = CompanyFactory(subaccount=subaccount)
    existing = ContactFactory(subaccount=subaccount, first_name="Ana", last_name="Lee")
    result = record_update(
        record=existing,
        fields={"first_name": "Ana", "last_name": "Li", "company_id": company.pk},
        origin="admin:bob",
    )
    stored = Contact.objects.get(pk=existing.pk)
    assert (result.status, stored.last_name, stored.company_id, stored.version) == (
        "updated",
        "Li",
        company.pk,
        2,
    )
    [change] = changes(subaccount)
    assert (change.op, sorted(change.fields), change.origin) == (
        "update",
        ["company_id", "last_name"],
        "admin:bob",
    )


def test_update_refuses_another_records_external_id_and_a_foreign_reference(subaccount, other_subaccount):
    ContactFactory(subaccount=subaccount, external_id="taken")
    mine = ContactFactory(subaccount=subaccount)
    with pytest.raises(DuplicateRecord):
        record_update(record=mine, fields={"external_id": "taken"}, origin=ORIGIN)
    foreign = CompanyFactory(subaccount=other_subaccount)
    with pytest.raises(RecordInvalid) as exc:
        record_update(record=mine, fields={"company_id": foreign.pk}, origin=ORIGIN)
    assert "No company with id" in exc.value.errors["company_id"]
    assert Contact.objects.get(pk=mine.pk).version == 1 and changes(subaccount) == []


def test_delete_is_soft_versioned_logged_and_idempotent(subaccount):
    existing = ContactFactory(subaccount=subaccount)
    record_delete(record=existing, origin=ORIGIN)
    record_delete(record=existing, origin=ORIGIN)
    stored = Contact.objects.get(pk=existing.pk)
    assert stored.is_deleted and stored.deleted_at is not None and stored.version == 2
    assert [(c.op, c.fields) for c in changes(subaccount)] == [("delete", ["is_deleted"])]


def test_invalid_input_writes_nothing_and_names_the_fields(subaccount):
    with pytest.raises(RecordInvalid) as exc:
        upsert(subaccount, {"email": "nope", "favourite_colour": "red"})
    assert set(exc.value.errors) == {"email", "favourite_colour"}
    assert Contact.objects.count() == 0 and changes(subaccount) == []


def test_activities_keep_kind_direction_and_attachments(subaccount):
    contact = ContactFactory(subaccount=subaccount)
    result = upsert(
        subaccount,
        {
            "kind": "call",
            "direction": "outbound",
            "occurred_at": "2025-03-31T14:00:00Z",
            "attachments": [{"name": "rec.mp3", "size": 1024}],
            "contact_id": contact.pk,
        },
        entity="activity",
    )
    stored = Activity.objects.get(pk=result.record.pk)
    assert (stored.kind, stored.direction, stored.contact_id) == ("call", "outbound", contact.pk)
    assert stored.attachments == [{"name": "rec.mp3", "size": 1024}] and stored.occurred_at.hour == 14


# --- bulk upserts -------------------------------------------------------------------------------------


def bulk(subaccount, records, entity="contact"):
    return records_bulk_upsert(subaccount=subaccount, entity=entity, records=records, origin=ORIGIN)


def test_bulk_a_bad_record_fails_alone_with_its_reason(subaccount):
    existing = ContactFactory(subaccount=subaccount, email="ana@example.com", first_name="")
    results = bulk(
        subaccount,
        [
            {"email": "new@example.com"},
            {"email": "not-an-email"},
            {"email": "ana@example.com", "first_name": "Ana"},
            "not an object",
            {"email": "ana@example.com", "first_name": "Ana"},
            {"company_id": 999_999},
        ],
    )
    assert [r.status for r in results] == ["created", "error", "updated", "error", "unchanged", "error"]
    assert [r.index for r in results] == list(range(6))
    assert "email" in results[1].error and results[1].id is None
    assert "record" in results[3].error and "company_id" in results[5].error
    assert results[2].id == results[4].id == existing.pk
    assert Contact.objects.filter(subaccount=subaccount, email="new@example.com").get().pk == results[0].id
    assert Contact.objects.filter(subaccount=subaccount).count() == 2
    assert sorted((c.op, c.record_id) for c in changes(subaccount)) == sorted(
        [("create", results[0].id), ("update", existing.pk)]
    )


def test_bulk_duplicates_within_a_batch_land_on_one_record(subaccount):
    existing = ContactFactory(subaccount=subaccount, email="old@example.com", first_name="")
    results = bulk(
        subaccount,
        [
            {"email": "Dup@Example.com", "first_name": "First"},
            {"email": "dup@example.com", "last_name": "Later"},
            {"external_id": "x-1", "phone": "+14155552671"},
            {"external_id": "x-1", "job_title": "CTO"},
            {"phone": "415-555-2671", "lifecycle_stage": "lead"},
            {"email": "OLD@example.com", "first_name": "One"},
            {"email": "old@example.com", "first_name": "Two"},
        ],
    )
    assert [r.status for r in results] == [
        "created",
        "updated",
        "created",
        "updated",
        "updated",
        "updated",
        "updated",
    ]
    assert results[0].id == results[1].id
    assert results[2].id == results[3].id == results[4].id
    assert results[5].id == results[6].id == existing.pk
    assert Contact.objects.filter(subaccount=subaccount).count() == 3
    dup = Contact.objects.get(pk=results[0].id)
    assert (dup.first_name, dup.last_name, dup.version) == ("First", "Later", 1)
    x1 = Contact.objects.get(pk=results[2].id)
    assert (x1.job_title, x1.lifecycle_stage, x1.phone) == ("CTO", "lead", "+14155552671")
    old = Contact.objects.get(pk=existing.pk)
    assert (old.first_name, old.version) == ("Two", 2)  # one batch, one version, later record wins
    ops = [(c.op, c.record_id) for c in changes(subaccount)]
    assert sorted(ops) == sorted([("create", dup.pk), ("create", x1.pk), ("update", existing.pk)])
    create_dup = next(c for c in changes(subaccount) if c.record_id == dup.pk)
    assert sorted(create_dup.fields) == ["email", "first_name", "last_name"]


def test_bulk_restores_by_external_id_and_refuses_a_batch_over_the_cap(subaccount):
    gone = ContactFactory(
        subaccount=subaccount, external_id="g-1", is_deleted=True, deleted_at=timezone.now()
    )
    [result] = bulk(subaccount, [{"external_id": "g-1"}])
    assert (result.status, result.id) == ("updated", gone.pk)
    assert Contact.objects.get(pk=gone.pk).is_deleted is False
    with pytest.raises(BatchTooLarge):
        bulk(subaccount, [{"email": f"p{i}@example.com"} for i in range(MAX_BULK + 1)])


def contacts_payload(n: int, *, offset: int = 0) -> list[dict]:
    return [
        {
            "external_id": f"ext-{offset + i}",
            "email": f"Person{offset + i}@Example.com",
            "phone": f"+1415555{(offset + i) % 10000:04d}",
            "first_name": f"P{i}",
            "custom_fields": {"n": i},
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("size", [10, 1000])
def test_bulk_query_count_does_not_grow_with_the_batch(subaccount, django_assert_max_num_queries, size):
    # Existing rows for half the batch: one rung each, so every write statement is exercised.
    bulk(subaccount, contacts_payload(size // 2))
    payload = contacts_payload(size // 2) + contacts_payload(size - size // 2, offset=size)
    for record in payload[: size // 2]:
        record["job_title"] = "Updated"
    for record in payload[: size // 4]:
        record["email"] = record["email"].upper()  # same, in another case
        del record["external_id"]  # so these match on email
    with django_assert_max_num_queries(15):
        results = bulk(subaccount, payload)
    assert {r.status for r in results} == {"created", "updated"}
    assert sum(r.status == "created" for r in results) == size - size // 2
    assert Contact.objects.filter(subaccount=subaccount).count() == size + size % 2
    assert Contact.objects.filter(subaccount=subaccount, job_title="Updated", version=2).count() == size // 2
    assert Change.objects.filter(subaccount=subaccount).count() == size // 2 + size


# --- change feed selector ---------------------------------------------------------------------------


def test_change_list_pages_in_seq_order_per_sub_account(subaccount, other_subaccount):
    for i in range(5):
        upsert(subaccount, {"email": f"p{i}@example.com"})
    upsert(other_subaccount, {"email": "theirs@example.com"})
    upsert(subaccount, {"name": "Acme"}, entity="company")
    first = change_list(subaccount=subaccount, after=0, limit=4)
    rest = change_list(subaccount=subaccount, after=first[-1].seq, limit=100)
    assert len(first) == 4 and len(rest) == 2
    seqs = [c.seq for c in first + rest]
    assert seqs == sorted(seqs) and all(c.subaccount_id == subaccount.pk for c in first + rest)
    assert [c.entity for c in change_list(subaccount=subaccount, after=0, limit=100, entity="company")] == [
        "company"
    ]


# --- idempotency ----------------------------------------------------------------------------------------


def test_idempotency_replays_the_first_answer_and_refuses_another_body(subaccount):
    calls = []

    def perform():
        calls.append(1)
        return 201, {"id": len(calls)}

    first = idempotency_execute(subaccount=subaccount, key="k1", request_hash="h1", perform=perform)
    again = idempotency_execute(subaccount=subaccount, key="k1", request_hash="h1", perform=perform)
    assert (first.status_code, first.body, first.replayed) == (201, {"id": 1}, False)
    assert (again.status_code, again.body, again.replayed) == (201, {"id": 1}, True)
    assert len(calls) == 1
    with pytest.raises(IdempotencyConflict):
        idempotency_execute(subaccount=subaccount, key="k1", request_hash="other", perform=perform)
    later = timezone.now() + timedelta(hours=25)
    expired = idempotency_execute(
        subaccount=subaccount, key="k1", request_hash="other", perform=perform, now=later
    )
    assert (expired.body, expired.replayed) == ({"id": 2}, False)


def test_idempotency_does_not_store_a_failed_attempt(subaccount):
    def failing():
        upsert(subaccount, {"email": "ana@example.com"})
        raise RecordInvalid({"email": "boom"})

    with pytest.raises(RecordInvalid):
        idempotency_execute(subaccount=subaccount, key="k2", request_hash="h", perform=failing)
    assert not IdempotencyKey.objects.exists() and not Contact.objects.exists()


def test_idempotency_keys_purge_removes_only_expired_keys(subaccount):
    IdempotencyKey.objects.create(subaccount=subaccount, key="old", request_hash="h", status_code=200)
    IdempotencyKey.objects.create(subaccount=subaccount, key="new", request_hash="h", status_code=200)
    IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))
    assert idempotency_keys_purge() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
