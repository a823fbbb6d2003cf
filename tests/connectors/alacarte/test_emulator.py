"""The À La Carte Chat emulator's customers keep the wire (providers.md §8), over real HTTP: auth,
the sync match order with matched_by, E.164 phones, the 1000-record caps, per-record failures."""

from __future__ import annotations

import pytest
import requests

from tests.connectors.alacarte.conftest import control


@pytest.fixture(autouse=True)
def _unlimited(base):
    """Bursts of calls; the rate limit has its own test, which switches it back on."""
    control(base, "faults", {"rate_limit": False})


def sync(api, base, *customers):
    resp = api.post(f"{base}/api-customers-sync", json={"customers": list(customers)}, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_every_endpoint_wants_a_known_api_key(base, api):
    for method, name in (
        ("get", "api-customers?id=x"),
        ("post", "api-customers-batch-lookup"),
        ("post", "api-customers-bulk-create"),
        ("post", "api-customers-sync"),
        ("get", "api-conversations-by-customer?external_id=x"),
        ("get", "api-messages-since?since=2025-01-01T00:00:00Z"),
        ("post", "api-send-message"),
        ("post", "api-upload-attachment"),
        ("post", "api-sso-generate-token"),
    ):
        for headers in (
            {},
            {"x-api-key": "alc-not-a-key"},
            {"Authorization": f"Bearer {api.headers['x-api-key']}"},
        ):
            resp = getattr(requests, method)(f"{base}/{name}", headers=headers, timeout=10)
            assert (resp.status_code, resp.json()) == (401, {"error": "Invalid API key"}), name


def test_a_synced_customer_reads_back_by_each_key_with_every_field(api, base):
    given = {
        "external_id": "CRM-12345",
        "name": "John Doe",
        "email": "John@Example.com",
        "phone": "+353 87 123 4567",
        "first_name": "John",
        "last_name": "Doe",
        "address": "123 Main St, Dublin",
        "notes": "VIP customer",
        "custom_fields": {"crm_segment": "enterprise", "contract_value": 50000},
    }
    result = sync(api, base, given)["results"]
    [detail] = result["details"]
    assert (result["total"], result["created"], result["updated"], result["failed"]) == (1, 1, 0, 0)
    assert (
        detail["action"] == "created"
        and detail["matched_by"] is None
        and detail["external_id"] == "CRM-12345"
    )
    for query in (
        {"id": detail["customer_id"]},
        {"external_id": "CRM-12345"},
        {"email": "john@example.COM"},
        {"phone": "087 123 4567"},
        {"phone": "+353871234567"},
    ):
        resp = api.get(f"{base}/api-customers", params=query, timeout=10)
        assert resp.status_code == 200, (query, resp.text)
        customer = resp.json()["customer"]
        assert customer["id"] == detail["customer_id"]
    assert customer["phone"] == "+353871234567"
    assert customer["custom_fields"] == given["custom_fields"] and customer["tags"] == []
    assert customer["whatsapp_number"] == "" and customer["external_system"] == ""
    assert customer["created_at"].endswith("Z") and customer["updated_at"].endswith("Z")
    missing = api.get(f"{base}/api-customers", params={"external_id": "nope"}, timeout=10)
    assert (missing.status_code, missing.json()) == (404, {"error": "Customer not found"})
    assert api.get(f"{base}/api-customers", timeout=10).status_code == 400


def test_matching_goes_external_id_then_email_then_phone_then_creates(api, base):
    sync(
        api,
        base,
        {"external_id": "A", "name": "Ann", "email": "ann@example.com"},
        {"name": "Bob", "email": "bob@example.com"},
        {"name": "Cat", "phone": "+353 87 123 4567"},
    )
    result = sync(
        api,
        base,
        # external_id wins over an e-mail that names another customer
        {"external_id": "A", "name": "Ann Two", "email": "bob@example.com"},
        {"external_id": "B", "name": "Bob Two", "email": "BOB@example.com"},
        {"external_id": "C", "name": "Cat Two", "phone": "087 123 4567"},  # formatting differs
        {"external_id": "D", "name": "Dan", "phone": "+353 86 000 0000"},
    )["results"]
    assert [(d["action"], d["matched_by"]) for d in result["details"]] == [
        ("updated", "external_id"),
        ("updated", "email"),
        ("updated", "phone"),
        ("created", None),
    ]
    assert (result["created"], result["updated"], result["failed"]) == (1, 3, 0)
    cat = api.get(f"{base}/api-customers", params={"external_id": "C"}, timeout=10).json()["customer"]
    assert (cat["name"], cat["phone"]) == ("Cat Two", "+353871234567")


def test_an_update_overwrites_only_the_keys_it_sends(api, base):
    sync(
        api,
        base,
        {
            "external_id": "X",
            "name": "Xena",
            "email": "x@example.com",
            "notes": "keep me",
            "tags": ["a", "b"],
            "custom_fields": {"one": 1, "two": 2},
        },
    )
    sync(
        api,
        base,
        {"external_id": "X", "name": "Xena W", "tags": ["c"], "custom_fields": {"two": 22, "three": 3}},
    )
    customer = api.get(f"{base}/api-customers", params={"external_id": "X"}, timeout=10).json()["customer"]
    assert (customer["name"], customer["email"], customer["notes"]) == ("Xena W", "x@example.com", "keep me")
    assert customer["tags"] == ["c"]
    assert customer["custom_fields"] == {"one": 1, "two": 22, "three": 3}


def test_a_bad_customer_fails_alone_with_its_index_and_reason(api, base):
    result = sync(
        api,
        base,
        {"external_id": "ok-1", "name": "One", "email": "one@example.com"},
        {"external_id": "bad-1", "name": "No Contact"},
        {"external_id": "bad-2", "email": "noname@example.com"},
        {"external_id": "bad-3", "name": "Bad Mail", "email": "not-an-email"},
        {"external_id": "bad-4", "name": "Bad Phone", "phone": "12"},
        "not an object",
        {"external_id": "ok-2", "name": "Two", "phone": "+1 212 555 0101"},
    )["results"]
    assert (result["total"], result["created"], result["failed"]) == (7, 2, 5)
    failed = [(d["index"], d.get("error")) for d in result["details"] if d["action"] == "failed"]
    assert failed == [
        (1, "email or phone is required"),
        (2, "name is required"),
        (3, "invalid email"),
        (4, "invalid phone"),
        (5, "customer must be a JSON object"),
    ]
    assert [d["index"] for d in result["details"]] == list(range(7))
    assert result["details"][1]["external_id"] == "bad-1" and "customer_id" not in result["details"][1]
    assert api.get(f"{base}/api-customers", params={"external_id": "bad-1"}, timeout=10).status_code == 404


def test_bulk_create_reports_counts_and_errors_and_upserts(api, base):
    body = {"customers": [{"name": "A", "email": "a@example.com"}, {"name": "No Contact"}]}
    first = api.post(f"{base}/api-customers-bulk-create", json=body, timeout=10).json()
    assert first == {
        "success": True,
        "created": 1,
        "updated": 0,
        "failed": 1,
        "errors": [{"index": 1, "error": "email or phone is required"}],
    }
    again = api.post(f"{base}/api-customers-bulk-create", json=body, timeout=10).json()
    assert (again["created"], again["updated"], again["failed"]) == (0, 1, 1)


def test_over_1000_customers_or_lookup_values_is_413_and_1000_is_fine(api, base, alc):
    many = [alc.sample_record("contact", n) for n in range(1001)]
    for name in ("api-customers-sync", "api-customers-bulk-create"):
        resp = api.post(f"{base}/{name}", json={"customers": many}, timeout=30)
        assert (resp.status_code, resp.json()) == (413, {"error": "At most 1000 customers per request"})
    assert alc.customers().count() == 0
    result = sync(api, base, *many[:1000])["results"]
    assert (result["total"], result["created"]) == (1000, 1000)
    lookup = api.post(f"{base}/api-customers-batch-lookup", json={"emails": ["x@y.z"] * 1001}, timeout=10)
    assert lookup.status_code == 413


def test_a_body_without_a_customers_list_is_400(api, base):
    for body in ({}, {"customers": {}}, []):
        resp = api.post(f"{base}/api-customers-sync", json=body, timeout=10)
        assert resp.status_code == 400 and "error" in resp.json()
    assert api.post(f"{base}/api-customers-sync", data=b"not json", timeout=10).status_code == 400
    assert api.get(f"{base}/api-customers-sync", timeout=10).status_code == 405


def test_batch_lookup_returns_each_match_once_and_skips_unknown_values(api, base):
    made = sync(
        api,
        base,
        {"external_id": "E1", "name": "One", "email": "one@example.com", "phone": "+353871111111"},
        {"external_id": "E2", "name": "Two", "email": "two@example.com"},
        {"external_id": "E3", "name": "Three", "email": "three@example.com"},
    )["results"]["details"]
    body = {
        "ids": [made[2]["customer_id"], "00000000-0000-0000-0000-000000000000"],
        "emails": ["ONE@example.com", "nobody@example.com"],
        "phones": ["087 111 1111"],
        "external_ids": ["E1", "E9"],
    }
    resp = api.post(f"{base}/api-customers-batch-lookup", json=body, timeout=10)
    assert resp.status_code == 200
    assert [c["external_id"] for c in resp.json()["customers"]] == ["E1", "E3"]
    bad = api.post(f"{base}/api-customers-batch-lookup", json={"ids": "E1"}, timeout=10)
    assert bad.status_code == 400


def test_the_default_country_is_a_setting(api, base):
    control(base, "settings", {"default_country": "US"})
    [detail] = sync(api, base, {"name": "Sam", "phone": "(212) 555-0199"})["results"]["details"]
    customer = api.get(f"{base}/api-customers", params={"id": detail["customer_id"]}, timeout=10).json()[
        "customer"
    ]
    assert customer["phone"] == "+12125550199"


def test_the_contract_helpers_make_valid_and_invalid_customers(api, base, alc):
    samples = [alc.sample_record("contact", n) for n in range(3)]
    assert len({s["email"] for s in samples}) == len({s["phone"] for s in samples}) == 3
    result = sync(api, base, *samples, alc.invalid_record("contact"))["results"]
    assert [d["action"] for d in result["details"]] == ["created"] * 3 + ["failed"]


def test_connect_gives_a_config_for_a_new_key_of_the_one_business(alc, sandbox_url):
    first, _ = alc.connect(sandbox_url)
    second, _ = alc.connect(sandbox_url)
    assert set(first) == {"api_key", "base_url", "webhook_secret", "external_system"}
    assert first["external_system"] == "custom" and first["base_url"] == f"{sandbox_url}/alacarte"
    assert first["api_key"] != second["api_key"] and len(first["api_key"]) >= 16
    assert first["webhook_secret"] == second["webhook_secret"]
    issued = requests.post(f"{first['base_url']}/_control/token", json={}, timeout=10).json()
    assert issued["webhook_secret"] == first["webhook_secret"] and issued["business_id"]
    resp = requests.get(
        f"{first['base_url']}/api-customers",
        params={"id": "x"},
        headers={"x-api-key": issued["api_key"]},
        timeout=10,
    )
    assert resp.status_code == 404
