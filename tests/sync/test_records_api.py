"""The records API over HTTP: CRUD, bulk upserts, idempotency, the change feed and tenancy."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import include, path
from rest_framework.test import APIClient

from integrations.models import ApiKey, Membership
from sync.models import Change, Company, Contact, Deal
from tests.sync.factories import (
    ActivityFactory,
    CompanyFactory,
    ContactFactory,
    ConversationFactory,
    DealFactory,
)

# The records routes under /api/v1/ plus the whole project (config/urls.py mounts sync.api.urls there
# too; listing it here keeps these tests independent of that line).
urlpatterns = [path("api/v1/", include("sync.api.urls")), path("", include("config.urls"))]
handler404 = "integrations.api.errors.handler404"
pytestmark = pytest.mark.urls(__name__)


def api_for(subaccount) -> tuple[APIClient, str]:
    key_obj, key = ApiKey.objects.create_key(name="test", subaccount=subaccount)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client, f"api_key:{key_obj.prefix}"


@pytest.fixture
def api(subaccount):
    return api_for(subaccount)[0]


# --- CRUD ---------------------------------------------------------------------------------------------


def test_contact_crud_normalises_versions_logs_and_soft_deletes(subaccount):
    api, origin = api_for(subaccount)
    created = api.post(
        "/api/v1/contacts/",
        {
            "email": " Ana@Example.COM",
            "phone": "(415) 555-2671",
            "first_name": "Ana",
            "custom_fields": {"plan": "pro"},
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    pk = body["id"]
    assert (body["email"], body["phone"], body["version"], body["is_deleted"]) == (
        "ana@example.com",
        "+14155552671",
        1,
        False,
    )
    assert api.get(f"/api/v1/contacts/{pk}/").json()["custom_fields"] == {"plan": "pro"}

    patched = api.patch(
        f"/api/v1/contacts/{pk}/", {"last_name": "Lee", "custom_fields": {"seats": 3}}, format="json"
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["version"] == 2 and patched.json()["custom_fields"] == {"plan": "pro", "seats": 3}

    assert api.delete(f"/api/v1/contacts/{pk}/").status_code == 204
    stored = Contact.objects.get(pk=pk)
    assert stored.is_deleted and stored.version == 3 and stored.last_name == "Lee"
    assert api.get(f"/api/v1/contacts/{pk}/").status_code == 404
    assert api.get("/api/v1/contacts/").json()["results"] == []
    assert [row["id"] for row in api.get("/api/v1/contacts/?is_deleted=true").json()["results"]] == [pk]
    log = list(Change.objects.filter(record_id=pk, entity="contact").values_list("op", "origin"))
    assert log == [("create", origin), ("update", origin), ("delete", origin)]


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("/api/v1/companies/", {"name": "Acme", "domain": "https://www.Acme.com/"}, ("domain", "acme.com")),
        (
            "/api/v1/deals/",
            {"name": "Big", "amount": "1234.5", "close_date": "2025-06-30"},
            ("amount", "1234.50"),
        ),
        ("/api/v1/activities/", {"kind": "Call", "direction": "inbound", "subject": "Hi"}, ("kind", "call")),
    ],
)
def test_every_entity_is_created_normalised(api, route, body, field):
    response = api.post(route, body, format="json")
    assert response.status_code == 201, response.content
    name, value = field
    assert response.json()[name] == value
    assert api.get(f"{route}{response.json()['id']}/").json()[name] == value


def test_invalid_fields_are_a_400_naming_each_field(api):
    response = api.post(
        "/api/v1/contacts/", {"email": "nope", "phone": "123", "favourite_colour": "red"}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["details"]) == {"email", "phone", "favourite_colour"}
    assert error["details"]["favourite_colour"] == ["Unknown contact field."]
    assert not Contact.objects.exists()


@pytest.mark.parametrize(
    ("method", "route", "payload", "code"),
    [
        ("post", "/api/v1/contacts/", "{not json", "malformed"),
        ("post", "/api/v1/contacts/", "[1, 2]", "invalid"),
        ("post", "/api/v1/contacts/bulk/", '{"records": "nope"}', "invalid"),
        ("post", "/api/v1/contacts/bulk/", "[]", "invalid"),
        ("post", "/api/v1/contacts/bulk/", "{not json", "malformed"),
    ],
)
def test_malformed_bodies_are_a_400_in_the_error_shape(api, method, route, payload, code):
    response = getattr(api, method)(route, payload, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert not Contact.objects.exists()


def test_a_taken_external_id_is_a_409_and_a_foreign_reference_a_400(subaccount, other_subaccount, api):
    existing = ContactFactory(subaccount=subaccount, external_id="crm-1")
    response = api.post("/api/v1/contacts/", {"external_id": "crm-1"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate_external_id"
    assert response.json()["error"]["details"]["existing_id"] == existing.pk
    theirs = CompanyFactory(subaccount=other_subaccount)
    response = api.post("/api/v1/contacts/", {"company_id": theirs.pk}, format="json")
    assert response.status_code == 400 and "company_id" in response.json()["error"]["details"]
    assert Contact.objects.count() == 1


def test_a_deal_has_several_contacts_written_read_and_filtered_by_relation(subaccount, other_subaccount, api):
    acme = CompanyFactory(subaccount=subaccount)
    ana, bob = ContactFactory(subaccount=subaccount), ContactFactory(subaccount=subaccount)
    created = api.post(
        "/api/v1/deals/",
        {"name": "Big", "company_id": acme.pk, "contact_ids": [bob.pk, ana.pk, bob.pk]},
        format="json",
    )
    assert created.status_code == 201, created.content
    deal = created.json()
    assert deal["contact_ids"] == sorted([ana.pk, bob.pk]) and deal["company_id"] == acme.pk
    other = DealFactory(subaccount=subaccount)

    def ids(query):
        response = api.get(f"/api/v1/deals/?{query}")
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids(f"contact_id={ana.pk}") == [deal["id"]]
    assert ids(f"company_id={acme.pk}") == [deal["id"]]
    assert sorted(ids("")) == sorted([deal["id"], other.pk])

    changed = api.patch(f"/api/v1/deals/{deal['id']}/", {"contact_ids": [ana.pk]}, format="json")
    assert changed.status_code == 200 and changed.json()["contact_ids"] == [ana.pk]
    assert Change.objects.filter(entity="deal", record_id=deal["id"], fields=["contact_ids"]).exists()
    assert api.get(f"/api/v1/deals/{deal['id']}/").json()["contact_ids"] == [ana.pk]
    # another tenant's contact is refused, and so is a malformed list
    theirs = ContactFactory(subaccount=other_subaccount)
    refused = api.patch(f"/api/v1/deals/{deal['id']}/", {"contact_ids": [theirs.pk]}, format="json")
    assert refused.status_code == 400 and "contact_ids" in refused.json()["error"]["details"]
    assert api.patch(f"/api/v1/deals/{deal['id']}/", {"contact_ids": "x"}, format="json").status_code == 400
    cleared = api.patch(f"/api/v1/deals/{deal['id']}/", {"contact_ids": []}, format="json")
    assert cleared.json()["contact_ids"] == []


def test_put_is_not_offered_and_a_non_numeric_id_is_a_404(subaccount, api):
    contact = ContactFactory(subaccount=subaccount)
    assert api.put(f"/api/v1/contacts/{contact.pk}/", {}, format="json").status_code == 405
    response = api.get("/api/v1/contacts/abc/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


# --- lists and filters ---------------------------------------------------------------------------------


def test_list_filters(subaccount, api):
    ana = ContactFactory(
        subaccount=subaccount, email="ana@example.com", external_id="a-1", phone="+14155552671"
    )
    bob = ContactFactory(subaccount=subaccount, email="bob@example.com")
    Contact.objects.filter(pk=bob.pk).update(updated_at="2020-01-01T00:00:00Z")

    def ids(query):
        response = api.get(f"/api/v1/contacts/?{query}")
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids("email=ANA@Example.com") == [ana.pk]
    assert ids("external_id=a-1") == [ana.pk]
    assert ids("phone=(415) 555-2671") == [ana.pk] and ids("phone=nonsense") == []
    assert ids("updated_since=2024-01-01T00:00:00Z") == [ana.pk]
    assert sorted(ids("")) == sorted([ana.pk, bob.pk])
    assert api.get("/api/v1/contacts/?updated_since=yesterday").status_code == 400
    # Offsets PostgreSQL would refuse (it stops at ±15:59) are converted, not passed on: found by the fuzzer.
    assert ids("updated_since=2024-01-01T14:36:00-22:36") == [ana.pk]  # = 2024-01-02T13:12Z
    assert sorted(ids("updated_since=0115-03-15T07:04:34-22:36")) == sorted([ana.pk, bob.pk])
    out_of_range = api.get("/api/v1/contacts/?updated_since=0001-01-01T00:00:00%2B23:00")
    assert out_of_range.status_code == 400 and out_of_range.json()["error"]["code"]
    acme = CompanyFactory(subaccount=subaccount, domain="acme.com")
    assert [r["id"] for r in api.get("/api/v1/companies/?domain=https://www.acme.com").json()["results"]] == [
        acme.pk
    ]


def test_lists_are_cursor_paginated(subaccount, api):
    for _ in range(3):
        ContactFactory(subaccount=subaccount)
    first = api.get("/api/v1/contacts/?page_size=2").json()
    second = api.get(first["next"]).json()
    assert len(first["results"]) == 2 and len(second["results"]) == 1 and second["next"] is None


# --- bulk -----------------------------------------------------------------------------------------------


def test_bulk_returns_per_record_results_and_a_summary(subaccount):
    api, origin = api_for(subaccount)
    existing = ContactFactory(subaccount=subaccount, email="ana@example.com", first_name="")
    records = [
        {"email": "ANA@example.com", "first_name": "Ana"},
        {"email": "new@example.com", "external_id": "n-1"},
        {"email": "broken"},
        {"email": "ana@example.com", "first_name": "Ana"},
        {"external_id": "n-1", "last_name": "Newer"},
    ]
    response = api.post("/api/v1/contacts/bulk/", {"records": records}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert [(r["index"], r["status"]) for r in body["results"]] == [
        (0, "updated"),
        (1, "created"),
        (2, "error"),
        (3, "unchanged"),
        (4, "updated"),
    ]
    assert body["summary"] == {"created": 1, "updated": 2, "unchanged": 1, "error": 1}
    assert body["results"][0]["id"] == existing.pk and body["results"][2]["id"] is None
    assert "email" in body["results"][2]["error"]
    new = Contact.objects.get(pk=body["results"][1]["id"])
    assert (new.email, new.external_id, new.last_name) == ("new@example.com", "n-1", "Newer")
    assert set(Change.objects.values_list("origin", flat=True)) == {origin}


def test_bulk_over_the_cap_is_a_400_and_writes_nothing(api):
    records = [{"email": f"p{i}@example.com"} for i in range(1001)]
    response = api.post("/api/v1/contacts/bulk/", {"records": records}, format="json")
    assert response.status_code == 400 and "records" in response.json()["error"]["details"]
    assert not Contact.objects.exists()


def test_bulk_works_for_every_entity(api):
    for route, records in [
        ("companies", [{"domain": "acme.com"}, {"domain": "ACME.com", "name": "Acme"}]),
        ("deals", [{"external_id": "d-1", "amount": 5}, {"external_id": "d-1", "stage": "won"}]),
        ("activities", [{"kind": "task", "external_id": "t-1"}, {"kind": "nope"}]),
    ]:
        body = api.post(f"/api/v1/{route}/bulk/", {"records": records}, format="json").json()
        assert body["results"][0]["status"] == "created"
        assert body["results"][1]["status"] in {"updated", "error"}
    assert Company.objects.get().name == "Acme" and Deal.objects.get().stage == "won"


# --- idempotency ------------------------------------------------------------------------------------------


def test_bulk_with_the_same_idempotency_key_replays_without_writing(api, subaccount, other_subaccount):
    payload = {"records": [{"email": "ana@example.com"}, {"email": "bad"}]}
    first = api.post("/api/v1/contacts/bulk/", payload, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    Contact.objects.all().delete()  # were the request run again, it would create the contact again
    changes_before = Change.objects.count()
    again = api.post("/api/v1/contacts/bulk/", payload, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert again["Idempotent-Replayed"] == "true"
    assert not Contact.objects.exists() and Change.objects.count() == changes_before

    other = api.post(
        "/api/v1/contacts/bulk/",
        {"records": [{"email": "bob@example.com"}]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="batch-1",
    )
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_conflict"
    assert not Contact.objects.exists()

    # Keys belong to a sub-account: another tenant's identical key is a new request.
    theirs = api_for(other_subaccount)[0].post(
        "/api/v1/contacts/bulk/", payload, format="json", HTTP_IDEMPOTENCY_KEY="batch-1"
    )
    assert theirs.status_code == 200 and "Idempotent-Replayed" not in theirs
    assert Contact.objects.filter(subaccount=other_subaccount).count() == 1


def test_create_with_an_idempotency_key_creates_once(api):
    body = {"email": "ana@example.com", "first_name": "Ana"}
    first = api.post("/api/v1/contacts/", body, format="json", HTTP_IDEMPOTENCY_KEY="c-1")
    again = api.post("/api/v1/contacts/", body, format="json", HTTP_IDEMPOTENCY_KEY="c-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and Contact.objects.count() == 1


def test_a_refused_request_does_not_burn_its_idempotency_key(api):
    bad = api.post("/api/v1/contacts/", {"email": "nope"}, format="json", HTTP_IDEMPOTENCY_KEY="c-2")
    good = api.post(
        "/api/v1/contacts/", {"email": "ana@example.com"}, format="json", HTTP_IDEMPOTENCY_KEY="c-2"
    )
    assert (bad.status_code, good.status_code) == (400, 201)


# --- change feed ---------------------------------------------------------------------------------------------


def test_change_feed_is_ordered_paged_by_after_and_scoped(subaccount, other_subaccount, api):
    ids = [
        api.post("/api/v1/contacts/", {"email": f"p{i}@example.com"}, format="json").json()["id"]
        for i in range(3)
    ]
    api.patch(f"/api/v1/contacts/{ids[0]}/", {"first_name": "Zed"}, format="json")
    api_for(other_subaccount)[0].post("/api/v1/contacts/", {"email": "theirs@example.com"}, format="json")
    api.post("/api/v1/companies/", {"name": "Acme"}, format="json")

    page = api.get("/api/v1/changes/?after=0&limit=3").json()
    assert [(c["record_id"], c["op"]) for c in page["results"]] == [(i, "create") for i in ids]
    assert page["next_after"] == page["results"][-1]["seq"]
    rest = api.get(f"/api/v1/changes/?after={page['next_after']}").json()
    assert [(c["entity"], c["op"]) for c in rest["results"]] == [("contact", "update"), ("company", "create")]
    assert rest["results"][0]["fields"] == ["first_name"]
    seqs = [c["seq"] for c in page["results"] + rest["results"]]
    assert seqs == sorted(seqs)
    empty = api.get(f"/api/v1/changes/?after={rest['next_after']}").json()
    assert empty == {"results": [], "next_after": rest["next_after"]}
    only_companies = api.get("/api/v1/changes/?entity=company").json()["results"]
    assert [c["entity"] for c in only_companies] == ["company"]
    for query in ["after=-1", "after=x", "limit=0", "limit=5000", "entity=planet"]:
        response = api.get(f"/api/v1/changes/?{query}")
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"


# --- tenancy ----------------------------------------------------------------------------------------------------

FACTORIES = {
    "contacts": ContactFactory,
    "companies": CompanyFactory,
    "deals": DealFactory,
    "activities": ActivityFactory,
    "conversations": ConversationFactory,
}


@pytest.mark.parametrize("route", list(FACTORIES))
@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_subaccounts_record_is_a_404_on_every_detail_route(
    subaccount, other_subaccount, route, method
):
    theirs = FACTORIES[route](subaccount=other_subaccount)
    response = getattr(api_for(subaccount)[0], method)(f"/api/v1/{route}/{theirs.pk}/", {}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    fresh = type(theirs).objects.get(pk=theirs.pk)
    assert (fresh.version, fresh.is_deleted) == (1, False)
    assert not Change.objects.exists()


@pytest.mark.parametrize("route", list(FACTORIES))
def test_lists_only_show_the_callers_records(subaccount, other_subaccount, route):
    mine = FACTORIES[route](subaccount=subaccount)
    FACTORIES[route](subaccount=other_subaccount)
    ids = [row["id"] for row in api_for(subaccount)[0].get(f"/api/v1/{route}/").json()["results"]]
    assert ids == [mine.pk]


def test_bulk_never_matches_another_tenants_records(subaccount, other_subaccount, api):
    theirs = ContactFactory(subaccount=other_subaccount, email="ana@example.com", external_id="crm-1")
    body = api.post(
        "/api/v1/contacts/bulk/",
        {"records": [{"external_id": "crm-1", "email": "ana@example.com"}]},
        format="json",
    ).json()
    assert body["results"][0]["status"] == "created" and body["results"][0]["id"] != theirs.pk
    assert Contact.objects.get(pk=theirs.pk).version == 1


def test_requests_without_a_key_are_refused(db):
    response = APIClient().get("/api/v1/contacts/")
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthenticated"
    assert APIClient().post("/api/v1/contacts/bulk/", {"records": []}, format="json").status_code == 401


# --- schema and admin ------------------------------------------------------------------------------------------


def test_openapi_documents_records_bulk_and_the_change_feed(db, client):
    schema = client.get("/api/schema/?format=json").json()
    for route in ["/api/v1/contacts/", "/api/v1/contacts/{id}/", "/api/v1/deals/bulk/", "/api/v1/changes/"]:
        assert route in schema["paths"], route
    bulk = schema["paths"]["/api/v1/contacts/bulk/"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in bulk["parameters"])
    assert "email" in schema["components"]["schemas"]["ContactInputRequest"]["properties"]


def test_admin_shows_only_the_staff_users_sub_accounts_and_soft_deletes(subaccount, other_subaccount, client):
    user = get_user_model().objects.create_user("bob", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_contact", "delete_contact"]))
    Membership.objects.create(user=user, subaccount=subaccount)
    mine = ContactFactory(subaccount=subaccount, email="mine@example.com")
    ContactFactory(subaccount=other_subaccount, email="theirs@example.com")
    client.force_login(user)
    page = client.get("/admin/sync/contact/")
    assert page.status_code == 200
    assert b"mine@example.com" in page.content and b"theirs@example.com" not in page.content
    assert b"Globex" not in page.content  # not even in the sub-account filter
    response = client.post(
        "/admin/sync/contact/", {"action": "soft_delete", "_selected_action": [mine.pk]}, follow=True
    )
    assert response.status_code == 200
    stored = Contact.objects.get(pk=mine.pk)
    assert stored.is_deleted
    assert Change.objects.get(record_id=mine.pk).origin == "admin:bob"


def test_admin_shows_and_filters_records_by_relation(subaccount, other_subaccount, admin_client):
    acme = CompanyFactory(subaccount=subaccount, name="Acme Rockets")
    ana = ContactFactory(subaccount=subaccount, email="ana@example.com", first_name="Ana", company=acme)
    ContactFactory(subaccount=subaccount, email="solo@example.com")
    deal = DealFactory(subaccount=subaccount, name="Big deal", company=acme)
    deal.contacts.add(ana)

    page = admin_client.get(f"/admin/sync/deal/{deal.pk}/change/")
    assert page.status_code == 200
    related = page.content.decode().split("Related records")[1].split("Links")[0]
    assert "Acme Rockets" in related and "Ana Person" in related
    company_page = admin_client.get(f"/admin/sync/company/{acme.pk}/change/").content.decode()
    assert f"/admin/sync/contact/?company__id__exact={acme.pk}" in company_page

    listed = admin_client.get(f"/admin/sync/contact/?company__id__exact={acme.pk}").content
    assert b"ana@example.com" in listed and b"solo@example.com" not in listed
    without = admin_client.get("/admin/sync/contact/?has_company_id=no").content
    assert b"solo@example.com" in without and b"ana@example.com" not in without
    by_contact = admin_client.get(f"/admin/sync/deal/?contacts__id__exact={ana.pk}").content
    assert b"Big deal" in by_contact
